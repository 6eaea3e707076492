"""Manifest shapes and converters of the app store kinds (``app.theriseunion.io``, DESIGN §7, REFERENCE-API).

The spec serializers here are what the app store's API validates AppCategory, Application, ApplicationVersion
and ApplicationDeployment manifests with, and what their CRDs are generated from (``edgeplatform.kube.crds``), so
the API and the custom resources accept the same documents. The converters carry each kind's whole declaration
(status schema, printer columns, short names) and resolve where an object lives (``appstore.models``).

Field names and required fields (``*`` in REFERENCE-API) are the reference implementation's, so its users'
manifests validate unchanged; ➕ fields of ours: ``cluster`` and ``replicas`` per topology.
"""
from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Q
from rest_framework import serializers

from appstore.models import (
    CATEGORY_LABEL,
    DEPRECATED_LABEL,
    PROVISIONER_LABEL,
    AppCategory,
    Application,
    ApplicationDeployment,
    ApplicationVersion,
)
from clusters.models import Workspace
from edgeplatform import authz
from edgeplatform.resources import documents
from edgeplatform.resources.converters import CategorySpecSerializer, Converter, Parsed, register
from edgeplatform.resources.errors import StatusError, cause
from edgeplatform.resources.kinds import AGE_COLUMN, PHASE_COLUMN, KindInfo, annotation_path, label_path
from edgeplatform.resources.names import (
    CLUSTER_LABEL,
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
    reconciled_state,
)
from edgeplatform.resources.scopes import PLATFORM
from edgeplatform.resources.services import delete_all

__all__ = [
    "APPLICATION",
    "APPLICATION_DEPLOYMENT",
    "APPLICATION_VERSION",
    "APP_CATEGORY",
    "CATEGORY_LABEL",
    "DEPLOYMENT_FINALIZER",
    "DEPLOYMENT_PHASES",
    "DEPRECATED_LABEL",
    "DESCRIPTION_ANNOTATION",
    "DISPLAY_NAME_ANNOTATION",
    "GROUP",
    "NODE_GROUP_PATTERN",
    "PROVISIONERS",
    "PROVISIONER_LABEL",
    "REVIEW_PHASES",
    "TERMINAL_DEPLOYMENT_PHASES",
    "VERSION_PATTERN",
    "VERSION_REQUEST_PATTERN",
    "WORKSPACE_LABEL",
    "AppCategoryConverter",
    "ApplicationConverter",
    "ApplicationDeploymentConverter",
    "ApplicationDeploymentSpecSerializer",
    "ApplicationSpecSerializer",
    "ApplicationVersionConverter",
    "ApplicationVersionSpecSerializer",
    "DeploymentSpecSerializer",
    "HelmConfigSerializer",
    "ModelConfigSerializer",
    "OpenSerializer",
    "RolloutSerializer",
    "TopologySerializer",
    "WorkloadConfigSerializer",
    "WorkloadDeploymentSerializer",
    "WorkloadOverrideSerializer",
]

GROUP = "app.theriseunion.io"
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


#: A topology's nodeGroup: a node group's name, or ``__cloud__`` (the cloud side of the cluster, no pin).
NODE_GROUP_PATTERN = rf"^(__cloud__|{OPTIONAL_DNS1123_LABEL_PATTERN[1:-1]})$"


