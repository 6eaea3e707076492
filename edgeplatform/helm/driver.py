"""The Helm driver: template, install-or-upgrade, rollback, uninstall, status and history of releases on any
cluster — the host (``EDGE_KUBECONFIG``) or a member (its stored connection, through the gateway).

    driver = HelmDriver.for_host()
    release = driver.install_or_upgrade("ingress", repository.fetch("ingress", "1.2.0"), {"replicas": 2},
                                        namespace="kube-system")

    with HelmDriver.for_cluster(cluster) as driver:      # a private temporary kubeconfig, removed afterwards
        driver.rollback("ingress", revision=1, namespace="kube-system")

Charts are local paths (a directory or a ``.tgz``, e.g. from ``ChartRepository.fetch``). Releases are stored as
Secrets in the release namespace (Helm's default driver). Importing this module does not load Helm: calls run
through a runner (``edgeplatform.helm.runner``), by default in a spawned subprocess per call.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings

from . import metrics
from .errors import HelmError
from .runner import InProcessRunner, SpawnedRunner

__all__ = ["HelmDriver", "helm_environment", "helm_home"]


def helm_home() -> Path:
    """Where Helm keeps its cache, configuration and data (``EDGE_HELM_HOME``, default ``var/helm``)."""
    return Path(settings.EDGE_HELM_HOME)


def helm_environment(home: Path | None = None) -> dict[str, str]:
    """``HELM_*_HOME`` under the Helm home, so Helm never writes to the user's home directory."""
    home = Path(home or helm_home())
    environment = {"HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
                   "HELM_DATA_HOME": str(home / "data")}
    for path in environment.values():
        Path(path).mkdir(parents=True, exist_ok=True)
    return environment


