"""Pytest fixtures: ``kube`` (one cluster) and ``kube_clusters`` (several at once).

Registered from the root ``conftest.py`` (``pytest_plugins``). A test marked ``realcluster`` gets the cluster
named by ``EDGE_TEST_KUBECONFIG`` instead of an emulator, and is skipped when that variable is unset.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from .emulator import Emulator, RequestLog


@dataclass
class RealCluster:
    """A real cluster under test: the same attributes as an emulator where they make sense."""

    kubeconfig_path: Path
    name: str = "real"
    requests: RequestLog | None = None  # requests are not observable on a real cluster

    @property
    def url(self) -> str:
        """The API server URL of the kubeconfig's current context."""
        from kubernetes import config
        from kubernetes.client import Configuration

        cfg = Configuration()
        config.load_kube_config(config_file=str(self.kubeconfig_path), client_configuration=cfg)
        return cfg.host

    emulated = False

    def objects(self, resource: str, namespace: str | None = None, group: str | None = None) -> list[dict]:
        """Not available on a real cluster: read through the gateway instead."""
        raise NotImplementedError("objects() is only available on the emulator")


class EmulatedCluster(Emulator):
    """An emulator with its kubeconfig on disk, as the fixtures hand it out."""

    emulated = True
    kubeconfig_path: Path


def _start(tmp_path: Path, name: str, token: str | None = None, tls: bool = False) -> EmulatedCluster:
    cluster = EmulatedCluster(name=name, token=token, tls=tls).start()
    path = tmp_path / f"{name}.kubeconfig"
    if path.exists():  # a test that uses both ``kube`` and ``kube_clusters``: each keeps its own kubeconfig
        path = tmp_path / f"{name}-{cluster.url.rsplit(':', 1)[-1]}.kubeconfig"
    cluster.kubeconfig_path = cluster.write_kubeconfig(path)
    return cluster


def _real(request) -> RealCluster | None:
    if request.node.get_closest_marker("realcluster") is None:
        return None
    path = os.environ.get("EDGE_TEST_KUBECONFIG")
    if not path:
        pytest.skip("EDGE_TEST_KUBECONFIG is not set: no real cluster to run against")
    return RealCluster(Path(path))


@pytest.fixture
def kube(request, tmp_path):
    """One cluster: an emulated API server (or the real cluster for ``realcluster`` tests)."""
    real = _real(request)
    if real is not None:
        yield real
        return
    cluster = _start(tmp_path, "host")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def kube_clusters(request, tmp_path):
    """``kube_clusters(n, tokens=..., tls=False)``: ``n`` emulated clusters (``host``, ``member1``, ...; https with
    a self-signed certificate with ``tls``), stopped afterwards."""
    started: list[EmulatedCluster] = []

    def make(count: int, tokens: list[str | None] | None = None, tls: bool = False) -> list[EmulatedCluster]:
        if request.node.get_closest_marker("realcluster") is not None:
            pytest.skip("several clusters at once are only available emulated")
        out = []
        for index in range(count):
            name = "host" if not started and index == 0 else f"member{len(started)}"
            cluster = _start(tmp_path, name, (tokens or [None] * count)[index], tls)
            started.append(cluster)
            out.append(cluster)
        return out

    try:
        yield make
    finally:
        for cluster in started:
            cluster.stop()


@pytest.fixture(autouse=True)
def _fresh_gateway_clients():
    """The gateway caches a client per cluster: no test may reach a previous test's (stopped) server."""
    from edgeplatform.kube import connections

    connections.forget_clients()
    yield
    connections.forget_clients()
