"""Edge runtimes: ``spec.edgeRuntime: {type: kubeedge|openyurt|none, version, advertiseAddress}`` of a cluster,
installed as Components of that cluster (the cluster controller's step ``ensure_edge_runtime`` calls
:func:`ensure`).

What each runtime is made of (the charts are the upstream ones, loaded into the platform's chart repository with
``manage.py charts import``; the chart version looked up is the runtime's version):

* ``kubeedge`` — Component ``cloudcore`` (chart ``cloudcore`` of kubeedge/kubeedge ``manifests/charts/cloudcore``,
  release ``cloudcore`` in namespace ``kubeedge``) with ``controllerManager.enable: true`` (KubeEdge's
  controller-manager runs NodeGroup and EdgeApplication: without it they do nothing) and
  ``cloudCore.modules.cloudHub.advertiseAddress`` set to the address edge nodes reach CloudHub at
  (``spec.edgeRuntime.advertiseAddress``, else the host of the cluster's API server address).
* ``openyurt`` — Component ``yurt-manager`` (chart ``yurt-manager``, namespace ``kube-system``) and Component
  ``yurt-hub`` (chart ``yurthub``, same namespace, ``dependsOn: [yurt-manager]``) with ``kubernetesServerAddr`` the
  cluster's API server address: the yurthub templates ``yurtadm join`` reads. raven-agent (cross-network tunnels)
  is not installed: it is for clouds and edges on different networks and can be added as a Component of its own.

Every Component carries the label ``theriseunion.io/edge-runtime: <type>`` and is written through the write path
as the system actor (audited, synced); the step then waits for their phases: ``EdgeRuntimeInstalling`` while any
is not Ready (retried every ``EDGE_RUNTIME_POLL`` seconds, and at once when one of them changes phase),
``EdgeRuntimeFailed`` with the component's own message when one failed. Changing the type first deletes the old
runtime's Components (the component controller uninstalls each release, then removes the row) and installs the new
one once they are gone (``EdgeRuntimeRemoving`` meanwhile), so two runtimes never run side by side; ``none``
removes it. A step that resumes re-reads everything and writes only what differs: a worker killed after a write
costs nothing twice. Status::

    status:
      edgeRuntime: {type: kubeedge, version: 1.20.0, phase: Ready, components: {cloudcore: Ready}}
      conditions:
      - {type: EdgeRuntimeReady, status: "True", reason: Installed, message: "kubeedge 1.20.0: cloudcore Ready"}
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from clusters.models import Cluster
from edgeplatform import kube as gateway
from edgeplatform.controllers import clock
from edgeplatform.controllers.errors import PermanentError, TemporaryError
from edgeplatform.controllers.status import condition
from edgeplatform.resources import services as write
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.errors import StatusError

__all__ = ["CONDITION", "RUNTIMES", "RUNTIME_LABEL", "Part", "api_server", "cloud_address", "desired",
           "ensure", "runtime_of", "version_of"]

log = logging.getLogger(__name__)

RUNTIME_LABEL = "theriseunion.io/edge-runtime"
CONDITION = "EdgeRuntimeReady"
COMPONENT_API_VERSION = "ext.theriseunion.io/v1alpha1"
READY, FAILED, INSTALLING, REMOVING = "Ready", "Failed", "Installing", "Removing"


@dataclass(frozen=True)
class Part:
    """One Component of a runtime: its name on the platform, the chart, the namespace and release on the member,
    and the parts it needs first."""

    name: str
    chart: str
    namespace: str
    release: str
    depends_on: tuple[str, ...] = ()


RUNTIMES: dict[str, tuple[Part, ...]] = {
    "kubeedge": (Part("cloudcore", "cloudcore", "kubeedge", "cloudcore"),),
    "openyurt": (Part("yurt-manager", "yurt-manager", "kube-system", "yurt-manager"),
                 Part("yurt-hub", "yurthub", "kube-system", "yurt-hub", ("yurt-manager",))),
}
#: every name a runtime's Component may have (a component of that name without the label is not ours)
PART_NAMES = tuple(part.name for parts in RUNTIMES.values() for part in parts)
_DEFAULT_VERSION = {"kubeedge": "EDGE_KUBEEDGE_VERSION", "openyurt": "EDGE_OPENYURT_VERSION"}


def runtime_of(cluster: Cluster) -> str:
    """The edge runtime the cluster's spec asks for: ``kubeedge``, ``openyurt`` or ``none``."""
    wanted = (cluster.spec or {}).get("edgeRuntime") or {}
    kind = wanted.get("type") if isinstance(wanted, dict) else None
    return kind if kind in RUNTIMES else "none"


