"""A stand-in Component converter for the controller's tests, registered only while the kind has none.

The controller writes status through the write path (``save_status``), deletes through ``delete_object`` and a
rollback saves the spec through ``save_manifest``; all three find the kind's converter on the model. This one
knows only what those need: the kind's names and spec serializer, the row's cluster and host namespace kept as
they are, the scope of the cluster.
"""
from __future__ import annotations

from components.manifests import GROUP, ComponentSpecSerializer
from components.models import Component
from edgeplatform.resources.converters import Converter, register

__all__ = ["ensure_registered"]


class StandInComponentConverter(Converter):
    """Component ⇄ manifest, enough for the controller's tests (an existing row's spec may be replaced)."""

    model = Component
    group = GROUP
    kind, plural, short_names = "Component", "components", ("comp",)
    spec_serializer = ComponentSpecSerializer
    status_schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

    def to_manifest(self, obj) -> dict:
        """The base manifest with the host namespace."""
        manifest = super().to_manifest(obj)
        manifest["metadata"]["namespace"] = obj.namespace
        return manifest

    def scope_path_for(self, parsed, instance=None) -> str:
        """The scope of the component's cluster."""
        return instance.cluster.scope_path if instance is not None else parsed.extra["cluster"].scope_path


def ensure_registered() -> None:
    """Register the stand-in unless the kind has a converter of its own."""
    if getattr(Component, "_converter", None) is None:
        register(StandInComponentConverter)
