"""Reading configuration from the environment, with ``NAME_FILE`` secrets and masked URLs.

Every value is checked where it is read: a bad one raises ``ImproperlyConfigured`` with one
line naming the variable (never a secret's value), which the runner reports as exit 78.
"""

import importlib.util
import logging
import warnings
import zoneinfo

import environ
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email

from batch_jobs.conf import MAX_SECONDS
from batch_jobs.framework.redact import redact_text

#: The most bytes a ``NAME_FILE`` secret may hold: a URL, a key or a password is far less.
#: Read up to this and no further, so that ``/dev/zero`` or a wrong path to a large file is
#: an error, not a process that reads until it is killed.
SECRET_FILE_LIMIT = 64 * 1024


class SecretFileMapping(environ.FileAwareMapping):
    """``os.environ`` where ``NAME_FILE`` may stand for ``NAME`` (docker-library convention).

    Unlike django-environ's own mapping, setting both is an error rather than a silent
    preference; a file that cannot be read, holds more than ``SECRET_FILE_LIMIT`` bytes, is not
    UTF-8 text or holds a NUL is a configuration error naming the variable (never its
    content); and the trailing newline that editors and ``kubectl create secret
    --from-file`` leave is dropped.
    """

    def __getitem__(self, key):
        file_key = key + "_FILE"
        path = self.env.get(file_key)
        if not path:
            return self.env[key]
        if key in self.env:
            raise ImproperlyConfigured(f"{key} and {file_key} are both set; set only one of them")
        try:
            with open(path, "rb") as f:
                content = f.read(SECRET_FILE_LIMIT + 1)
        except OSError as e:
            raise ImproperlyConfigured(
                f"{file_key} points to {path!r}, which cannot be read: {e.strerror}"
            ) from None
        if len(content) > SECRET_FILE_LIMIT:
            raise ImproperlyConfigured(
                f"{file_key} points to {path!r}, which holds more than "
                f"{SECRET_FILE_LIMIT // 1024} KiB; a secret file holds the value alone"
            )
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            raise ImproperlyConfigured(
                f"{file_key} points to {path!r}, which is not UTF-8 text"
            ) from None
        if "\0" in text:
            raise ImproperlyConfigured(f"{file_key} points to {path!r}, which holds a NUL byte")
        return text.rstrip("\r\n")