# --- AppCategory ------------------------------------------------------------------------------------------------

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
    statefulSets = WorkloadDeploymentSerializer(many=True, required=False,
                                                help_text="➕ The StatefulSets of the workload (names unique; the "
                                                          "same shape as deployments).")

    def validate_deployments(self, value: list) -> list:
        """Deployment names are unique within a workload."""
        names = [item["name"] for item in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise serializers.ValidationError(f"duplicate deployment name(s): {', '.join(duplicates)}")
        return value

    def validate_statefulSets(self, value: list) -> list:
        """StatefulSet names are unique within a workload."""
        return self.validate_deployments(value)


class ApplicationVersionSpecSerializer(OpenSerializer):
    """ApplicationVersion spec: the application it belongs to, its semantic version and the config of the
    application's provisioner: one of the built-in ones, or a plugin's own field (kept as it came; the plugin's
    ``validate`` checks it). Which one is required, and its content, the converter checks with the application's
    provisioner when the version is written."""

    CONFIGS = ("helmConfig", "modelConfig", "workloadConfig")

    applicationRef = serializers.RegexField(DNS1123_LABEL_PATTERN, max_length=DNS1123_LABEL_MAX,
                                            help_text="The Application this is a version of.")
    version = serializers.RegexField(VERSION_PATTERN, max_length=128, help_text="A semantic version (1.2.3).")
    helmConfig = HelmConfigSerializer(required=False, help_text="A Helm chart (provisioner helm).")
    modelConfig = ModelConfigSerializer(required=False, help_text="An AI model to serve (provisioner model).")
    workloadConfig = WorkloadConfigSerializer(required=False, help_text="Plain Deployments (provisioner "
                                                                        "workload).")

    def validate(self, attrs: dict) -> dict:
        """At most one built-in config; a workload has at least one deployment."""
        given = [name for name in self.CONFIGS if attrs.get(name) is not None]
        if len(given) > 1:
            message = f"at most one of {', '.join(self.CONFIGS)} is allowed"
            raise serializers.ValidationError({name: [message] for name in given})
        if given == ["workloadConfig"] and not (attrs["workloadConfig"].get("deployments")
                                                or attrs["workloadConfig"].get("statefulSets")):
            raise serializers.ValidationError({"workloadConfig": {"deployments": ["at least one is required"]}})
        return attrs


# --- ApplicationDeployment --------------------------------------------------------------------------------------

class OverrideDeploymentSpecSerializer(DeploymentSpecSerializer):
    """The part of one Deployment's spec a topology changes: any of it (``replicas`` alone is the usual case)."""

    template = _free_object(required=False, help_text="Changes to the PodTemplateSpec.")


class OverrideDeploymentSerializer(WorkloadDeploymentSerializer):
    """Changes to one Deployment of the version, named."""

    spec = OverrideDeploymentSpecSerializer(required=False, help_text="Changes to the Deployment's spec.")


class WorkloadOverrideSerializer(OpenSerializer, WorkloadConfigSerializer):
    """Per-topology changes deep-merged over the version's ``workloadConfig`` (the same shape, every part of a
    Deployment's spec optional: ``{deployments: [{name: pos, spec: {replicas: 2}}]}``; other fields are kept, as
    the reference's CRD keeps them)."""

    deployments = OverrideDeploymentSerializer(many=True, required=False,
                                               help_text="Changes to Deployments of the version, by name.")


class TopologySerializer(serializers.Serializer):
    """Where one copy of the application runs: a node group or a single node (neither: the scheduler
    decides), on a cluster (➕), with its own replica count (➕) and workload overrides."""

    cluster = serializers.RegexField(OPTIONAL_DNS1123_LABEL_PATTERN, required=False, allow_blank=True,
                                     max_length=DNS1123_LABEL_MAX,
                                     help_text="The cluster to run on.")
    nodeGroup = serializers.RegexField(NODE_GROUP_PATTERN, required=False, allow_blank=True,
                                       max_length=DNS1123_LABEL_MAX,
                                       help_text="The node group to run on (or nodeName); __cloud__: the cloud "
                                                 "side of the cluster, with no node-group pin.")
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


class RolloutSerializer(serializers.Serializer):
    """➕ How a deployment's changes are rolled out (each field defaults to the platform's setting)."""

    maxConcurrent = serializers.IntegerField(required=False, min_value=1, max_value=1000,
                                             help_text="Clusters rolled at once (EDGE_APPSTORE_ROLLOUT_CONCURRENCY).")
    maxFailedTopologies = serializers.IntegerField(
        required=False, min_value=0,
        help_text="Failed topologies after which no new topology is started; 0: no limit "
                  "(EDGE_APPSTORE_MAX_FAILED_TOPOLOGIES).")
    autoRollback = serializers.BooleanField(required=False, help_text="Go back to the last good version when an "
                                                                      "upgrade fails (EDGE_APPSTORE_AUTO_ROLLBACK).")


class ApplicationDeploymentSpecSerializer(serializers.Serializer):
    """ApplicationDeployment spec: which application, which version (``latest``, exact, or a ``^``/``~``
    range, resolved to an approved ApplicationVersion) and the topologies it runs on."""

    application = serializers.RegexField(DNS1123_LABEL_PATTERN, max_length=DNS1123_LABEL_MAX,
                                         help_text="The Application to deploy.")
    version = serializers.RegexField(VERSION_REQUEST_PATTERN, max_length=128,
                                     help_text="latest, an exact version (1.2.3) or a range (^1.2, ~1.2.3).")
    topologies = TopologySerializer(many=True, required=False, help_text="Where the application runs.")
    rollout = RolloutSerializer(required=False, help_text="➕ How a change is rolled out over the topologies "
                                                          "(unset fields: the platform's settings).")


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
    message=described("A note about the change.", STRING),
    application=described("The application deployed.", STRING),
    replicas=described("Replicas wanted over every topology when it changed.", COUNT),
    readyReplicas=described("Replicas ready over every topology when it changed.", COUNT),
    topologies={"type": "array", "items": FREE_OBJECT, "description": "spec.topologies when it changed."})


