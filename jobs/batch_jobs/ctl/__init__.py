"""``jobctl``: the jobs' schedules, rendered for Kubernetes, cron and systemd; run history."""
