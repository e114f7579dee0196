"""The benchmark driver: its own PostgreSQL 17, data generated in SQL, every variant in one run.

    make bench                      # N = 1,000,000 e-mails (and 10,000,000), 2,000,000 orders
    BENCH_SCALE=0.1 make bench      # a quick check at a tenth of every N
    BENCH_SUITES=drivers make bench # some suites only (comma-separated)
    BENCH_SUITES=mariadb make bench # MariaDB (Debian's package), through the product image
    BENCH_SUITES=output make bench  # a job printing 10,000,000 lines, through `jobctl worker`

Prints one table and writes the same rows to bench/results/latest.json.
"""

import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from testcontainers.community.postgres import PostgresContainer
from testcontainers.core.network import Network

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "latest.json"
SCALE = float(os.environ.get("BENCH_SCALE", "1.0"))
SUITES = [
    "normalize_emails",
    "drivers",
    "daily_stats",
    "memory",
    "shards",
    "adaptive",
    "startup",
    "mariadb",
    "output",
]
CHOSEN = [s for s in os.environ.get("BENCH_SUITES", "").split(",") if s] or SUITES
PG_IMAGE = os.environ.get("PG_IMAGE", "postgres:17")
IMAGE = os.environ.get("BENCH_IMAGE", "django-jobs:bench")
STARTUP_REPEATS = 5


def scaled(n):
    return max(int(n * SCALE), 1000)