#: ``status.phase`` of a deployment, and those the console stops polling at
DEPLOYMENT_PHASES = ("Pending", "Progressing", "Running", "Degraded", "Failed", "Deleting")
TERMINAL_DEPLOYMENT_PHASES = frozenset({"Running", "Failed"})
#: ``status.reviewPhase`` of a version
REVIEW_PHASES = ("Pending", "Approved", "Rejected")
#: the finalizer on a deployment's custom resource while its row exists: ``kubectl delete`` waits until every
#: topology's objects are removed from the member clusters
DEPLOYMENT_FINALIZER = "app.theriseunion.io/unprovision"
CATEGORY_LABEL_FIELD = f"metadata.labels[{CATEGORY_LABEL}]"
PROVISIONER_LABEL_FIELD = f"metadata.labels[{PROVISIONER_LABEL}]"
WORKSPACE_LABEL_FIELD = f"metadata.labels[{WORKSPACE_LABEL}]"
CLUSTER_LABEL_FIELD = f"metadata.labels[{CLUSTER_LABEL}]"


# --- converters ---------------------------------------------------------------------------------------------------

@register
class AppCategoryConverter(Converter):
    """AppCategory ⇄ manifest (``appcat``, no status): a catalog heading, at the platform."""

    model = AppCategory
    group, kind, plural, short_names = GROUP, "AppCategory", "appcategories", ("appcat",)
    spec_serializer = CategorySpecSerializer  # the shape of iam.theriseunion.io Category, as the reference's
    status_schema = None
    printer_columns = ({"name": "Icon", "type": "string", "jsonPath": ".spec.icon"}, AGE_COLUMN)
    has_crd, categories = True, ("app",)

    def status_out(self, obj):
        """No status."""
        return None


