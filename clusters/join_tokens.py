"""Joining edge nodes: join tokens per node group, the ready-to-paste join command, and the nodes that register
with a token, pending until approved.

**Tokens** (``JoinToken``): ``issue`` makes one for a node group of a cluster that runs an edge runtime, valid
``ttl`` seconds (``EDGE_JOIN_TOKEN_TTL`` by default, at most ``EDGE_JOIN_TOKEN_MAX_TTL``). Its id is 6 and its
secret 16 characters of ``[a-z0-9]`` (the Kubernetes bootstrap token format, ``secrets`` module); the platform
keeps the sha256 of the secret only (``matches`` compares in constant time) and answers the secret, inside the join
command, once. ``tokens`` lists them without it; ``revoke`` and ``rotate`` (revoke, and issue a new one with the
same lifetime) end one.

* **OpenYurt**: the token *is* a bootstrap token of the member cluster: ``issue`` creates the Secret
  ``kube-system/bootstrap-token-<id>`` (``token-id``, ``token-secret``, ``expiration``,
  ``usage-bootstrap-authentication``, ``usage-bootstrap-signing``, ``auth-extra-groups``), ``revoke`` (and the
  expiry sweep) deletes it, so the member's kube-apiserver itself refuses a node that comes with it afterwards.
  Command: ``yurtadm join <api-server>:<port> --token=<id>.<secret> --node-type=edge`` with
  ``--discovery-token-ca-cert-hash=sha256:<hash of the member's CA key>`` (or
  ``--discovery-token-unsafe-skip-ca-verification`` when the platform holds no CA), ``--namespace=kube-system``
  (where yurt-hub's templates are) and ``--node-labels``.
* **KubeEdge**: edge nodes authenticate to CloudCore with CloudCore's own token (``kubeedge/tokensecret``, key
  ``tokendata``, which CloudCore writes and refreshes), read from the member when the command is made and never
  stored. Command: ``keadm join --cloudcore-ipport=<advertise address>:10000 --token=<CloudCore's token>
  --kubeedge-version=v<version> --labels=...``. The platform's token (its id on the node's label) is what it
  checks before a node may enter the group; its secret is unused by keadm.

Both commands label the node ``theriseunion.io/nodegroup-request=<group>`` and ``theriseunion.io/join-token=<id>``.

**Pending nodes** (``NodeJoin``): when the member sync brings in a node with the join-token label and no group,
``admit`` records it: refused at once (``Rejected``: ``TokenUnknown``, ``TokenExpired``, ``TokenRevoked``,
``WrongNodeGroup``) when its token was not valid when the node was first seen; approved at once when the group
auto-approves (``EDGE_JOIN_AUTO_APPROVE``, or the group's annotation ``theriseunion.io/auto-approve-nodes:
"true"``, which wins either way); else ``Pending`` until someone allowed to ``update nodes`` at the group's scope
approves (the node is labelled ``theriseunion.io/nodegroup=<group>`` on the platform, through the write path, and on
the member by the server-side-apply write-back) or rejects it. Each decision is audited.

Who may: listing needs ``list nodes`` at the node group's scope; issuing, revoking, rotating, approving and
rejecting need ``update nodes`` there (the node group's node managers and admins, and anyone above).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import string
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction

from clusters import edge_runtime
from clusters.models import JoinToken, Node, NodeGroup, NodeJoin
from edgeplatform import auditing, authz
from edgeplatform import kube as gateway
from edgeplatform.controllers import clock
from edgeplatform.controllers.status import format_time
from edgeplatform.kube import KubeError, KubeNotConfigured, operations
from edgeplatform.resources import services as write
from edgeplatform.resources.errors import StatusError, cause, invalid
from edgeplatform.resources.names import NODEGROUP_LABEL

__all__ = [
    "AUTO_APPROVE_ANNOTATION",
    "JOIN_TOKEN_LABEL",
    "REQUEST_LABEL",
    "Issued",
    "admit",
    "approve",
    "command_for",
    "connect",
    "drop_bootstrap_secret",
    "expire",
    "issue",
    "joins",
    "matches",
    "may",
    "reject",
    "revoke",
    "rotate",
    "tokens",
]

log = logging.getLogger(__name__)

GROUP = "scope.theriseunion.io"
RESOURCE = "jointokens"
JOIN_TOKEN_LABEL = "theriseunion.io/join-token"
REQUEST_LABEL = "theriseunion.io/nodegroup-request"
AUTO_APPROVE_ANNOTATION = "theriseunion.io/auto-approve-nodes"
BOOTSTRAP_NAMESPACE = "kube-system"
BOOTSTRAP_GROUP = "system:bootstrappers:kubeadm:default-node-token"
CLOUDCORE_PORT = 10000
_ALPHABET = string.ascii_lowercase + string.digits


@dataclass
class Issued:
    """A token just issued: the row, and what is shown once (the secret and the join command)."""

    token: JoinToken
    secret: str
    command: str


# --- who may ------------------------------------------------------------------------------------------------------
def may(user, verb: str, group: NodeGroup) -> bool:
    """May ``user`` ``verb`` (``list``: see tokens and pending nodes; ``update``: issue, revoke, approve) the join
    tokens and pending nodes of ``group``? The engine's answer for ``nodes`` at the group's scope."""
    return user is None or authz.authorizer().allowed(user, verb, "", "nodes", group.scope_path)


def _authorize(user, verb: str, group: NodeGroup) -> None:
    if not may(user, verb, group):
        raise StatusError(403, f'user "{user.get_username()}" cannot {verb} resource "nodes" at scope '
                               f'"{group.scope_path}" (needed for the join tokens and pending nodes of node group '
                               f'"{group.name}")', kind=RESOURCE, name=group.name, group=GROUP)


# --- tokens -----------------------------------------------------------------------------------------------------
def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(token: JoinToken, secret: str) -> bool:
    """Whether ``secret`` is the token's secret (compared in constant time)."""
    return hmac.compare_digest(token.secret_hash, _hash(secret or ""))


