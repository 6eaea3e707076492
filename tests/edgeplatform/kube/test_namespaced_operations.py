"""The gateway's operations for namespaced kinds and finalizers, against the emulated API server with the real
client: a namespace ensured once (check, then create), and a finalizer taken off an object being deleted lets it
go."""
from __future__ import annotations

import pytest
from django.test import override_settings

from edgeplatform import kube as gateway


@pytest.fixture
def host(kube):
    gateway.forget_clients()
    with override_settings(EDGE_KUBECONFIG=str(kube.kubeconfig_path)):
        yield gateway.host_client()
    gateway.forget_clients()


def test_ensure_namespace_creates_it_once(kube, host):
    kube.requests.clear()
    assert gateway.ensure_namespace(host, "edge-bj-01") is True
    assert gateway.ensure_namespace(host, "edge-bj-01") is False
    assert kube.requests.count_writes() == 1
    assert "edge-bj-01" in {n["metadata"]["name"] for n in kube.objects("namespaces")}


def test_a_finalizer_holds_a_delete_until_it_is_removed(kube, host):
    gateway.apply(host, {"apiVersion": "v1", "kind": "ConfigMap",
                         "metadata": {"name": "held", "namespace": "default", "finalizers": ["example.com/wait"]},
                         "data": {"a": "1"}})
    gateway.ensure_absent(host, "v1", "ConfigMap", "held", "default")
    held = gateway.get(host, "v1", "ConfigMap", "held", "default")
    assert held["metadata"]["deletionTimestamp"]
    # removing another finalizer changes nothing; removing ours lets the object go
    assert gateway.remove_finalizer(host, "v1", "ConfigMap", "held", "default", "other/x") == held
    gateway.remove_finalizer(host, "v1", "ConfigMap", "held", "default", "example.com/wait")
    assert gateway.get(host, "v1", "ConfigMap", "held", "default") is None
    assert gateway.remove_finalizer(host, "v1", "ConfigMap", "held", "default", "example.com/wait") is None
