"""Virtual clusters: a vcluster release on the host cluster, its kubeconfig stored as the cluster's connection,
and every cluster's default components (DESIGN §6).

The cluster controller's first step, ``ensure_vcluster`` (:func:`ensure_vcluster`), brings a Cluster with
``spec.type: virtual`` (or the reference's ``vcluster-enabled`` annotation, folded into the spec at write time)
to a running virtual cluster, one idempotent part after the other; each part that cannot finish yet raises
``TemporaryError`` with a reason the status shows:

1. the host namespace (``vcluster-<name>``, or the one ``cluster.theriseunion.io/vcluster-namespace`` names) on
   the host cluster (the Cluster labelled ``cluster.theriseunion.io/role: host``) — ``NoHostCluster`` without one;
2. the release as a **Component of the host cluster** (``vcluster-<name>``, chart ``vcluster`` from the platform's
   repository ``library``), written through the write path as the system, so that Helm runs in the component
   controller (one release, one lease, no duplicate install however many times this step runs). The chart version
   follows ``spec.distribution`` (``EDGE_VCLUSTER_CHART_VERSIONS``: k8s in every chart, k3s up to 0.32.x, k0s up
   to 0.25.x); ``spec.version`` becomes the distro's version value; the values are the platform's defaults
   (``EDGE_VCLUSTER_VALUES``: resource requests and limits), the distro, ``exportKubeConfig.server``
   (``EDGE_VCLUSTER_SERVER``, templated with ``{name}`` and ``{namespace}``) and then ``spec.config`` over them;
3. the component ``Ready`` — ``InstallingVCluster`` while it is not, ``VClusterFailed`` with the component's own
   reason when it failed;
4. the kubeconfig the chart writes (secret ``vc-<name>``, key ``config``, in the host namespace) stored encrypted
   as the cluster's connection (``Cluster.connection_secret``, as an imported kubeconfig is), through the write
   path as the system — ``WaitingForKubeconfig`` while the secret is not there. The kubeconfig never reaches the
   spec, the custom resource, the API body or a log line.

``ensure_connected`` then checks the virtual cluster as it checks a physical one. The last step,
``ensure_components`` (:func:`ensure_components`), writes the cluster's default components
(``EDGE_CLUSTER_DEFAULT_COMPONENTS``, Component specs) as Components of the cluster and waits for them
(``InstallingComponents``); the first time a virtual cluster gets there, ``status.provisionedTime`` is set and
``vcluster_creation_duration_seconds`` observes the time since the Cluster was created.

A virtual cluster's delete is held (``deletion_requested``, the custom resource's finalizer): the first step then
deletes the vcluster Component (held in turn until Helm uninstalled the release: ``UninstallingVCluster``), removes
the host namespace and finally the Cluster with its contents and grants, each an audited delete.
"""
from __future__ import annotations

import base64
import binascii
import copy
import logging
import re

from django.conf import settings
from django.db import transaction

from clusters.annotations import vcluster_namespace
from edgeplatform import crypto
from edgeplatform import kube as gateway
from edgeplatform.controllers import clock
from edgeplatform.controllers.errors import PermanentError, TemporaryError
from edgeplatform.controllers.status import format_time
from edgeplatform.kube.connections import kubeconfig_problems
from edgeplatform.resources.services import object_deleted, object_saved

__all__ = ["DEFAULT_COMPONENT_LABEL", "VCLUSTER_LABEL", "chart_version", "connect", "desired_component",
           "ensure_components", "ensure_vcluster", "kubeconfig_of", "release_values", "secret_name"]

log = logging.getLogger(__name__)

#: on the host cluster's vcluster Component: the virtual Cluster it runs
VCLUSTER_LABEL = "cluster.theriseunion.io/virtual-cluster"
#: on a Component the platform wrote from ``EDGE_CLUSTER_DEFAULT_COMPONENTS``
DEFAULT_COMPONENT_LABEL = "cluster.theriseunion.io/default-component"
CHART = "vcluster"
COMPONENT_API = "ext.theriseunion.io/v1alpha1"
PROVISIONING, DELETING = "Provisioning", "Deleting"
_VERSION = re.compile(r"^v?(\d+)\.(\d+)(\.\d+)?$")
#: the image tag suffix of each distro's Kubernetes build (the chart's ``controlPlane.distro.<d>.image.tag``)
_TAG_SUFFIX = {"k3s": "-k3s1", "k0s": "-k0s.0"}


def component_name(cluster) -> str:
    """The host cluster's Component that carries the virtual cluster's release."""
    return f"vcluster-{cluster.name}"


