"""The overlap lock: at most one run of a job (per lock key) at a time.

On PostgreSQL it is a session advisory lock on the job-control connection: held while that
connection lives, so a crashed holder frees it when the server notices the connection is gone,
and nothing has to expire. On other databases (the local SQLite default) an ``flock`` on a
file in the temporary directory gives the same behaviour on one machine. Which one is the
database backend's choice (``DatabaseBackend.lock``, in ``batch_jobs.backends``).
"""

import hashlib


def lock_id(key):
    """The signed 64-bit advisory-lock id of ``key``."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
