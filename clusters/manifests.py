"""Converters for Cluster, Workspace, NodeGroup (platform CRs) and Namespace, Node (native)."""
from rest_framework import serializers

from clusters.models import (
    Cluster,
    Namespace,
    Node,
    NodeGroup,
    Workspace,
)
from edgeplatform import authz, crypto
from edgeplatform.kube.connections import KUBECONFIG_HINT, kubeconfig_problems
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
    WORKSPACE_LABEL,
)
from edgeplatform.resources.schemas import (
    CONDITIONS,
    COUNT,
    MEMBER_COUNT,
    PHASE,
    STRING,
    STRINGS,
    described,
    observed_state,
    open_object,
)
from edgeplatform.resources.scopes import PLATFORM, join
from edgeplatform.resources.signals import scope_created

GROUP = "scope.theriseunion.io"
SECRET_CONNECTION_FIELDS = ("kubeconfig", "token")
#: Credentials the gateway has no use for outside a kubeconfig: refused by name rather than dropped unseen.
UNSUPPORTED_CONNECTION_FIELDS = {
    "clientCertificateData": "is not supported: embed the client certificate in spec.connection.kubeconfig as "
                             "client-certificate-data, or use token",
    "clientKeyData": "is not supported: embed the client key in spec.connection.kubeconfig as client-key-data, "
                     "or use token",
    "password": "is not supported: put username and password in spec.connection.kubeconfig, or use token",
}
CLUSTER_COLUMN = {"name": "Cluster", "type": "string", "jsonPath": label_path(CLUSTER_LABEL)}
DISPLAY_NAME_COLUMN = {"name": "DisplayName", "type": "string", "jsonPath": ".spec.displayName"}


