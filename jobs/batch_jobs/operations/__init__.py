"""The operations ``jobctl`` and the console both call: the catalog of jobs, run-control requests,
history queries and the schedules rendered from the catalog. No click, no admin code."""
