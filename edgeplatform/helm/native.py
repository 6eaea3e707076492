"""Calls into helm-python-sdk (Helm's Go SDK through ctypes). Runs in whatever process holds the library.

This module imports ``helm_python`` only inside ``call``: loading the Go runtime into a process that later forks
(gunicorn ``--preload``, Celery prefork) leaves the children with a runtime whose network calls hang. It has no
Django dependency, so a spawned subprocess can run it with nothing but its arguments.

Helm reads ``HELM_CACHE_HOME``/``HELM_CONFIG_HOME``/``HELM_DATA_HOME`` from the environment it copies when the Go
runtime starts, so ``call`` sets them before the first import; a process that already loaded the library with
other values keeps those.
"""
from __future__ import annotations

import os
from typing import Any

from .errors import HelmError

#: helm-python-sdk exception class name → HelmError.kind
_KINDS = {
    "HelmValuesError": "values", "HelmRenderError": "render", "HelmChartLoadError": "chart",
    "HelmChartInvalidError": "chart", "HelmNotFoundError": "not-found", "HelmKubeError": "kube",
    "HelmStorageError": "kube", "HelmReleaseError": "release", "HelmCancelledError": "timeout",
    "HelmInvalidArgError": "invalid", "HelmRepoError": "repository", "HelmIOError": "chart",
}


def _helm(environment: dict[str, str]):
    os.environ.update(environment)  # before the import: the Go runtime copies the environment when it starts
    import helm_python

    return helm_python


def call(operation: str, params: dict[str, Any], environment: dict[str, str]) -> Any:
    """Run one operation (``template``, ``install_or_upgrade``, ``rollback``, ``uninstall``, ``status``,
    ``history``, ``repo_index``, ``pull``) and return plain data; every failure becomes a ``HelmError``."""
    helm = _helm(environment)
    try:
        return _OPERATIONS[operation](helm, **params)
    except helm.HelmError as error:
        kind = _KINDS.get(type(error).__name__, "unknown")
        if kind == "release" and "not found" in str(error):
            kind = "not-found"
        raise HelmError(str(error), kind=kind, operation=operation) from None


def _config(helm, kubeconfig: str | None, context: str | None, namespace: str):
    return helm.Config(kubeconfig_path=kubeconfig or None, kube_context=context or None, namespace=namespace,
                       storage_driver="secret")


def _summary(release: dict) -> dict:
    """The parts of a release summary callers use (the manifest stays available under ``manifest``)."""
    keys = ("name", "namespace", "revision", "status", "chart_name", "chart_version", "app_version",
            "description", "deployed_at", "first_deployed", "last_deployed", "manifest", "notes")
    return {k: release[k] for k in keys if k in release}


def _template(helm, chart: str, values: dict | None, release: str, namespace: str) -> dict[str, str]:
    with helm.Chart.load(chart) as loaded:
        loaded.validate_schema(values or {})
        return loaded.render(values or {}, name=release, namespace=namespace, is_install=True)


def _install_or_upgrade(helm, chart: str, values: dict | None, release: str, namespace: str,
                        kubeconfig: str | None, context: str | None, timeout: int, atomic: bool,
                        labels: dict | None = None, max_history: int | None = None) -> dict:
    with helm.Chart.load(chart) as loaded, _config(helm, kubeconfig, context, namespace) as cfg:
        # render first: a broken template or values that fail the schema stop here, before the cluster is touched
        loaded.validate_schema(values or {})
        loaded.render(values or {}, name=release, namespace=namespace)
        try:
            cfg.status(release)
            exists = True
        except helm.HelmNotFoundError:
            exists = False
        except helm.HelmReleaseError as error:
            if "not found" not in str(error):
                raise
            exists = False
        if exists:
            result = cfg.upgrade(loaded, release, values or {}, namespace=namespace, timeout=timeout,
                                 rollback_on_failure=atomic, reset_values=True, labels=labels or None,
                                 max_history=max_history)
        else:
            result = cfg.install(loaded, release, values or {}, namespace=namespace, timeout=timeout,
                                 rollback_on_failure=atomic, labels=labels or None)
        return _summary(result)


def _rollback(helm, release: str, namespace: str, kubeconfig: str | None, context: str | None, revision: int | None,
              timeout: int) -> dict:
    with _config(helm, kubeconfig, context, namespace) as cfg:
        cfg.rollback(release, version=revision, timeout=timeout)
        return _summary(cfg.status(release))


def _uninstall(helm, release: str, namespace: str, kubeconfig: str | None, context: str | None,
               timeout: int) -> dict:
    with _config(helm, kubeconfig, context, namespace) as cfg:
        result = cfg.uninstall(release, timeout=timeout)
        return {"info": result.get("info", ""), "release": _summary(result.get("release") or {})}


def _status(helm, release: str, namespace: str, kubeconfig: str | None, context: str | None,
            revision: int | None) -> dict:
    with _config(helm, kubeconfig, context, namespace) as cfg:
        return _summary(cfg.status(release, revision=revision))


def _history(helm, release: str, namespace: str, kubeconfig: str | None, context: str | None) -> list[dict]:
    with _config(helm, kubeconfig, context, namespace) as cfg:
        return [_summary(r) for r in cfg.history(release)]


def _repo_index(helm, url: str, username: str | None, password: str | None) -> dict:
    return helm.repo_index(url, username=username, password=password)


def _pull(helm, chart: str, url: str, version: str | None, destination: str, username: str | None,
          password: str | None) -> dict:
    return helm.pull(chart, repo_url=url, version=version, destination=destination, username=username,
                     password=password)


_OPERATIONS = {"template": _template, "install_or_upgrade": _install_or_upgrade, "rollback": _rollback,
               "uninstall": _uninstall, "status": _status, "history": _history, "repo_index": _repo_index,
               "pull": _pull}

__all__ = ["call"]
