"""Manifest shapes of the app store kinds (``app.theriseunion.io``, DESIGN §7, REFERENCE-API).

The spec serializers here are what the app store's API will validate Application, ApplicationVersion and
ApplicationDeployment manifests with, and what their CRDs are generated from (``edgeplatform.kube.crds``), so
the API and the custom resources accept the same documents. The kinds are declared here with their status
schemas and printer columns (``KINDS``, registered with ``edgeplatform.resources.kinds``); they have no models,
converters or API yet, so nothing syncs them.

Field names and required fields (``*`` in REFERENCE-API) are the reference implementation's, so its users'
manifests validate unchanged; ➕ fields of ours: ``cluster`` and ``replicas`` per topology.
"""
from __future__ import annotations

from collections.abc import Mapping

from rest_framework import serializers

from edgeplatform.resources import documents
from edgeplatform.resources.kinds import AGE_COLUMN, PHASE_COLUMN, KindInfo, annotation_path, label_path
from edgeplatform.resources.kinds import register as register_kind
from edgeplatform.resources.names import (
    DESCRIPTION_ANNOTATION,
    DISPLAY_NAME_ANNOTATION,
    DNS1123_LABEL_MAX,
    DNS1123_LABEL_PATTERN,
    DNS1123_SUBDOMAIN_MAX,
    DNS1123_SUBDOMAIN_PATTERN,
    OPTIONAL_DNS1123_LABEL_PATTERN,
    OPTIONAL_DNS1123_SUBDOMAIN_PATTERN,
    WORKSPACE_LABEL,
)
from edgeplatform.resources.schemas import (
    CONDITIONS,
    COUNT,
    DATE_TIME,
    FREE_OBJECT,
    PHASE,
    STRING,
    STRINGS,
    described,
    observed_state,
    open_object,
)

__all__ = [
    "CATEGORY_LABEL", "DESCRIPTION_ANNOTATION", "DISPLAY_NAME_ANNOTATION", "GROUP", "KINDS", "PROVISIONERS",
    "PROVISIONER_LABEL", "VERSION_PATTERN", "VERSION_REQUEST_PATTERN", "WORKSPACE_LABEL",
    "ApplicationDeploymentSpecSerializer", "ApplicationSpecSerializer", "ApplicationVersionSpecSerializer",
    "DeploymentSpecSerializer", "HelmConfigSerializer", "ModelConfigSerializer", "OpenSerializer",
    "TopologySerializer", "WorkloadConfigSerializer", "WorkloadDeploymentSerializer", "WorkloadOverrideSerializer",
]

GROUP = "app.theriseunion.io"
#: Application metadata (the reference keeps everything there; its spec is empty).
PROVISIONER_LABEL = "app.theriseunion.io/provisioner"  # workload | helm | model, immutable
CATEGORY_LABEL = "app.theriseunion.io/category"
#: The built-in provisioner types; plugins may add more (entry-point group ``edgeplatform.provisioners``).
PROVISIONERS = ("workload", "helm", "model")

