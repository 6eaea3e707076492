"""The Component factory: a component of one cluster, its custom resource in the namespace named after it."""
from __future__ import annotations

import factory

from components.models import Component
from edgeplatform.resources.names import CLUSTER_LABEL
from tests.factories.base import Existing, ManifestFactory, name_of
from tests.factories.clusters import ClusterFactory

__all__ = ["ComponentFactory", "component"]


class ComponentFactory(ManifestFactory):
    """A component of ``cluster`` (a new cluster unless given), in the host namespace named after it unless
    ``namespace`` says otherwise; ``spec`` defaults to a chart version."""

    class Meta:
        model = Component

    name = factory.Sequence(lambda n: f"component-{n}")
    cluster = Existing(ClusterFactory)
    namespace = None
    spec = factory.Dict({"version": "1.0.0"})

    @classmethod
    def labels_of(cls, fields: dict) -> dict:
        """The given labels and the cluster label."""
        return {**super().labels_of(fields), CLUSTER_LABEL: name_of(fields["cluster"])}

    @classmethod
    def to_manifest(cls, fields: dict) -> dict:
        """The manifest, with ``metadata.namespace`` (the cluster's name by default)."""
        namespace = fields.pop("namespace", None) or name_of(fields["cluster"])
        manifest = super().to_manifest(fields)
        manifest["metadata"] = {"name": manifest["metadata"].pop("name"), "namespace": namespace,
                                **manifest["metadata"]}
        return manifest


def component(cluster, name: str, spec: dict | None = None, *, annotations: dict | None = None,
              status: dict | None = None) -> Component:
    """A saved Component row of ``cluster`` straight in the database (no write path: the controller's tests set up
    state the API would refuse, such as a stored status), its custom resource in the namespace named after it."""
    return Component.objects.create(cluster=cluster, name=name, namespace=cluster.name, spec=spec or {},
                                    annotations=annotations or {}, status=status or {},
                                    scope_path=cluster.scope_path)
