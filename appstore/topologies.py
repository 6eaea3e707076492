"""Where an ApplicationDeployment lives and where its topologies run, resolved when it is written.

**Home cluster and namespace.** A deployment lives in a namespace (``metadata.namespace``) of one cluster, its
home: the cluster the ``scope.theriseunion.io/cluster`` label names; else the one cluster the caller may know
that has a namespace of that name; else, when several do, the host cluster (``cluster.theriseunion.io/role:
host``) if it is one of them. The namespace's scope is the deployment's permission scope, so the reference's
manifests (one cluster, no label) land where they did. The home is immutable.

**Topologies.** Each entry of ``spec.topologies`` runs on one cluster: the cluster of its node group (node-group
names are unique on the platform; a ``cluster`` given too must agree), else its ``cluster``, else the home.
``nodeName`` names a node of that cluster; ``nodeGroup: __cloud__`` is the cloud side (no node-group pin). No
topologies at all is one topology on the home cluster, placed by the scheduler. Two entries for the same place
are refused. Every cluster, node group and node named must be one the caller may know (else: not found).

**Authorization.** Besides the verb on ``applicationdeployments`` at the home namespace (the write path checks
that), each topology must be one the caller may deploy to: ``create`` on ``applicationdeployments`` at the
topology's own scope (its node group's, node's or cluster's) or at the scope of the namespace of the deployment's
name on the topology's cluster (``authorize``). A 403 names the first topology refused. On a replace only the
topologies that are new or changed are checked: who may update a deployment may change its version or drop a
topology without holding every place it already runs on.
"""
from __future__ import annotations

from dataclasses import dataclass

from appstore.models import Application
from appstore.provisioners.base import CLOUD, topology_key
from clusters.models import Cluster, Namespace, Node, NodeGroup
from edgeplatform import authz
from edgeplatform.resources.converters import Parsed
from edgeplatform.resources.errors import StatusError, cause
from edgeplatform.resources.names import CLUSTER_LABEL, CLUSTER_ROLE_LABEL

__all__ = ["Place", "authorize", "clean", "places"]

CLUSTER_LABEL_FIELD = f"metadata.labels[{CLUSTER_LABEL}]"


@dataclass(frozen=True)
class Place:
    """One topology resolved: its index, cluster, node group or node (or the cloud side), its key, and the scope
    a write to it is authorized at (the node group's or node's, else the cluster's)."""

    index: int
    cluster: str
    node_group: str = ""
    node_name: str = ""
    cloud: bool = False
    scope_path: str = ""

    @property
    def key(self) -> str:
        """``appstore.provisioners.base.topology_key`` of the place."""
        return topology_key(self.cluster, CLOUD if self.cloud else self.node_group, self.node_name)


def _known(model, user, **filters):
    rows = model.objects.filter(**filters)
    if model in (Namespace, Node, NodeGroup):
        rows = rows.select_related("cluster")
    row = rows.first()
    return row if row is not None and authz.may_know_scope(user, row.scope_path) else None


def _home(label: str | None, namespace: str, instance, user, problems: list) -> Cluster | None:
    if instance is not None:
        if label and label != instance.cluster.name:
            problems.append(cause(CLUSTER_LABEL_FIELD, "is immutable", "FieldValueForbidden"))
            return None
        return instance.cluster
    if label:
        cluster = _known(Cluster, user, name=label)
        if cluster is None:
            problems.append(cause(CLUSTER_LABEL_FIELD, f'cluster "{label}" not found', "FieldValueNotFound"))
        return cluster
    rows = [row for row in Namespace.objects.filter(name=namespace).select_related("cluster")
            if authz.may_know_scope(user, row.scope_path)]
    if len(rows) == 1:
        return rows[0].cluster
    hosts = [row.cluster for row in rows if (row.cluster.labels or {}).get(CLUSTER_ROLE_LABEL) == "host"]
    if len(hosts) == 1:
        return hosts[0]
    if rows:
        problems.append(cause(CLUSTER_LABEL_FIELD, f'namespace "{namespace}" exists on several clusters '
                              f"({', '.join(sorted(row.cluster.name for row in rows))}): name the home cluster",
                              "FieldValueRequired"))
    else:
        problems.append(cause("metadata.namespace", f'namespace "{namespace}" not found', "FieldValueNotFound"))
    return None


