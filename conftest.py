"""Fixtures every test module shares: API clients that log in like users do, and a clean engine."""
from __future__ import annotations

import pytest
from django.core.cache import caches

pytest_plugins = ["tests.kube.fixtures"]


@pytest.fixture(autouse=True, scope="session")
def _quick_password_hashing():
    """Tests log in hundreds of times: hash with MD5 (the deliberately slow default costs ~0.3 s a login).

    The real hashers stay listed after it, so hashes made the production way still verify.
    """
    from django.conf import settings
    from django.test import override_settings

    quick = override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher",
                                                *settings.PASSWORD_HASHERS])
    quick.enable()
    yield
    quick.disable()


@pytest.fixture(autouse=True)
def _fresh_engine():
    """Each test starts with empty grant and token caches (rolled-back rows must not linger in memory)."""
    from iam.engine import engine
    from iam.token_cache import token_cache

    _clear_l2()
    engine.cache.reset()
    token_cache.clear()
    yield
    engine.cache.reset()
    token_cache.clear()


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


@pytest.fixture
def host(kube, eager_celery):
    """The ``kube`` emulator as the configured host cluster (CRD sync on, its tasks run at once) with the platform's
    CRDs installed; quick retries. Yields the host's gateway client."""
    from django.test import override_settings

    from edgeplatform import kube as gateway
    from edgeplatform.kube import crds

    gateway.forget_clients()
    with override_settings(EDGE_KUBECONFIG=str(kube.kubeconfig_path), EDGE_KUBE_RETRIES=2, EDGE_KUBE_BACKOFF=0.01,
                           EDGE_KUBE_BACKOFF_MAX=0.05):
        client = gateway.host_client()
        crds.install(client)
        yield client
    gateway.forget_clients()


@pytest.fixture
def eager_celery():
    """Celery tasks run at once, in the calling thread (as a worker would run them, minus the broker)."""
    from edgeplatform.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed():`` runs what the block queues after commit (the sync, the controller's tasks)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
