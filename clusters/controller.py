"""The cluster controller: a cluster provisioned (virtual), its connection checked on arrival and on a period (its
health), its edge runtime and default components installed. Four idempotent steps, for every type of cluster:
``ensure_vcluster`` (virtual clusters only, below), ``ensure_connected``, ``ensure_edge_runtime``
(``clusters.edge_runtime``: nothing to do without one) and ``ensure_components``; ``Ready`` when all four are done.

``ensure_connected``: ``clusters.health.check_connection`` (the one connection check, which the
console's import form runs too) through a client that never retries and gives up after
``EDGE_CLUSTER_HEALTH_TIMEOUT`` seconds (``edgeplatform.kube.probe_client``): ``GET /version``, then one LIST of
nodes (``limit`` 500, counted with ``remainingItemCount``) within what is left of the same timeout. So a cluster
that does not answer costs one timeout of one worker slot and never slows the others' checks; it goes
``Ready=False`` and is retried with the base's backoff. Status (besides the base's ``Ready``)::

    status:
      phase: Ready                      # Ready, Unreachable, Failed, Pending
      kubernetesVersion: v1.29.0
      nodeCount: 3
      lastHeartbeatTime: "..."          # the API server last answered (moved at most every
                                        # EDGE_CLUSTER_HEARTBEAT_INTERVAL while nothing else changes)
      conditions:
      - {type: Ready, ...}
      - {type: Reachable, status: "False", reason: Timeout, message: "the API server did not answer in time (5 s)"}
      - {type: CredentialsExpiring, status: "True", reason: CertificateExpiresSoon, message: "... 2027-01-01 ..."}

A cluster without a connection (other than the host) is ``Pending`` (``NoConnection``); a virtual cluster whose
provisioning has not stored its connection yet is ``Pending`` (``AwaitingProvisioning``) with no network call; once
it has one, it is checked as a physical cluster is.

Virtual clusters (``clusters.vcluster``): ``ensure_vcluster`` (first) installs the vcluster release on the host
and stores its kubeconfig as the connection, or carries out a held delete; ``ensure_components`` (last) writes the
cluster's default components and waits for them. A delete request counts as one generation more
(``generation_of``, ``keys``), so beat finds it due.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from clusters import edge_runtime, vcluster
from clusters.health import FAILED, PENDING, READY, UNREACHABLE, check_connection, credential_expiry
from clusters.models import Cluster
from edgeplatform.controllers import clock
from edgeplatform.controllers.base import Controller, register
from edgeplatform.controllers.errors import PermanentError, TemporaryError
from edgeplatform.controllers.status import condition, format_time
from edgeplatform.controllers.tasks import task_for
from edgeplatform.kube.connections import member_credentials

__all__ = ["CONTROLLER", "FAILED", "PENDING", "READY", "UNREACHABLE", "ClusterController", "check_cluster"]


@register
class ClusterController(Controller):
    """Checks every cluster's connection: reachable, authenticated, version and node count read."""

    name = "clusters"
    model = Cluster
    steps = ("ensure_vcluster", "ensure_connected", "ensure_edge_runtime", "ensure_components")
    queue = "default"

    period_setting = "EDGE_CLUSTER_HEALTH_PERIOD"

    def keys(self):
        """``(pk, generation)``; a cluster being deleted counts one generation more (it is due)."""
        for pk, generation, deleting in Cluster.objects.values_list("pk", "generation",
                                                                     "deletion_requested").iterator():
            yield pk, (generation or 0) + (1 if deleting else 0)

    def generation_of(self, obj) -> int:
        """The spec's generation, one more while a deletion is asked for (see ``keys``)."""
        return (obj.generation or 0) + (1 if obj.deletion_requested else 0)

    def ensure_vcluster(self, cluster, run) -> None:
        """A virtual cluster's release on the host and its kubeconfig stored; a held delete carried out
        (``clusters.vcluster.ensure_vcluster``)."""
        vcluster.ensure_vcluster(self, cluster, run)

    def ensure_components(self, cluster, run) -> None:
        """The cluster's default components Ready (``clusters.vcluster.ensure_components``)."""
        vcluster.ensure_components(self, cluster, run)

    def ensure_connected(self, cluster, run) -> None:
        """Reach the cluster's API server once, bounded by one timeout; record what it says."""
        now = clock.now()
        generation = self.generation_of(cluster)
        if cluster.type == "virtual" and not cluster.connection_secret:
            run.status["phase"] = PENDING
            raise PermanentError("the virtual cluster is waiting to be provisioned on the host cluster",
                                 reason="AwaitingProvisioning")
        timeout = settings.EDGE_CLUSTER_HEALTH_TIMEOUT
        found = check_connection(cluster, timeout,
                                 preflight=lambda: self._check_credentials(cluster, run, now, generation))
        if found.reachable is not None:
            run.conditions.append(condition("Reachable", found.reachable,
                                            "Connected" if found.reachable else found.reason,
                                            "the API server answered" if found.reachable and not found.ok
                                            else found.message, generation, now))
        if not found.ok:
            run.status["phase"] = found.phase
            if found.permanent:
                raise PermanentError(found.message, reason=found.reason)
            raise TemporaryError(found.message, reason=found.reason)
        count, git_version, uid = found.node_count, found.kubernetes_version, found.uid
        if uid:
            run.status["uid"] = uid
        run.status.update(phase=READY, kubernetesVersion=git_version, nodeCount=count,
                          lastHeartbeatTime=_heartbeat(cluster.status or {}, now,
                                                       phase=READY, kubernetesVersion=git_version, nodeCount=count))
        run.reason, run.message = "Healthy", f"Kubernetes {git_version}, {count} node(s)"
        run.result = {"cluster": cluster.name, "kubernetesVersion": git_version, "nodeCount": count}

    def ensure_edge_runtime(self, cluster, run) -> None:
        """The edge runtime of ``spec.edgeRuntime`` installed as Components and Ready (``clusters.edge_runtime``)."""
        edge_runtime.ensure(cluster, run)

    def _check_credentials(self, cluster, run, now: datetime, generation: int) -> None:
        """``CredentialsExpiring`` from the client certificate's or token's expiry; expired: not Ready."""
        expiry = credential_expiry(*member_credentials(cluster))
        if expiry is None:
            return
        when = format_time(expiry.when)
        warning = timedelta(days=settings.EDGE_CLUSTER_CREDENTIAL_WARNING_DAYS)
        if expiry.when <= now:
            message = f"the {expiry.what} expired at {when}: store new credentials in spec.connection"
            run.conditions.append(condition("CredentialsExpiring", True, "CredentialsExpired", message,
                                            generation, now))
            run.status["phase"] = FAILED
            raise TemporaryError(message, reason="CredentialsExpired", delay=self.period)
        soon = expiry.when - now <= warning
        days = (expiry.when - now).days
        run.conditions.append(condition(
            "CredentialsExpiring", soon, "CredentialsExpireSoon" if soon else "CredentialsValid",
            f"the {expiry.what} expires at {when} (in {days} days)" if soon
            else f"the {expiry.what} is valid until {when}", generation, now))


def _heartbeat(status: dict, now: datetime, **fields) -> str:
    """``lastHeartbeatTime`` to write: now when anything else changes or the stored one is older than
    ``EDGE_CLUSTER_HEARTBEAT_INTERVAL``, else the stored one (a check that changes nothing writes nothing)."""
    stored = status.get("lastHeartbeatTime")
    ready = any(item.get("type") == "Ready" and item.get("status") == "True"
                for item in status.get("conditions") or [] if isinstance(item, dict))
    if not stored or not ready or any(status.get(name) != value for name, value in fields.items()):
        return format_time(now)
    try:
        last = datetime.fromisoformat(stored.replace("Z", "+00:00"))
    except ValueError:
        return format_time(now)
    return format_time(now) if (now - last).total_seconds() >= settings.EDGE_CLUSTER_HEARTBEAT_INTERVAL else stored


CONTROLLER = ClusterController  # ``register`` made the class its one instance
check_cluster = task_for(CONTROLLER)
