"""The operators' console in the Django admin: runs with live progress, a page per job with
its schedule, checkpoint and a chart of its last runs, and the Stop, Pause, Resume and Retry
buttons (permission ``batch_jobs.operate_jobrun``). No JavaScript: pages of live runs reload
themselves every few seconds."""
