"""The component controller: a component's Helm release brought to its spec, on the controller base.

Steps (each idempotent; a retry resumes at the step that failed):

* ``ensure_managed`` — ``ext.theriseunion.io/skip-reconcile: "true"``: phase ``Unmanaged``, nothing read, no Helm
  call. ``enabled: false``: the release is uninstalled (when there is one), phase ``Disabled``, the object kept.
  A deletion request (``deletion_requested``): the release is uninstalled, then the row is deleted through the
  write path as the system.
* ``ensure_chart`` — the chart resolved to one archive and digest (``components.desired``): a URL repository
  over HTTP (cached by digest), else the cluster's own repository, then ``library``. Not found: phase ``Failed``,
  reason ``ChartNotFound``, retried (an upload may bring it).
* ``ensure_dependencies`` — every ``spec.dependsOn`` component of the same cluster ``Ready`` (or ``Unmanaged``),
  else phase ``Pending`` with "waiting for X" and a short retry; a dependency turning Ready queues its dependents
  (``components.signals``).
* ``ensure_release`` — one read of the release's stored revisions (``components.releases``). The spec hash equal
  to ``status.observedHash`` and the latest revision the one recorded, ``deployed``: **no Helm call**. Otherwise
  ``install_or_upgrade(atomic=True)``: a failed upgrade is rolled back by Helm to the last good revision (phase
  ``Failed``, reason ``UpgradeFailed``, the message names the revision it went back to); a failed first install
  leaves nothing behind (``InstallFailed``). A revision left ``pending-*`` by a process that died is repaired once
  it is older than the Helm timeout (an abandoned install is removed, an abandoned upgrade rolled back); younger,
  the attempt waits (``HelmBusy``).
* ``ensure_ready`` — the release's Deployments, StatefulSets and DaemonSets (from its stored manifest) ready,
  read through the member cluster's client; not yet: retried shortly until ``EDGE_COMPONENT_READY_TIMEOUT``, then
  phase ``Failed`` (reason ``WorkloadsNotReady``, naming what is not ready) and retried with backoff.

The no-drift cycle costs no Helm call and one read per cluster: the component controller has no period (beat
queues a component only when its generation moved, a retry is due or it was never reconciled), and
``ReleaseSweep``, keyed by cluster, reads the cluster's Helm release Secrets with one LIST
(``EDGE_COMPONENT_SWEEP_PERIOD``) and queues only the components whose release is missing, moved to another
revision or not ``deployed`` (drift), and disabled ones whose release came back.

A deletion request counts as one generation more (``generation_of``, ``keys``): beat finds it due although the
spec did not change, and a permanent failure of the spec before it does not hold the deletion back.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import yaml
from django.conf import settings

from clusters.models import Cluster
from components import status as phases
from components.dependencies import graph_of, install_order
from components.desired import Chart, Release, release_of, resolve_chart, spec_hash
from components.manifests import SKIP_RECONCILE_ANNOTATION
from components.metrics import INSTALL_SECONDS
from components.models import Component
from components.releases import PENDING, Revision, fleet_releases, latest, release_history
from components.services import forget_history, record_history
from edgeplatform import kube as gateway
from edgeplatform.controllers import clock
from edgeplatform.controllers.base import Controller, register
from edgeplatform.controllers.errors import PermanentError, TemporaryError
from edgeplatform.helm import HelmDriver, HelmError
from edgeplatform.kube import KubeError, KubeNotConfigured

__all__ = ["CONTROLLER", "SKIP_RECONCILE", "SWEEP", "ComponentController", "ReleaseSweep", "skips_reconcile"]

log = logging.getLogger(__name__)

SKIP_RECONCILE = SKIP_RECONCILE_ANNOTATION
#: HelmError kinds that come from the chart or the values: the same spec fails the same way
_INVALID = frozenset({"values", "render", "chart", "invalid"})
#: words of a Helm failure the cluster may not repeat (an API server in trouble, a conflict, a timeout)
_TRANSIENT = ("timeout", "timed out", "unavailable", "connection refused", "connection reset", "503", "502",
              "500", "504", "429", "conflict", "the object has been modified", "try again", "deadline exceeded",
              "internal error", "eof", "unreachable")
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def skips_reconcile(component) -> bool:
    """Whether the component carries ``ext.theriseunion.io/skip-reconcile: "true"``."""
    return str((component.annotations or {}).get(SKIP_RECONCILE, "")).lower() == "true"


@dataclass
class _Plan:
    """What one attempt worked out (steps resumed after a failure work it out again)."""

    mode: str
    release: Release
    chart: Chart | None = None
    hash: str = ""
    history: list[Revision] | None = None
    managed_done: bool = False


@register
class ComponentController(Controller):
    """A component's release installed, upgraded, repaired, uninstalled as its spec says (module docstring)."""

    name = "components"
    model = Component
    steps = ("ensure_managed", "ensure_chart", "ensure_dependencies", "ensure_release", "ensure_ready")
    queue = "components"
    sort = "component"
    period = None  # drift is the sweep's (one read per cluster), not a periodic reconcile of every component

    # --- the base's hooks -----------------------------------------------------------------------------------
    def load(self, key: str):
        """The component and its cluster, re-read."""
        return Component.objects.select_related("cluster").filter(pk=key).first()

    def keys(self):
        """``(pk, generation)``; a component being deleted counts one generation more (it is due)."""
        for pk, generation, deleting in Component.objects.values_list("pk", "generation",
                                                                       "deletion_requested").iterator():
            yield pk, (generation or 0) + (1 if deleting else 0)

    def generation_of(self, obj) -> int:
        """The spec's generation, one more while a deletion is asked for (see ``keys``)."""
        return (obj.generation or 0) + (1 if obj.deletion_requested else 0)

    # --- the plan ----------------------------------------------------------------------------------------------
    def _plan(self, obj, run) -> _Plan:
        plan = getattr(run, "plan", None)
        if plan is None:
            mode = "skip" if skips_reconcile(obj) else "delete" if obj.deletion_requested else \
                "disable" if not obj.enabled else "install"
            plan = run.plan = _Plan(mode, release_of(obj))
        return plan

    def _installing(self, obj, run) -> bool:
        """True when the install steps apply; otherwise make sure ``ensure_managed`` ran in this attempt (a retry
        may have resumed past it) and say False."""
        plan = self._plan(obj, run)
        if plan.mode == "install":
            return True
        if not plan.managed_done:
            self.ensure_managed(obj, run)
        return False

    # --- steps ----------------------------------------------------------------------------------------------
    def ensure_managed(self, obj, run) -> None:
        """Skip-reconcile, disabled and deleted components (see the module docstring)."""
        plan = self._plan(obj, run)
        plan.managed_done = True
        if plan.mode == "install":
            return
        if plan.mode == "skip":
            run.status.update(phase=phases.UNMANAGED)
            run.reason, run.message = "SkipReconcile", f"{SKIP_RECONCILE} is set: the platform leaves it alone"
            return
        client = _client(obj, run)
        history = _history(client, plan.release, run)
        if history:
            phases.write(obj, phase=phases.UNINSTALLING, message=f"uninstalling release {plan.release.name}")
            with HelmDriver.for_cluster(obj.cluster) as driver:
                try:
                    driver.uninstall(plan.release.name, namespace=plan.release.namespace)
                except HelmError as error:
                    if error.kind != "not-found":
                        raise _helm_retry(error, "UninstallFailed") from None
        forget_history(obj)
        if plan.mode == "delete":
            from edgeplatform.resources.converters import converter_for
            from edgeplatform.resources.services import delete_object

            delete_object(converter_for(obj), obj, finalize=True)
            run.deleted = True
            run.result = {"deleted": obj.name}
            return
        run.status.update(phase=phases.DISABLED, observedHash=None, releaseVersion=None)
        run.reason, run.message = "Disabled", f"release {plan.release.name} is not installed (enabled: false)"

    def ensure_chart(self, obj, run) -> None:
        """Resolve the chart to one archive and digest; work out the spec hash."""
        if not self._installing(obj, run):
            return
        plan = self._plan(obj, run)
        if plan.chart is not None:
            return
        try:
            plan.chart = resolve_chart(obj, plan.release)
        except HelmError as error:
            run.status.update(phase=phases.FAILED)
            if error.kind == "not-found":
                raise TemporaryError(f"chart not found: {error.message}", reason="ChartNotFound",
                                     delay=settings.EDGE_COMPONENT_CHART_RETRY) from None
            reason = "ChartDigestMismatch" if error.kind == "digest" else "RepositoryUnavailable"
            raise TemporaryError(error.message, reason=reason) from None
        plan.hash = spec_hash(plan.release, plan.chart.digest, plan.chart.version)

    def ensure_dependencies(self, obj, run) -> None:
        """Every dependency of the same cluster Ready (or Unmanaged), else Pending and a short retry."""
        if not self._installing(obj, run):
            return
        names = graph_of([obj])[obj.name]
        if not names:
            return
        found = dict(Component.objects.filter(cluster_id=obj.cluster_id, name__in=names)
                     .values_list("name", "phase"))
        waiting = [f"{name} ({'no such component' if name not in found else (found[name] or 'not reconciled')})"
                   for name in names if found.get(name) not in (phases.READY, phases.UNMANAGED)]
        if waiting:
            run.status.update(phase=phases.PENDING)
            raise TemporaryError(f"waiting for {', '.join(waiting)}", reason="DependenciesNotReady",
                                 delay=settings.EDGE_COMPONENT_DEPENDENCY_RETRY)

    def ensure_release(self, obj, run) -> None:
        """Install or upgrade unless the recorded release is the one asked for and healthy (then no Helm call)."""
        if not self._installing(obj, run):
            return
        if self._plan(obj, run).chart is None:  # resumed here: the chart is worked out again (no Helm call)
            self.ensure_chart(obj, run)
        plan = self._plan(obj, run)
        client = _client(obj, run)
        history = _history(client, plan.release, run)
        history = self._recover(obj, run, client, history)
        current = latest(history)
        recorded = obj.status or {}
        if current is not None and current.status == "deployed" and recorded.get("observedHash") == plan.hash \
                and recorded.get("releaseVersion") == current.revision:
            return
        self._install(obj, run, client, current)

    def ensure_ready(self, obj, run) -> None:
        """The release's workloads ready; not yet: a short retry, then Failed after the timeout."""
        if not self._installing(obj, run):
            return
        plan = self._plan(obj, run)
        client = _client(obj, run)
        history = plan.history if plan.history is not None else _history(client, plan.release, run)
        deployed = latest(history, "deployed")
        if deployed is None:  # the release went meanwhile: the next attempt installs it again
            raise TemporaryError(f"release {plan.release.name} is not deployed", reason="ReleaseMissing", delay=5)
        problems = [problem for problem in (_not_ready(client, kind, name, namespace)
                                            for kind, name, namespace in workloads(deployed, plan.release))
                    if problem]
        recorded = {"releaseName": plan.release.name, "releaseVersion": deployed.revision}
        if problems:
            waited = (clock.now() - deployed.modified).total_seconds() if deployed.modified else 0
            if waited > settings.EDGE_COMPONENT_READY_TIMEOUT:
                run.status.update(phase=phases.FAILED, **recorded)
                raise TemporaryError(f"not ready after {settings.EDGE_COMPONENT_READY_TIMEOUT:g} s: "
                                     + "; ".join(problems), reason="WorkloadsNotReady")
            run.status.update(phase=phases.INSTALLING, **recorded)
            raise TemporaryError("waiting for " + "; ".join(problems), reason="WaitingForWorkloads",
                                 delay=settings.EDGE_COMPONENT_READY_POLL)
        run.status.update(phase=phases.READY, **recorded)
        run.result = {"release": plan.release.name, "revision": deployed.revision}

    # --- Helm ---------------------------------------------------------------------------------------------
    def _recover(self, obj, run, client, history: list[Revision]) -> list[Revision]:
        """A revision left pending by a dead process: wait while it may still be running, then repair it (an
        abandoned install, or a release with only failed revisions, is removed; an upgrade rolled back)."""
        current = latest(history)
        good = latest(history, "deployed")
        if current is None or (current.status not in PENDING and (good is not None or current.status != "failed")):
            return history
        plan = self._plan(obj, run)
        age = (clock.now() - current.modified).total_seconds() if current.modified else float("inf")
        if current.status in PENDING and age < settings.EDGE_HELM_TIMEOUT + 30:
            raise TemporaryError(f"release {plan.release.name} revision {current.revision} is {current.status} "
                                 f"(another operation is in progress)", reason="HelmBusy", delay=15)
        log.warning("components: release %s/%s revision %d was left %s; repairing", plan.release.namespace,
                    plan.release.name, current.revision, current.status)
        with HelmDriver.for_cluster(obj.cluster) as driver:
            try:
                if good is None:
                    driver.uninstall(plan.release.name, namespace=plan.release.namespace)
                    forget_history(obj)
                else:
                    driver.rollback(plan.release.name, revision=good.revision, namespace=plan.release.namespace)
            except HelmError as error:
                if error.kind != "not-found":
                    raise _helm_retry(error, "RecoverFailed") from None
        return _history(client, plan.release, run)

    def _install(self, obj, run, client, current: Revision | None) -> None:
        plan = self._plan(obj, run)
        release, chart = plan.release, plan.chart
        verb = "upgrading" if current is not None else "installing"
        phases.write(obj, phase=phases.INSTALLING,
                     message=f"{verb} {release.name}: chart {chart.name} {chart.version}")
        made = {"digest": chart.digest, "spec_hash": plan.hash, "chart_version": chart.version}
        if current is None:  # Helm does not create the release namespace: applied first (idempotent)
            gateway.apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": release.namespace}})
        started = clock.now()
        try:
            with HelmDriver.for_cluster(obj.cluster) as driver:
                result = driver.install_or_upgrade(release.name, chart.path, release.values,
                                                   namespace=release.namespace, atomic=True)
        except HelmError as error:  # "error": the cluster or Helm in trouble; "failed": the release itself
            INSTALL_SECONDS.labels(result="error" if _transient(error) else "failed").observe(
                (clock.now() - started).total_seconds())
            raise self._failed(obj, run, client, current, error, made) from None
        INSTALL_SECONDS.labels(result="success").observe((clock.now() - started).total_seconds())
        history = _history(client, release, run)
        record_history(obj, history, made=made)
        # recorded at once: a worker killed after this point does not upgrade again on the next attempt
        phases.write(obj, observedHash=plan.hash, releaseName=release.name, releaseVersion=result["revision"])
        run.status.update(observedHash=plan.hash, releaseName=release.name, releaseVersion=result["revision"])

    def _failed(self, obj, run, client, current: Revision | None, error: HelmError, made: dict) -> Exception:
        """The error to end the attempt with after a failed install or upgrade (status says what is left)."""
        plan = self._plan(obj, run)
        release = plan.release
        run.status.update(phase=phases.FAILED)
        if error.kind in _INVALID:  # rendered before the cluster was touched: the release is as it was
            return PermanentError(f"chart {plan.chart.name} {plan.chart.version}: {error.message}",
                                  reason="InvalidChart")
        try:
            history = _history(client, release, run)
        except (KubeError, KubeNotConfigured):
            history = None
        if history is not None:
            record_history(obj, history, made=made)
        deployed = latest(history or [], "deployed")
        error_class = TemporaryError if _transient(error) else PermanentError
        if current is None or deployed is None:
            if history == [] and current is not None:
                forget_history(obj)
            run.status.update(observedHash=None, releaseVersion=None)
            message = f"install of chart {plan.chart.name} {plan.chart.version} failed: {error.message}"
            if history == []:
                message += " (nothing was left behind)"
            return _error(error_class, message, "InstallFailed")
        target = _rolled_back_to(deployed, obj)
        run.status.update(releaseName=release.name, releaseVersion=deployed.revision)
        phases.write(obj, releaseVersion=deployed.revision)
        message = (f"upgrade to chart {plan.chart.name} {plan.chart.version} failed: {error.message}; "
                   f"rolled back to revision {target} (now revision {deployed.revision}, chart "
                   f"{deployed.chart_version})")
        return _error(error_class, message, "UpgradeFailed")


