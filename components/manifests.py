"""Manifest shape of Component (``ext.theriseunion.io``, DESIGN §8, REFERENCE-API).

The spec serializer here is what the components API will validate Component manifests with, and what the
Component CRD is generated from (``edgeplatform.kube.crds``), so the API and the custom resource accept the same
documents. The model, converter, API and controller arrive with the components issue; until then nothing here
is registered or synced.

Fields are the reference implementation's, so its users' manifests validate unchanged; ➕ ``dependsOn`` is ours.
"""
from __future__ import annotations

from rest_framework import serializers

__all__ = ["DEFAULT_NAMESPACE", "GROUP", "REPOSITORY_PATTERN", "SKIP_RECONCILE_ANNOTATION", "ChartSerializer",
           "ComponentSpecSerializer"]

GROUP = "ext.theriseunion.io"
#: ``"true"``: the controller leaves the component alone (the reference marks pre-installed ones so).
SKIP_RECONCILE_ANNOTATION = "ext.theriseunion.io/skip-reconcile"
DEFAULT_NAMESPACE = "edge-system"
#: A chart repository is a ChartMuseum-style HTTP(S) URL (``http://chartmuseum.edge-system.svc:8080``). Not
#: Django's URLValidator: it refuses single-label hosts such as ``http://chartmuseum:8080``, and its pattern is
#: no RE2 the CRD could carry.
REPOSITORY_PATTERN = r"^https?://[^\s/?#]+([/?#][^\s]*)?$"
_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class ChartSerializer(serializers.Serializer):
    """The Helm chart a component installs: chart name, target namespace, release name and repository."""

    name = serializers.CharField(required=False, allow_blank=True, help_text="The chart's name.")
    namespace = serializers.RegexField(_LABEL, max_length=63, default=DEFAULT_NAMESPACE,
                                       help_text="The namespace the release is installed into.")
    releaseName = serializers.RegexField(_SUBDOMAIN, required=False, max_length=53,  # Helm's limit
                                         help_text="The Helm release's name.")
    repository = serializers.RegexField(REPOSITORY_PATTERN, required=False,
                                        help_text="The chart repository's HTTP(S) URL (ChartMuseum API).")


class ComponentSpecSerializer(serializers.Serializer):
    """Component spec: whether it is installed (default true), the version, the chart, Helm values (a free
    object) and the components that must be installed and Ready first (➕ ``dependsOn``, names of components
    in the same namespace; a cycle is refused by the converter, which sees the other components)."""

    enabled = serializers.BooleanField(default=True, help_text="Whether the component is installed.")
    type = serializers.RegexField(_LABEL, required=False, max_length=63,  # in the reference CRD: controller, …
                                  help_text="What kind of component it is (controller, …).")
    version = serializers.CharField(required=False, allow_blank=True, help_text="The chart version to install.")
    chart = ChartSerializer(required=False, help_text="The Helm chart the component installs.")
    values = serializers.DictField(child=serializers.JSONField(), required=False, help_text="Helm values.")
    dependsOn = serializers.ListField(child=serializers.RegexField(_SUBDOMAIN, max_length=253), required=False,
                                      help_text="Components (in the same namespace) installed and Ready first.")

    def validate_dependsOn(self, value: list) -> list:
        """Each dependency once."""
        duplicates = sorted({name for name in value if value.count(name) > 1})
        if duplicates:
            raise serializers.ValidationError(f"duplicate dependency: {', '.join(duplicates)}")
        return value
