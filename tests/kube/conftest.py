"""Fixtures of the emulator's own tests: API clients built from the ``kube`` fixture's kubeconfig."""
from __future__ import annotations

import pytest
from kubernetes import client, config


@pytest.fixture
def api(kube):
    """An ApiClient built from the fixture's kubeconfig, as the code under test builds its own."""
    api_client = config.new_client_from_config(str(kube.kubeconfig_path))
    yield api_client
    api_client.close()


@pytest.fixture
def core(api):
    """CoreV1Api."""
    return client.CoreV1Api(api)


@pytest.fixture
def apps(api):
    """AppsV1Api."""
    return client.AppsV1Api(api)


@pytest.fixture
def policy(api):
    """PolicyV1Api."""
    return client.PolicyV1Api(api)
