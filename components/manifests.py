"""Manifest shape of Component (``ext.theriseunion.io``, DESIGN §8, REFERENCE-API).

The spec serializer here is what the components API validates Component manifests with, and what the Component
CRD is generated from (``edgeplatform.kube.crds``), so the API and the custom resource accept the same documents.
``ComponentConverter`` carries the whole declaration (status schema, printer columns, short name ``comp``).

Fields are the reference implementation's, so its users' manifests validate unchanged; ➕ ``dependsOn`` is ours.

**Which cluster a component belongs to** (the host namespace mapping, as OCM's hub keeps one namespace per
managed cluster): the custom resource of a component of cluster ``X`` lives on the host cluster in the namespace
``X``. A manifest whose ``metadata.namespace`` names no cluster belongs to the host cluster (the Cluster labelled
``cluster.theriseunion.io/role: host``) and keeps its namespace, so the reference's manifests (namespace
``edge-system``) land on the host unchanged. The label ``scope.theriseunion.io/cluster`` may name the cluster too
(it must then agree with the namespace; with no namespace, the namespace is the cluster's name); the manifests the
platform shows carry both. A cluster the caller may not learn of is answered as a missing one.

Rules that look at other components (``dependsOn`` names components of the same cluster and closes no cycle;
components others depend on are neither disabled nor deleted first) are in ``admit``/``admit_delete``, with the
graph in ``components.dependencies``.
"""
from __future__ import annotations

from rest_framework import serializers

from clusters.manifests import known_cluster
from clusters.models import Cluster
from components import dependencies
from components.models import Component
from edgeplatform.resources.converters import Converter, Parsed, register
from edgeplatform.resources.errors import cause
from edgeplatform.resources.kinds import AGE_COLUMN, PHASE_COLUMN, KindInfo, label_path
from edgeplatform.resources.names import (
    CLUSTER_LABEL,
    CLUSTER_ROLE_LABEL,
    DNS1123_LABEL_MAX,
    DNS1123_LABEL_PATTERN,
    DNS1123_SUBDOMAIN_MAX,
    DNS1123_SUBDOMAIN_PATTERN,
)
from edgeplatform.resources.schemas import COUNT, PHASE, STRING, described, reconciled_state

__all__ = ["COMPONENT", "DEFAULT_NAMESPACE", "FINALIZER", "GROUP", "PHASES", "REPOSITORY_PATTERN",
           "SKIP_RECONCILE_ANNOTATION", "TERMINAL_PHASES", "ChartSerializer", "ComponentConverter",
           "ComponentSpecSerializer", "host_cluster"]

GROUP = "ext.theriseunion.io"
#: ``"true"``: the controller leaves the component alone (the reference marks pre-installed ones so).
SKIP_RECONCILE_ANNOTATION = "ext.theriseunion.io/skip-reconcile"
DEFAULT_NAMESPACE = "edge-system"
#: A chart repository is a ChartMuseum-style HTTP(S) URL (``http://chartmuseum.edge-system.svc:8080``). Not
#: Django's URLValidator: it refuses single-label hosts such as ``http://chartmuseum:8080``, and its pattern is
#: no RE2 the CRD could carry.
REPOSITORY_PATTERN = r"^https?://[^\s/?#]+([/?#][^\s]*)?$"


class ChartSerializer(serializers.Serializer):
    """The Helm chart a component installs: chart name, target namespace, release name and repository."""

    name = serializers.CharField(required=False, allow_blank=True, help_text="The chart's name.")
    namespace = serializers.RegexField(DNS1123_LABEL_PATTERN, max_length=DNS1123_LABEL_MAX, default=DEFAULT_NAMESPACE,
                                       help_text="The namespace the release is installed into.")
    releaseName = serializers.RegexField(DNS1123_SUBDOMAIN_PATTERN, required=False, max_length=53,  # Helm's limit
                                         help_text="The Helm release's name.")
    repository = serializers.RegexField(REPOSITORY_PATTERN, required=False,
                                        help_text="The chart repository's HTTP(S) URL (ChartMuseum API).")


class ComponentSpecSerializer(serializers.Serializer):
    """Component spec: whether it is installed (default true), the version, the chart, Helm values (a free
    object) and the components that must be installed and Ready first (➕ ``dependsOn``, names of components
    in the same namespace; a cycle is refused by the converter, which sees the other components)."""

    enabled = serializers.BooleanField(default=True, help_text="Whether the component is installed.")
    # in the reference CRD: controller, …
    type = serializers.RegexField(DNS1123_LABEL_PATTERN, required=False, max_length=DNS1123_LABEL_MAX,
                                  help_text="What kind of component it is (controller, …).")
    version = serializers.CharField(required=False, allow_blank=True, help_text="The chart version to install.")
    chart = ChartSerializer(required=False, help_text="The Helm chart the component installs.")
    values = serializers.DictField(child=serializers.JSONField(), required=False, help_text="Helm values.")
    dependsOn = serializers.ListField(child=serializers.RegexField(DNS1123_SUBDOMAIN_PATTERN,
                                                                   max_length=DNS1123_SUBDOMAIN_MAX), required=False,
                                      help_text="Components (in the same namespace) installed and Ready first.")

    def validate_dependsOn(self, value: list) -> list:
        """Each dependency once."""
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise serializers.ValidationError(f"duplicate dependency: {', '.join(duplicates)}")
        return value


#: the finalizer on a component's custom resource while its row exists: ``kubectl delete`` waits for the uninstall
FINALIZER = "ext.theriseunion.io/uninstall"
#: ``status.phase`` values, and those the console stops polling at
PHASES = ("Pending", "Installing", "Ready", "Failed", "Uninstalling", "Disabled", "Unmanaged")
TERMINAL_PHASES = frozenset({"Ready", "Failed", "Disabled", "Unmanaged"})
CLUSTER_LABEL_FIELD = f"metadata.labels[{CLUSTER_LABEL}]"