def valid(token: JoinToken | None, when=None) -> tuple[bool, str, str]:
    """(valid, reason, message) of a token at ``when`` (now by default)."""
    when = when or clock.now()
    if token is None:
        return False, "TokenUnknown", "no join token of that id was issued for this cluster"
    if token.revoked is not None and token.revoked <= when:
        return False, "TokenRevoked", f"join token {token.token_id} was revoked at {format_time(token.revoked)}"
    if token.expires <= when:
        return False, "TokenExpired", f"join token {token.token_id} expired at {format_time(token.expires)}"
    return True, "Valid", f"join token {token.token_id} is valid until {format_time(token.expires)}"


def _view(token: JoinToken) -> dict:
    """What a token shows (never its secret)."""
    ok, reason, _ = valid(token)
    return {"id": token.token_id, "nodeGroup": token.nodegroup.name, "cluster": token.cluster.name,
            "runtime": token.runtime, "description": token.description, "createdBy": token.created_by,
            "created": format_time(token.created), "expires": format_time(token.expires),
            "revoked": format_time(token.revoked), "phase": "Valid" if ok else reason.removeprefix("Token"),
            "nodes": sorted(token.joins.values_list("node_name", flat=True))}


def tokens(group: NodeGroup, *, user=None) -> list[dict]:
    """The group's join tokens, newest first, without their secrets."""
    _authorize(user, "list", group)
    rows = JoinToken.objects.filter(nodegroup=group).select_related("nodegroup", "cluster").prefetch_related("joins")
    return [_view(row) for row in rows]


def _ttl(ttl) -> float:
    if ttl is None or ttl == "":
        return float(settings.EDGE_JOIN_TOKEN_TTL)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not 60 <= ttl <= settings.EDGE_JOIN_TOKEN_MAX_TTL:
        most = f"{settings.EDGE_JOIN_TOKEN_MAX_TTL:g}"
        raise invalid("JoinToken", "", [cause("ttlSeconds", f"must be a number of seconds from 60 to {most} "
                                                            "(EDGE_JOIN_TOKEN_MAX_TTL)")], GROUP)
    return float(ttl)