def secret_name(cluster) -> str:
    """The secret the chart writes the kubeconfig into (``exportKubeConfig``'s default ``vc-<release>``)."""
    return f"vc-{cluster.name}"


def distribution_of(cluster) -> str:
    """``spec.distribution``, k8s when unset."""
    return (cluster.spec or {}).get("distribution") or "k8s"


def chart_version(distribution: str) -> str:
    """The vcluster chart version that still ships ``distribution`` (``EDGE_VCLUSTER_CHART_VERSIONS``)."""
    versions = settings.EDGE_VCLUSTER_CHART_VERSIONS
    version = versions.get(distribution)
    if not version:
        raise PermanentError(f"no vcluster chart version is configured for distribution {distribution!r} "
                             f"(EDGE_VCLUSTER_CHART_VERSIONS has {', '.join(sorted(versions)) or 'none'})",
                             reason="UnsupportedDistribution")
    return version


def version_problem(version: str) -> str | None:
    """Why ``version`` is not a Kubernetes version (``v1.26.0``, ``1.26``), or None."""
    return None if not version or _VERSION.match(version) else "must be a Kubernetes version such as v1.26.0"


def _merge(base: dict, over: dict) -> dict:
    """``over`` merged into a copy of ``base``, maps key by key (Helm's own rule for values)."""
    out = copy.deepcopy(base)
    for key, value in (over or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def release_values(cluster, namespace: str) -> dict:
    """The chart values of the cluster's release: the platform's defaults, the distro and its version, the
    exported kubeconfig's server, then ``spec.config`` over them (value names as in the real chart)."""
    spec = cluster.spec or {}
    distribution = distribution_of(cluster)
    version = str(spec.get("version") or "")
    distro: dict = {"enabled": True}
    if version:
        plain = version if version.startswith("v") else f"v{version}"
        if distribution == "k8s":
            distro["version"] = plain
        else:
            distro["image"] = {"tag": f"{plain}{_TAG_SUFFIX[distribution]}"}
    server = settings.EDGE_VCLUSTER_SERVER.format(name=cluster.name, namespace=namespace)
    ours = {"controlPlane": {"distro": {distribution: distro}}, "exportKubeConfig": {"server": server}}
    config = spec.get("config") if isinstance(spec.get("config"), dict) else {}
    return _merge(_merge(settings.EDGE_VCLUSTER_VALUES, ours), config)


def desired_component(cluster, host, namespace: str) -> dict:
    """The manifest of the host cluster's Component that installs the virtual cluster."""
    return {"apiVersion": COMPONENT_API, "kind": "Component",
            "metadata": {"name": component_name(cluster), "namespace": host.name,
                         "labels": {VCLUSTER_LABEL: cluster.name}},
            "spec": {"enabled": True, "type": "vcluster", "version": chart_version(distribution_of(cluster)),
                     "chart": {"name": CHART, "namespace": namespace, "releaseName": cluster.name},
                     "values": release_values(cluster, namespace)}}


def _host():
    from components.manifests import host_cluster

    host = host_cluster()
    if host is None:
        raise TemporaryError("no host cluster is registered (a Cluster labelled cluster.theriseunion.io/role: host)",
                             reason="NoHostCluster")
    return host


def _vcluster_component(cluster, host):
    from components.models import Component

    return Component.objects.select_related("cluster").filter(cluster=host, name=component_name(cluster)).first()


def _write(manifest: dict, instance=None, context: dict | None = None):
    from edgeplatform.resources.converters import converter_for
    from edgeplatform.resources.services import save_manifest

    if instance is None:
        from components.models import Component

        converter = converter_for(Component)
    else:
        converter = converter_for(instance)
    return save_manifest(converter, manifest, instance=instance, url_name=manifest["metadata"]["name"],
                         context=context)


# --- ensure_vcluster --------------------------------------------------------------------------------------------
def ensure_vcluster(controller, cluster, run) -> None:
    """The controller's first step (module docstring): nothing for a physical cluster; a virtual one provisioned;
    a held delete carried out."""
    if cluster.deletion_requested is not None:
        _delete(cluster, run)
        return
    if cluster.type != "virtual":
        return
    problem = version_problem(str((cluster.spec or {}).get("version") or ""))
    if problem:
        run.status["phase"] = "Failed"
        raise PermanentError(f"spec.version {problem}", reason="InvalidVersion")
    run.status["phase"] = "Pending"  # what the cluster stays while there is no host cluster to provision on
    host = _host()
    namespace = vcluster_namespace(cluster)
    run.status["phase"] = PROVISIONING
    component = _ensure_release(cluster, host, namespace)
    _wait_ready(component)
    _store_kubeconfig(cluster, host, namespace)


def _ensure_release(cluster, host, namespace: str):
    """The host namespace and the release's Component as they should be; the Component row."""
    client = gateway.member_client(host)
    gateway.ensure_namespace(client, namespace)
    manifest = desired_component(cluster, host, namespace)
    current = _vcluster_component(cluster, host)
    if current is not None and current.deletion_requested is not None:
        raise TemporaryError(f"the previous vcluster release {component_name(cluster)} is still being uninstalled",
                             reason="UninstallingVCluster", delay=settings.EDGE_VCLUSTER_POLL)
    return _write(manifest, instance=current)


def _wait_ready(component) -> None:
    from components.status import FAILED, READY

    status = component.status or {}
    phase = component.phase or "Pending"
    if phase == READY:
        return
    if phase == FAILED:
        raise TemporaryError(f"the vcluster release failed: {status.get('reason') or 'Failed'}: "
                             f"{status.get('message') or 'no message'}", reason="VClusterFailed",
                             delay=settings.EDGE_VCLUSTER_POLL)
    detail = status.get("message") or status.get("reason") or "not reconciled yet"
    raise TemporaryError(f"installing the vcluster release {component.name} on the host ({phase}: {detail})",
                         reason="InstallingVCluster", delay=settings.EDGE_VCLUSTER_POLL)


def kubeconfig_of(secret: dict | None) -> str | None:
    """The kubeconfig text under key ``config`` of the chart's secret, or None."""
    data = ((secret or {}).get("data") or {}).get("config")
    if not data:
        return None
    try:
        return base64.b64decode(data).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None


def _store_kubeconfig(cluster, host, namespace: str) -> None:
    """The chart's kubeconfig stored encrypted as the cluster's connection (written only when it changed)."""
    client = gateway.member_client(host)
    secret = gateway.get(client, "v1", "Secret", secret_name(cluster), namespace)
    text = kubeconfig_of(secret)
    if text is None:
        raise TemporaryError(f"waiting for the virtual cluster's kubeconfig (secret {secret_name(cluster)}, key "
                             f"config, in host namespace {namespace})", reason="WaitingForKubeconfig",
                             delay=settings.EDGE_VCLUSTER_POLL)
    problems = kubeconfig_problems(text)
    if problems:
        raise PermanentError(f"the kubeconfig in secret {secret_name(cluster)} is refused: {'; '.join(problems)}",
                             reason="KubeconfigRefused")
    stored = crypto.decrypt_json(bytes(cluster.connection_secret)) if cluster.connection_secret else {}
    if (stored.get("kubeconfig") or "").strip() == text.strip():  # the spec's field trims what it stores
        return
    from edgeplatform.resources.converters import converter_for

    manifest = converter_for(cluster).to_manifest(cluster)
    manifest.pop("status", None)
    spec = manifest.setdefault("spec", {})
    spec["connection"] = {**(spec.get("connection") or {}), "kubeconfig": text}
    saved = _write(manifest, instance=cluster, context={"stored_connection": True})
    cluster.connection_secret, cluster.spec = saved.connection_secret, saved.spec
    cluster.resource_version, cluster.generation = saved.resource_version, saved.generation


def _delete(cluster, run) -> None:
    """A held delete: the release uninstalled (its Component deleted, held until it is), the host namespace
    removed, then the cluster with its contents and grants."""
    from edgeplatform.resources.converters import converter_for
    from edgeplatform.resources.services import delete_object

    run.status["phase"] = DELETING
    host = None
    if cluster.type == "virtual":
        from components.manifests import host_cluster

        host = host_cluster()
    if host is not None:
        component = _vcluster_component(cluster, host)
        if component is not None:
            if component.deletion_requested is None:
                delete_object(converter_for(component), component)
                component = _vcluster_component(cluster, host)
            if component is not None:
                raise TemporaryError(f"uninstalling the vcluster release {cluster.name} from the host "
                                     f"({component.phase or 'Pending'})", reason="UninstallingVCluster",
                                     delay=settings.EDGE_VCLUSTER_POLL)
        gateway.ensure_absent(gateway.member_client(host), "v1", "Namespace", vcluster_namespace(cluster))
    delete_object(converter_for(cluster), cluster, finalize=True)
    run.deleted = True
    run.result = {"deleted": cluster.name}


# --- ensure_components ------------------------------------------------------------------------------------------
def _default_components() -> list[dict]:
    return [item for item in settings.EDGE_CLUSTER_DEFAULT_COMPONENTS or [] if isinstance(item, dict)]


def ensure_components(controller, cluster, run) -> None:
    """The cluster's default components written and Ready; a virtual cluster's first arrival here is timed."""
    wanted = _default_components()
    if wanted and (cluster.labels or {}).get("cluster.theriseunion.io/role") != "host":
        _ensure_defaults(cluster, wanted, run)
    if cluster.type == "virtual" and not (cluster.status or {}).get("provisionedTime"):
        from clusters.metrics import VCLUSTER_CREATION_SECONDS

        now = clock.now()
        run.status["provisionedTime"] = format_time(now)
        VCLUSTER_CREATION_SECONDS.labels(distribution=distribution_of(cluster)).observe(
            max(0.0, (now - cluster.created).total_seconds()))


def _ensure_defaults(cluster, wanted: list[dict], run) -> None:
    from components.models import Component
    from components.status import FAILED, READY

    rows = {row.name: row for row in Component.objects.select_related("cluster").filter(cluster=cluster)}
    waiting, failed = [], []
    for item in wanted:
        name = str(item.get("name") or (item.get("metadata") or {}).get("name") or "")
        if not name:
            continue
        spec = copy.deepcopy(item.get("spec") if isinstance(item.get("spec"), dict) else
                             {key: value for key, value in item.items() if key != "name"})
        manifest = {"apiVersion": COMPONENT_API, "kind": "Component",
                    "metadata": {"name": name, "namespace": cluster.name,
                                 "labels": {DEFAULT_COMPONENT_LABEL: "true"}}, "spec": spec}
        row = rows.get(name)
        if row is None:
            row = _write(manifest)
        elif (row.labels or {}).get(DEFAULT_COMPONENT_LABEL) != "true":
            continue  # a component of that name someone else wrote: theirs, not replaced
        if row.phase == FAILED:
            failed.append(f"{name} ({(row.status or {}).get('reason') or 'Failed'})")
        elif row.phase != READY:
            waiting.append(f"{name} ({row.phase or 'Pending'})")
    if failed:
        run.status["phase"] = PROVISIONING
        raise TemporaryError(f"default components failed: {', '.join(failed)}", reason="ComponentsFailed",
                             delay=settings.EDGE_VCLUSTER_POLL)
    if waiting:
        run.status["phase"] = PROVISIONING
        raise TemporaryError(f"installing the default components: {', '.join(waiting)}",
                             reason="InstallingComponents", delay=settings.EDGE_VCLUSTER_POLL)


# --- triggers ---------------------------------------------------------------------------------------------------
def _enqueue(pk) -> None:
    from clusters.controller import CONTROLLER
    from edgeplatform.controllers.tasks import enqueue

    try:
        enqueue(CONTROLLER, pk)
    except Exception:  # the write is committed; beat finds the cluster due
        log.exception("could not queue the reconcile of cluster %s", pk)


def _cluster_waiting_on(component):
    """The Cluster a Component's phase moves: the virtual cluster of a vcluster Component, the cluster of a
    default component."""
    from clusters.models import Cluster

    labels = component.labels or {}
    if labels.get(VCLUSTER_LABEL):
        return Cluster.objects.filter(name=labels[VCLUSTER_LABEL]).values_list("pk", flat=True).first()
    if labels.get(DEFAULT_COMPONENT_LABEL) == "true":
        return component.cluster_id
    return None


def _on_saved(sender, *, obj, before=None, after=None, status_only=False, **kwargs) -> None:
    from components.models import Component
    from components.status import FAILED, READY

    if not isinstance(obj, Component) or not status_only:
        return
    was = ((before or {}).get("status") or {}).get("phase")
    now = ((after or {}).get("status") or {}).get("phase")
    if now != was and now in (READY, FAILED):
        pk = _cluster_waiting_on(obj)
        if pk is not None:
            transaction.on_commit(lambda: _enqueue(pk))


def _on_deleted(sender, *, obj, **kwargs) -> None:
    from components.models import Component

    if isinstance(obj, Component) and (obj.labels or {}).get(VCLUSTER_LABEL):
        pk = _cluster_waiting_on(obj)
        if pk is not None:
            transaction.on_commit(lambda: _enqueue(pk))


def connect() -> None:
    """Queue a virtual cluster when its release's Component turns Ready or Failed or is gone, and a cluster when
    one of its default components does (idempotent)."""
    object_saved.connect(_on_saved, dispatch_uid="clusters-vcluster-component")
    object_deleted.connect(_on_deleted, dispatch_uid="clusters-vcluster-component-deleted")