def clean(parsed: Parsed, instance, problems: list, context: dict) -> None:
    """Resolve the application, the home cluster and namespace, and the topologies (see the module docstring);
    append causes for what is wrong. Leaves ``parsed.extra``: ``application``, ``cluster``, ``namespace_path``,
    ``places`` (a ``Place`` per topology)."""
    user = context.get("user")
    name = parsed.spec.get("application")
    if instance is not None and instance.application.name == name:
        application = instance.application
    elif instance is not None:
        problems.append(cause("spec.application", "is immutable", "FieldValueForbidden"))
        return
    else:
        application = _known(Application, user, name=name)
        if application is None:
            problems.append(cause("spec.application", f'application "{name}" not found', "FieldValueNotFound"))
            return
    label = parsed.labels.pop(CLUSTER_LABEL, None)
    if not parsed.namespace:
        problems.append(cause("metadata.namespace", "the namespace is required", "FieldValueRequired"))
        return
    home = _home(label, parsed.namespace, instance, user, problems)
    if home is None:
        return
    namespace = _known(Namespace, user, cluster=home, name=parsed.namespace)
    if namespace is None:
        problems.append(cause("metadata.namespace", f'namespace "{parsed.namespace}" not found on cluster '
                              f'"{home.name}"', "FieldValueNotFound"))
        return
    resolved = places(parsed.spec.get("topologies") or [], home, user, problems)
    parsed.extra.update(application=application, cluster=home, namespace_path=namespace.scope_path,
                        places=resolved)


class _Rows:
    """The node groups, clusters and nodes a deployment's topologies name, read at once (one query per kind, not
    one per topology), each kept only when ``user`` may know it."""

    def __init__(self, topologies: list, home: Cluster, user):
        self.home = home
        groups = {t.get("nodeGroup") for t in topologies if t.get("nodeGroup") and t.get("nodeGroup") != CLOUD}
        self.groups = self._known(NodeGroup.objects.filter(name__in=groups).select_related("cluster"), user,
                                  lambda row: row.name)
        names = {t.get("cluster") for t in topologies if t.get("cluster") and t.get("cluster") != home.name}
        self.clusters = {home.name: home, **self._known(Cluster.objects.filter(name__in=names), user,
                                                        lambda row: row.name)}
        nodes = {t.get("nodeName") for t in topologies if t.get("nodeName")}
        self.nodes = self._known(Node.objects.filter(name__in=nodes).select_related("cluster"), user,
                                 lambda row: (row.cluster.name, row.name))

    @staticmethod
    def _known(rows, user, key) -> dict:
        return {key(row): row for row in rows if authz.may_know_scope(user, row.scope_path)} if rows else {}


def places(topologies: list, home: Cluster, user, problems: list) -> list[Place]:
    """A ``Place`` per topology (one on ``home`` when there are none); causes for what is not found, disagrees
    or repeats."""
    if not topologies:
        return [Place(0, home.name, scope_path=home.scope_path)]
    rows = _Rows(topologies, home, user)
    found: list[Place] = []
    seen: dict[str, int] = {}
    for index, topology in enumerate(topologies):
        where = f"spec.topologies[{index}]"
        place = _place(index, topology, rows, where, problems)
        if place is None:
            continue
        if place.key in seen:
            problems.append(cause(where, f"runs on the same place as spec.topologies[{seen[place.key]}]",
                                  "FieldValueDuplicate"))
            continue
        seen[place.key] = index
        found.append(place)
    return found


