"""Files operators upload for a run (the console's Run form): saved in Django's storage
(``JOB_UPLOAD_STORAGE``) under ``UPLOADS``, passed to the job as ``storage:NAME`` (a
``batch_jobs.StoredFile`` argument), and deleted ``JOB_UPLOAD_RETENTION`` days later by
``prune_job_runs``. Everything goes through the storage API, so S3 through django-storages
works as local files do."""

import datetime
import posixpath
import uuid

from django.core.exceptions import SuspiciousFileOperation
from django.utils import timezone
from django.utils.text import get_valid_filename

from batch_jobs.conf import setting
from batch_jobs.framework.arguments import StoredFile, upload_storage
from batch_jobs.framework.redact import escape_controls

#: Where uploads go in the storage: UPLOADS/YYYY/MM/DD/<random>/<file name>.
UPLOADS = "batch_jobs/uploads"
#: The most characters of an uploaded file's own name kept in its storage name.
NAME_CHARS = 80


class TooLarge(Exception):
    """An upload over ``JOB_UPLOAD_MAX_SIZE``."""


def safe_name(name):
    """The last part of an uploaded file's own name, made a plain file name: no directory,
    no ``..``, no control character, at most ``NAME_CHARS`` characters (``upload`` when
    nothing is left)."""
    base = escape_controls(str(name)).replace("\\", "/").rsplit("/", 1)[-1]
    try:
        base = get_valid_filename(base)
    except SuspiciousFileOperation:  # "", "." or ".."
        base = ""
    base = base.lstrip(".")[-NAME_CHARS:]
    return base or "upload"


def storage_name(name, now=None):
    """A new storage name for a file uploaded as ``name``, under ``UPLOADS``."""
    now = now or timezone.now()
    return posixpath.join(UPLOADS, f"{now:%Y/%m/%d}", uuid.uuid4().hex, safe_name(name))


def check_size(uploaded):
    """``TooLarge`` when ``uploaded`` (a Django ``UploadedFile``) is over the limit."""
    limit = setting("JOB_UPLOAD_MAX_SIZE")
    if uploaded.size is not None and uploaded.size > limit:
        raise TooLarge(
            f"{safe_name(uploaded.name)} is {uploaded.size:,} bytes; uploads may have "
            f"{limit:,} bytes at most (JOB_UPLOAD_MAX_SIZE)"
        )


def save(uploaded, name):
    """Save ``uploaded`` as storage name ``name`` (or a free name near it); the argument a
    job's ``StoredFile`` takes for it: ``storage:NAME``."""
    check_size(uploaded)
    saved = upload_storage().save(name, uploaded)
    return StoredFile.PREFIX + saved


def delete(argument):
    """Delete the upload that argument ``storage:NAME`` names (nothing when it is gone)."""
    value = StoredFile(argument)
    if value.stored and value.name.startswith(UPLOADS + "/"):
        value.storage.delete(value.name)


def _walk(where, store):
    directories, files = store.listdir(where)
    for name in files:
        yield posixpath.join(where, name)
    for directory in directories:
        yield from _walk(posixpath.join(where, directory), store)


def expired(now=None):
    """Storage names of uploads older than ``JOB_UPLOAD_RETENTION`` days."""
    store = upload_storage()
    cutoff = (now or timezone.now()) - datetime.timedelta(days=setting("JOB_UPLOAD_RETENTION"))
    try:
        names = list(_walk(UPLOADS, store))
    except FileNotFoundError:  # nothing was ever uploaded
        return []
    return [name for name in names if store.get_modified_time(name) < cutoff]


def prune(now=None, dry_run=False):
    """Delete the expired uploads; how many there were."""
    names = expired(now)
    if not dry_run:
        store = upload_storage()
        for name in names:
            store.delete(name)
    return len(names)
