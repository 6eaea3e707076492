"""Converters for Cluster, Workspace, NodeGroup (platform CRs) and Namespace, Node (native).

What a write does beyond the object itself (contents deleted with a cluster, nodes re-matched to groups,
children released by a deleted parent) is in ``clusters.services``; the hooks here name those functions.
"""
from urllib.parse import urlsplit

from rest_framework import serializers

from charts.models import LIBRARY
from clusters import services
from clusters.annotations import DISTRIBUTIONS, EDGE_RUNTIMES, effective_spec
from clusters.models import (
    Cluster,
    Namespace,
    Node,
    NodeGroup,
    Workspace,
)
from clusters.vcluster import version_problem
from edgeplatform import authz, crypto
from edgeplatform.kube.connections import KUBECONFIG_HINT, kubeconfig_problems
from edgeplatform.resources import labels as selectors
from edgeplatform.resources.converters import (
    Converter,
    LabelSelectorField,
    Parsed,
    StringMapField,
    register,
)
from edgeplatform.resources.errors import cause
from edgeplatform.resources.kinds import AGE_COLUMN, PHASE_COLUMN, READY_COLUMN, label_path
from edgeplatform.resources.names import (
    CLUSTER_LABEL,
    CLUSTER_ROLE_LABEL,
    DNS1123_LABEL,
    DNS1123_LABEL_MAX,
    NODEGROUP_LABEL,
    OPTIONAL_DNS1123_LABEL_PATTERN,
    WORKSPACE_LABEL,
)
from edgeplatform.resources.schemas import (
    COUNT,
    DATE_TIME,
    MEMBER_COUNT,
    PHASE,
    STRING,
    STRING_MAP,
    STRINGS,
    described,
    open_object,
    reconciled_state,
)
from edgeplatform.resources.signals import scope_deleting

GROUP = "scope.theriseunion.io"
#: the version of the platform's own APIs on ``GROUP`` (the cluster API views answer with it)
API_VERSION = f"{GROUP}/v1alpha1"
SECRET_CONNECTION_FIELDS = ("kubeconfig", "token")
#: Credentials the gateway has no use for outside a kubeconfig: refused by name rather than dropped unseen.
UNSUPPORTED_CONNECTION_FIELDS = {
    "clientCertificateData": "is not supported: embed the client certificate in spec.connection.kubeconfig as "
                             "client-certificate-data, or use token",
    "clientKeyData": "is not supported: embed the client key in spec.connection.kubeconfig as client-key-data, "
                     "or use token",
    "password": "is not supported: put username and password in spec.connection.kubeconfig, or use token",
}
#: a node's desired lifecycle (``clusters.node_lifecycle``), on the platform's Node only
LIFECYCLE_ANNOTATION = "node.theriseunion.io/lifecycle"
LIFECYCLES = ("online", "maintenance", "decommissioned")
CLUSTER_COLUMN = {"name": "Cluster", "type": "string", "jsonPath": label_path(CLUSTER_LABEL)}
DISPLAY_NAME_COLUMN = {"name": "DisplayName", "type": "string", "jsonPath": ".spec.displayName"}


class ScopeConverter(Converter):
    """Kinds whose objects are scopes: whoever creates one becomes its admin; the grants at one go with it."""

    def after_save(self, obj, parsed: Parsed, created: bool) -> None:
        """Announce a new scope and its creator."""
        if created:
            services.announce_created(obj, parsed.extra.get("user"))

    def after_delete(self, obj) -> None:
        """Announce that the scope is gone."""
        services.announce_deleted(obj)

    def parent_of(self, parsed: Parsed):
        """The scope object the new or changed object sits right under (None: the platform)."""
        return None

    def scope_path_for(self, parsed: Parsed, instance=None) -> str:
        """The object's own path (the model's rule): being allowed to create it at its parent cascades down."""
        return self.model.path_in(self.parent_of(parsed), parsed.name)


def _endpoint(value: str) -> str:
    """``value`` when it is blank or an http(s) URL naming a host; a validation error otherwise."""
    if not value:
        return value
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - reading it checks the port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise serializers.ValidationError("must be an http or https URL with a host")
    return value