def _place(index: int, topology: dict, rows: _Rows, where: str, problems: list) -> Place | None:
    group, node, cluster_name = topology.get("nodeGroup") or "", topology.get("nodeName") or "", \
        topology.get("cluster") or ""
    if group and group != CLOUD:
        row = rows.groups.get(group)
        if row is None:
            problems.append(cause(f"{where}.nodeGroup", f'node group "{group}" not found', "FieldValueNotFound"))
            return None
        if cluster_name and cluster_name != row.cluster.name:
            problems.append(cause(f"{where}.cluster", f'node group "{group}" is in cluster "{row.cluster.name}"'))
            return None
        return Place(index, row.cluster.name, node_group=group, scope_path=row.scope_path)
    cluster = rows.clusters.get(cluster_name) if cluster_name else rows.home
    if cluster is None:
        problems.append(cause(f"{where}.cluster", f'cluster "{cluster_name}" not found', "FieldValueNotFound"))
        return None
    if node:
        row = rows.nodes.get((cluster.name, node))
        if row is None:
            problems.append(cause(f"{where}.nodeName", f'node "{node}" not found on cluster "{cluster.name}"',
                                  "FieldValueNotFound"))
            return None
        return Place(index, cluster.name, node_name=node, scope_path=row.scope_path)
    return Place(index, cluster.name, cloud=group == CLOUD, scope_path=cluster.scope_path)


def _namespace_paths(parsed: Parsed, clusters: set[str]) -> dict[str, str]:
    """The scope path of the namespace named ``parsed.namespace`` on each of ``clusters`` that has one."""
    rows = Namespace.objects.filter(name=parsed.namespace, cluster__name__in=clusters).select_related("cluster")
    return {row.cluster.name: row.scope_path for row in rows}


def _changed(parsed: Parsed, instance, resolved: list[Place]) -> list[Place]:
    """The places whose topology is not one the stored spec already has, as written (all on a create). The home
    is immutable and a node group never changes cluster, so an entry written alike runs where it ran."""
    if instance is None:
        return list(resolved)
    new = parsed.spec.get("topologies") or []
    stored = (instance.spec or {}).get("topologies") or []
    if not new:  # the one implicit topology on the home cluster
        return list(resolved) if stored else []
    return [place for place in resolved if new[place.index] not in stored]


def authorize(parsed: Parsed, instance, user, converter) -> None:
    """Raise 403 naming ``spec.topologies[i]`` unless ``user`` may deploy to every new or changed topology of
    ``parsed`` (``parsed.extra["places"]``): ``create`` on the kind at the place's scope, or at the scope of the
    namespace of the deployment's name on the place's cluster. The system (None) and superusers always may."""
    if user is None or getattr(user, "is_superuser", False):
        return
    checked = _changed(parsed, instance, parsed.extra.get("places") or [])
    if not checked:
        return
    engine = authz.authorizer()
    namespaces = _namespace_paths(parsed, {place.cluster for place in checked})
    for place in checked:
        paths = [place.scope_path, namespaces.get(place.cluster)]
        if any(path and engine.allowed(user, "create", converter.group, converter.plural, path, parsed.name)
               for path in paths):
            continue
        where = f"spec.topologies[{place.index}]" if parsed.spec.get("topologies") else "spec.topologies"
        target = place.node_group or place.node_name or ("the cloud side" if place.cloud else "")
        what = f'{target} of cluster "{place.cluster}"' if target else f'cluster "{place.cluster}"'
        raise StatusError(403, f'user "{user.get_username()}" cannot deploy to {where} ({what}): create '
                               f'{converter.plural}.{converter.group} is needed there or in namespace '
                               f'"{parsed.namespace}" of that cluster', "Forbidden", kind=converter.plural,
                          name=parsed.name, group=converter.group,
                          causes=[cause(where, f"may not deploy to {what}", "FieldValueForbidden")])
