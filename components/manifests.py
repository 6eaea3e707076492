"""Manifest shape of Component (``ext.theriseunion.io``, DESIGN §8, REFERENCE-API).

The spec serializer here is what the components API will validate Component manifests with, and what the
Component CRD is generated from (``edgeplatform.kube.crds``), so the API and the custom resource accept the same
documents. The kind is declared here with its status schema and printer columns (``COMPONENT``, registered with
``edgeplatform.resources.kinds``); it has no model, converter or API yet, so nothing syncs it.

Fields are the reference implementation's, so its users' manifests validate unchanged; ➕ ``dependsOn`` is ours.
"""
from __future__ import annotations

from rest_framework import serializers

from edgeplatform.resources.kinds import AGE_COLUMN, PHASE_COLUMN, KindInfo
from edgeplatform.resources.kinds import register as register_kind
from edgeplatform.resources.names import (
    DNS1123_LABEL_MAX,
    DNS1123_LABEL_PATTERN,
    DNS1123_SUBDOMAIN_MAX,
    DNS1123_SUBDOMAIN_PATTERN,
)
from edgeplatform.resources.schemas import CONDITIONS, COUNT, DATE_TIME, PHASE, STRING, described, observed_state

__all__ = ["COMPONENT", "DEFAULT_NAMESPACE", "GROUP", "REPOSITORY_PATTERN", "SKIP_RECONCILE_ANNOTATION",
           "ChartSerializer", "ComponentSpecSerializer"]

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


#: The Component kind's CRD (DESIGN §8); its model, API and controller are still to come.
COMPONENT = register_kind(KindInfo(
    GROUP, "Component", "components", "Namespaced", ComponentSpecSerializer,
    observed_state("Component", phase=PHASE, message=described("What is going on, for people.", STRING),
                   conditions=CONDITIONS,
                   observedHash=described("The hash of the spec last installed (same hash, healthy release: "
                                          "nothing to do).", STRING),
                   releaseName=described("The Helm release installed.", STRING),
                   releaseVersion=described("The Helm release's revision.", COUNT),
                   retryCount=described("Failed attempts since the last success.", COUNT),
                   lastFailureTime=described("When the last attempt failed.", DATE_TIME)), (
        {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled"},
        {"name": "Version", "type": "string", "jsonPath": ".spec.version"},
        PHASE_COLUMN,
        {"name": "Release", "type": "string", "jsonPath": ".status.releaseName", "priority": 1},
        AGE_COLUMN), short_names=("comp",), categories=("ext",)))