class ConnectionSerializer(serializers.Serializer):
    """How the platform reaches a member cluster; secret fields are encrypted and never shown."""

    type = serializers.ChoiceField(choices=["direct", "proxy"], required=False,
                                   help_text="direct: the platform reaches the cluster's API server; proxy: the "
                                             "cluster connects to the platform.")
    kubernetesAPIEndpoint = serializers.CharField(required=False, allow_blank=True,
                                                  help_text="The cluster's API server URL.")
    kubernetesAPIServerPort = serializers.IntegerField(required=False, min_value=0, max_value=65535,
                                                       help_text="The cluster's API server port.")
    externalKubernetesAPIEndpoint = serializers.CharField(required=False, allow_blank=True,
                                                          help_text="The API server URL users outside reach.")
    kubeconfig = serializers.CharField(required=False, allow_blank=True,
                                       help_text="A kubeconfig for the cluster (credentials as data only); stored "
                                                 "encrypted, never shown.")
    token = serializers.CharField(required=False, allow_blank=True,
                                  help_text="A bearer token for the cluster's API server; stored encrypted, never "
                                            "shown.")
    theriseunionAPIEndpoint = serializers.CharField(required=False, allow_blank=True,
                                                    help_text="The URL of the platform's API service on the "
                                                              "cluster.")
    theriseunionAPINamespace = serializers.RegexField(OPTIONAL_DNS1123_LABEL_PATTERN, required=False,
                                                      allow_blank=True, max_length=DNS1123_LABEL_MAX,
                                                      help_text="The namespace of the platform's API service on "
                                                                "the cluster.")
    theriseunionAPIServiceName = serializers.RegexField(OPTIONAL_DNS1123_LABEL_PATTERN, required=False,
                                                        allow_blank=True, max_length=DNS1123_LABEL_MAX,
                                                        help_text="The Service name of the platform's API on the "
                                                                  "cluster.")
    theriseunionAPIServicePort = serializers.IntegerField(required=False, min_value=0, max_value=65535,
                                                          help_text="The port of that Service.")

    def validate_theriseunionAPIEndpoint(self, value: str) -> str:
        """An http(s) URL with a host, or blank."""
        return _endpoint(value)

    def validate_kubeconfig(self, value: str) -> str:
        """A kubeconfig that would run a command or read a file on the platform host is refused."""
        problems = kubeconfig_problems(value) if value else []
        if problems:
            raise serializers.ValidationError(f"{'; '.join(problems)} ({KUBECONFIG_HINT})")
        return value

    def to_internal_value(self, data):
        """Secret fields the platform cannot use are refused by name (unknown fields are otherwise dropped)."""
        refused = {key: [message] for key, message in UNSUPPORTED_CONNECTION_FIELDS.items()
                   if isinstance(data, dict) and key in data}
        if refused:
            raise serializers.ValidationError(refused)
        return super().to_internal_value(data)


class EdgeRuntimeSerializer(serializers.Serializer):
    """Which edge runtime the cluster carries."""

    type = serializers.ChoiceField(choices=list(EDGE_RUNTIMES), default="none",
                                   help_text="The edge runtime installed on the cluster.")
    version = serializers.CharField(required=False, allow_blank=True, help_text="The edge runtime's version.")
    advertiseAddress = serializers.CharField(required=False, allow_blank=True, max_length=253,
                                             help_text="The address edge nodes reach the cloud side at (CloudCore's "
                                                       "advertiseAddress); default: the API server's host.")