# The patterns go into the CRDs too: kube-apiserver's RE2 and Python's re read them alike (no look-arounds,
# ASCII classes only).
_NUMBER = r"(0|[1-9][0-9]*)"
_IDENTIFIERS = r"[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*"
_SEMVER = rf"v?{_NUMBER}\.{_NUMBER}\.{_NUMBER}(-{_IDENTIFIERS})?(\+{_IDENTIFIERS})?"
#: A semantic version (``1.0.0``, ``1.2.3-rc.1+build.5``; a leading ``v`` is tolerated).
VERSION_PATTERN = rf"^{_SEMVER}$"
#: What a deployment asks for: ``latest``, an exact version, or a caret/tilde range (``^1.2``, ``~1.2.3``).
VERSION_REQUEST_PATTERN = rf"^(latest|{_SEMVER}|[~^]v?{_NUMBER}(\.{_NUMBER}){{0,2}})$"
#: A Kubernetes resource quantity (``500m``, ``2Gi``, ``1e3``), the pattern controller-gen writes for one.
QUANTITY_PATTERN = (r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
                    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$")


def _free_object(**kwargs) -> serializers.DictField:
    """A JSON object with any content (``x-kubernetes-preserve-unknown-fields`` in the CRD)."""
    return serializers.DictField(child=serializers.JSONField(), **kwargs)


class OpenSerializer(serializers.Serializer):
    """A serializer that keeps the fields it does not declare, unvalidated: an object whose known fields are
    typed and whose other fields pass through (the CRD preserves unknown fields there, too)."""

    preserve_unknown_fields = True

    def to_internal_value(self, data):
        """The declared fields validated, the others kept as they came."""
        value = super().to_internal_value(data)
        if isinstance(data, Mapping):
            for key, item in data.items():
                if key not in self.fields:
                    value[key] = item
        return value


# --- Application ------------------------------------------------------------------------------------------------

class ApplicationSpecSerializer(serializers.Serializer):
    """Application spec: empty, as in the reference. What an application is lives in its metadata: the
    ``app.theriseunion.io/provisioner`` label (workload | helm | model, immutable), the category and workspace
    labels and the display-name and description annotations; the converter checks those."""


# --- ApplicationVersion -----------------------------------------------------------------------------------------

class HelmConfigSerializer(serializers.Serializer):
    """A version installed from a Helm chart (provisioner ``helm``)."""

    chartName = serializers.CharField(help_text="The chart's name.")
    chartVersion = serializers.CharField(help_text="The chart's version.")
    repository = serializers.CharField(help_text="The chart repository's URL.")
    values = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False,
                                   help_text="Helm values, as a YAML string holding a mapping.")

    def validate_values(self, value: str) -> str:
        """Values are a YAML string, as in the reference; it must hold a mapping (or nothing)."""
        try:
            parsed = documents.load_yaml(value) if value.strip() else None
        except documents.DocumentError as error:
            raise serializers.ValidationError(f"is not valid: {error.problem}".splitlines()[0]) from error
        if parsed is not None and not isinstance(parsed, dict):
            raise serializers.ValidationError("must be a YAML mapping of Helm values")
        return value


class ModelConfigSerializer(serializers.Serializer):
    """A version that serves an AI model (provisioner ``model``)."""

    modelName = serializers.CharField(help_text="The model's name.")
    modelVersion = serializers.CharField(help_text="The model's version.")
    storageURI = serializers.CharField(help_text="Where the model is stored (s3://…, pvc://…).")
    framework = serializers.CharField(required=False, allow_blank=True,
                                      help_text="The framework the model is built with (PyTorch, …).")
    runtime = serializers.CharField(required=False, allow_blank=True,
                                    help_text="The serving runtime (TorchServe, Triton, …).")
    replicas = serializers.IntegerField(required=False, min_value=0, help_text="Serving replicas.")
    gpu = serializers.IntegerField(required=False, min_value=0, help_text="GPUs per replica.")
    cpuRequest = serializers.RegexField(QUANTITY_PATTERN, required=False,
                                        help_text="CPU requested per replica (a quantity: 500m, 2).")
    memoryRequest = serializers.RegexField(QUANTITY_PATTERN, required=False,
                                           help_text="Memory requested per replica (a quantity: 2Gi).")


class DeploymentSpecSerializer(OpenSerializer):
    """The spec of one Deployment of a workload: a free object whose ``template`` (a PodTemplateSpec) is
    required; ``replicas`` and ``strategy`` (a DeploymentStrategy) are typed, anything else is kept for the
    provisioner to validate."""

    replicas = serializers.IntegerField(required=False, min_value=0, help_text="Pods wanted.")
    strategy = _free_object(required=False, help_text="A Kubernetes DeploymentStrategy.")
    template = _free_object(help_text="A Kubernetes PodTemplateSpec.")


class WorkloadDeploymentSerializer(serializers.Serializer):
    """One Deployment of a workload: its name and spec."""

    name = serializers.RegexField(DNS1123_SUBDOMAIN_PATTERN, max_length=DNS1123_SUBDOMAIN_MAX,
                                  help_text="The Deployment's name.")
    spec = DeploymentSpecSerializer(help_text="The Deployment's spec.")