def version_of(cluster: Cluster) -> str:
    """The runtime's version (``1.20.0``, no ``v``): the spec's, else the setting's default for the type."""
    kind = runtime_of(cluster)
    if kind == "none":
        return ""
    given = str(((cluster.spec or {}).get("edgeRuntime") or {}).get("version") or "").strip()
    return (given or getattr(settings, _DEFAULT_VERSION[kind])).removeprefix("v")


def api_server(cluster: Cluster) -> str:
    """The cluster's API server address (``https://host:6443``), as the platform's client reaches it."""
    return gateway.member_client(cluster).host.rstrip("/")


def cloud_address(cluster: Cluster) -> str:
    """The address edge nodes reach the cloud side at: ``spec.edgeRuntime.advertiseAddress``, else the host of the
    cluster's API server address."""
    given = str(((cluster.spec or {}).get("edgeRuntime") or {}).get("advertiseAddress") or "").strip()
    return given or (urlsplit(api_server(cluster)).hostname or "")


def _values(kind: str, part: Part, version: str, cluster: Cluster) -> dict:
    tag = f"v{version}"
    if part.chart == "cloudcore":
        return {"cloudCore": {"image": {"tag": tag},
                              "modules": {"cloudHub": {"advertiseAddress": [cloud_address(cluster)]}}},
                "iptablesManager": {"image": {"tag": tag}},
                "controllerManager": {"enable": True, "image": {"tag": tag}}}
    if part.chart == "yurthub":
        return {"kubernetesServerAddr": api_server(cluster), "image": {"tag": tag}}
    return {"image": {"tag": tag}}


def desired(cluster: Cluster) -> list[dict]:
    """The Component manifests of the runtime the cluster asks for (none for ``none``)."""
    kind, version = runtime_of(cluster), version_of(cluster)
    return [{"apiVersion": COMPONENT_API_VERSION, "kind": "Component",
             "metadata": {"name": part.name, "namespace": cluster.name, "labels": {RUNTIME_LABEL: kind}},
             "spec": {"enabled": True, "type": "edge-runtime", "version": version,
                      "chart": {"name": part.chart, "namespace": part.namespace, "releaseName": part.release},
                      "values": _values(kind, part, version, cluster),
                      **({"dependsOn": list(part.depends_on)} if part.depends_on else {})}}
            for part in RUNTIMES.get(kind, ())]


def _components(cluster: Cluster) -> dict:
    from components.models import Component

    return {row.name: row for row in Component.objects.filter(cluster=cluster, name__in=PART_NAMES)
            .select_related("cluster")}


def _phase(row) -> str:
    return row.phase or "Pending"


def _why(row) -> str:
    status = row.status or {}
    return status.get("message") or status.get("reason") or "failed"


def ensure(cluster: Cluster, run) -> None:
    """Bring the cluster's edge runtime Components to its spec and wait for them (module docstring)."""
    kind, version = runtime_of(cluster), version_of(cluster)
    generation = cluster.generation or 0
    now = clock.now()
    had = any(item.get("type") == CONDITION for item in (cluster.status or {}).get("conditions") or []
              if isinstance(item, dict))
    if kind == "none" and not had and not (cluster.status or {}).get("edgeRuntime"):
        return  # never had a runtime: no query (the fleet's health cycle pays nothing for this step)
    rows = _components(cluster)
    ours = {name: row for name, row in rows.items() if (row.labels or {}).get(RUNTIME_LABEL)}
    wanted = {part.name for part in RUNTIMES.get(kind, ())}
    stale = {name: row for name, row in ours.items() if name not in wanted or row.labels[RUNTIME_LABEL] != kind}

    def report(phase: str, ok: bool, reason: str, message: str, components: dict) -> None:
        run.status["edgeRuntime"] = {"type": kind, "version": version, "phase": phase, "components": components}
        run.conditions.append(condition(CONDITION, ok, reason, message, generation, now))
        if not ok:  # the cluster is not Ready while its runtime is not: its phase says so (and cluster_status)
            run.status["phase"] = "Failed" if phase == FAILED else "Provisioning"

    if stale:
        _remove(stale)
        old = sorted({row.labels[RUNTIME_LABEL] for row in stale.values()})
        left = {name: _phase(row) if not row.deletion_requested else "Uninstalling" for name, row in stale.items()}
        message = (f"removing {', '.join(old)} before installing {kind}" if kind != "none"
                   else f"removing {', '.join(old)}") + ": " + ", ".join(f"{n} {p}" for n, p in sorted(left.items()))
        report(REMOVING, False, "EdgeRuntimeRemoving", message, left)
        raise TemporaryError(message, reason="EdgeRuntimeRemoving", delay=settings.EDGE_RUNTIME_POLL)
    if kind == "none":
        run.status["edgeRuntime"] = None
        if had:
            run.conditions.append(condition(CONDITION, True, "NoEdgeRuntime", "the cluster runs no edge runtime",
                                            generation, now))
        return
    taken = sorted(name for name in wanted if name in rows and name not in ours)
    if taken:
        message = (f"component {', '.join(taken)} already exists on cluster {cluster.name} and was not installed "
                   f"as its edge runtime: remove or rename it")
        report(FAILED, False, "ComponentNameTaken", message, {})
        raise PermanentError(message, reason="ComponentNameTaken")
    _write(cluster, rows)
    rows = _components(cluster)
    phases = {name: _phase(rows[name]) for name in sorted(wanted) if name in rows}
    summary = ", ".join(f"{name} {phase}" for name, phase in phases.items())
    failed = [name for name, phase in phases.items() if phase == FAILED]
    if failed:
        reasons = "; ".join(f"{name}: {_why(rows[name])}" for name in failed)
        message = f"{kind} {version}: {reasons}"
        report(FAILED, False, "EdgeRuntimeFailed", message, phases)
        raise TemporaryError(message, reason="EdgeRuntimeFailed")
    if any(phase != READY for phase in phases.values()):
        message = f"installing {kind} {version}: {summary}"
        report(INSTALLING, False, "EdgeRuntimeInstalling", message, phases)
        raise TemporaryError(message, reason="EdgeRuntimeInstalling", delay=settings.EDGE_RUNTIME_POLL)
    report(READY, True, "Installed", f"{kind} {version}: {summary}", phases)