class ClusterSpecSerializer(serializers.Serializer):
    """Cluster spec: the reference's fields plus type, distribution, version and edgeRuntime."""

    provider = serializers.CharField(required=False, allow_blank=True,
                                     help_text="Who provides the cluster (a cloud, a vendor).")
    enable = serializers.BooleanField(required=False, help_text="Whether the platform manages the cluster.")
    joinFederation = serializers.BooleanField(required=False, help_text="Whether the cluster joins the federation.")
    externalKubeAPIEnabled = serializers.BooleanField(required=False,
                                                      help_text="Whether the API server is exposed to users "
                                                                "outside.")
    config = serializers.JSONField(required=False, help_text="Helm values for what the platform installs on the "
                                                             "cluster.")
    connection = ConnectionSerializer(required=False, help_text="How the platform reaches the cluster.")
    type = serializers.ChoiceField(choices=["physical", "virtual"], default="physical",
                                   help_text="physical: imported with a kubeconfig; virtual: a vcluster the "
                                             "platform installs on the host cluster.")
    distribution = serializers.ChoiceField(choices=list(DISTRIBUTIONS), required=False,
                                           help_text="The Kubernetes distribution of a virtual cluster.")
    version = serializers.CharField(required=False, allow_blank=True,
                                    help_text="The Kubernetes version of a virtual cluster.")
    edgeRuntime = EdgeRuntimeSerializer(required=False, help_text="The edge runtime (KubeEdge, OpenYurt) the "
                                                                  "cluster carries.")


