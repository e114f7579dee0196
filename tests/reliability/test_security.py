"""The image: non-root, read-only, no secret in history, environment or layers; secrets
redacted from logs and run records."""

import io
import json
import tarfile

import psycopg
import pytest

from tests.support.docker import client

pytestmark = pytest.mark.image

# Values that must never be baked into the image: the compose defaults and the test ones.
SECRETS = [b"local-only-password", b"test-password", b"hunter2"]


def test_numeric_non_root_user_read_only_root_and_no_capabilities(job_image, image, report):
    config = client().images.get(image).attrs["Config"]
    assert config["User"] == "10001:10001"
    result = job_image.run(
        "sh",
        "-c",
        "id -u; touch /opt/venv/x 2>/dev/null || echo read-only; grep CapEff /proc/self/status",
    )
    lines = result.stdout.split("\n")
    assert lines[0] == "10001"
    assert lines[1] == "read-only"
    assert lines[2].split() == ["CapEff:", "0000000000000000"]
    report.add("image: non-root, read-only, no capabilities", result.exit_code, {0})


def test_no_secret_in_history_environment_or_layers(image, report):
    docker = client()
    img = docker.images.get(image)
    history = json.dumps(img.history()).encode()
    env = json.dumps(img.attrs["Config"]["Env"]).encode()
    assert not any(s in history or s in env for s in SECRETS)
    names = {item.split("=", 1)[0] for item in img.attrs["Config"]["Env"]}
    assert not names & {"DATABASE_URL", "DJANGO_SECRET_KEY", "POSTGRES_PASSWORD"}
    found = []
    with tarfile.open(fileobj=io.BytesIO(b"".join(img.save(named=False))), mode="r|") as outer:
        for member in outer:
            if not member.isfile():
                continue
            data = outer.extractfile(member).read()
            if member.name.endswith(".tar") or member.name.startswith("blobs/"):
                try:
                    with tarfile.open(fileobj=io.BytesIO(data)) as layer:
                        for item in layer:
                            if item.isfile() and item.size < 5_000_000:
                                content = layer.extractfile(item).read()
                                found += [(item.name, s) for s in SECRETS if s in content]
                except tarfile.ReadError:
                    pass
            found += [(member.name, s) for s in SECRETS if s in data and "/" not in member.name]
    report.add("image: secrets in history, env, layers", len(found), {0})
    assert found == []


def test_secret_looking_arguments_are_redacted(job_image, image_database, report):
    result = job_image.run("job", "echo_args", "--", "--password", "hunter2", "--token=hunter2")
    with psycopg.connect(image_database[1]) as db:
        stored = db.execute(
            "SELECT arguments::text FROM batch_jobs_run WHERE job = 'echo_args' ORDER BY id DESC"
        ).fetchone()[0]
    leaked = int("hunter2" in result.stderr) + int("hunter2" in stored)
    report.add("secret-looking arguments", result.exit_code, {0}, lost=leaked)
    assert result.exit_code == 0
    assert "hunter2" not in result.stderr
    assert "hunter2" not in stored and '"--password", "***"' in stored