def _error(error_class, message: str, reason: str) -> Exception:
    return TemporaryError(message, reason=reason) if error_class is TemporaryError else \
        PermanentError(message, reason=reason)


def _rolled_back_to(deployed: Revision, obj) -> int:
    """The revision a rollback revision restored ("Rollback to N"), else the deployed one itself."""
    words = deployed.description.split()
    if len(words) == 3 and words[:2] == ["Rollback", "to"] and words[2].isdigit():
        return int(words[2])
    return deployed.revision


def _transient(error: HelmError) -> bool:
    """A failure the cluster may not repeat: retried with backoff rather than waiting for a spec change."""
    if error.kind == "timeout":
        return True
    text = error.message.lower()
    return any(word in text for word in _TRANSIENT)


def _helm_retry(error: HelmError, reason: str) -> TemporaryError:
    return TemporaryError(error.message, reason=reason)


def _client(obj, run):
    """The member cluster's client; a cluster with no stored connection is retried later (NoConnection)."""
    try:
        return gateway.member_client(obj.cluster)
    except KubeNotConfigured as error:
        raise TemporaryError(str(error), reason="NoConnection",
                             delay=settings.EDGE_CONTROLLER_BACKOFF_MAX) from None


def _history(client, release: Release, run) -> list[Revision]:
    history = release_history(client, release.name, release.namespace)
    plan = getattr(run, "plan", None)
    if plan is not None:
        plan.history = history
    return history