def _member(cluster):
    try:
        return gateway.member_client(cluster)
    except KubeNotConfigured as error:
        raise StatusError(409, f'cluster "{cluster.name}" has no connection: {error}', "Conflict",
                          kind=RESOURCE, group=GROUP)


def _unavailable(cluster, error: Exception) -> StatusError:
    return StatusError(503, f'cluster "{cluster.name}" did not answer ({str(error)[:200]}); nothing was issued',
                       "ServiceUnavailable", kind=RESOURCE, group=GROUP)


def issue(group: NodeGroup, *, user=None, ttl=None, description: str = "") -> Issued:
    """Issue a join token for ``group`` (module docstring); the secret and the command are in the answer only."""
    _authorize(user, "update", group)
    cluster = group.cluster
    runtime = edge_runtime.runtime_of(cluster)
    if runtime == "none":
        raise StatusError(409, f'cluster "{cluster.name}" runs no edge runtime: set spec.edgeRuntime.type to '
                               f'kubeedge or openyurt first', "Conflict", kind=RESOURCE, name=group.name, group=GROUP)
    seconds = _ttl(ttl)
    if not isinstance(description, str) or len(description) > 200:
        raise invalid("JoinToken", "", [cause("description", "must be a string of at most 200 characters")], GROUP)
    now = clock.now()
    client = _member(cluster)
    cloud_token = _cloudcore_token(client, cluster) if runtime == "kubeedge" else None
    with transaction.atomic():
        token_id = _random(6)
        while JoinToken.objects.filter(token_id=token_id).exists():
            token_id = _random(6)
        secret = _random(16)
        token = JoinToken.objects.create(token_id=token_id, cluster=cluster, nodegroup=group, runtime=runtime,
                                         secret_hash=_hash(secret), description=description,
                                         created_by=user.get_username() if user is not None else "",
                                         created=now, expires=now + timedelta(seconds=seconds))
        _audit("create", token, status_code=201, after=_view(token),
               message=f"join token {token_id} issued for node group {group.name} until {format_time(token.expires)}")
        if runtime == "openyurt":
            try:
                operations.apply(client, _bootstrap_secret(token, secret))
            except KubeError as error:
                raise _unavailable(cluster, error) from error
    return Issued(token, secret, command_for(token, secret, cloud_token))


def _cloudcore_token(client, cluster) -> str:
    try:
        found = operations.get(client, "v1", "Secret", "tokensecret", "kubeedge")
    except KubeError as error:
        raise _unavailable(cluster, error) from error
    data = ((found or {}).get("data") or {}).get("tokendata")
    if not data:
        raise StatusError(409, f'CloudCore on cluster "{cluster.name}" has not written its token '
                               f'(kubeedge/tokensecret) yet: wait for the edge runtime to be Ready',
                          "Conflict", kind=RESOURCE, group=GROUP)
    return base64.b64decode(data).decode().strip()


def _bootstrap_secret(token: JoinToken, secret: str) -> dict:
    def b64(value: str) -> str:
        return base64.b64encode(value.encode()).decode()

    return {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": f"bootstrap-token-{token.token_id}", "namespace": BOOTSTRAP_NAMESPACE,
                         "labels": {JOIN_TOKEN_LABEL: token.token_id,
                                    REQUEST_LABEL: token.nodegroup.name}},
            "data": {"token-id": b64(token.token_id), "token-secret": b64(secret),
                     "expiration": b64(format_time(token.expires)),
                     "usage-bootstrap-authentication": b64("true"), "usage-bootstrap-signing": b64("true"),
                     "auth-extra-groups": b64(BOOTSTRAP_GROUP),
                     "description": b64(f"edge platform join token for node group {token.nodegroup.name}")}}


