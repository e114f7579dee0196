"""The image run the way the rendered Kubernetes pod spec runs it."""

import psycopg
import pytest
import yaml
from click.testing import CliRunner

from batch_jobs.cli.jobctl import cli
from tests.image.test_contract import rows, wait_for_output
from tests.support.docker import TEST_JOBS_ENV, TEST_JOBS_VOLUME, client, finish

pytestmark = pytest.mark.image


def rendered_pod(job, *args):
    result = CliRunner().invoke(
        cli, ["render", "kubernetes", "--image", "django-jobs:test", "--job", job, "--", *args]
    )
    assert result.exit_code == 0, result.output
    return next(yaml.safe_load_all(result.output))["spec"]["template"]["spec"]


def run_like_kubernetes(job_image, pod, secret_file):
    """docker run with the pod's command, environment, user and security context."""
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and security["capabilities"]["drop"] == ["ALL"]
    assert security["allowPrivilegeEscalation"] is False
    env = {item["name"]: item["value"] for item in container["env"]}
    secret_path = env["DATABASE_URL_FILE"]
    user = pod["securityContext"]["runAsUser"]
    return client().containers.run(
        image=job_image.image,
        command=container["args"],
        environment={**env, **TEST_JOBS_ENV},
        volumes={**TEST_JOBS_VOLUME, str(secret_file): {"bind": secret_path, "mode": "ro"}},
        network=job_image.network,
        user=f"{user}:{pod['securityContext']['runAsGroup']}",
        read_only=True,
        tmpfs={"/tmp": "rw,size=64m"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        detach=True,
    )


@pytest.fixture
def secret_file(tmp_path, job_image, image_database):
    path = tmp_path / "database-url"
    path.write_text(job_image.database_url + "\n")  # as kubectl's --from-file leaves it
    path.chmod(0o644)
    with psycopg.connect(image_database[1], autocommit=True) as conn:
        conn.execute("TRUNCATE testjobs_item, batch_jobs_run RESTART IDENTITY CASCADE")
        yield path


def test_the_rendered_pod_runs_the_job(job_image, secret_file, image_database):
    pod = rendered_pod("slow_batches", "--batches", "2", "--sleep", "0")
    result = finish(run_like_kubernetes(job_image, pod, secret_file))
    assert result.exit_code == 0, result.stderr
    assert "wrote 10 rows" in result.stdout


def test_docker_stop_with_the_rendered_grace_period_ends_in_143(
    job_image, secret_file, image_database
):
    pod = rendered_pod("slow_batches", "--batches", "30", "--sleep", "0.5")
    container = run_like_kubernetes(job_image, pod, secret_file)
    wait_for_output(container, "batch 2 written")
    container.stop(timeout=pod["terminationGracePeriodSeconds"])
    result = finish(container)
    assert result.exit_code == 143, result.stderr  # SIGTERM honoured; a SIGKILL would be 137
    with psycopg.connect(image_database[1]) as db:
        assert rows(db, "slow") == result.stdout.count(" written") * 5  # whole batches only
