"""Fixtures every test module shares: API clients that log in like users do, and a clean engine."""
from __future__ import annotations

import pytest
from django.core.cache import caches


@pytest.fixture(autouse=True)
def _fresh_engine():
    """Each test starts with empty grant caches (rolled-back rows must not linger in memory)."""
    from iam.engine import engine

    _clear_l2()
    engine.cache.reset()
    yield
    engine.cache.reset()


def _clear_l2():
    cache = caches["default"]
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("iam:*")
    else:
        cache.clear()


@pytest.fixture
def platform(db):
    """Helpers to build scopes, users and bindings through the same services the API uses."""
    from tests.support import Platform

    return Platform()


@pytest.fixture
def api(db):
    """``api(user)``: a client authenticated with a bearer token obtained from /oauth/token."""
    from tests.support import ApiClient

    return ApiClient.for_user