class ScopeConverter(Converter):
    """Kinds whose objects are scopes: whoever creates one becomes its admin."""

    def after_save(self, obj, parsed: Parsed, created: bool) -> None:
        """Announce a new scope and its creator."""
        if created:
            scope_created.send(sender=type(obj), path=obj.scope_path, creator=parsed.extra.get("user"))


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

    type = serializers.ChoiceField(choices=["none", "kubeedge", "openyurt"], default="none",
                                   help_text="The edge runtime installed on the cluster.")
    version = serializers.CharField(required=False, allow_blank=True, help_text="The edge runtime's version.")


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
    distribution = serializers.ChoiceField(choices=["k8s", "k3s", "k0s"], required=False,
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
    status_schema = observed_state(
        "Cluster", conditions=CONDITIONS,
        kubernetesVersion=described("The Kubernetes version the cluster's API server reports.", STRING),
        nodeCount=described("Nodes in the cluster.", COUNT),
        region=described("The region the cluster's nodes are in.", STRING),
        zones=described("The zones the cluster's nodes are in.", STRINGS))
    has_crd, categories = True, ("scope",)
    printer_columns = ({"name": "Role", "type": "string", "jsonPath": label_path(CLUSTER_ROLE_LABEL)},
                       {"name": "Type", "type": "string", "jsonPath": ".spec.type"},
                       {"name": "Version", "type": "string", "jsonPath": ".status.kubernetesVersion"},
                       {"name": "Nodes", "type": "integer", "jsonPath": ".status.nodeCount"}, READY_COLUMN, AGE_COLUMN)

    def assign(self, obj, parsed: Parsed) -> None:
        """Split secret connection fields off the spec into the encrypted column."""
        spec = dict(parsed.spec)
        connection = dict(spec.get("connection") or {})
        secrets = {key: connection.pop(key) for key in SECRET_CONNECTION_FIELDS if connection.get(key)}
        if secrets:
            obj.connection_secret = crypto.encrypt_json(secrets)
        if "connection" in spec:
            spec["connection"] = connection
        super().assign(obj, Parsed(parsed.name, parsed.labels, parsed.annotations, spec))

    def before_delete(self, obj) -> None:
        """The cluster's nodes, namespaces, node groups and workspaces go first, one by one through the write
        path (not by the database's cascade): each is audited and its custom resource deleted."""
        from edgeplatform.resources import services

        for model in (Node, Namespace, NodeGroup, Workspace):
            services.delete_all(model.objects.filter(cluster=obj).order_by("name"))

    def scope_path_for(self, parsed: Parsed, instance=None) -> str:
        """Creating a cluster is a platform-level act; the cluster then is its own scope."""
        return join(PLATFORM, "cluster", parsed.name)


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


class TaintSerializer(serializers.Serializer):
    """A Kubernetes taint."""

    key = serializers.CharField(help_text="The taint's key.")
    value = serializers.CharField(required=False, allow_blank=True, help_text="The taint's value.")
    effect = serializers.ChoiceField(choices=["NoSchedule", "PreferNoSchedule", "NoExecute"],
                                     help_text="What the taint does to pods that do not tolerate it.")


class NodeGroupTemplateSerializer(serializers.Serializer):
    """What the group stamps onto its nodes."""

    labels = StringMapField(required=False, help_text="Labels set on every node of the group.")
    annotations = StringMapField(required=False, help_text="Annotations set on every node of the group.")
    taints = TaintSerializer(many=True, required=False, help_text="Taints set on every node of the group.")


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

    def scope_path_for(self, parsed: Parsed, instance=None) -> str:
        """The object's own path: being allowed to create it at the cluster cascades down."""
        return join(join(PLATFORM, "cluster", parsed.extra["cluster"].name), self.model.level, parsed.name)


@register
class WorkspaceConverter(InClusterConverter):
    """Workspace ⇄ manifest."""

    model = Workspace
    kind, plural, short_names = "Workspace", "workspaces", ("ws",)
    spec_serializer = WorkspaceSpecSerializer
    status_schema = observed_state("Workspace", phase=PHASE,
                                   conditions=CONDITIONS,
                                   memberCount=MEMBER_COUNT,
                                   namespaceCount=described("Namespaces in the workspace.", COUNT))
    printer_columns = (DISPLAY_NAME_COLUMN, {"name": "Manager", "type": "string", "jsonPath": ".spec.manager"},
                       CLUSTER_COLUMN, PHASE_COLUMN, AGE_COLUMN)


@register
class NodeGroupConverter(InClusterConverter):
    """NodeGroup ⇄ manifest; saving it re-matches the cluster's unlabelled nodes to its selector."""

    model = NodeGroup
    kind, plural, short_names = "NodeGroup", "nodegroups", ("ng",)
    spec_serializer = NodeGroupSpecSerializer
    status_schema = observed_state("NodeGroup", phase=PHASE,
                                   conditions=CONDITIONS)
    printer_columns = (DISPLAY_NAME_COLUMN, CLUSTER_COLUMN, PHASE_COLUMN, AGE_COLUMN)

    def after_save(self, obj, parsed: Parsed, created: bool) -> None:
        """Nodes matched by selector follow the group's selector."""
        from clusters.services import rematch_nodes

        super().after_save(obj, parsed, created)
        rematch_nodes(obj.cluster)


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

    def scope_path_for(self, parsed: Parsed, instance=None) -> str:
        """The object's path under its parent, or under the cluster when it has none."""
        parent = parsed.extra["parent"]
        base = parent.scope_path if parent else join(PLATFORM, "cluster", parsed.extra["cluster"].name)
        return join(base, self.model.level, parsed.name)

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

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """Without the label, the first group whose selector matches the node's labels takes it."""
        super().clean(parsed, instance, problems, context)
        if not problems and parsed.extra["parent"] is None:
            from clusters.services import matching_nodegroup

            parsed.extra["parent"] = matching_nodegroup(parsed.extra["cluster"], parsed.labels)


__all__ = ["ClusterConverter", "NamespaceConverter", "NodeConverter", "NodeGroupConverter", "WorkspaceConverter"]
