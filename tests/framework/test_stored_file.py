"""``batch_jobs.StoredFile``: a local path or ``storage:NAME`` in Django's storage, told apart
by the prefix; ``import_orders`` reading either way (a missing file is its exit 65, as from a
path); hostile storage names refused with exit 2; and uploads deleted past their retention by
``prune_job_runs``."""

import argparse
import datetime
import os

import pytest
from django.core.files.base import ContentFile
from hypothesis import given, settings
from hypothesis import strategies as st

from batch_jobs import StoredFile
from batch_jobs.framework.arguments import upload_storage
from batch_jobs.operations import uploads
from batch_jobs.testing import run_job

GOOD = b"external_id,amount,created_at\nA-1,10.50,2026-01-01T00:00:00+00:00\n"
BAD = GOOD + b"A-2,ten,2026-01-01T00:00:00+00:00\nA-3,1.00,yesterday\n"


@pytest.fixture
def media(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path / "media"


def test_a_local_path_and_a_storage_name_are_told_apart_by_the_prefix(media, tmp_path):
    (tmp_path / "in.csv").write_bytes(GOOD)
    local = StoredFile(str(tmp_path / "in.csv"))
    assert not local.stored and local.name == str(tmp_path / "in.csv")
    with local.open() as f:
        assert f.read() == GOOD
    name = upload_storage().save("batch_jobs/uploads/t/in.csv", ContentFile(GOOD))
    stored = StoredFile(f"storage:{name}")
    assert stored.stored and stored.name == name and stored == f"storage:{name}"
    with stored.open() as f:
        assert f.read() == GOOD
    # A local file whose name starts with the prefix: spelled as a relative path.
    assert not StoredFile("./storage:x.csv").stored


@pytest.mark.parametrize(
    "text", ["storage:", "storage:/etc/passwd", "storage:a/../../b", "storage:a//b", "storage:\x1b"]
)
def test_a_name_no_storage_could_hold_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError, match="is not a storage name"):
        StoredFile(text)


@given(st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_an_accepted_storage_name_stays_inside_the_storage(name):
    try:
        value = StoredFile("storage:" + name)
    except argparse.ArgumentTypeError:
        return
    resolved = os.path.normpath(os.path.join("/media", value.name))
    assert resolved.startswith("/media/") and ".." not in value.name.split("/")


@pytest.mark.django_db
def test_import_orders_reads_an_upload_and_a_local_path_alike(media, tmp_path):
    good = upload_storage().save("batch_jobs/uploads/t/good.csv", ContentFile(GOOD))
    assert run_job("import_orders", f"storage:{good}").exit_code == 0
    (tmp_path / "good.csv").write_bytes(GOOD)
    assert run_job("import_orders", str(tmp_path / "good.csv")).exit_code == 0
    bad = upload_storage().save("batch_jobs/uploads/t/bad.csv", ContentFile(BAD))
    result = run_job("import_orders", f"storage:{bad}")
    assert result.exit_code == 65
    assert str(result.exception) == (
        f"2 invalid rows in storage:{bad}, nothing imported: line 3: amount 'ten' is not a "
        "number; line 4: created_at 'yesterday' is not an ISO 8601 time"
    )


@pytest.mark.django_db
def test_a_missing_file_is_exit_65_and_a_bad_name_exit_2(media):
    missing = run_job("import_orders", "storage:batch_jobs/uploads/gone.csv")
    assert missing.exit_code == 65
    assert "cannot read storage:batch_jobs/uploads/gone.csv" in str(missing.exception)
    refused = run_job("import_orders", "storage:../etc/passwd")
    assert refused.exit_code == 2
    assert "is not a storage name" in str(refused.exception)


@pytest.mark.django_db
def test_prune_job_runs_deletes_uploads_past_their_retention(media, settings):
    settings.JOB_UPLOAD_RETENTION = 3
    store = upload_storage()
    old = store.save("batch_jobs/uploads/2026/01/01/a/old.csv", ContentFile(GOOD))
    new = store.save("batch_jobs/uploads/2026/01/05/b/new.csv", ContentFile(GOOD))
    other = store.save("elsewhere/keep.csv", ContentFile(GOOD))  # not an upload
    four_days_ago = (datetime.datetime.now() - datetime.timedelta(days=4)).timestamp()
    os.utime(media / old, (four_days_ago, four_days_ago))
    os.utime(media / other, (four_days_ago, four_days_ago))

    dry = run_job("prune_job_runs", "--older-than", "90", "--dry-run")
    assert dry.exit_code == 0 and dry.record.counters["upload_candidates"] == 1
    assert store.exists(old)
    result = run_job("prune_job_runs", "--older-than", "90")
    assert result.exit_code == 0 and result.record.counters["uploads_deleted"] == 1
    assert not store.exists(old) and store.exists(new) and store.exists(other)
    assert uploads.prune() == 0


@pytest.mark.django_db
def test_prune_job_runs_with_no_upload_ever(media):
    assert run_job("prune_job_runs", "--older-than", "90").record.counters["uploads_deleted"] == 0
