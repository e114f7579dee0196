"""App config of the test jobs (mounted into the image with DJANGO_EXTRA_APPS)."""

from django.apps import AppConfig


class TestJobsConfig(AppConfig):
    name = "tests.testjobs"
    label = "testjobs"