def _labels(token: JoinToken) -> str:
    return f"{REQUEST_LABEL}={token.nodegroup.name},{JOIN_TOKEN_LABEL}={token.token_id}"


def command_for(token: JoinToken, secret: str, cloud_token: str | None = None) -> str:
    """The ready-to-paste join command of a token (holds the secret: shown once, never logged)."""
    cluster = token.cluster
    version = edge_runtime.version_of(cluster) or (settings.EDGE_KUBEEDGE_VERSION if token.runtime == "kubeedge"
                                                   else settings.EDGE_OPENYURT_VERSION)
    if token.runtime == "kubeedge":
        return (f"keadm join --cloudcore-ipport={edge_runtime.cloud_address(cluster)}:{CLOUDCORE_PORT} "
                f"--token={cloud_token} --kubeedge-version=v{version.removeprefix('v')} --labels={_labels(token)}")
    server = urlsplit(edge_runtime.api_server(cluster))
    given = str(((cluster.spec or {}).get("edgeRuntime") or {}).get("advertiseAddress") or "").strip()
    address = f"{given or server.hostname}:{server.port or (443 if server.scheme == 'https' else 80)}"
    ca_hash = _ca_hash(cluster)
    discovery = (f"--discovery-token-ca-cert-hash=sha256:{ca_hash}" if ca_hash
                 else "--discovery-token-unsafe-skip-ca-verification")
    return (f"yurtadm join {address} --token={token.token_id}.{secret} --node-type=edge {discovery} "
            f"--namespace={BOOTSTRAP_NAMESPACE} --node-labels={_labels(token)}")