class Bench:
    def __init__(self, postgres, network):
        self.postgres = postgres
        self.network = network
        host, port = postgres.get_container_host_ip(), postgres.get_exposed_port(5432)
        credentials = f"{postgres.username}:{postgres.password}"
        self.url = f"postgresql://{credentials}@{host}:{port}/{postgres.dbname}"
        self.inside_url = f"postgres://{credentials}@db:5432/{postgres.dbname}"
        self.env = {
            **os.environ,
            "DATABASE_URL": self.url.replace("postgresql://", "postgres://"),
            "DJANGO_SETTINGS_MODULE": "app.settings",
            "JOB_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
        self.rows = []

    # -- plumbing -------------------------------------------------------------------------

    def sql(self, *statements):
        with psycopg.connect(self.url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def spawn(self, command, stdout=subprocess.DEVNULL, env=None):
        """Run ``command`` to its end: (status, rusage, stdout). Peak RSS comes from wait4."""
        env = {**self.env, **(env or {})}
        with tempfile.TemporaryFile() as err:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=err)
            out = process.stdout.read() if process.stdout else b""
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode:
                err.seek(0)
                raise SystemExit(f"{' '.join(command)} failed:\n{err.read().decode()}")
        return usage, out.decode()

    def variant(self, suite, variant, rows, *args, env=None):
        command = [sys.executable, "-m", "bench.variants", suite, variant, *args]
        usage, out = self.spawn(command, stdout=subprocess.PIPE, env=env)
        result = json.loads(out.strip().splitlines()[-1])
        return result["seconds"], usage.ru_maxrss / 1024, result["detail"]

    def record(self, suite, variant, rows, seconds, rss, floor_seconds=None, note=""):
        share = None
        if floor_seconds:
            share = round(floor_seconds / seconds, 4)
        row = {
            "suite": suite,
            "variant": variant,
            "rows": rows,
            "seconds": round(seconds, 4),
            "rows_per_s": round(rows / seconds, 1),
            "share_of_floor": share,
            "peak_rss_mb": round(rss, 1) if rss is not None else None,
        }
        self.rows.append(row)
        print(format_row(row, note), flush=True)
        return row

    # -- data -----------------------------------------------------------------------------

    def customers(self, n):
        """n customers, every other one needing normalisation."""
        self.sql(
            "TRUNCATE store_customer RESTART IDENTITY CASCADE",
            "TRUNCATE batch_jobs_checkpoint, batch_jobs_shard_plan",
            "INSERT INTO store_customer (email, name) SELECT CASE WHEN i % 2 = 1 "
            "THEN '  User' || i || '@Example.COM ' ELSE 'user' || i || '@example.com' END, '' "
            f"FROM generate_series(1, {n}) AS i",
            "VACUUM ANALYZE store_customer",
        )

    def orders(self, n):
        """n orders spread over 365 days of 2025."""
        self.sql(
            "TRUNCATE store_order, store_dailystat RESTART IDENTITY",
            "INSERT INTO store_order (external_id, amount, created_at) "
            "SELECT 'o' || i, ((i * 7919) % 50000 + 100) / 100.0, "
            "timestamptz '2025-01-01 00:00+00' + ((i * 104729) % (365 * 86400)) * interval '1 s' "
            f"FROM generate_series(1::bigint, {n}) AS i",
            "VACUUM ANALYZE store_order",
        )

    # -- suites ---------------------------------------------------------------------------

    def normalize_emails(self):
        n, subset = scaled(1_000_000), scaled(100_000)
        floor = None
        for variant in ["floor", "textbook", "bulk_update", "python_path", "set_path"]:
            rows = subset if variant == "textbook" else n
            self.customers(rows)
            seconds, rss, detail = self.variant("normalize_emails", variant, rows)
            floor = floor or seconds / n  # seconds per row of the floor
            label = f"{detail}" + (f" (on a {rows:,}-row subset)" if rows != n else "")
            self.record("normalize_emails", variant, rows, seconds, rss, floor * rows, label)

    def drivers(self):
        """The Python path through psycopg 3 and through psycopg 2 (its COPY text), on the
        same data; psycopg 2's share is of psycopg 3's time (aim: 80% or better)."""
        n = scaled(1_000_000)
        seconds = {}
        for driver in ("psycopg3", "psycopg2"):
            self.customers(n)
            seconds[driver], rss, detail = self.variant(
                "normalize_emails", "python_path", n, env={"BENCH_DRIVER": driver}
            )
            floor = seconds["psycopg3"] if driver == "psycopg2" else None
            self.record("drivers", f"python_path_{driver}", n, seconds[driver], rss, floor, detail)

    def daily_stats(self):
        n = scaled(2_000_000)
        self.orders(n)
        floor = None
        for variant in ["floor", "update_or_create_loop", "bulk_upsert"]:
            self.sql("TRUNCATE store_dailystat")
            first, rss, detail = self.variant("daily_stats", variant, n)
            again, _, detail_again = self.variant("daily_stats", variant, n)
            floor = floor or first
            note = f"1st: {detail}; 2nd run {again:.2f}s: {detail_again}"
            self.record("daily_stats", variant, n, first, rss, floor, note)

    def memory(self):
        for label, n in [
            ("python_path_100k", scaled(100_000)),
            ("python_path_1m", scaled(1_000_000)),
            ("python_path_10m", scaled(10_000_000)),
        ]:
            self.customers(n)
            seconds, rss, detail = self.variant("normalize_emails", "python_path", n)
            self.record("memory", label, n, seconds, rss, note=detail)
        rows = self.rows[-3:]
        # What a sharded walk's plan costs on the largest table: the quantiles of its keys.
        with psycopg.connect(self.url, autocommit=True) as conn:
            started = time.perf_counter()
            conn.execute(
                "SELECT percentile_disc(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY id) "
                "FROM store_customer"
            )
            planned = time.perf_counter() - started
        self.record("shards", "plan_4_shards", rows[-1]["rows"], planned, None, note="quantiles")
        for small, large in itertools.pairwise(rows):
            print(
                f"  peak RSS grows {large['peak_rss_mb'] - small['peak_rss_mb']:+.1f} MB from "
                f"{small['rows']:,} to {large['rows']:,} rows",
                flush=True,
            )

    def shards(self):
        """The whole walk's rows per second: one run, then four shards side by side (as an
        Indexed Job's pods), on the same data."""
        n = scaled(1_000_000)
        for count in (1, 4):
            self.customers(n)
            command = [sys.executable, "-m", "bench.variants", "normalize_emails", "python_path"]
            started = time.perf_counter()
            processes = [
                subprocess.Popen(
                    [*command, *(["--shard", f"{i}/{count}"] if count > 1 else [])],
                    cwd=ROOT,
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                for i in range(count)
            ]
            peak = 0.0
            for process in processes:
                _, status, usage = os.wait4(process.pid, 0)
                if os.waitstatus_to_exitcode(status):
                    raise SystemExit(f"shard failed: {process.stderr.read().decode()}")
                peak = max(peak, usage.ru_maxrss / 1024)
            seconds = time.perf_counter() - started
            note = f"{count} process(es) at once on {os.cpu_count()} cores; RSS: the largest"
            self.record("shards", f"python_path_x{count}", n, seconds, peak, note=note)

    def adaptive(self):
        """Fixed batch sizes against --batch-time (0.5 s, its default), on the same data."""
        n = scaled(1_000_000)
        best = None
        for label, args in [
            ("fixed_500", ["--batch-size", "500"]),
            ("fixed_2000", ["--batch-size", "2000"]),
            ("fixed_5000", ["--batch-size", "5000"]),
            ("fixed_20000", ["--batch-size", "20000"]),
            ("adaptive_0.5s", ["--batch-time"]),
        ]:
            self.customers(n)
            seconds, rss, detail = self.variant("normalize_emails", "python_path", n, *args)
            if label.startswith("fixed"):
                best = min(best or seconds, seconds)
            note = detail + (
                " (against the best fixed size)" if best and "adaptive" in label else ""
            )
            self.record(
                "batch_size", label, n, seconds, rss, best if "adaptive" in label else None, note
            )

    def startup(self):
        build_image()
        self.sql("TRUNCATE store_authtoken")
        docker = [
            "docker",
            "run",
            "--rm",
            "--network",
            self.network.name,
            "-e",
            f"DATABASE_URL={self.inside_url}",
            "-e",
            "JOB_LOG_LEVEL=WARNING",
            IMAGE,
        ]
        job = str(Path(sys.executable).parent / "job")
        commands = {
            "docker_true": [*docker, "true"],
            "docker_job": [*docker, "job", "cleanup_tokens", "--dry-run"],
            "python_pass": [sys.executable, "-c", "pass"],
            "job_local": [job, "cleanup_tokens", "--dry-run"],
        }
        floors = {"docker_job": "docker_true", "job_local": "python_pass"}
        timings = {}
        for variant, command in commands.items():
            runs, rss = [], None
            for _ in range(STARTUP_REPEATS):
                started = time.perf_counter()
                process = subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                _, status, usage = os.wait4(process.pid, 0)
                runs.append(time.perf_counter() - started)
                if os.waitstatus_to_exitcode(status):
                    raise SystemExit(f"{variant} failed: {process.stderr.read().decode()}")
                if not variant.startswith("docker"):
                    rss = usage.ru_maxrss / 1024
            timings[variant] = statistics.median(runs)
            floor = timings.get(floors.get(variant, variant))
            self.record(
                "startup", variant, 1, timings[variant], rss, floor, f"median of {STARTUP_REPEATS}"
            )

    def mariadb(self):
        """normalize_emails on MariaDB (Debian's package, tests/support/mariadb): a set-based
        UPDATE (the floor), the write alone as one UPDATE ... JOIN, bulk_update and our Python
        path (update_rows, at three batch sizes: MARIA_VARIANTS), on the same data. The
        variants run in the product image, which has mysqlclient (a clean host has no MySQL
        driver), with bench/ mounted; the data is made by the server's own client."""
        from tests.support import mariadb

        n = scaled(1_000_000)
        build_image()
        with mariadb.server(self.network, alias="maria") as (server, _, url):
            self.in_image(url, "job", "migrate", "-v0")
            floor = None
            for label, variant, args in MARIA_VARIANTS:
                mariadb.query(server, maria_customers(n))
                if variant == "floor_join":
                    mariadb.query(server, MARIA_CHANGED)
                started = time.perf_counter()
                out = self.in_image(
                    url, "python", "-m", "bench.variants", "normalize_emails", variant, *args
                )
                wall = time.perf_counter() - started
                result = json.loads(out.strip().splitlines()[-1])
                seconds = result["seconds"]
                floor = floor or seconds / n
                note = f"{result['detail']}; {wall:.1f}s with the container's start"
                self.record("mariadb", label, n, seconds, result["rss_mb"], floor * n, note)
            mariadb.query(server, "DROP TABLE IF EXISTS bench_new")

    def output(self):
        """A job that prints ten million lines (tests/testjobs' print_lines), requested with
        `jobctl start` and run through `jobctl worker --drain`: with output capture off
        (JOB_OUTPUT_LINES=0, the floor) and on (100 lines, the default, and 10,000). The
        worker's peak RSS (its own last line), the job's (its counters), and the size of the
        run record's output as PostgreSQL stores it."""
        n = scaled(10_000_000)
        bin_dir = Path(sys.executable).parent
        env = {"DJANGO_EXTRA_APPS": "tests.testjobs"}
        floor = None
        for label, lines in [("capture_off", 0), ("capture_100", 100), ("capture_10000", 10000)]:
            self.sql("TRUNCATE batch_jobs_request, batch_jobs_run CASCADE")
            env["JOB_OUTPUT_LINES"] = str(lines)
            start = [bin_dir / "jobctl", "start", "print_lines", "--", "--lines", str(n)]
            self.spawn([str(word) for word in start], env=env)
            started = time.perf_counter()
            command = [str(bin_dir / "jobctl"), "worker", "--drain"]
            with tempfile.TemporaryFile() as err:
                process = subprocess.Popen(
                    command, cwd=ROOT, env={**self.env, **env}, stdout=subprocess.DEVNULL,
                    stderr=err,
                )  # fmt: skip
                _, status, _ = os.wait4(process.pid, 0)
                seconds = time.perf_counter() - started
                err.seek(0)
                said = err.read().decode()
            if os.waitstatus_to_exitcode(status):
                raise SystemExit(f"jobctl worker failed:\n{said}")
            worker_mb = float(said.rsplit("peak memory ", 1)[1].split(" MiB")[0])
            with psycopg.connect(self.url, autocommit=True) as conn:
                exit_code, counters, stored, text, kept = conn.execute(
                    "SELECT exit_code, counters, pg_column_size(output), "
                    "octet_length(output::text), jsonb_array_length(output->'lines') "
                    "FROM batch_jobs_run"
                ).fetchone()
            if exit_code != 0 or counters.get("lines") != n:
                raise SystemExit(f"print_lines ended {exit_code}: {counters}")
            job_mb = counters["peak_rss_kib"] / 1024
            floor = floor or seconds
            note = (
                f"RSS: the worker's; the job's {job_mb:.1f} MB; the record's output "
                f"{text / 1024:.1f} KiB as JSON, {stored / 1024:.1f} KiB stored ({kept or 0} lines)"
            )
            self.record("output", label, n, seconds, worker_mb, floor, note)

    def in_image(self, url, *command):
        """``command`` in the product image on the bench network, with bench/ mounted: its
        stdout (it must succeed)."""
        docker = [
            "docker", "run", "--rm", "--network", self.network.name,
            "-e", f"DATABASE_URL={url}", "-e", "JOB_LOG_LEVEL=WARNING",
            "-v", f"{ROOT / 'bench'}:/srv/bench:ro", IMAGE, *command,
        ]  # fmt: skip
        done = subprocess.run(docker, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{' '.join(command)} failed in the image:\n{done.stderr}")
        return done.stdout


#: The MariaDB suite's rows: label, variant, the job's arguments. The Python path runs at the
#: job's batch size (5,000), at 20,000, and at the sizes --batch-time (0.5 s) picks.
MARIA_VARIANTS = [
    ("floor", "floor", []),
    ("floor_join", "floor_join", []),
    ("bulk_update", "bulk_update", []),
    ("python_path", "python_path", []),
    ("python_path_20000", "python_path", ["--batch-size", "20000"]),
    ("python_path_adaptive", "python_path", ["--batch-time"]),
    ("set_path", "set_path", []),
]


def maria_customers(n):
    """n customers, every other one needing normalisation (MariaDB's sequence engine stands
    for generate_series)."""
    return (
        "SET FOREIGN_KEY_CHECKS = 0; TRUNCATE store_customer; SET FOREIGN_KEY_CHECKS = 1; "
        "TRUNCATE batch_jobs_checkpoint; TRUNCATE batch_jobs_shard_plan; "
        "INSERT INTO store_customer (email, name) SELECT CASE WHEN seq % 2 = 1 "
        "THEN CONCAT('  User', seq, '@Example.COM ') ELSE CONCAT('user', seq, '@example.com') "
        f"END, '' FROM seq_1_to_{n}; ANALYZE TABLE store_customer"
    )


#: The changed rows' new values, for the UPDATE ... JOIN floor (compared as bytes: the
#: default collation is case- and pad-blind).
MARIA_CHANGED = (
    "DROP TABLE IF EXISTS bench_new; "
    "CREATE TABLE bench_new (id bigint PRIMARY KEY, email varchar(254) NOT NULL) "
    "SELECT id, LOWER(TRIM(email)) AS email FROM store_customer "
    "WHERE BINARY email <> BINARY LOWER(TRIM(email))"
)


def build_image():
    """The product image (IMAGE), as `make build` builds it."""
    subprocess.run(
        ["docker", "build", "-q", "-t", IMAGE, "."],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


HEADER = (
    f"{'suite':<17}{'variant':<23}{'rows':>11}{'seconds':>10}{'rows/s':>12}{'floor':>8}"
    f"{'RSS MB':>9}"
)


def format_row(row, note=""):
    share = f"{row['share_of_floor']:.0%}" if row["share_of_floor"] is not None else "-"
    rss = f"{row['peak_rss_mb']:.1f}" if row["peak_rss_mb"] is not None else "-"
    line = (
        f"{row['suite']:<17}{row['variant']:<23}{row['rows']:>11,}{row['seconds']:>10.3f}"
        f"{row['rows_per_s']:>12,.0f}{share:>8}{rss:>9}"
    )
    return f"{line}  {note}" if note else line


def main():
    if unknown := set(CHOSEN) - set(SUITES):
        raise SystemExit(f"BENCH_SUITES: no suite {', '.join(sorted(unknown))}; {SUITES}")
    print(f"BENCH_SCALE={SCALE}  PostgreSQL image {PG_IMAGE}", flush=True)
    with (
        Network() as network,
        PostgresContainer(PG_IMAGE, username="bench", password="bench", dbname="bench", driver=None)
        .with_network(network)
        .with_network_aliases("db") as postgres,
    ):
        bench = Bench(postgres, network)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=bench.env, check=True
        )
        print(HEADER, flush=True)
        for suite in CHOSEN:
            getattr(bench, suite)()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(bench.rows, indent=2) + "\n")
    print(f"\n{HEADER}")
    for row in bench.rows:
        print(format_row(row))
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
