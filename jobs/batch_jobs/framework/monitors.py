"""Telling the monitoring a team already has about each run: where it started and how it ended.

Three monitors, each on when configured:

* ``JOB_PING_URL``: healthchecks.io-style pings, ``<url>/start`` then ``<url>/<exit code>``;
* ``JOB_PUSHGATEWAY_URL``: a Prometheus Pushgateway receives the run's metrics at its end;
* Sentry, when ``sentry_sdk`` is initialised (by the project, or from ``JOB_SENTRY_DSN``):
  Crons check-ins for scheduled jobs, with the monitor configured from the job's declaration,
  and the errors worth an issue.

A monitor that fails or does not answer within ``JOB_MONITOR_TIMEOUT`` seconds costs one log
line (event ``monitor_failed``); it never changes the run's outcome or exit code.
"""

import logging
import math
import time
import urllib.request

from batch_jobs.conf import setting
from batch_jobs.framework.errors import one_line
from batch_jobs.framework.redact import redact_json, redact_text
from batch_jobs.framework.schedule import expand

logger = logging.getLogger("batch_jobs")


class Monitor:
    """One destination. ``start`` and ``finish`` (given the run's ``outcome.Outcome``) may
    raise: the caller logs and goes on."""

    name = "monitor"

    def __init__(self, command, run_id):
        self.command = command
        self.job = command.job_name
        self.run_id = run_id

    def start(self):
        pass

    def finish(self, outcome):
        pass


class Ping(Monitor):
    """healthchecks.io's convention: GET ``<url>/start``, then ``<url>/<exit code>``."""

    name = "ping"

    def start(self):
        self.get("start")

    def finish(self, outcome):
        self.get(str(outcome.exit_code))

    def get(self, suffix):
        url = f"{setting('JOB_PING_URL').rstrip('/')}/{suffix}"
        with urllib.request.urlopen(url, timeout=setting("JOB_MONITOR_TIMEOUT")) as response:
            response.read(1024)


class Pushgateway(Monitor):
    """The run's metrics, pushed with POST (``pushadd``) under the grouping key ``job``.

    POST replaces only the metrics it sends, so the last-success timestamp, sent on success
    only, survives a failed run: an alert on its age fires when successes stop (the
    Prometheus documentation's way to watch batch jobs).
    """

    name = "pushgateway"

    def __init__(self, command, run_id):
        super().__init__(command, run_id)
        self.started = time.time()

    def finish(self, outcome):
        from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

        registry = CollectorRegistry()

        def gauge(name, documentation, value, labels=None):
            metric = Gauge(name, documentation, list(labels or {}), registry=registry)
            (metric.labels(**labels) if labels else metric).set(value)
            return metric

        gauge("batch_job_start_time_seconds", "When the last run started.", self.started)
        gauge("batch_job_duration_seconds", "How long the last run took.", outcome.duration)
        gauge("batch_job_exit_code", "The last run's exit code.", outcome.exit_code)
        gauge("batch_job_status", "The last run's status.", 1, {"status": str(outcome.status)})
        counters = Gauge(
            "batch_job_counter", "The last run's counters.", ["counter"], registry=registry
        )
        for name, value in outcome.counters.items():
            counters.labels(counter=redact_text(name)).set(value)
        if outcome.exit_code == 0:
            gauge(
                "batch_job_last_success_time_seconds",
                "When a run last succeeded.",
                time.time(),
            )
        pushadd_to_gateway(
            setting("JOB_PUSHGATEWAY_URL"),
            job=redact_text(self.job),
            grouping_key={"app": setting("JOB_APP_NAME")},
            registry=registry,
            timeout=setting("JOB_MONITOR_TIMEOUT"),
        )