@register
class ApplicationConverter(Converter):
    """Application ⇄ manifest: its provisioner (a known type, immutable) and its workspace from the labels."""

    model = Application
    group, kind, plural = GROUP, "Application", "applications"
    spec_serializer = ApplicationSpecSerializer
    status_schema = observed_state("Application", phase=PHASE, conditions=CONDITIONS,
                                   latestVersion=described("The newest approved version.", STRING),
                                   versionCount=described("ApplicationVersions of the application.", COUNT))
    printer_columns = (
        {"name": "DisplayName", "type": "string", "jsonPath": annotation_path(DISPLAY_NAME_ANNOTATION)},
        {"name": "Provisioner", "type": "string", "jsonPath": label_path(PROVISIONER_LABEL)},
        {"name": "Category", "type": "string", "jsonPath": label_path(CATEGORY_LABEL)},
        {"name": "Workspace", "type": "string", "jsonPath": label_path(WORKSPACE_LABEL)},
        {"name": "Latest", "type": "string", "jsonPath": ".status.latestVersion"},
        AGE_COLUMN)
    has_crd, categories = True, ("app",)
    related = ("workspace",)

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """The provisioner label names a known type and never changes; the workspace label, when given, names a
        workspace the caller may know (and never changes)."""
        from appstore import provisioners

        provisioner = parsed.labels.get(PROVISIONER_LABEL)
        if not provisioner:
            problems.append(cause(PROVISIONER_LABEL_FIELD, "the provisioner is required (one of "
                                  f"{', '.join(provisioners.types())})", "FieldValueRequired"))
        elif instance is not None and instance.provisioner and provisioner != instance.provisioner:
            problems.append(cause(PROVISIONER_LABEL_FIELD, "is immutable", "FieldValueForbidden"))
        elif provisioners.get(provisioner) is None:
            problems.append(cause(PROVISIONER_LABEL_FIELD, f'unknown provisioner "{provisioner}" (known: '
                                  f"{', '.join(provisioners.types())})", "FieldValueNotSupported"))
        workspace_name = parsed.labels.get(WORKSPACE_LABEL)
        workspace = None
        if workspace_name:
            if instance is not None and instance.workspace is not None and instance.workspace.name == workspace_name:
                workspace = instance.workspace
            else:
                workspace = Workspace.objects.filter(name=workspace_name).select_related("cluster").first()
                if workspace is not None and not authz.may_know_scope(context.get("user"), workspace.scope_path):
                    workspace = None
                if workspace is None:
                    problems.append(cause(WORKSPACE_LABEL_FIELD, f'workspace "{workspace_name}" not found',
                                          "FieldValueNotFound"))
                    return
        if instance is not None and (instance.workspace_id or None) != (workspace.pk if workspace else None):
            problems.append(cause(WORKSPACE_LABEL_FIELD, "is immutable", "FieldValueForbidden"))
            return
        parsed.extra["workspace"] = workspace

    def scope_path_for(self, parsed: Parsed, instance=None) -> str:
        """Its workspace's scope, or the platform."""
        workspace = parsed.extra.get("workspace")
        return workspace.scope_path if workspace is not None else PLATFORM

    def assign(self, obj, parsed: Parsed) -> None:
        """Attach the row to its workspace; a new application has no versions yet."""
        super().assign(obj, parsed)
        obj.workspace = parsed.extra.get("workspace")
        if obj.pk is None and not obj.status:
            obj.status = {"versionCount": 0}

    def admit_delete(self, obj, context: dict) -> None:
        """An application is not deleted while a deployment of it exists (409 naming them)."""
        names = sorted(f"{namespace}/{name}" for namespace, name in
                       obj.deployments.values_list("namespace", "name")[:6])
        if names:
            shown = ", ".join(names[:5]) + (", …" if len(names) > 5 else "")
            raise StatusError(409, f'application "{obj.name}" is deployed ({shown}): delete its '
                                   "ApplicationDeployments first", "Conflict", kind=self.plural, name=obj.name,
                              group=GROUP)

    def before_delete(self, obj) -> None:
        """Its versions go first, each through the write path (audited, their custom resources removed)."""
        from appstore import signals

        with signals.deleting(obj):
            delete_all(obj.versions.select_related("application").order_by("name"))