class WorkloadConfigSerializer(serializers.Serializer):
    """A version made of plain Deployments (provisioner ``workload``)."""

    deployments = WorkloadDeploymentSerializer(many=True, required=False,
                                               help_text="The Deployments of the workload (names unique).")

    def validate_deployments(self, value: list) -> list:
        """Deployment names are unique within a workload."""
        names = [item["name"] for item in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise serializers.ValidationError(f"duplicate deployment name(s): {', '.join(duplicates)}")
        return value


class ApplicationVersionSpecSerializer(serializers.Serializer):
    """ApplicationVersion spec: the application it belongs to, its semantic version and exactly one of the
    provisioner configs (which one must match the application's provisioner label: the provisioner's
    ``validate`` checks that, and the config's content, when the version is written)."""

    CONFIGS = ("helmConfig", "modelConfig", "workloadConfig")

    applicationRef = serializers.RegexField(DNS1123_LABEL_PATTERN, max_length=DNS1123_LABEL_MAX,
                                            help_text="The Application this is a version of.")
    version = serializers.RegexField(VERSION_PATTERN, max_length=128, help_text="A semantic version (1.2.3).")
    helmConfig = HelmConfigSerializer(required=False, help_text="A Helm chart (provisioner helm).")
    modelConfig = ModelConfigSerializer(required=False, help_text="An AI model to serve (provisioner model).")
    workloadConfig = WorkloadConfigSerializer(required=False, help_text="Plain Deployments (provisioner "
                                                                        "workload).")

    def validate(self, attrs: dict) -> dict:
        """Exactly one config; a workload has at least one deployment."""
        given = [name for name in self.CONFIGS if attrs.get(name) is not None]
        message = f"exactly one of {', '.join(self.CONFIGS)} is required"
        if not given:
            raise serializers.ValidationError(message, code="required")
        if len(given) > 1:
            raise serializers.ValidationError({name: [message] for name in given})
        if given == ["workloadConfig"] and not attrs["workloadConfig"].get("deployments"):
            raise serializers.ValidationError({"workloadConfig": {"deployments": ["at least one is required"]}})
        return attrs


# --- ApplicationDeployment --------------------------------------------------------------------------------------

class WorkloadOverrideSerializer(OpenSerializer, WorkloadConfigSerializer):
    """Per-topology changes deep-merged over the version's ``workloadConfig`` (the same shape; other fields
    are kept, as the reference's CRD keeps them)."""


class TopologySerializer(serializers.Serializer):
    """Where one copy of the application runs: a node group or a single node (neither: the scheduler
    decides), on a cluster (➕), with its own replica count (➕) and workload overrides."""

    cluster = serializers.RegexField(OPTIONAL_DNS1123_LABEL_PATTERN, required=False, allow_blank=True,
                                     max_length=DNS1123_LABEL_MAX,
                                     help_text="The cluster to run on.")
    nodeGroup = serializers.RegexField(OPTIONAL_DNS1123_LABEL_PATTERN, required=False, allow_blank=True,
                                     max_length=DNS1123_LABEL_MAX,
                                       help_text="The node group to run on (or nodeName).")
    nodeName = serializers.RegexField(OPTIONAL_DNS1123_SUBDOMAIN_PATTERN, required=False, allow_blank=True,
                                      max_length=DNS1123_SUBDOMAIN_MAX,
                                      help_text="The one node to run on (or nodeGroup).")
    replicas = serializers.IntegerField(required=False, min_value=0, help_text="Replicas on this topology.")
    workloadOverride = WorkloadOverrideSerializer(required=False, help_text="Changes deep-merged over the "
                                                                            "version's workloadConfig here.")

    def validate(self, attrs: dict) -> dict:
        """A node group or a node, not both."""
        if attrs.get("nodeGroup") and attrs.get("nodeName"):
            raise serializers.ValidationError({"nodeName": ["give nodeGroup or nodeName, not both"]})
        return attrs


class ApplicationDeploymentSpecSerializer(serializers.Serializer):
    """ApplicationDeployment spec: which application, which version (``latest``, exact, or a ``^``/``~``
    range, resolved to an approved ApplicationVersion) and the topologies it runs on."""

    application = serializers.RegexField(DNS1123_LABEL_PATTERN, max_length=DNS1123_LABEL_MAX,
                                         help_text="The Application to deploy.")
    version = serializers.RegexField(VERSION_REQUEST_PATTERN, max_length=128,
                                     help_text="latest, an exact version (1.2.3) or a range (^1.2, ~1.2.3).")
    topologies = TopologySerializer(many=True, required=False, help_text="Where the application runs.")


# --- the kinds' CRDs --------------------------------------------------------------------------------------------

_TOPOLOGY_STATUS = open_object(
    "How one topology of spec.topologies is doing.",
    topology=described("The topology this entry reports on, as spec.topologies holds it.", FREE_OBJECT),
    topologyIndex=described("Its index in spec.topologies.", COUNT),
    workloadName=described("The workload created for it on the member cluster.", STRING),
    replicas=described("Replicas wanted.", COUNT), readyReplicas=described("Replicas ready.", COUNT),
    nodes=described("Nodes its pods run on.", STRINGS), phase=PHASE,
    message=described("What is going on, for people.", STRING))
_HISTORY = open_object(
    "One version change of the deployment.",
    toVersion=described("The version deployed.", STRING),
    fromVersion=described("The version it replaced (empty for the first install).", STRING),
    reason={"type": "string", "enum": ["Initial", "Upgrade", "Rollback"], "description": "Why it changed."},
    timestamp=described("When it changed.", DATE_TIME),
    operator=described("Who changed it.", STRING),
    message=described("A note about the change.", STRING))

#: The app store's kinds (DESIGN §7): a CRD each; their models, API and controllers are still to come.
KINDS = tuple(map(register_kind, (
    KindInfo(GROUP, "Application", "applications", "Cluster", ApplicationSpecSerializer,
             observed_state("Application", phase=PHASE, conditions=CONDITIONS,
                            latestVersion=described("The newest approved version.", STRING),
                            versionCount=described("ApplicationVersions of the application.", COUNT)), (
                 {"name": "DisplayName", "type": "string", "jsonPath": annotation_path(DISPLAY_NAME_ANNOTATION)},
                 {"name": "Provisioner", "type": "string", "jsonPath": label_path(PROVISIONER_LABEL)},
                 {"name": "Category", "type": "string", "jsonPath": label_path(CATEGORY_LABEL)},
                 {"name": "Workspace", "type": "string", "jsonPath": label_path(WORKSPACE_LABEL)},
                 {"name": "Latest", "type": "string", "jsonPath": ".status.latestVersion"},
                 AGE_COLUMN), categories=("app",)),
    KindInfo(GROUP, "ApplicationVersion", "applicationversions", "Cluster", ApplicationVersionSpecSerializer,
             observed_state("ApplicationVersion", phase=PHASE, conditions=CONDITIONS,
                            reviewPhase={"type": "string", "enum": ["Pending", "Approved", "Rejected"],
                                         "description": "Where the version is in review; only approved ones "
                                                        "deploy."},
                            reviewer=described("Who reviewed it.", STRING),
                            reviewTime=described("When it was reviewed.", DATE_TIME),
                            reviewMessage=described("The reviewer's note.", STRING),
                            submitter=described("Who submitted it for review.", STRING),
                            submitTime=described("When it was submitted.", DATE_TIME)), (
                 {"name": "Application", "type": "string", "jsonPath": ".spec.applicationRef"},
                 {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
                 {"name": "Review", "type": "string", "jsonPath": ".status.reviewPhase"},
                 {"name": "Reviewer", "type": "string", "jsonPath": ".status.reviewer", "priority": 1},
                 PHASE_COLUMN, AGE_COLUMN), categories=("app",)),
    KindInfo(GROUP, "ApplicationDeployment", "applicationdeployments", "Namespaced",
             ApplicationDeploymentSpecSerializer,
             observed_state("ApplicationDeployment",
                            applicationVersion=described("The exact version spec.version resolved to.", STRING),
                            phase=PHASE, message=described("What is going on, for people.", STRING),
                            conditions=CONDITIONS,
                            readyStatus=described('Ready replicas over wanted ones ("ready/total").', STRING),
                            readyReplicas=described("Replicas ready over every topology.", COUNT),
                            totalReplicas=described("Replicas wanted over every topology.", COUNT),
                            topologyStatuses={"type": "array", "items": _TOPOLOGY_STATUS,
                                              "description": "One entry per topology of spec.topologies."},
                            history={"type": "array", "maxItems": 10, "items": _HISTORY,
                                     "description": "The last ten version changes, newest last."}), (
                 {"name": "Application", "type": "string", "jsonPath": ".spec.application"},
                 {"name": "Version", "type": "string", "jsonPath": ".status.applicationVersion"},
                 {"name": "Ready", "type": "string", "jsonPath": ".status.readyStatus"},
                 PHASE_COLUMN, AGE_COLUMN), short_names=("appd",), categories=("app",)),
)))