class SentryCrons(Monitor):
    """Check-ins for a scheduled job (in progress, then ok or error with the duration), with
    the monitor's configuration taken from the job's declaration; and one Sentry issue for an
    exit code in ``JOB_SENTRY_ISSUE_EXIT_CODES``, tagged with the job and the run id."""

    name = "sentry"

    def start(self):
        from sentry_sdk.crons import capture_checkin
        from sentry_sdk.crons.consts import MonitorStatus

        self.check_in = None
        if self.command._batch_job.schedule:
            self.check_in = capture_checkin(
                monitor_slug=self.slug,
                status=MonitorStatus.IN_PROGRESS,
                monitor_config=self.monitor_config(),
            )

    def finish(self, outcome):
        import sentry_sdk
        from sentry_sdk.crons import capture_checkin
        from sentry_sdk.crons.consts import MonitorStatus

        if outcome.exit_code in setting("JOB_SENTRY_ISSUE_EXIT_CODES"):
            with sentry_sdk.new_scope() as scope:
                # The event (the exception's text, its frames' variables, breadcrumbs) goes
                # out with every string redacted, as every other text of the run.
                scope.add_event_processor(lambda event, hint: redact_json(event))
                scope.set_tag("job", self.job)
                scope.set_tag("run_id", str(self.run_id))
                scope.set_tag("exit_code", str(outcome.exit_code))
                if outcome.exception is not None and outcome.exit_code == 1:
                    sentry_sdk.capture_exception(outcome.exception)
                else:
                    sentry_sdk.capture_message(f"{self.job}: {outcome.reason}", level="error")
        if self.check_in is not None:
            capture_checkin(
                monitor_slug=self.slug,
                check_in_id=self.check_in,
                status=MonitorStatus.OK if outcome.exit_code == 0 else MonitorStatus.ERROR,
                duration=outcome.duration,
                monitor_config=self.monitor_config(),
            )
        client = sentry_sdk.get_client()
        # Long enough for one request to time out and be counted as a problem.
        client.flush(timeout=setting("JOB_MONITOR_TIMEOUT") + 1)
        problems = getattr(client.transport, "problems", None)
        if problems:
            raise ConnectionError(f"{len(problems)} envelope(s) not delivered: {problems[-1]}")

    @property
    def slug(self):
        return f"{setting('JOB_APP_NAME')}-{self.job.replace('_', '-')}"

    def monitor_config(self):
        command = self.command
        config = {
            "schedule": {"type": "crontab", "value": expand(command._batch_job.schedule)},
            "timezone": command._batch_job.schedule_timezone or "UTC",
            "checkin_margin": setting("JOB_SENTRY_CHECKIN_MARGIN"),
        }
        if command._batch_job.max_runtime:
            # Minutes; the job stops itself at max_runtime, then has the grace period.
            seconds = command._batch_job.max_runtime + command._batch_job.stop_grace_seconds
            config["max_runtime"] = math.ceil(seconds / 60)
        return config


def reporting_transport():
    """sentry-sdk's HTTP transport, made to fail once and say so: no retries (urllib3 would log
    a warning for each) and a list of the envelopes that did not arrive, which ``finish``
    turns into the run's one ``monitor_failed`` line."""
    from sentry_sdk.transport import HttpTransport

    class ReportingTransport(HttpTransport):
        TIMEOUT = setting("JOB_MONITOR_TIMEOUT")  # per request: a silent server fails too

        def __init__(self, options):
            super().__init__(options)
            self.problems = []

        def _get_pool_options(self):
            return {**super()._get_pool_options(), "retries": False}

        def _send_request(self, *args, **kwargs):
            try:
                super()._send_request(*args, **kwargs)
            except Exception as e:
                self.problems.append(one_line(e))
                raise

        def _handle_response(self, response, envelope):
            if response.status >= 300:
                self.problems.append(f"HTTP {response.status} from Sentry")
            super()._handle_response(response=response, envelope=envelope)

    return ReportingTransport


def sentry_active():
    """Whether Sentry is set up: by the project, or here from ``JOB_SENTRY_DSN``."""
    try:
        import sentry_sdk
    except ImportError:
        return False
    if not sentry_sdk.get_client().is_active() and setting("JOB_SENTRY_DSN"):
        from sentry_sdk.integrations.atexit import AtexitIntegration
        from sentry_sdk.integrations.excepthook import ExcepthookIntegration

        # The framework reports a run's error itself, once; the excepthook would again. What
        # is still pending at exit was reported as a problem by finish: flush it quietly.
        sentry_sdk.init(
            dsn=setting("JOB_SENTRY_DSN"),
            integrations=[AtexitIntegration(callback=lambda pending, timeout: None)],
            disabled_integrations=[ExcepthookIntegration()],
            transport=reporting_transport(),
            shutdown_timeout=setting("JOB_MONITOR_TIMEOUT"),
        )
    if not sentry_sdk.get_client().is_active():
        return False
    from sentry_sdk.integrations.logging import ignore_logger

    # Job events at error level would each become an event: the framework reports instead.
    ignore_logger("batch_jobs")
    return True


class Monitors:
    """The monitors configured for one run; each failure is one log line, never raised."""

    def __init__(self, command, run_id):
        kinds = []
        if setting("JOB_PING_URL"):
            kinds.append(Ping)
        if not command._state.dry_run:  # a dry run is no evidence that the job works
            if setting("JOB_PUSHGATEWAY_URL"):
                kinds.append(Pushgateway)
            if sentry_active():
                kinds.append(SentryCrons)
        self.monitors = [kind(command, run_id) for kind in kinds]

    def start(self):
        for monitor in self.monitors:
            self._call(monitor, "start")

    def finish(self, outcome):
        for monitor in self.monitors:
            self._call(monitor, "finish", outcome)

    def _call(self, monitor, step, *args):
        try:
            getattr(monitor, step)(*args)
        except Exception as e:  # the monitor's failure is the monitor's, not the job's
            logger.warning(
                "%s %s failed: %s",
                monitor.name,
                step,
                one_line(e),
                extra={
                    "event": "monitor_failed",
                    "job": monitor.job,
                    "run_id": monitor.run_id,
                    "monitor": monitor.name,
                    "step": step,
                },
            )
