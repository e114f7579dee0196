"""Fixtures of the black-box image tests."""

import pytest

from tests.support.docker import JobImage, build_image, create_database


@pytest.fixture(scope="session")
def image():
    return build_image().id


@pytest.fixture(scope="session")
def image_database(postgres):
    """A database of the image tests' own, migrated by the image itself."""
    return create_database(postgres, "image_tests")


@pytest.fixture(scope="session")
def job_image(image, docker_network, image_database):
    runner = JobImage(image, docker_network.name, image_database[0])
    result = runner.run("job", "migrate", "--noinput", test_jobs=False)
    assert result.exit_code == 0, result.stderr
    return runner