@register
class ApplicationVersionConverter(Converter):
    """ApplicationVersion ⇄ manifest: its application (one the caller may know; immutable) and the config of the
    application's provisioner, validated by that provisioner."""

    model = ApplicationVersion
    group, kind, plural = GROUP, "ApplicationVersion", "applicationversions"
    spec_serializer = ApplicationVersionSpecSerializer
    status_schema = observed_state("ApplicationVersion", phase=PHASE, conditions=CONDITIONS,
                                   reviewPhase={"type": "string", "enum": list(REVIEW_PHASES),
                                                "description": "Where the version is in review; only approved "
                                                               "ones deploy."},
                                   reviewer=described("Who reviewed it.", STRING),
                                   reviewTime=described("When it was reviewed.", DATE_TIME),
                                   reviewMessage=described("The reviewer's note.", STRING),
                                   submitter=described("Who submitted it for review.", STRING),
                                   submitTime=described("When it was submitted.", DATE_TIME))
    printer_columns = (
        {"name": "Application", "type": "string", "jsonPath": ".spec.applicationRef"},
        {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
        {"name": "Review", "type": "string", "jsonPath": ".status.reviewPhase"},
        {"name": "Reviewer", "type": "string", "jsonPath": ".status.reviewer", "priority": 1},
        PHASE_COLUMN, AGE_COLUMN)
    has_crd, categories = True, ("app",)
    related = ("application",)

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """``applicationRef`` names an application the caller may know and never changes; the version holds the
        config of that application's provisioner, which validates it."""
        from appstore import provisioners

        ref = parsed.spec.get("applicationRef")
        if instance is not None and instance.application.name == ref:
            application = instance.application
        else:
            application = Application.objects.filter(name=ref).first()
            if application is not None and not authz.may_know_scope(context.get("user"), application.scope_path):
                application = None
            if application is None:
                problems.append(cause("spec.applicationRef", f'application "{ref}" not found', "FieldValueNotFound"))
                return
            if instance is not None:
                problems.append(cause("spec.applicationRef", "is immutable", "FieldValueForbidden"))
                return
        provisioner = provisioners.get(application.provisioner)
        if provisioner is None:
            problems.append(cause("spec.applicationRef", f'application "{ref}" has the unknown provisioner '
                                  f'"{application.provisioner}"', "FieldValueInvalid"))
            return
        given = [key for key in (*ApplicationVersionSpecSerializer.CONFIGS, provisioner.config_key)
                 if parsed.spec.get(key) is not None]
        if provisioner.config_key not in given:
            problems.append(cause(f"spec.{provisioner.config_key}", f'is required: application "{ref}" is '
                                  f'provisioned by "{provisioner.type}"', "FieldValueRequired"))
        for key in sorted(set(given) - {provisioner.config_key}):
            problems.append(cause(f"spec.{key}", f'is not used by the "{provisioner.type}" provisioner of '
                                  f'application "{ref}"', "FieldValueForbidden"))
        if provisioner.config_key in given:
            problems.extend(provisioner.validate(parsed.spec[provisioner.config_key]))
        parsed.extra["application"] = application
        parsed.extra["user"] = context.get("user")

    def admit(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """An approved version's spec never changes (``appstore.review``)."""
        from appstore import review

        problem = review.immutable_problem(instance, parsed.spec)
        if problem is not None:
            problems.append(problem)

    def scope_path_for(self, parsed: Parsed, instance=None) -> str:
        """Where its application is."""
        return parsed.extra["application"].scope_path

    def admit_delete(self, obj, context: dict) -> None:
        """A version is not deleted while a deployment runs it (``status.applicationVersion``; 409 naming them)."""
        rows = ApplicationDeployment.objects.filter(
            Q(status__applicationVersion=obj.version) | Q(status__applicationVersionName=obj.name),
            application_id=obj.application_id)
        running = sorted(f"{namespace}/{name}" for namespace, name in rows.values_list("namespace", "name")[:6])
        if running:
            shown = ", ".join(running[:5]) + (", …" if len(running) > 5 else "")
            raise StatusError(409, f"version {obj.version} of application \"{obj.application.name}\" is running "
                                   f"({shown}): roll those deployments to another version first", "Conflict",
                              kind=self.plural, name=obj.name, group=GROUP)

    def assign(self, obj, parsed: Parsed) -> None:
        """Attach the row to its application; a new version, or a changed spec of one not approved, is
        (re)submitted for review by the writer; the phase follows the deprecated label."""
        from appstore import review

        resubmitted = obj.pk is None or parsed.spec != (obj.spec or {})
        super().assign(obj, parsed)
        obj.application = parsed.extra["application"]
        deprecated = parsed.labels.get(DEPRECATED_LABEL) == "true"
        if resubmitted:
            obj.status = review.submission(obj.status, parsed.extra.get("user"), deprecated=deprecated)
        else:
            status = dict(obj.status or {})
            status["phase"] = review.phase_of(status.get("reviewPhase", ""), deprecated)
            obj.status = status


@register
class ApplicationDeploymentConverter(Converter):
    """ApplicationDeployment ⇄ manifest (``appd``): its home cluster and namespace (the permission scope), the
    application it deploys and its topologies, each resolved to a cluster (``appstore.topologies``)."""

    model = ApplicationDeployment
    group, kind, plural, short_names = GROUP, "ApplicationDeployment", "applicationdeployments", ("appd",)
    spec_serializer = ApplicationDeploymentSpecSerializer
    status_schema = reconciled_state(
        "ApplicationDeployment",
        applicationVersion=described("The exact version spec.version resolved to.", STRING),
        applicationVersionName=described("The ApplicationVersion object it resolved to.", STRING),
        application=described("The application deployed.", STRING),
        phase=described(f"Where the deployment is: {', '.join(DEPLOYMENT_PHASES)}.", PHASE),
        readyStatus=described('Ready replicas over wanted ones ("ready/total").', STRING),
        readyReplicas=described("Replicas ready over every topology.", COUNT),
        totalReplicas=described("Replicas wanted over every topology.", COUNT),
        workloadCount=described("Workloads made over every topology.", COUNT),
        readyWorkloadCount=described("Workloads whose replicas are all ready.", COUNT),
        topologyStatuses={"type": "array", "items": _TOPOLOGY_STATUS,
                          "description": "One entry per topology of spec.topologies."},
        history={"type": "array", "maxItems": 10, "items": _HISTORY,
                 "description": "The last ten version changes, newest last."})
    printer_columns = (
        {"name": "Application", "type": "string", "jsonPath": ".spec.application"},
        {"name": "Version", "type": "string", "jsonPath": ".status.applicationVersion"},
        {"name": "Ready", "type": "string", "jsonPath": ".status.readyStatus"},
        PHASE_COLUMN, AGE_COLUMN)
    has_crd, crd_scope, categories = True, "Namespaced", ("app",)
    crd_finalizer = DEPLOYMENT_FINALIZER
    related = ("cluster", "application")

    def to_manifest(self, obj) -> dict:
        """The manifest, with the home cluster label."""
        body = super().to_manifest(obj)
        body["metadata"].setdefault("labels", {})[CLUSTER_LABEL] = obj.cluster.name
        return body

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """The home cluster and namespace, the application and every topology's cluster, each one the caller may
        know (``appstore.topologies.resolve``)."""
        from appstore import topologies

        topologies.clean(parsed, instance, problems, context)
        parsed.extra["user"] = context.get("user")

    def admit(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """Each new or changed topology is one the caller may deploy to (``appstore.topologies.authorize``: 403
        naming it); a new or changed exact ``spec.version`` names no deprecated or rejected version
        (``appstore.review.request_problem``)."""
        from appstore import review, topologies

        topologies.authorize(parsed, instance, context.get("user"), self)
        request = parsed.spec.get("version") or ""
        if instance is None or request != (instance.spec or {}).get("version"):
            problem = review.request_problem(parsed.extra["application"], request, versions_run(instance))
            if problem is not None:
                problems.append(problem)

    def scope_path_for(self, parsed: Parsed, instance=None) -> str:
        """The scope of its namespace on its home cluster."""
        return parsed.extra["namespace_path"]

    def assign(self, obj, parsed: Parsed) -> None:
        """Attach the row to its home cluster, namespace and application; remember who wrote the spec."""
        if obj.pk is None or parsed.spec != (obj.spec or {}):
            user = parsed.extra.get("user")
            obj.updated_by = user.get_username() if user is not None else ""
        super().assign(obj, parsed)
        obj.cluster = parsed.extra["cluster"]
        obj.namespace = parsed.namespace
        obj.application = parsed.extra["application"]

    def finalizes(self, obj) -> bool:
        """Always: every topology's objects are removed before the row goes."""
        return True


def versions_run(deployment) -> frozenset[str]:
    """The versions a deployment has run: the one it runs and those its history names."""
    status = (deployment.status or {}) if deployment is not None else {}
    found = {status.get("applicationVersion") or ""}
    for entry in status.get("history") or []:
        found.update((entry.get("toVersion") or "", entry.get("fromVersion") or ""))
    return frozenset(found - {""})


APP_CATEGORY, APPLICATION, APPLICATION_VERSION, APPLICATION_DEPLOYMENT = (
    KindInfo.of(converter) for converter in (AppCategoryConverter, ApplicationConverter,
                                              ApplicationVersionConverter, ApplicationDeploymentConverter))
