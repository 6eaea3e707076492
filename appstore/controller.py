"""The deployment controller (``app-deployments``): an ApplicationDeployment rolled out to every topology.

Steps (each attempt runs them from the first: the version is resolved at every reconcile):

* ``ensure_finalized`` — a deletion asked for (``deletion_requested``): phase ``Deleting``, every cluster the
  deployment ran on unprovisioned, then the row removed through the write path as the system (``finalize=True``).
  A cluster that does not answer holds the deletion (retried with backoff).
* ``ensure_version`` — ``spec.version`` (``latest``, exact, or a range) resolved over the application's Approved
  versions (``appstore.versions.newest``); a deprecated version is admissible only when it is the one the
  deployment already runs. Nothing admissible: phase ``Pending`` with a message, topologies left as they are;
  the approval of a version of the application queues the deployment again (``appstore.triggers``). A version
  other than the one rolled last starts a rollout (``DeploymentRollout``) and a history entry (``Initial``;
  ``Upgrade`` to a newer version, ``Rollback`` to an older one; operator: who wrote the spec, or the reviewer whose
  approval brought the version; at most 10 entries).
* ``ensure_topologies`` — each topology resolved (``appstore.topologies.places`` as the system) to a ``Target``,
  and the hash of what it should be (version, topology, placement). Clusters are worked on in parallel
  (``spec.rollout.maxConcurrent`` or ``EDGE_APPSTORE_ROLLOUT_CONCURRENCY`` at once), each by one thread that makes
  no database access: one read of the cluster's state through a client without retries
  (``EDGE_APPSTORE_CLUSTER_TIMEOUT``: a cluster that does not answer costs one timeout, and its topologies are
  ``Unreachable``), then a provision (or update) of each topology whose hash differs from the one recorded, or
  whose objects are missing (drift), and the pruning of topologies no longer in the spec. Nothing changed and
  nothing missing: **no write**. The failure budget (``spec.rollout.maxFailedTopologies`` or
  ``EDGE_APPSTORE_MAX_FAILED_TOPOLOGIES``) stops the starting of new topologies once that many failed. What each
  cluster did is recorded (``DeploymentTopology``) as soon as its thread ends, so a worker that dies mid-rollout
  leaves the topologies it finished recorded and the next attempt does not write them again.

The outcome is ``status.topologyStatuses`` and the totals; ``phase`` ``Running`` (every topology Running),
``Progressing`` (re-read every ``EDGE_APPSTORE_PROGRESS_POLL`` seconds; a topology still progressing
``EDGE_APPSTORE_PROGRESS_TIMEOUT`` after its apply is ``Failed``), ``Degraded`` (some failed or unreachable:
retried with backoff), ``Failed`` (all failed, or the budget spent). Every cluster is read at most every
``EDGE_APPSTORE_DRIFT_PERIOD`` (the drift check: reads only, a write only for what drifted); in between, an attempt
reads only the clusters with a topology that is not Running at its desired hash, so a reconcile with nothing to do
sends no request at all. An upgrade whose topology fails, with automatic rollback on
(``spec.rollout.autoRollback`` or ``EDGE_APPSTORE_AUTO_ROLLBACK``), is rolled back to the last version that ran
everywhere through ``appstore.services.rollback`` as the system.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from appstore import provisioners, versions
from appstore.metrics import ROLLOUT_SECONDS, TOPOLOGY_WRITES
from appstore.models import ApplicationDeployment, DeploymentRollout, DeploymentTopology
from appstore.provisioners.base import Target, TopologyState
from clusters.models import Cluster
from edgeplatform import kube
from edgeplatform.controllers import clock
from edgeplatform.controllers.base import Controller, register
from edgeplatform.controllers.errors import PermanentError, TemporaryError
from edgeplatform.controllers.status import notable
from edgeplatform.kube import KubeError, KubeNotConfigured
from edgeplatform.kube.connections import probe_client
from edgeplatform.resources.services import save_status

__all__ = ["CONTROLLER", "HISTORY_LIMIT", "DeploymentController", "desired_hash", "resolve_version"]

log = logging.getLogger(__name__)

HISTORY_LIMIT = 10
RUNNING, PROGRESSING, PENDING, FAILED, MISSING, UNREACHABLE = (
    "Running", "Progressing", "Pending", "Failed", "Missing", "Unreachable")
NODE_GROUP_LABEL, HOSTNAME_LABEL = "theriseunion.io/nodegroup", "kubernetes.io/hostname"


def resolve_version(deployment, current: str = ""):
    """The ApplicationVersion ``deployment``'s ``spec.version`` resolves to now, and a message when none does:
    the newest Approved version the request admits, not deprecated unless it is ``current`` (the one it runs)."""
    request = str((deployment.spec or {}).get("version") or versions.LATEST)
    approved = list(deployment.application.versions.filter(review_phase="Approved"))
    admissible = [row for row in approved if not row.deprecated or (current and row.version == current)]
    chosen = versions.newest(request, admissible, key=lambda row: row.version)
    if chosen is not None:
        return chosen, ""
    if versions.newest(request, approved, key=lambda row: row.version) is not None:
        return None, f'every approved version of "{deployment.application.name}" that "{request}" admits is ' \
                     "deprecated"
    return None, f'no approved version of "{deployment.application.name}" matches "{request}"'


def desired_hash(target: Target, provisioner_type: str) -> str:
    """What a topology should be, as one sha256: the provisioner, the version (its name and config: an approved
    version never changes), the topology as written, its placement and namespace."""
    text = json.dumps([provisioner_type, target.application.name, target.deployment.name, target.version.name,
                       target.version.spec, target.index, target.topology, target.cluster, target.namespace,
                       target.node_group, target.node_name, target.cloud, target.replicas, target.node_selector],
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Outcome:
    """What one cluster's thread found or did for one topology (``applied_hash`` None: not applied now)."""

    phase: str
    message: str = ""
    replicas: int = 0
    ready_replicas: int = 0
    nodes: list = field(default_factory=list)
    workloads: list | None = None
    version: str | None = None
    applied_hash: str | None = None
    applied: bool = False


