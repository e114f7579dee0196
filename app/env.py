"""Reading configuration from the environment, with ``NAME_FILE`` secrets and masked URLs."""

import warnings

import environ
from django.core.exceptions import ImproperlyConfigured

from batch_jobs.framework.redact import masked_url


class SecretFileMapping(environ.FileAwareMapping):
    """``os.environ`` where ``NAME_FILE`` may stand for ``NAME`` (docker-library convention).

    Unlike django-environ's own mapping, setting both is an error rather than a silent
    preference, an unreadable file is a configuration error naming the variable, and the
    trailing newline that editors and ``kubectl create secret --from-file`` leave is dropped.
    """

    def __getitem__(self, key):
        file_key = key + "_FILE"
        path = self.env.get(file_key)
        if not path:
            return self.env[key]
        if key in self.env:
            raise ImproperlyConfigured(f"{key} and {file_key} are both set; set only one of them")
        try:
            with open(path, encoding="utf-8") as f:
                return f.read().rstrip("\r\n")
        except OSError as e:
            raise ImproperlyConfigured(
                f"{file_key} points to {path!r}, which cannot be read: {e.strerror}"
            ) from None


class Env(environ.Env):
    """django-environ's ``Env`` over :class:`SecretFileMapping`, with clear errors."""

    ENVIRON = SecretFileMapping()

    def seconds(self, var):
        """``var`` as a number of seconds, zero or more, or ``None`` when unset. Parsed
        strictly: django-environ's ``float`` drops the characters it does not expect, reading
        ``1e3`` as 13."""
        raw = self.str(var, default=None)
        if raw is None:
            return None
        try:
            value = float(raw)
        except ValueError:
            value = None
        if value is None or not value >= 0:  # refuses nan too
            raise ImproperlyConfigured(f"{var} must be zero or more seconds, not {raw!r}")
        return value

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
                f"{var} is malformed ({masked_url(raw)}); expected "
                "postgres://USER:PASSWORD@HOST:5432/NAME, mysql://USER:PASSWORD@HOST:3306/NAME "
                "or sqlite:////path/to/file"
            )
        return config
