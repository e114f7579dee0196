"""Cron-monitor pings (healthchecks.io convention): ``<url>/start``, then ``<url>/<exit code>``."""

import logging
import urllib.request

logger = logging.getLogger("jobs")

TIMEOUT_SECONDS = 5


def ping(base_url, suffix):
    """GET ``<base_url>/<suffix>``; a failure is logged and never changes the job's outcome."""
    if not base_url:
        return
    url = f"{base_url.rstrip('/')}/{suffix}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            response.read(1024)
    except Exception as e:  # any failure of the monitor is the monitor's, not the job's
        logger.warning(
            "monitor ping %s failed: %s", suffix, e, extra={"event": "ping_failed", "ping": suffix}
        )
