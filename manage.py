#!/usr/bin/env python
"""Django's command-line utility, with the job runner's exit codes for configuration errors."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
    from batch_jobs.cli.job import manage

    sys.exit(manage(sys.argv))