def _write(cluster: Cluster, rows: dict) -> None:
    """Create or replace each wanted Component as the system (a write that changes nothing is no write)."""
    from components.models import Component

    converter = converter_for(Component)
    for manifest in desired(cluster):
        name = manifest["metadata"]["name"]
        row = rows.get(name)
        if row is not None and row.deletion_requested:
            continue  # its uninstall finishes first; the next attempt writes it anew
        write.save_manifest(converter, manifest, instance=row, url_name=name,
                            context={"namespace": cluster.name})


def _remove(stale: dict) -> None:
    """Ask for the deletion of each stale Component no other stale one depends on (dependents go first)."""
    from components.models import Component

    converter = converter_for(Component)
    going = {name for name, row in stale.items() if row.deletion_requested}
    for name, row in sorted(stale.items()):
        if name in going:
            continue
        if any(name in (candidate.spec.get("dependsOn") or []) for candidate in stale.values()):
            continue  # once its dependents are uninstalled and gone: a release never outlives what it needs
        try:
            with transaction.atomic():
                write.delete_object(converter, row)
        except StatusError as error:  # a dependent outside the runtime: wait, and say so
            log.warning("edge runtime component %s/%s not deleted yet: %s", row.namespace, name, error.message)


def _on_saved(sender, *, obj, before=None, after=None, status_only=False, **kwargs) -> None:
    """A runtime Component that changes phase queues its cluster's reconcile after the commit (the cluster waits
    on it), so a runtime that turns Ready is reported without waiting for the poll."""
    from components.models import Component

    if not status_only or not isinstance(obj, Component) or not (obj.labels or {}).get(RUNTIME_LABEL):
        return
    was = ((before or {}).get("status") or {}).get("phase")
    now = ((after or {}).get("status") or {}).get("phase")
    if was != now:
        key = obj.cluster_id
        transaction.on_commit(lambda: _enqueue(key))


def _on_deleted(sender, *, obj, **kwargs) -> None:
    """A runtime Component that is gone (its uninstall done) queues its cluster: a swap goes on at once."""
    from components.models import Component

    if isinstance(obj, Component) and (obj.labels or {}).get(RUNTIME_LABEL):
        key = obj.cluster_id
        transaction.on_commit(lambda: _enqueue(key))


def _enqueue(key) -> None:
    from clusters.controller import CONTROLLER
    from edgeplatform.controllers.tasks import enqueue

    try:
        enqueue(CONTROLLER, key)
    except Exception:  # the write is committed; the retry or beat reconciles the cluster later
        log.exception("could not queue the reconcile of cluster %s", key)


def connect() -> None:
    """Listen to the write path (idempotent)."""
    write.object_saved.connect(_on_saved, dispatch_uid="clusters-edge-runtime-component")
    write.object_deleted.connect(_on_deleted, dispatch_uid="clusters-edge-runtime-component-deleted")