STATUS_SCHEMA = reconciled_state(
    "Component",
    phase=described(f"Where the component is: {', '.join(PHASES)}.", PHASE),
    observedHash=described("The hash of the spec last installed (same hash, healthy release: nothing to do).",
                           STRING),
    releaseName=described("The Helm release installed.", STRING),
    releaseVersion=described("The Helm release's revision.", COUNT))
PRINTER_COLUMNS = (
    {"name": "Cluster", "type": "string", "jsonPath": label_path(CLUSTER_LABEL)},
    {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled"},
    {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
    PHASE_COLUMN,
    {"name": "Release", "type": "string", "jsonPath": ".status.releaseName", "priority": 1},
    AGE_COLUMN)


def host_cluster() -> Cluster | None:
    """The cluster labelled ``cluster.theriseunion.io/role: host`` (the first by name), or None."""
    return next((cluster for cluster in Cluster.objects.order_by("name")
                 if (cluster.labels or {}).get(CLUSTER_ROLE_LABEL) == "host"), None)


@register
class ComponentConverter(Converter):
    """Component ⇄ manifest: its cluster from ``metadata.namespace`` (and the cluster label), ``dependsOn``
    checked against the cluster's other components, a delete held until the release is uninstalled."""

    model = Component
    group, kind, plural, short_names = GROUP, "Component", "components", ("comp",)
    spec_serializer = ComponentSpecSerializer
    status_schema = STATUS_SCHEMA
    printer_columns = PRINTER_COLUMNS
    has_crd, crd_scope, categories = True, "Namespaced", ("ext",)
    crd_finalizer = FINALIZER

    def lookup(self, name: str, context: dict | None = None):
        """By (namespace, name), or (cluster, name) when the context names a cluster instead."""
        context = context or {}
        if not context.get("namespace") and context.get("cluster"):
            return self.model.objects.filter(name=name, cluster__name=context["cluster"]).first()
        return super().lookup(name, context)

    def to_manifest(self, obj) -> dict:
        """The manifest, with the cluster label (the namespace and deletionTimestamp come from the base)."""
        body = super().to_manifest(obj)
        body["metadata"].setdefault("labels", {})[CLUSTER_LABEL] = obj.cluster.name
        return body

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """Resolve the cluster (namespace mapping and label), which must be one the caller may know."""
        user = context.get("user")
        label = parsed.labels.pop(CLUSTER_LABEL, None)  # shown, never stored: the cluster is the row's
        labelled = None
        if label:
            labelled = instance.cluster if instance is not None and instance.cluster.name == label \
                else known_cluster(label, user)
            if labelled is None:
                problems.append(cause(CLUSTER_LABEL_FIELD, f'cluster "{label}" not found', "FieldValueNotFound"))
                return
        namespace = parsed.namespace or label
        if namespace is None:
            problems.append(cause("metadata.namespace", "the namespace is required (the cluster's name, or a "
                                                        "namespace of the host cluster)", "FieldValueRequired"))
            return
        parsed.namespace = namespace
        cluster = self._cluster_of(namespace, instance, user)
        if cluster is None:
            problems.append(cause("metadata.namespace", f'namespace "{namespace}" names no cluster, and no host '
                                                        "cluster is registered", "FieldValueNotFound"))
            return
        if labelled is not None and labelled.pk != cluster.pk:
            problems.append(cause(CLUSTER_LABEL_FIELD, f'names cluster "{labelled.name}", but namespace '
                                                       f'"{namespace}" belongs to cluster "{cluster.name}"'))
            return
        if instance is not None and instance.cluster_id != cluster.pk:
            problems.append(cause(CLUSTER_LABEL_FIELD, "is immutable", "FieldValueForbidden"))
            return
        parsed.extra["cluster"] = cluster

    @staticmethod
    def _cluster_of(namespace: str, instance, user) -> Cluster | None:
        """The cluster a host namespace maps to: the cluster of that name, else the host cluster (each only
        when ``user`` may know it)."""
        if instance is not None and instance.namespace == namespace:
            return instance.cluster  # one they may change is one they know
        if Cluster.objects.filter(name=namespace).exists():
            return known_cluster(namespace, user)
        host = host_cluster()
        return known_cluster(host.name, user) if host is not None else None

    def scope_path_for(self, parsed: Parsed, instance=None) -> str:
        """Its cluster's scope: grants at the platform or at the cluster decide."""
        return parsed.extra["cluster"].scope_path

    def assign(self, obj, parsed: Parsed) -> None:
        """Attach the row to its cluster and host namespace."""
        super().assign(obj, parsed)
        obj.cluster = parsed.extra["cluster"]
        obj.namespace = parsed.namespace

    def admit(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """``dependsOn`` names components of the same cluster and closes no cycle; a component others still need
        is not disabled (409)."""
        cluster = parsed.extra["cluster"]
        problems.extend(dependencies.dependency_problems(parsed.name, cluster, parsed.spec.get("dependsOn") or [],
                                                         exclude=instance))
        if instance is not None and instance.enabled and parsed.spec.get("enabled", True) is False:
            dependencies.refuse_if_needed(self, instance, "disable")

    def admit_delete(self, obj, context: dict) -> None:
        """A component that enabled components not being deleted depend on is not deleted (409)."""
        dependencies.refuse_if_needed(self, obj, "delete")

    def finalizes(self, obj) -> bool:
        """Always: the release is uninstalled before the row goes."""
        return True


#: the Component kind's declaration (names, scope, schemas, columns), as its converter carries it
COMPONENT = KindInfo.of(ComponentConverter)