def workloads(revision: Revision, release: Release) -> list[tuple[str, str, str]]:
    """The Deployments, StatefulSets and DaemonSets of a revision's manifest: (kind, name, namespace)."""
    out = []
    try:
        documents = list(yaml.safe_load_all(revision.manifest))
    except yaml.YAMLError:
        return out
    for document in documents:
        if isinstance(document, dict) and document.get("kind") in WORKLOAD_KINDS \
                and str(document.get("apiVersion", "")).startswith("apps/"):
            metadata = document.get("metadata") or {}
            out.append((document["kind"], str(metadata.get("name")), metadata.get("namespace") or release.namespace))
    return out


def _not_ready(client, kind: str, name: str, namespace: str) -> str:
    """What is not ready about one workload ("" when it is ready), read through the gateway."""
    obj = gateway.get(client, "apps/v1", kind, name, namespace)
    if obj is None:
        return f"{kind} {name} is missing"
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if (status.get("observedGeneration") or 0) < ((obj.get("metadata") or {}).get("generation") or 0):
        return f"{kind} {name}: the new spec is not observed yet"
    if kind == "DaemonSet":
        wanted, ready = status.get("desiredNumberScheduled") or 0, status.get("numberReady") or 0
        updated = status.get("updatedNumberScheduled") or 0
    else:
        wanted = spec.get("replicas", 1)
        ready = status.get("availableReplicas" if kind == "Deployment" else "readyReplicas") or 0
        updated = status.get("updatedReplicas") or 0
    if ready < wanted or updated < wanted:
        return f"{kind} {name} ({ready}/{wanted} ready)"
    return ""