def _ca_hash(cluster) -> str:
    """sha256 of the member CA's public key (what kubeadm's ``--discovery-token-ca-cert-hash`` pins), when the
    stored kubeconfig carries the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from edgeplatform.kube.connections import member_kubeconfig

    try:
        document = member_kubeconfig(cluster) or {}
    except KubeNotConfigured:
        return ""
    for item in document.get("clusters") or []:
        data = ((item or {}).get("cluster") or {}).get("certificate-authority-data")
        if data:
            try:
                certificate = x509.load_pem_x509_certificate(base64.b64decode(data))
            except ValueError:
                return ""
            der = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            return hashlib.sha256(der).hexdigest()
    return ""


def _audit(verb: str, token: JoinToken, **fields) -> None:
    auditing.record(verb, resource=RESOURCE, group=GROUP, kind="JoinToken", name=token.token_id,
                    scope_path=token.nodegroup.scope_path, **fields)


def _drop_bootstrap_secret(token: JoinToken) -> None:
    """Delete the member's bootstrap token Secret; a member that does not answer gets it deleted by a retried
    task (the platform already refuses the token)."""
    if token.runtime != "openyurt":
        return
    try:
        operations.ensure_absent(gateway.member_client(token.cluster), "v1", "Secret",
                                 f"bootstrap-token-{token.token_id}", BOOTSTRAP_NAMESPACE)
    except KubeNotConfigured:
        return
    except KubeError as error:
        log.warning("bootstrap token %s not deleted from %s yet: %s", token.token_id, token.cluster.name, error)
        from clusters.tasks import drop_bootstrap_token

        key = token.pk
        transaction.on_commit(lambda: drop_bootstrap_token.delay(key))


def drop_bootstrap_secret(token_pk: int) -> str:
    """The task's body: delete a revoked or expired token's bootstrap Secret (raises while the member is down)."""
    token = JoinToken.objects.select_related("cluster", "nodegroup").filter(pk=token_pk).first()
    if token is None or token.runtime != "openyurt":
        return "nothing"
    gone = operations.ensure_absent(gateway.member_client(token.cluster), "v1", "Secret",
                                    f"bootstrap-token-{token.token_id}", BOOTSTRAP_NAMESPACE)
    return "deleted" if gone else "absent"


def revoke(token: JoinToken, *, user=None, reason: str = "") -> JoinToken:
    """End a token now: the platform refuses it from here on, and its bootstrap Secret leaves the member."""
    _authorize(user, "update", token.nodegroup)
    if token.revoked is not None:
        return token
    with transaction.atomic():
        before = _view(token)
        token.revoked = clock.now()
        token.revoked_by = user.get_username() if user is not None else ""
        token.save(update_fields=["revoked", "revoked_by"])
        _audit("delete", token, before=before, after=_view(token),
               message=f"join token {token.token_id} of node group {token.nodegroup.name} revoked"
                       + (f" ({reason})" if reason else ""))
        _drop_bootstrap_secret(token)
    return token


def rotate(token: JoinToken, *, user=None) -> Issued:
    """Revoke ``token`` and issue a new one for the same group, with the same lifetime."""
    _authorize(user, "update", token.nodegroup)
    lifetime = min(max((token.expires - token.created).total_seconds(), 60), settings.EDGE_JOIN_TOKEN_MAX_TTL)
    with transaction.atomic():
        issued = issue(token.nodegroup, user=user, ttl=lifetime, description=token.description)
        revoke(token, user=user, reason=f"rotated to {issued.token.token_id}")
    return issued


def expire() -> int:
    """Delete the bootstrap Secrets of OpenYurt tokens that expired in the last day (as kube-controller-manager's
    token cleaner does); how many were deleted. Run by beat every 10 minutes."""
    count, now = 0, clock.now()
    # tokens that expired in the last day: older ones were swept already (and a member's own token cleaner
    # removes expired bootstrap tokens too), so the sweep costs nothing for the fleet's history
    for token in JoinToken.objects.filter(runtime="openyurt", expires__lte=now, expires__gt=now - timedelta(days=1),
                                          revoked__isnull=True).select_related("cluster", "nodegroup"):
        try:
            if operations.ensure_absent(gateway.member_client(token.cluster), "v1", "Secret",
                                        f"bootstrap-token-{token.token_id}", BOOTSTRAP_NAMESPACE):
                count += 1
        except (KubeError, KubeNotConfigured) as error:
            log.warning("expired bootstrap token %s not deleted from %s: %s", token.token_id, token.cluster.name,
                        error)
    return count


# --- pending nodes --------------------------------------------------------------------------------------------------
def _join_view(join: NodeJoin) -> dict:
    return {"node": join.node_name, "cluster": join.cluster.name, "phase": join.phase,
            "nodeGroup": join.nodegroup.name if join.nodegroup_id else None, "token": join.token_label,
            "reason": join.reason, "message": join.message, "decidedBy": join.decided_by,
            "created": format_time(join.created), "decided": format_time(join.decided)}


def joins(group: NodeGroup, *, user=None, phase: str | None = None) -> list[dict]:
    """The nodes that registered for ``group`` (``phase``: only those), by node name."""
    _authorize(user, "list", group)
    rows = NodeJoin.objects.filter(nodegroup=group).select_related("cluster", "nodegroup")
    if phase:
        rows = rows.filter(phase=phase)
    return [_join_view(row) for row in rows.order_by("node_name")]


def auto_approves(group: NodeGroup) -> bool:
    """Whether nodes that join ``group`` with a valid token are approved at once (the annotation wins)."""
    given = str((group.annotations or {}).get(AUTO_APPROVE_ANNOTATION, "")).lower()
    return given == "true" if given in ("true", "false") else bool(settings.EDGE_JOIN_AUTO_APPROVE)


def admit(node: Node) -> NodeJoin | None:
    """Record a node that registered with a join token, and decide what can be decided at once (module
    docstring). Idempotent: a node already recorded keeps its decision."""
    token_label = (node.labels or {}).get(JOIN_TOKEN_LABEL)
    if not token_label:
        return None
    with transaction.atomic():
        token = JoinToken.objects.select_related("nodegroup", "cluster").filter(
            token_id=token_label, cluster=node.cluster).first()
        join, created = NodeJoin.objects.select_for_update().get_or_create(
            cluster=node.cluster, node_name=node.name,
            defaults={"token": token, "token_label": token_label[:63], "created": clock.now(),
                      "nodegroup": token.nodegroup if token else _requested_group(node)})
        if not created and join.token_label != token_label[:63]:
            # the node joined again with another token: a new request, judged afresh
            join.token, join.token_label = token, token_label[:63]
            join.nodegroup = token.nodegroup if token else _requested_group(node)
            join.phase, join.reason, join.message, join.decided_by, join.decided = NodeJoin.PENDING, "", "", "", None
            join.created = clock.now()
            join.save()
        elif not created or join.phase != NodeJoin.PENDING:
            return join
        if (node.labels or {}).get(NODEGROUP_LABEL):
            return join  # placed by someone already: nothing to approve
        problem = _problem(join, node)
        if problem:
            _decide(join, NodeJoin.REJECTED, *problem, user=None)
        elif join.nodegroup is not None and auto_approves(join.nodegroup):
            _approve(join, node, user=None, reason="AutoApproved")
    return join


def _requested_group(node: Node) -> NodeGroup | None:
    name = (node.labels or {}).get(REQUEST_LABEL)
    return NodeGroup.objects.filter(cluster=node.cluster, name=name).first() if name else None


def _problem(join: NodeJoin, node: Node) -> tuple[str, str] | None:
    """Why the node may not join (reason, message), judged at the time it was first seen; None: it may."""
    ok, reason, message = valid(join.token, join.created)
    if ok and join.token.revoked is not None:
        ok, reason, message = False, "TokenRevoked", f"join token {join.token.token_id} was revoked"
    if not ok:
        return reason, f"node {node.name} registered with an unusable token: {message}"
    requested = (node.labels or {}).get(REQUEST_LABEL)
    if requested and requested != join.token.nodegroup.name:
        return "WrongNodeGroup", (f"node {node.name} asks for node group {requested}, but its token is for "
                                  f"{join.token.nodegroup.name}")
    return None


def _decide(join: NodeJoin, phase: str, reason: str, message: str, *, user) -> None:
    before = _join_view(join)
    join.phase, join.reason, join.message = phase, reason, message[:500]
    join.decided_by = user.get_username() if user is not None else "system"
    join.decided = clock.now()
    join.save()
    auditing.record("approve" if phase == NodeJoin.APPROVED else "reject", resource="nodes", group="",
                    kind="Node", name=join.node_name,
                    scope_path=join.nodegroup.scope_path if join.nodegroup_id else join.cluster.scope_path,
                    before=before, after=_join_view(join), message=message[:500])


def _approve(join: NodeJoin, node: Node, *, user, reason: str) -> None:
    group = join.nodegroup

    def label(manifest: dict) -> None:
        manifest["metadata"].setdefault("labels", {})[NODEGROUP_LABEL] = group.name

    write.save_as_system(node, label)
    args = (join.cluster.name, "Node", node.name, NODEGROUP_LABEL, group.name)

    def push():
        from clusters.tasks import push_member_label

        try:
            push_member_label.delay(*args)
        except Exception:  # the broker is down: the approval stands; the next approval or a person relabels
            log.exception("could not queue the label write of node %s on %s", args[2], args[0])

    transaction.on_commit(push)
    who = user.get_username() if user is not None else "the node group (auto-approve)"
    _decide(join, NodeJoin.APPROVED, reason, f"node {node.name} approved into node group {group.name} by {who}",
            user=user)


def _pending(group: NodeGroup, node_name: str) -> tuple[NodeJoin, Node]:
    join = NodeJoin.objects.select_for_update(of=("self",)) \
        .select_related("cluster", "nodegroup", "token", "token__nodegroup") \
        .filter(nodegroup=group, node_name=node_name).first()
    node = Node.objects.select_related("cluster", "nodegroup").filter(cluster=group.cluster, name=node_name).first()
    if join is None or node is None:
        raise StatusError(404, f'node group "{group.name}" has no joining node "{node_name}"', "NotFound",
                          kind="nodes", name=node_name)
    return join, node


def approve(group: NodeGroup, node_name: str, *, user) -> dict:
    """Approve a pending node into ``group`` (409 when it was rejected or its token is no longer valid: it is then
    marked rejected)."""
    _authorize(user, "update", group)
    with transaction.atomic():
        join, node = _pending(group, node_name)
        if join.phase == NodeJoin.APPROVED:
            return _join_view(join)
        if join.phase == NodeJoin.REJECTED:
            raise StatusError(409, f'node "{node_name}" was rejected ({join.reason}): it cannot be approved; '
                                   f'join it again with a new token', "Conflict", kind="nodes", name=node_name)
        problem = _problem(join, node) or _still_valid(join)
        if problem:
            _decide(join, NodeJoin.REJECTED, *problem, user=None)
    if problem:  # the rejection is committed; the answer says why
        raise StatusError(409, problem[1], "Conflict", kind="nodes", name=node_name)
    with transaction.atomic():
        join, node = _pending(group, node_name)
        _approve(join, node, user=user, reason="Approved")
    return _join_view(join)


def _still_valid(join: NodeJoin) -> tuple[str, str] | None:
    ok, reason, message = valid(join.token)
    return None if ok else (reason, f"node {join.node_name} cannot be approved: {message}")


def reject(group: NodeGroup, node_name: str, *, user) -> dict:
    """Reject a pending node (it stays outside the group; an approved one is not un-approved: 409)."""
    _authorize(user, "update", group)
    with transaction.atomic():
        join, _ = _pending(group, node_name)
        if join.phase == NodeJoin.APPROVED:
            raise StatusError(409, f'node "{node_name}" was already approved into node group "{group.name}"',
                              "Conflict", kind="nodes", name=node_name)
        if join.phase == NodeJoin.PENDING:
            _decide(join, NodeJoin.REJECTED, "Rejected",
                    f"node {node_name} rejected by {user.get_username() if user else 'system'}", user=user)
    return _join_view(join)


# --- triggers -------------------------------------------------------------------------------------------------
def _on_saved(sender, *, obj, status_only=False, **kwargs) -> None:
    """A node written with a join-token label and no group (the member sync brought it in) is admitted after the
    commit."""
    if status_only or not isinstance(obj, Node):
        return
    labels = obj.labels or {}
    if labels.get(JOIN_TOKEN_LABEL) and not labels.get(NODEGROUP_LABEL):
        key = obj.pk

        def run():
            node = Node.objects.select_related("cluster", "nodegroup").filter(pk=key).first()
            if node is not None:
                with auditing.actor("system:node-join"):
                    admit(node)

        transaction.on_commit(run)


def _on_deleted(sender, *, obj, **kwargs) -> None:
    """A node gone from the platform (its member no longer has it) leaves no join record behind."""
    if isinstance(obj, Node):
        NodeJoin.objects.filter(cluster_id=obj.cluster_id, node_name=obj.name).delete()


def _on_decommissioned(sender, *, node, actor=None, **kwargs) -> None:
    """A node that left for good takes its join credentials with it: the token it joined with is revoked and its
    join record goes."""
    who = actor.get_username() if hasattr(actor, "get_username") else actor if isinstance(actor, str) else ""
    for join in NodeJoin.objects.filter(cluster=node.cluster, node_name=node.name).select_related(
            "token", "token__nodegroup", "token__cluster"):
        if join.token is not None and join.token.revoked is None:
            revoke(join.token, reason=f"node {node.name} was decommissioned" + (f" by {who}" if who else ""))
        join.delete()


def connect() -> None:
    """Listen to the write path and to node decommissions (idempotent)."""
    from clusters.signals import node_decommissioned

    write.object_saved.connect(_on_saved, dispatch_uid="clusters-node-join-admit")
    write.object_deleted.connect(_on_deleted, dispatch_uid="clusters-node-join-deleted")
    node_decommissioned.connect(_on_decommissioned, dispatch_uid="clusters-node-join-decommissioned")