class HelmDriver:
    """Helm operations against one cluster's API server.

    ``kubeconfig``/``context`` name the cluster (None: Helm's own resolution, which includes the in-cluster
    service account); ``namespace`` is the default release namespace. ``isolated`` (default
    ``EDGE_HELM_ISOLATED``) runs each call in a spawned subprocess — required in forking servers and Celery
    prefork workers, and what gives the field manager ``edge-platform``; ``isolated=False`` runs in this
    process. ``timeout`` (seconds, default ``EDGE_HELM_TIMEOUT``) bounds each operation.
    """

    def __init__(self, kubeconfig: str | os.PathLike | None = None, context: str | None = None,
                 namespace: str = "default", isolated: bool | None = None, home: Path | None = None,
                 timeout: int | None = None):
        self.kubeconfig = os.fspath(kubeconfig) if kubeconfig else None
        self.context = context or None
        self.namespace = namespace
        self.timeout = int(timeout or settings.EDGE_HELM_TIMEOUT)
        home = Path(home or helm_home())
        environment = helm_environment(home)
        isolated = settings.EDGE_HELM_ISOLATED if isolated is None else isolated
        self.runner = SpawnedRunner(environment, home / "bin") if isolated else InProcessRunner(environment)

    @classmethod
    def for_host(cls, **options) -> HelmDriver:
        """A driver for the host cluster (``EDGE_KUBECONFIG`` and ``EDGE_KUBE_CONTEXT``, or in-cluster)."""
        from edgeplatform.kube.connections import host_configured
        from edgeplatform.kube.errors import KubeNotConfigured

        if not host_configured():
            raise KubeNotConfigured("no host cluster: set EDGE_KUBECONFIG or run in a pod")
        return cls(settings.EDGE_KUBECONFIG or None, settings.EDGE_KUBE_CONTEXT or None, **options)

    @classmethod
    @contextlib.contextmanager
    def for_cluster(cls, cluster, **options):
        """A driver for a member ``Cluster``: its stored connection written to a private (0600) temporary
        kubeconfig that is deleted when the block ends. The host cluster (no connection of its own) uses
        ``for_host``."""
        from edgeplatform.kube.connections import member_kubeconfig

        document = member_kubeconfig(cluster)
        if document is None:
            yield cls.for_host(**options)
            return
        descriptor, path = tempfile.mkstemp(prefix="kubeconfig-", suffix=".yaml", dir=_private_dir())
        try:
            with os.fdopen(descriptor, "w") as handle:  # mkstemp creates the file with mode 0600
                yaml.safe_dump(document, handle)
            yield cls(path, **options)
        finally:
            Path(path).unlink(missing_ok=True)

    # ----- operations -----

    def _run(self, operation: str, **params) -> Any:
        """One Helm call, counted in ``helm_operations_total`` (``edgeplatform.helm.metrics``)."""
        started, result = time.perf_counter(), "success"
        try:
            return self.runner.run(operation, params, timeout=self.timeout + 30)
        except HelmError as error:
            result = error.kind
            raise
        finally:
            metrics.observe(operation, result, time.perf_counter() - started)

    def _cluster(self, namespace: str | None) -> dict:
        return {"kubeconfig": self.kubeconfig, "context": self.context, "namespace": namespace or self.namespace}

    def template(self, chart: str | os.PathLike, values: dict | None = None, release: str = "release",
                 namespace: str | None = None) -> list[dict]:
        """Render ``chart`` offline and return its objects (parsed), in template-file order."""
        rendered = self._run("template", chart=_chart(chart), values=values or {}, release=release,
                             namespace=namespace or self.namespace)
        objects = []
        for name in sorted(rendered):
            if not name.endswith((".yaml", ".yml", ".json")):
                continue  # NOTES.txt and helpers
            try:
                objects.extend(doc for doc in yaml.safe_load_all(rendered[name]) if doc)
            except yaml.YAMLError as error:
                raise HelmError(f"{name} does not render to valid YAML: {error}", kind="render",
                                operation="template")
        return objects

    def install_or_upgrade(self, release: str, chart: str | os.PathLike, values: dict | None = None,
                           namespace: str | None = None, atomic: bool = False, labels: dict | None = None,
                           max_history: int | None = None) -> dict:
        """Install ``release`` from ``chart`` or upgrade it to a new revision with these values (which replace
        the previous ones). The chart is rendered first: bad values or a broken template raise ``HelmError`` and
        leave the deployed release as it was. ``atomic`` rolls a failed upgrade back (a new revision).
        ``labels`` go on the release (Helm's ``--labels``: its storage Secrets carry them, merged over the
        previous revision's). ``max_history`` keeps at most that many revisions on an upgrade (None: all)."""
        return self._run("install_or_upgrade", chart=_chart(chart), values=values or {}, release=release,
                         timeout=self.timeout, atomic=atomic, labels=dict(labels or {}), max_history=max_history,
                         **self._cluster(namespace))

    def rollback(self, release: str, revision: int | None = None, namespace: str | None = None) -> dict:
        """Roll ``release`` back to ``revision`` (default: the previous one); returns the new revision."""
        return self._run("rollback", release=release, revision=revision, timeout=self.timeout,
                         **self._cluster(namespace))

    def uninstall(self, release: str, namespace: str | None = None) -> dict:
        """Delete the release's objects and its history."""
        return self._run("uninstall", release=release, timeout=self.timeout, **self._cluster(namespace))

    def status(self, release: str, namespace: str | None = None, revision: int | None = None) -> dict:
        """The latest (or a given) revision: ``revision``, ``status``, ``chart_version``, ``manifest``, ..."""
        return self._run("status", release=release, revision=revision, **self._cluster(namespace))

    def history(self, release: str, namespace: str | None = None) -> list[dict]:
        """Every stored revision of ``release``, oldest first."""
        return self._run("history", release=release, **self._cluster(namespace))

    def repo_index(self, url: str, username: str | None = None, password: str | None = None) -> dict:
        """The ``index.yaml`` of the chart repository at ``url`` as Helm reads it (``helm repo add`` checks it so),
        with basic auth when given."""
        return self._run("repo_index", url=url, username=username, password=password)

    def pull(self, chart: str, url: str, destination: str | os.PathLike, version: str | None = None,
             username: str | None = None, password: str | None = None) -> Path:
        """``helm pull``: download chart ``chart`` (``version``, or the latest) of the repository at ``url`` into
        ``destination``; the archive's path."""
        destination = Path(destination)
        destination.mkdir(parents=True, exist_ok=True)
        before = set(destination.glob("*.tgz"))
        self._run("pull", chart=chart, url=url, version=version, destination=str(destination.resolve()),
                  username=username, password=password)
        pulled = sorted(set(destination.glob("*.tgz")) - before) or sorted(destination.glob(f"{chart}-*.tgz"))
        if not pulled:
            raise HelmError(f"helm pull of {chart} from {url} wrote no archive", kind="repository", operation="pull")
        return pulled[-1]


def _chart(chart: str | os.PathLike) -> str:
    path = Path(chart)
    if not path.exists():
        raise HelmError(f"no chart at {path}", kind="chart")
    return str(path.resolve())


def _private_dir() -> str:
    directory = helm_home() / "tmp"
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    return str(directory)