class Env(environ.Env):
    """django-environ's ``Env`` over :class:`SecretFileMapping`, with clear errors."""

    ENVIRON = SecretFileMapping()
    TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")

    def bool(self, var, default=False):
        """``var`` as true or false, strictly: django-environ reads any other word (``ture``,
        ``enabled``) as false without a word."""
        raw = self.str(var, default=None)
        if raw is None:
            return default
        if raw.strip().lower() in self.TRUE:
            return True
        if raw.strip().lower() in self.FALSE:
            return False
        raise ImproperlyConfigured(f"{var} must be 1/true/yes/on or 0/false/no/off, not {raw!r}")

    def seconds(self, var):
        """``var`` as a number of seconds, zero or more, or ``None`` when unset. Parsed
        strictly: django-environ's ``float`` drops the characters it does not expect, reading
        ``1e3`` as 13. At most ``MAX_SECONDS``: a longer wait is more than ``threading`` can
        wait for."""
        raw = self.str(var, default=None)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = None
        if value is None or not value >= 0:  # refuses nan too
            raise ImproperlyConfigured(f"{var} must be zero or more seconds, not {raw!r}")
        if not value <= MAX_SECONDS:  # refuses inf
            raise ImproperlyConfigured(
                f"{var} must be at most {MAX_SECONDS:.0f} seconds, not {raw!r}"
            )
        return value

    def absolute_path(self, var, default):
        """``var`` as an absolute path (``default`` when unset): a relative one would depend
        on the directory the process started in, which differs between web and worker."""
        raw = self.str(var, default="")
        if not raw:
            return default
        if not raw.startswith("/") or "\0" in raw:
            raise ImproperlyConfigured(f"{var} must be an absolute path, not {raw!r}")
        return raw

    def secret_key(self, var, public=(), allow_insecure=False):
        """``var`` as Django's ``SECRET_KEY`` ("" when unset: Django refuses it where a key is
        needed). Unless ``allow_insecure``, a key that is ``public`` (published, such as a
        development default) or weaker than Django's deploy check wants (security.W009) is a
        configuration error, so that it cannot sign a deployment's sessions."""
        key = self.str(var, default="")
        if not key or allow_insecure:
            return key
        remedy = (
            f"set {var} to a key of your own, such as the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`"
        )
        if key in public:
            raise ImproperlyConfigured(
                f"{var} is the public development key of .envs/local.env, which must not "
                f"sign a deployment's sessions; {remedy}"
            )
        if (
            len(key) < SECRET_KEY_MIN_LENGTH
            or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS
            or key.startswith(SECRET_KEY_INSECURE_PREFIX)
        ):
            raise ImproperlyConfigured(
                f"{var} is too weak: Django wants at least {SECRET_KEY_MIN_LENGTH} characters, "
                f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} of them different, not starting with "
                f"{SECRET_KEY_INSECURE_PREFIX!r}; {remedy}"
            )
        return key

    def log_level(self, var, default):
        """``var`` as the name of a ``logging`` level (``DEBUG`` ... ``CRITICAL``)."""
        raw = self.str(var, default=default)
        if raw.upper() not in logging.getLevelNamesMapping():
            raise ImproperlyConfigured(
                f"{var} must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {raw!r}"
            )
        return raw.upper()

    def time_zone(self, var, default):
        """``var`` as an IANA time zone name (``Europe/Paris``), as Django checks it."""
        raw = self.str(var, default=default)
        try:
            zoneinfo.ZoneInfo(raw)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ImproperlyConfigured(
                f"{var} must be an IANA time zone name such as Europe/Paris, not {raw!r}"
            ) from None
        return raw

    def modules(self, var):
        """``var`` as a comma-separated list of importable modules (apps to install):
        a name that does not import is reported here, in one line, rather than as
        ``ModuleNotFoundError`` from deep in ``django.setup()``."""
        names = self.list(var, default=[])
        for name in names:
            if not importable(name):
                raise ImproperlyConfigured(
                    f"{var} names {name!r}, which is not an importable module; install it, "
                    "or put its directory on PYTHONPATH"
                )
        return names

    def email_url(self, var, default):
        """Parse ``var`` as an e-mail URL; errors name the variable, never the password."""
        raw = self.str(var, default=default)
        try:
            config = self.email_url_config(raw)
            host = config.get("EMAIL_HOST")
        except Exception:  # django-environ raises several types for bad input
            config, host = None, None
        if config is None or (raw.startswith("smtp") and not host):
            raise ImproperlyConfigured(
                f"{var} is malformed ({redact_text(raw)}); expected "
                "smtp://USER:PASSWORD@HOST:PORT, smtp+tls://... or smtp+ssl://..."
            )
        return config

    def email_address(self, var, default):
        """``var`` as one e-mail address, checked as Django's ``EmailField`` checks it."""
        raw = self.str(var, default=default)
        check_email(var, raw)
        return raw

    def email_addresses(self, var):
        """``var`` as a comma-separated list of e-mail addresses."""
        addresses = self.list(var, default=[])
        for address in addresses:
            check_email(var, address)
        return addresses

    def database_url(self, var, default):
        """Parse ``var`` as a database URL; errors name the variable, never the password."""
        if default is self.NOTSET and var not in self.ENVIRON:
            raise ImproperlyConfigured(
                f"{var} is not set; give it (or {var}_FILE) as "
                "postgres://USER:PASSWORD@HOST:5432/NAME or mysql://USER:PASSWORD@HOST:3306/NAME"
            )
        return self.parsed_database_url(var, self.str(var, default=default))

    def database_urls(self, var):
        """``var`` as comma-separated database URLs (none when unset), each parsed as
        :meth:`database_url` parses one."""
        return [self.parsed_database_url(var, raw) for raw in self.list(var, default=[])]

    def parsed_database_url(self, var, raw):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # we raise our own, clearer error below
                config = self.db_url_config(raw)
        except Exception:  # django-environ raises several types for bad input
            config = {}
        if "://" not in raw or not config.get("ENGINE") or not config.get("NAME"):
            raise ImproperlyConfigured(
                f"{var} is malformed ({redact_text(raw)}); expected "
                "postgres://USER:PASSWORD@HOST:5432/NAME, mysql://USER:PASSWORD@HOST:3306/NAME "
                "or sqlite:////path/to/file"
            )
        return config


def importable(name):
    """Whether dotted ``name`` is a module, or an attribute of one (an ``AppConfig``)."""
    if not all(part.isidentifier() for part in name.split(".")):
        return False
    try:
        if importlib.util.find_spec(name) is not None:
            return True
    except (ImportError, ValueError):
        pass
    parent, _, attribute = name.rpartition(".")
    try:
        return bool(parent) and hasattr(importlib.import_module(parent), attribute)
    except ImportError:
        return False


def check_email(var, address):
    """``ImproperlyConfigured`` naming ``var`` unless ``address`` is one e-mail address."""
    try:
        validate_email(address)
    except ValidationError:
        raise ImproperlyConfigured(
            f"{var} must hold e-mail addresses (name@example.com), not {address[:100]!r}"
        ) from None