@register
class ReleaseSweep(Controller):
    """Per cluster, one LIST of its Helm release Secrets; the components whose release drifted are queued."""

    name = "component-releases"
    model = Cluster
    steps = ("ensure_releases_observed",)
    queue = "components"
    writes_status = False

    period_setting = "EDGE_COMPONENT_SWEEP_PERIOD"

    def keys(self):
        """The clusters that have components."""
        return Cluster.objects.filter(components__isnull=False).distinct().values_list("pk", "generation").iterator()

    def cluster_of(self, obj) -> str:
        """The cluster is the object."""
        return obj.name

    def ensure_releases_observed(self, cluster, run) -> None:
        """Compare each component's recorded release with the cluster's; queue what drifted."""
        drifted = drifted_components(cluster)
        if drifted is None:
            run.reason, run.message = "NoConnection", f'cluster "{cluster.name}" has no stored connection'
            return
        from edgeplatform.controllers.tasks import enqueue

        for component in drifted:
            enqueue(CONTROLLER, component.pk)
        run.result = {"cluster": cluster.name, "drifted": [component.name for component in drifted]}


def drifted_components(cluster) -> list[Component] | None:
    """The components of ``cluster`` whose release is not what their status records (in install order): one
    LIST of the cluster's release Secrets, no Helm call. None when the cluster has no connection."""
    components = [c for c in Component.objects.filter(cluster=cluster) if not skips_reconcile(c)
                  and c.deletion_requested is None]
    if not components:
        return []
    try:
        client = gateway.member_client(cluster)
    except KubeNotConfigured:
        return None
    releases = fleet_releases(client)
    out = []
    by_name = {component.name: component for component in components}
    for component in (by_name[name] for name in install_order(by_name.values())):
        release = release_of(component)
        found = releases.get((release.namespace, release.name))
        recorded = component.status or {}
        if not component.enabled:
            if found is not None and component.phase == phases.DISABLED:
                out.append(component)
        elif component.phase == phases.READY and (found is None or found.status != "deployed"
                                                  or found.revision != recorded.get("releaseVersion")):
            out.append(component)
    return out


CONTROLLER = ComponentController
SWEEP = ReleaseSweep