@dataclass
class _ClusterResult:
    """One cluster's thread: an outcome per topology key, what it wrote, whether it needs another attempt."""

    cluster: str
    outcomes: dict = field(default_factory=dict)
    writes: int = 0
    retry: list = field(default_factory=list)
    unreachable: bool = False
    pruned: bool = False


class _Budget:
    """Failed topologies of one attempt, across the clusters' threads; ``limit`` 0: no limit."""

    def __init__(self, limit: int):
        self.limit = limit
        self.failed = 0
        self._lock = threading.Lock()

    def fail(self) -> None:
        with self._lock:
            self.failed += 1

    @property
    def spent(self) -> bool:
        with self._lock:
            return bool(self.limit) and self.failed >= self.limit


@dataclass
class _Plan:
    """What an attempt works out once (the steps share it)."""

    version: object = None
    message: str = ""
    rollout: DeploymentRollout | None = None
    #: ``ensure_version`` ran in this attempt (a retry resumes at ``ensure_topologies``, which runs it first)
    resolved: bool = False


@register
class DeploymentController(Controller):
    """An application deployment's topologies brought to its resolved version (module docstring)."""

    name = "app-deployments"
    model = ApplicationDeployment
    steps = ("ensure_finalized", "ensure_version", "ensure_topologies")
    queue = "deploy"
    sort = "application"
    period_setting = "EDGE_APPSTORE_DRIFT_PERIOD"

    # --- the base's hooks -----------------------------------------------------------------------------------
    def load(self, key: str):
        """The deployment with its home cluster and application, re-read."""
        return ApplicationDeployment.objects.select_related("cluster", "application").filter(pk=key).first()

    def keys(self):
        """``(pk, generation)``; a deployment being deleted counts one generation more (it is due)."""
        for pk, generation, deleting in ApplicationDeployment.objects.values_list(
                "pk", "generation", "deletion_requested").iterator():
            yield pk, (generation or 0) + (1 if deleting else 0)

    def generation_of(self, obj) -> int:
        """The spec's generation, one more while a deletion is asked for (see ``keys``)."""
        return (obj.generation or 0) + (1 if obj.deletion_requested else 0)

    # --- steps ----------------------------------------------------------------------------------------------
    def ensure_finalized(self, obj, run) -> None:
        """Nothing unless a deletion is asked for: then unprovision every cluster and remove the row."""
        if obj.deletion_requested is None:
            return
        run.status.update(phase="Deleting")
        provisioner = provisioners.get(obj.application.provisioner)
        if provisioner is None:
            raise TemporaryError(f'provisioner "{obj.application.provisioner}" is not installed: nothing can be '
                                 "removed", reason="UnknownProvisioner")
        names = set(DeploymentTopology.objects.filter(deployment=obj).values_list("cluster", flat=True))
        names |= {place.cluster for place in self._places(obj)[0]}
        clusters = list(Cluster.objects.filter(name__in=names))
        failures = []
        with ThreadPoolExecutor(max_workers=max(1, min(self._concurrency(obj), len(clusters)))) as pool:
            futures = {pool.submit(_unprovision, provisioner, obj, cluster): cluster.name for cluster in clusters}
            for future in as_completed(futures):
                problem = future.result()
                if problem:
                    failures.append(f"{futures[future]}: {problem}")
        if failures:
            raise TemporaryError(f"could not remove everything: {'; '.join(sorted(failures))}",
                                 reason="UnprovisionFailed")
        from edgeplatform.resources.converters import converter_for
        from edgeplatform.resources.services import delete_object

        delete_object(converter_for(obj), obj, finalize=True)
        run.deleted = True
        run.result = {"deleted": obj.name, "clusters": len(clusters)}

    def ensure_version(self, obj, run) -> None:
        """Resolve ``spec.version``; start a rollout (and a history entry) when it names a new version."""
        plan = self._plan(obj, run)
        plan.resolved = True
        if plan.version is None:
            run.status.update(phase=PENDING, message=plan.message)
            run.reason, run.message = "NoApprovedVersion", plan.message
            return
        version = plan.version
        run.status.update(applicationVersion=version.version, applicationVersionName=version.name,
                          application=obj.application.name)
        rollout = plan.rollout
        if rollout.version == version.version:
            return
        previous = rollout.version
        reason = "Initial" if not previous else "Rollback" if _older(version.version, previous) else "Upgrade"
        status = obj.status or {}
        spec_changed = (obj.generation or 0) != (status.get("observedGeneration") or 0) or not previous
        operator = obj.updated_by if spec_changed else str((version.status or {}).get("reviewer") or "")
        message = f"automatic rollback: {rollout.rolled_back_from} failed" if rollout.rolled_back_from == previous \
            and reason == "Rollback" else f"{previous or 'nothing'} → {version.version}"
        entry = {"toVersion": version.version, "fromVersion": previous, "reason": reason,
                 "timestamp": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                 "operator": operator or f"system:{self.name}", "message": message,
                 "application": obj.application.name, "replicas": int(status.get("totalReplicas") or 0),
                 "readyReplicas": int(status.get("readyReplicas") or 0),
                 "topologies": list((obj.spec or {}).get("topologies") or [])}
        history = [*(status.get("history") or []), entry][-HISTORY_LIMIT:]
        with transaction.atomic():
            rollout.version, rollout.from_version, rollout.reason = version.version, previous, reason
            rollout.started, rollout.finished, rollout.rolled_back_from = clock.now(), None, ""
            rollout.save()
            # recorded now, with the rollout: a worker that dies before the attempt ends keeps the entry
            row = save_status(obj, lambda current: {**current, "history": history}, notable=notable)
            obj.status, obj.resource_version = row.status, row.resource_version
        run.status["history"] = history

    def ensure_topologies(self, obj, run) -> None:
        """Roll every topology to the version, prune removed ones, read their state (module docstring)."""
        plan = self._plan(obj, run)
        if not plan.resolved:
            self.ensure_version(obj, run)
        if plan.version is None:
            return
        provisioner = provisioners.get(obj.application.provisioner)
        if provisioner is None:
            run.status.update(phase=PENDING)
            raise TemporaryError(f'provisioner "{obj.application.provisioner}" is not installed',
                                 reason="UnknownProvisioner")
        places, problems = self._places(obj)
        targets = [self._target(obj, plan.version, place) for place in places]
        by_key = {target.key: target for target in targets}
        hashes = {key: desired_hash(target, provisioner.type) for key, target in by_key.items()}
        rows = {row.key: row for row in DeploymentTopology.objects.filter(deployment=obj)}
        by_cluster: dict[str, list[Target]] = {}
        rows_of: dict[str, dict] = {}
        for target in targets:
            by_cluster.setdefault(target.cluster, []).append(target)
        for key, row in rows.items():
            rows_of.setdefault(row.cluster, {})[key] = row
            if key not in hashes:
                by_cluster.setdefault(row.cluster, [])
        rollout = plan.rollout
        drift_check = rollout.checked is None or \
            (clock.now() - rollout.checked).total_seconds() >= settings.EDGE_APPSTORE_DRIFT_PERIOD
        if not drift_check:  # between two drift checks, a cluster whose topologies all run as wanted is not read
            for name in [name for name, members in by_cluster.items() if _settled(members, rows_of.get(name, {}),
                                                                                  hashes)]:
                del by_cluster[name]
        clusters = {cluster.name: cluster for cluster in Cluster.objects.filter(name__in=list(by_cluster))}
        keep = frozenset(hashes)
        budget = _Budget(self._rollout_setting(obj, "maxFailedTopologies",
                                               settings.EDGE_APPSTORE_MAX_FAILED_TOPOLOGIES))
        now = clock.now()
        results: list[_ClusterResult] = []
        for name in set(by_cluster) - set(clusters):  # the cluster is gone from the platform
            result = _ClusterResult(name, pruned=True)
            for target in by_cluster[name]:
                result.outcomes[target.key] = _Outcome(FAILED, f'cluster "{name}" not found')
            results.append(result)
        workers = max(1, min(self._concurrency(obj), len(clusters)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rollout") as pool:
            futures = [pool.submit(_roll_cluster, provisioner, obj, clusters[name], by_cluster[name], hashes,
                                   rows_of.get(name, {}), keep, budget, now) for name in clusters]
            for future in as_completed(futures):
                result = future.result()
                _record(obj, result, by_key, rows, now)  # at once: a worker killed later keeps what is done
                results.append(result)
        gone = [row.pk for row in rows.values() if row.key not in hashes
                and any(result.pruned and result.cluster == row.cluster for result in results)]
        if gone:
            DeploymentTopology.objects.filter(pk__in=gone).delete()
        writes = sum(result.writes for result in results)
        if writes:
            TOPOLOGY_WRITES.inc(writes)
        if drift_check:
            rollout.checked = now
            rollout.save(update_fields=["checked"])
        self._conclude(obj, run, plan, targets, problems, results, budget, writes)

    # --- the plan and its parts -------------------------------------------------------------------------------
    def _plan(self, obj, run) -> _Plan:
        plan = getattr(run, "plan", None)
        if plan is None:
            rollout = DeploymentRollout.objects.get_or_create(deployment=obj)[0]
            current = rollout.version or str((obj.status or {}).get("applicationVersion") or "")
            version, message = resolve_version(obj, current)
            plan = run.plan = _Plan(version, message, rollout)
        return plan

    @staticmethod
    def _places(obj):
        """The topologies resolved as the system (``appstore.topologies.places``: one query per kind), and the
        causes of those that did not resolve."""
        from appstore.topologies import places

        problems: list = []
        found = places(list((obj.spec or {}).get("topologies") or []), obj.cluster, None, problems)
        return found, problems

    @staticmethod
    def _target(obj, version, place) -> Target:
        topologies = (obj.spec or {}).get("topologies") or []
        topology = topologies[place.index] if place.index < len(topologies) else {}
        selector = {NODE_GROUP_LABEL: place.node_group} if place.node_group else \
            {HOSTNAME_LABEL: place.node_name} if place.node_name else {}
        replicas = topology.get("replicas")
        return Target(deployment=obj, application=obj.application, version=version, index=place.index,
                      topology=topology, cluster=place.cluster, namespace=obj.namespace, node_group=place.node_group,
                      node_name=place.node_name, cloud=place.cloud,
                      replicas=int(replicas) if replicas is not None else None, node_selector=selector)

    @staticmethod
    def _rollout_setting(obj, name: str, default):
        value = ((obj.spec or {}).get("rollout") or {}).get(name)
        return default if value is None else value

    def _concurrency(self, obj) -> int:
        return int(self._rollout_setting(obj, "maxConcurrent", settings.EDGE_APPSTORE_ROLLOUT_CONCURRENCY))

    def _conclude(self, obj, run, plan, targets, problems, results, budget, writes) -> None:
        """Status from the recorded rows, the deployment's phase, an automatic rollback, and the next attempt."""
        rows = {row.key: row for row in DeploymentTopology.objects.filter(deployment=obj)}
        topologies = (obj.spec or {}).get("topologies") or []
        entries = []
        for target in targets:
            row = rows.get(target.key)
            entries.append(_entry(target.index, target.topology, row))
        placed = {target.index for target in targets}
        unplaced = {}
        for problem in problems:  # a topology whose cluster, group or node is gone
            index = _index_of(problem.get("field", ""))
            if index is not None and index not in placed:
                unplaced.setdefault(index, problem.get("message", ""))
        for index, message in sorted(unplaced.items()):
            entries.append({"topology": topologies[index], "topologyIndex": index, "workloadName": "",
                            "replicas": 0, "readyReplicas": 0, "nodes": [], "phase": FAILED, "message": message})
        entries.sort(key=lambda entry: entry["topologyIndex"])
        phases = [entry["phase"] for entry in entries]
        ready = sum(entry["readyReplicas"] for entry in entries)
        total = sum(entry["replicas"] for entry in entries)
        workloads = sum(len(rows[target.key].workloads or []) for target in targets if target.key in rows)
        ready_workloads = sum(len(rows[target.key].workloads or []) for target in targets
                              if target.key in rows and rows[target.key].phase == RUNNING)
        failed = sum(1 for phase in phases if phase in (FAILED, UNREACHABLE, MISSING))
        if not phases:
            phase = RUNNING
        elif failed == len(phases) or (budget.spent and not all(p in (RUNNING, FAILED) for p in phases)):
            phase = FAILED
        elif failed:
            phase = "Degraded"
        elif all(p == RUNNING for p in phases):
            phase = RUNNING
        else:
            phase = PROGRESSING
        message = _summary(phases, budget, results)
        run.status.update(topologyStatuses=entries, readyReplicas=ready, totalReplicas=total,
                          readyStatus=f"{ready}/{total}", workloadCount=workloads, readyWorkloadCount=ready_workloads,
                          phase=phase, message=message)
        run.result = {"phase": phase, "topologies": len(entries), "writes": writes}
        rollout = plan.rollout
        if phase == RUNNING:
            if rollout.finished is None or rollout.good_version != rollout.version:
                if rollout.finished is None and rollout.started is not None:
                    ROLLOUT_SECONDS.labels(rollout.reason or "Initial", "success").observe(
                        (clock.now() - rollout.started).total_seconds())
                rollout.finished = rollout.finished or clock.now()
                rollout.good_version = rollout.version
                rollout.save()
            run.reason, run.message = "Reconciled", message
            return
        if self._rolls_back(obj, run, rollout, entries, budget):
            return
        if any(result.unreachable for result in results):
            raise TemporaryError(message, reason="ClusterUnreachable")
        if budget.spent:
            raise TemporaryError(message, reason="FailureBudgetSpent")
        if any(result.retry for result in results):
            raise TemporaryError(message, reason="RolloutIncomplete")
        if failed:
            raise TemporaryError(message, reason="TopologiesFailed")
        raise TemporaryError(message, delay=settings.EDGE_APPSTORE_PROGRESS_POLL, reason="Progressing")

    def _rolls_back(self, obj, run, rollout, entries, budget) -> bool:
        """An upgrade with a failed topology and automatic rollback on: back to the last good version."""
        from appstore import services

        if rollout.reason != "Upgrade" or not self._rollout_setting(obj, "autoRollback",
                                                                       settings.EDGE_APPSTORE_AUTO_ROLLBACK):
            return False
        failed = [entry for entry in entries if entry["phase"] == FAILED]
        target = rollout.good_version if rollout.good_version and rollout.good_version != rollout.version \
            else rollout.from_version
        if not failed or not target:
            return False
        fresh = ApplicationDeployment.objects.select_related("cluster", "application").get(pk=obj.pk)
        try:
            services.rollback(fresh, user=None, version=target)
        except Exception as error:  # the version to go back to is gone: leave the failure to people
            log.warning("app-deployments: automatic rollback of %s to %s failed: %s", obj, target, error)
            return False
        if rollout.finished is None and rollout.started is not None:
            ROLLOUT_SECONDS.labels(rollout.reason, "failed").observe((clock.now() - rollout.started).total_seconds())
        rollout.finished, rollout.rolled_back_from = clock.now(), rollout.version
        rollout.save()
        first = failed[0]
        run.status["message"] = (f"upgrade to {rollout.version} failed on {len(failed)} topology(ies) "
                                 f"(topology {first['topologyIndex']}: {first['message']}): rolling back to {target}")
        run.reason, run.message = "RolledBack", run.status["message"]
        return True


def _settled(targets: list[Target], rows: dict, hashes: dict) -> bool:
    """Every topology of a cluster Running at its desired hash, and none of it to prune."""
    return bool(targets) and len(rows) == len(targets) and all(
        (row := rows.get(target.key)) is not None and row.applied_hash == hashes[target.key] and row.phase == RUNNING
        for target in targets)


def _older(version: str, than: str) -> bool:
    new, old = versions.parse(version), versions.parse(than)
    return new is not None and old is not None and new < old


def _index_of(field_name: str) -> int | None:
    if field_name.startswith("spec.topologies["):
        try:
            return int(field_name[len("spec.topologies["):].split("]", 1)[0])
        except ValueError:
            return None
    return None


def _summary(phases: list[str], budget: _Budget, results) -> str:
    counts: dict[str, int] = {}
    for phase in phases:
        counts[phase] = counts.get(phase, 0) + 1
    text = ", ".join(f"{count} {phase}" for phase, count in sorted(counts.items()))
    unreachable = sorted(result.cluster for result in results if result.unreachable)
    if unreachable:
        text += f"; clusters not answering: {', '.join(unreachable)}"
    if budget.spent:
        text += f"; {budget.failed} topologies failed (maxFailedTopologies {budget.limit}): no new topology started"
    return text


def _entry(index: int, topology: dict, row) -> dict:
    """One ``status.topologyStatuses`` entry from the recorded row."""
    if row is None:
        return {"topology": topology, "topologyIndex": index, "workloadName": "", "replicas": 0,
                "readyReplicas": 0, "nodes": [], "phase": PENDING, "message": ""}
    return {"topology": topology, "topologyIndex": index, "workloadName": ",".join(row.workloads or []),
            "replicas": row.replicas, "readyReplicas": row.ready_replicas, "nodes": list(row.nodes or []),
            "phase": row.phase or PENDING, "message": row.message}


def _record(obj, result: _ClusterResult, by_key: dict, rows: dict, now) -> None:
    """Save what one cluster's thread did and saw (only the rows that changed)."""
    created, changed = [], []
    for key, outcome in result.outcomes.items():
        target = by_key.get(key)
        row = rows.get(key)
        if row is None:
            if target is None:
                continue
            row = DeploymentTopology(deployment=obj, key=key, cluster=target.cluster)
            rows[key] = row
            created.append(row)
        before = _fields(row)
        if target is not None:
            row.index, row.topology, row.cluster = target.index, target.topology, target.cluster
        row.phase, row.message = outcome.phase, outcome.message[:2000]
        row.replicas, row.ready_replicas, row.nodes = outcome.replicas, outcome.ready_replicas, outcome.nodes
        if outcome.workloads is not None:
            row.workloads = outcome.workloads
        if outcome.version is not None:
            row.version = outcome.version
        if outcome.applied_hash is not None:
            row.applied_hash = outcome.applied_hash
            if outcome.applied:
                row.applied_at = now
        if row.pk is not None and _fields(row) != before:
            changed.append(row)
    if created:
        DeploymentTopology.objects.bulk_create(created)
    if changed:
        DeploymentTopology.objects.bulk_update(changed, ["index", "topology", "cluster", "phase", "message",
                                                         "replicas", "ready_replicas", "nodes", "workloads",
                                                         "version", "applied_hash", "applied_at"])


def _fields(row) -> tuple:
    return (row.index, json.dumps(row.topology, sort_keys=True), row.cluster, row.phase, row.message, row.replicas,
            row.ready_replicas, list(row.nodes or []), list(row.workloads or []), row.version, row.applied_hash,
            row.applied_at)


# --- the work on one cluster (a thread: no database access) ----------------------------------------------------

def _unreachable(error: Exception) -> bool:
    return isinstance(error, KubeNotConfigured) or (isinstance(error, KubeError) and not error.status)


def _unprovision(provisioner, deployment, cluster) -> str:
    """Remove everything ``deployment`` made on ``cluster``; "" or what went wrong."""
    try:
        provisioner.unprovision(deployment, kube.member_client(cluster), frozenset())
    except (KubeError, KubeNotConfigured) as error:
        return str(error)
    return ""


def _roll_cluster(provisioner, deployment, cluster, targets: list[Target], hashes: dict, rows: dict, keep, budget,
                  now) -> _ClusterResult:
    """Read the state of ``targets`` on ``cluster`` (one timeout when it does not answer), apply those that
    changed or went missing, prune the deployment's topologies that are not in ``keep``."""
    result = _ClusterResult(cluster.name)
    try:
        states = provisioner.status(targets, probe_client(cluster, settings.EDGE_APPSTORE_CLUSTER_TIMEOUT)) \
            if targets else {}
    except (KubeError, KubeNotConfigured) as error:
        if _unreachable(error):
            result.unreachable = True
            for target in targets:
                row = rows.get(target.key)
                result.outcomes[target.key] = _Outcome(
                    UNREACHABLE, f'cluster "{cluster.name}" did not answer: {error}',
                    replicas=row.replicas if row else 0, nodes=list(row.nodes or []) if row else [])
            return result
        states = None
        result.retry.append(f"reading the state failed: {error}")
    client = kube.member_client(cluster)
    for position, target in enumerate(targets):
        outcome = _roll_topology(provisioner, target, client, hashes[target.key], rows.get(target.key),
                                 None if states is None else states.get(target.key), budget, now, result)
        result.outcomes[target.key] = outcome
        if outcome.phase == UNREACHABLE:  # the cluster went away mid-rollout: the rest waits for it
            result.unreachable = True
            for rest in targets[position + 1:]:
                row = rows.get(rest.key)
                result.outcomes[rest.key] = _Outcome(UNREACHABLE, outcome.message,
                                                     replicas=row.replicas if row else 0)
            return result
    stale = [key for key in rows if key not in keep]
    if stale or not targets:
        try:
            result.writes += provisioner.unprovision(deployment, client, keep)
            result.pruned = True
        except (KubeError, KubeNotConfigured) as error:
            result.retry.append(f"pruning failed: {error}")
            result.unreachable = result.unreachable or _unreachable(error)
    return result


def _roll_topology(provisioner, target: Target, client, desired: str, row, state: TopologyState | None, budget,
                   now, result: _ClusterResult) -> _Outcome:
    """Apply one topology when it changed or went missing, else report what was read."""
    version = target.version.version
    missing = state is not None and state.phase == MISSING
    if row is not None and row.applied_hash == desired and not missing:
        return _read(target, row, state, budget, now)
    if budget.spent:
        return _Outcome(PENDING, "not started: the failure budget is spent", workloads=[] if row is None else None)
    try:
        done = provisioner.update(target, client) if row is not None and row.applied_hash else \
            provisioner.provision(target, client)
    except PermanentError as error:
        budget.fail()
        return _Outcome(FAILED, str(error), applied_hash="")
    except (KubeError, KubeNotConfigured) as error:
        if _unreachable(error):
            return _Outcome(UNREACHABLE, f'cluster "{target.cluster}" did not answer: {error}')
        if isinstance(error, KubeError) and error.status in (400, 403, 404, 422):
            budget.fail()
            return _Outcome(FAILED, f"refused by the cluster: {error}", applied_hash="")
        result.retry.append(str(error))
        return _Outcome(row.phase if row is not None and row.phase else PENDING, f"apply failed, retried: {error}",
                        replicas=row.replicas if row is not None else 0)
    result.writes += done.writes
    same = state is not None and state.version == _label(version)
    wanted = target.replicas if target.replicas is not None else (state.replicas if same else 0)
    return _Outcome(PROGRESSING, f"applied {version}", replicas=wanted,
                    ready_replicas=min(state.ready_replicas, wanted) if same else 0,
                    nodes=list(state.nodes) if same else [], workloads=list(done.workloads), version=version,
                    applied_hash=desired, applied=True)


def _read(target: Target, row, state: TopologyState | None, budget, now) -> _Outcome:
    """A topology that needs no write: what its objects say (the row's last word when they could not be read)."""
    if state is None:
        return _Outcome(row.phase or PENDING, row.message, replicas=row.replicas, ready_replicas=row.ready_replicas,
                        nodes=list(row.nodes or []))
    phase, message = state.phase, state.message
    if phase == PROGRESSING and row.applied_at is not None \
            and (now - row.applied_at).total_seconds() > settings.EDGE_APPSTORE_PROGRESS_TIMEOUT:
        phase = FAILED
        message = (f"{state.ready_replicas}/{state.replicas} replicas ready "
                   f"{int((now - row.applied_at).total_seconds())} s after the apply "
                   f"(EDGE_APPSTORE_PROGRESS_TIMEOUT {settings.EDGE_APPSTORE_PROGRESS_TIMEOUT:g} s)")
    if phase == FAILED:
        budget.fail()
    return _Outcome(phase, message, replicas=state.replicas, ready_replicas=state.ready_replicas,
                    nodes=list(state.nodes), workloads=list(state.workloads) or None)


def _label(version: str) -> str:
    return version.replace("+", "_")[:63]


CONTROLLER = DeploymentController