@register
class ClusterConverter(ScopeConverter):
    """Cluster ⇄ manifest. Connection secrets are stored encrypted, apart from the spec."""

    model = Cluster
    group, kind, plural, short_names = GROUP, "Cluster", "clusters", ("cl",)
    spec_serializer = ClusterSpecSerializer
    name_pattern = DNS1123_LABEL
    name_max_length = DNS1123_LABEL_MAX
    status_schema = reconciled_state(
        "Cluster", phase=PHASE,
        lastHeartbeatTime=described("When the cluster's API server last answered a health check.", DATE_TIME),
        kubernetesVersion=described("The Kubernetes version the cluster's API server reports.", STRING),
        nodeCount=described("Nodes in the cluster.", COUNT),
        region=described("The region the cluster's nodes are in.", STRING),
        zones=described("The zones the cluster's nodes are in.", STRINGS),
        uid=described("The UID of the cluster's kube-system namespace: who the cluster is, whatever it is called.",
                      STRING),
        edgeRuntime=open_object("The edge runtime installed on the cluster (clusters.edge_runtime).",
                                type=described("kubeedge or openyurt.", STRING),
                                version=described("The runtime's version.", STRING),
                                phase=described("Installing, Ready, Failed or Removing.", STRING),
                                components=described("Each of the runtime's Components and its phase.",
                                                     STRING_MAP)),
        provisionedTime=described("When the virtual cluster first became Ready.", DATE_TIME))
    has_crd, categories = True, ("scope",)
    #: a virtual cluster's delete waits for its vcluster release to be uninstalled (``clusters.vcluster``)
    crd_finalizer = "scope.theriseunion.io/vcluster"
    printer_columns = ({"name": "Role", "type": "string", "jsonPath": label_path(CLUSTER_ROLE_LABEL)},
                       {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
                       {"name": "Version", "type": "string", "jsonPath": ".status.kubernetesVersion"},
                       {"name": "Nodes", "type": "integer", "jsonPath": ".status.nodeCount"}, READY_COLUMN, AGE_COLUMN)

    def parse(self, manifest, instance=None, name=None, context=None):
        """Remember the spec as written, so that ``clean`` can tell a field the user set from a default."""
        given = manifest.get("spec") if isinstance(manifest, dict) else None
        context = {**(context or {}), "given_spec": given if isinstance(given, dict) else {}}
        return super().parse(manifest, instance, name, context)

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """The reference's annotations fold into the stored spec where the spec leaves a field unset
        (``clusters.annotations``); a new cluster may not take the shared chart repository's name."""
        parsed.spec = effective_spec(parsed.annotations, context.get("given_spec") or {}, parsed.spec, problems)
        if instance is None and parsed.name == LIBRARY:
            problems.append(cause("metadata.name", f'"{LIBRARY}" is the chart repository every cluster shares '
                                                   "(each cluster has a repository of its own name): choose another"))
        if parsed.spec.get("type") == "virtual":
            problem = version_problem(str(parsed.spec.get("version") or ""))
            if problem:
                problems.append(cause("spec.version", problem))
        parsed.extra["stored_connection"] = bool(context.get("stored_connection"))

    def assign(self, obj, parsed: Parsed) -> None:
        """Split secret connection fields off the spec into the encrypted column.

        The secret fields are part of the spec as the user wrote it, so new credentials (a rotated token, a
        fixed kubeconfig) move ``metadata.generation`` as a change of the spec does, though the stored spec
        is the same: a cluster that failed for good with the old ones is checked again. Writing the same
        credentials again keeps the stored ciphertext (no write, no new generation)."""
        spec = dict(parsed.spec)
        connection = dict(spec.get("connection") or {})
        secrets = {key: connection.pop(key) for key in SECRET_CONNECTION_FIELDS if connection.get(key)}
        if "connection" in spec:
            spec["connection"] = connection
            if not connection and parsed.extra.get("stored_connection") and "connection" not in (obj.spec or {}):
                del spec["connection"]  # a virtual cluster's kubeconfig stored: the spec stays as it was
        if secrets and secrets != _stored_secrets(obj):
            # (the platform storing a virtual cluster's own kubeconfig is not a new generation)
            if obj.pk and spec == obj.spec and not parsed.extra.get("stored_connection"):
                obj.generation += 1  # the write path moves the generation itself when the spec changes
            obj.connection_secret = crypto.encrypt_json(secrets)
        super().assign(obj, Parsed(parsed.name, parsed.labels, parsed.annotations, spec))

    def finalizes(self, obj) -> bool:
        """A virtual cluster's delete is held until its vcluster release is uninstalled (``clusters.vcluster``)."""
        return obj.type == "virtual"

    def before_delete(self, obj) -> None:
        """The cluster's contents go first (``delete_cluster_contents``)."""
        services.delete_cluster_contents(obj)


def _stored_secrets(obj) -> dict | None:
    """The secret connection fields ``obj`` holds now (None: none, or unreadable)."""
    secret = bytes(obj.connection_secret) if obj.connection_secret else b""
    try:
        return crypto.decrypt_json(secret) if secret else None
    except Exception:  # a key rotated away: whatever is written now replaces it
        return None


class DisplaySerializerMixin(serializers.Serializer):
    """``displayName`` and ``description``, shared by workspaces and node groups."""

    displayName = serializers.CharField(required=False, allow_blank=True, max_length=128,
                                        help_text="The name shown in the console.")
    description = serializers.CharField(required=False, allow_blank=True, max_length=1024,
                                        help_text="What it is for.")


class WorkspaceTemplateSerializer(serializers.Serializer):
    """What every namespace of a workspace starts with."""

    namespaces = serializers.ListField(child=serializers.RegexField(DNS1123_LABEL.pattern), required=False,
                                       help_text="Namespaces the workspace starts with.")
    resourceQuotas = serializers.JSONField(required=False, help_text="A ResourceQuota spec for each namespace.")


class WorkspaceSpecSerializer(DisplaySerializerMixin):
    """Workspace spec."""

    manager = serializers.CharField(required=False, allow_blank=True, help_text="The user who manages the "
                                                                               "workspace.")
    template = WorkspaceTemplateSerializer(required=False, help_text="What every namespace of the workspace "
                                                                     "starts with.")


TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


class TaintSerializer(serializers.Serializer):
    """A Kubernetes taint."""

    key = serializers.CharField(help_text="The taint's key.")
    value = serializers.CharField(required=False, allow_blank=True, help_text="The taint's value.")
    effect = serializers.ChoiceField(choices=list(TAINT_EFFECTS),
                                     help_text="What the taint does to pods that do not tolerate it.")

    def validate_key(self, value: str) -> str:
        """A qualified name (``[prefix/]name``), as Kubernetes validates a taint's key."""
        if not selectors.valid_key(value):
            raise serializers.ValidationError("must be a qualified name ([prefix/]name), as a label key")
        return value

    def validate_value(self, value: str) -> str:
        """A label value (blank allowed), as Kubernetes validates a taint's value."""
        if value and not selectors.valid_value(value):
            raise serializers.ValidationError("must be a label value (at most 63 of a-z, A-Z, 0-9, '-', '_', '.')")
        return value


TAINT_SPELLING = "key[=value]:effect, as kubectl taint spells it (dedicated=edge:NoSchedule)"


class TaintField(serializers.Field):
    """A taint as an object, or as the string ``kubectl taint`` takes (``dedicated=edge:NoSchedule``, the
    reference's spelling); stored as the object, so every reader sees one shape."""

    openapi_schema = {"x-kubernetes-preserve-unknown-fields": True,
                      "description": "A taint: {key, value, effect}, or the string key[=value]:effect."}

    def to_internal_value(self, data) -> dict:
        """The object form of either spelling; a validation error naming what is wrong otherwise."""
        if isinstance(data, str):
            data = parse_taint(data)
        serializer = TaintSerializer(data=data)
        if not serializer.is_valid():
            raise serializers.ValidationError(serializer.errors)
        return dict(serializer.validated_data)

    def to_representation(self, value):
        """Stored taints are objects already."""
        return value


def parse_taint(text: str) -> dict:
    """``key[=value]:effect`` as an object; a validation error when it is not spelled so."""
    body, colon, effect = text.rpartition(":")
    key, _, value = body.partition("=")
    if not colon or not key or effect not in TAINT_EFFECTS:
        raise serializers.ValidationError(f"must be {TAINT_SPELLING}; effect one of {', '.join(TAINT_EFFECTS)}")
    return {"key": key, "value": value, "effect": effect} if value else {"key": key, "effect": effect}


class NodeGroupTemplateSerializer(serializers.Serializer):
    """What the group stamps onto its nodes."""

    labels = StringMapField(required=False, help_text="Labels set on every node of the group.")
    annotations = StringMapField(required=False, help_text="Annotations set on every node of the group.")
    taints = serializers.ListField(child=TaintField(), required=False,
                                   help_text="Taints set on every node of the group (objects, or strings "
                                             "key[=value]:effect; stored as objects).")


class NodeGroupSpecSerializer(DisplaySerializerMixin):
    """NodeGroup spec."""

    selector = LabelSelectorField(required=False, help_text="Nodes whose labels match join the group (as do "
                                                            "nodes labelled theriseunion.io/nodegroup=<group>).")
    template = NodeGroupTemplateSerializer(required=False, help_text="What the group stamps onto its nodes.")


def known_cluster(name: str | None, user) -> Cluster | None:
    """The cluster of that name if it exists and ``user`` may learn so (``None`` is the system), else None."""
    cluster = Cluster.objects.filter(name=name).first() if name else None
    if cluster is not None and not authz.may_know_scope(user, cluster.scope_path):
        return None
    return cluster


class InClusterConverter(ScopeConverter):
    """Kinds that live in one cluster named by the ``scope.theriseunion.io/cluster`` label."""

    group = GROUP
    name_pattern = DNS1123_LABEL
    name_max_length = DNS1123_LABEL_MAX
    has_crd, categories = True, ("scope",)

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """The cluster label must name an existing cluster and may not change."""
        cluster_name = parsed.labels.get(CLUSTER_LABEL)
        if not cluster_name:
            problems.append(cause(f"metadata.labels[{CLUSTER_LABEL}]", "the cluster is required",
                                  "FieldValueRequired"))
            return
        if instance is not None and instance.cluster.name == cluster_name:
            cluster = instance.cluster  # one they may change is one they know
        else:
            cluster = known_cluster(cluster_name, context.get("user"))
        if cluster is None:
            problems.append(cause(f"metadata.labels[{CLUSTER_LABEL}]", f'cluster "{cluster_name}" not found',
                                  "FieldValueNotFound"))
        elif instance is not None and instance.cluster_id != cluster.pk:
            problems.append(cause(f"metadata.labels[{CLUSTER_LABEL}]", "is immutable", "FieldValueForbidden"))
        parsed.extra["cluster"] = cluster

    def assign(self, obj, parsed: Parsed) -> None:
        """Attach the row to its cluster."""
        super().assign(obj, parsed)
        obj.cluster = parsed.extra["cluster"]

    def parent_of(self, parsed: Parsed):
        """Its cluster."""
        return parsed.extra["cluster"]


@register
class WorkspaceConverter(InClusterConverter):
    """Workspace ⇄ manifest."""

    model = Workspace
    kind, plural, short_names = "Workspace", "workspaces", ("ws",)
    spec_serializer = WorkspaceSpecSerializer
    status_schema = reconciled_state("Workspace", phase=PHASE,
                                     memberCount=MEMBER_COUNT,
                                     namespaceCount=described("Namespaces in the workspace.", COUNT))
    printer_columns = (DISPLAY_NAME_COLUMN, {"name": "Manager", "type": "string", "jsonPath": ".spec.manager"},
                       CLUSTER_COLUMN, PHASE_COLUMN, AGE_COLUMN)

    def before_delete(self, obj) -> None:
        """What other apps keep in it goes first (``scope_deleting``), then its namespaces leave it
        (``release_namespaces``)."""
        scope_deleting.send(sender=type(obj), path=obj.scope_path)
        services.release_namespaces(obj)


@register
class NodeGroupConverter(InClusterConverter):
    """NodeGroup ⇄ manifest; saving it re-matches the cluster's unlabelled nodes to its selector."""

    model = NodeGroup
    kind, plural, short_names = "NodeGroup", "nodegroups", ("ng",)
    spec_serializer = NodeGroupSpecSerializer
    status_schema = reconciled_state("NodeGroup", phase=PHASE,
                                     nodeCount=described("Nodes in the group.", COUNT),
                                     readyNodeCount=described("Nodes of the group whose Ready condition is True.",
                                                              COUNT),
                                     memberCount=MEMBER_COUNT)
    printer_columns = (DISPLAY_NAME_COLUMN, CLUSTER_COLUMN, PHASE_COLUMN,
                       {"name": "Nodes", "type": "integer", "jsonPath": ".status.nodeCount"},
                       {"name": "ReadyNodes", "type": "integer", "jsonPath": ".status.readyNodeCount"}, AGE_COLUMN)

    def after_save(self, obj, parsed: Parsed, created: bool) -> None:
        """Nodes matched by selector follow the group's selector (``rematch_nodes``)."""
        super().after_save(obj, parsed, created)
        services.rematch_nodes(obj.cluster)

    def before_delete(self, obj) -> None:
        """Its nodes leave it first (``release_nodes``)."""
        services.release_nodes(obj)


class NativeConverter(ScopeConverter):
    """Native Kubernetes kinds of a member cluster, served under ``clusters/<cluster>/``."""

    group = ""
    version = "v1"
    cluster_child = True
    name_pattern = DNS1123_LABEL
    name_max_length = DNS1123_LABEL_MAX
    parent_label = ""
    parent_model = None
    parent_field = ""

    def lookup(self, name: str, context: dict | None = None):
        """Names repeat across clusters: look in the context's cluster."""
        return self.model.objects.filter(name=name, cluster__name=(context or {}).get("cluster")).first()

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """Resolve the URL's cluster and the parent named by the grouping label."""
        cluster = known_cluster(context.get("cluster"), context.get("user"))
        if cluster is None and instance is not None:
            cluster = instance.cluster
        if cluster is None:
            problems.append(cause("cluster", "the cluster is required", "FieldValueRequired"))
            return
        parsed.extra["cluster"] = cluster
        parent_name = parsed.labels.get(self.parent_label)
        parent = None
        if parent_name:
            parent = self.parent_model.objects.filter(name=parent_name, cluster=cluster).first()
            if parent is not None and not authz.may_know_scope(context.get("user"), parent.scope_path):
                parent = None
            if parent is None:
                problems.append(cause(f"metadata.labels[{self.parent_label}]",
                                      f'{self.parent_field} "{parent_name}" not found in cluster "{cluster.name}"',
                                      "FieldValueNotFound"))
        parsed.extra["parent"] = parent

    def assign(self, obj, parsed: Parsed) -> None:
        """Attach the row to its cluster and parent."""
        super().assign(obj, parsed)
        obj.cluster = parsed.extra["cluster"]
        setattr(obj, self.parent_field, parsed.extra["parent"])

    def parent_of(self, parsed: Parsed):
        """Its parent, or its cluster when it has none."""
        return parsed.extra["parent"] or parsed.extra["cluster"]

    def to_manifest(self, obj) -> dict:
        """Native manifests also carry the cluster label so they can be told apart across clusters."""
        body = super().to_manifest(obj)
        body["metadata"].setdefault("labels", {})[CLUSTER_LABEL] = obj.cluster.name
        return body

    def parse(self, manifest, instance=None, name=None, context=None):
        """Our own cluster label is informational on native kinds: drop it before storing."""
        parsed = super().parse(manifest, instance, name, context)
        parsed.labels.pop(CLUSTER_LABEL, None)
        return parsed


@register
class NamespaceConverter(NativeConverter):
    """Namespace ⇄ v1 Namespace; ``theriseunion.io/workspace`` puts it in a workspace."""

    model = Namespace
    kind, plural, short_names = "Namespace", "namespaces", ("ns",)
    status_schema = open_object("The observed state of the Namespace, as its member cluster reports it.")
    parent_label, parent_model, parent_field = WORKSPACE_LABEL, Workspace, "workspace"


@register
class NodeConverter(NativeConverter):
    """Node ⇄ v1 Node; ``theriseunion.io/nodegroup`` or a group's selector puts it in a node group."""

    model = Node
    kind, plural, short_names = "Node", "nodes", ("no",)
    status_schema = open_object("The observed state of the Node, as its member cluster reports it.")
    parent_label, parent_model, parent_field = NODEGROUP_LABEL, NodeGroup, "nodegroup"
    related = ("cluster", "nodegroup")  # the manifest shows the group and the cluster

    def to_manifest(self, obj) -> dict:
        """A node in a group by the group's selector shows the group as the label a labelled one carries."""
        body = super().to_manifest(obj)
        if obj.nodegroup_id:
            body["metadata"].setdefault("labels", {}).setdefault(NODEGROUP_LABEL, obj.nodegroup.name)
        return body

    def parse(self, manifest, instance=None, name=None, context=None):
        """The group label ``to_manifest`` showed for a node placed by selector, sent back unchanged, is not a
        label of the node's own: dropped, so the selector keeps deciding (and nothing is written to the member)."""
        labels = ((manifest.get("metadata") if isinstance(manifest, dict) else None) or {}).get("labels")
        if instance is not None and instance.nodegroup_id and NODEGROUP_LABEL not in (instance.labels or {}) \
                and isinstance(labels, dict) and labels.get(NODEGROUP_LABEL) == instance.nodegroup.name:
            labels = {key: value for key, value in labels.items() if key != NODEGROUP_LABEL}
            manifest = {**manifest, "metadata": {**manifest["metadata"], "labels": labels}}
        return super().parse(manifest, instance, name, context)

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """Without the label, the first group whose selector matches the node's labels takes it (among the
        context's ``nodegroups`` when a caller placing many nodes read them once)."""
        super().clean(parsed, instance, problems, context)
        lifecycle = parsed.annotations.get(LIFECYCLE_ANNOTATION)
        if lifecycle is not None and lifecycle not in LIFECYCLES:
            problems.append(cause(f"metadata.annotations[{LIFECYCLE_ANNOTATION}]",
                                  f"must be one of {', '.join(LIFECYCLES)}", "FieldValueNotSupported"))
        if not problems and parsed.extra["parent"] is None:
            parsed.extra["parent"] = services.matching_nodegroup(parsed.extra["cluster"], parsed.labels,
                                                                 context.get("nodegroups"))


__all__ = ["ClusterConverter", "NamespaceConverter", "NodeConverter", "NodeGroupConverter", "WorkspaceConverter"]
