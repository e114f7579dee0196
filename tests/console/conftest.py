"""The console's users: a viewer (``view_jobrun``) and an operator (``operate_jobrun`` too),
each a logged-in test client that checks CSRF tokens."""

import pytest

from tests.console.test_console import staff


@pytest.fixture
def viewer(django_user_model):
    return staff(django_user_model, "vera", "view_jobrun")


@pytest.fixture
def operator(django_user_model):
    return staff(django_user_model, "otto", "view_jobrun", "operate_jobrun")
