"""Factories of the app store kinds: AppCategory, Application, ApplicationVersion and ApplicationDeployment, in
the reference's shapes (``app.theriseunion.io``; everything of an application in its metadata)."""
from __future__ import annotations

import factory

from appstore.models import (
    CATEGORY_LABEL,
    DEPRECATED_LABEL,
    PROVISIONER_LABEL,
    AppCategory,
    Application,
    ApplicationDeployment,
    ApplicationVersion,
)
from edgeplatform.resources.names import CLUSTER_LABEL, DISPLAY_NAME_ANNOTATION, WORKSPACE_LABEL
from tests.factories.base import Existing, ManifestFactory, name_of

__all__ = ["AppCategoryFactory", "ApplicationDeploymentFactory", "ApplicationFactory", "ApplicationVersionFactory",
           "workload"]


def workload(image: str = "registry.example.com/shop/pos:1.0.0", name: str = "pos", replicas: int = 1) -> dict:
    """A ``workloadConfig`` of one Deployment running ``image``."""
    return {"deployments": [{"name": name, "spec": {
        "replicas": replicas,
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"containers": [{"name": name, "image": image}]}}}}]}


class AppCategoryFactory(ManifestFactory):
    """A catalog heading."""

    class Meta:
        model = AppCategory

    name = factory.Sequence(lambda n: f"appcat-{n}")
    spec = factory.Dict({"displayName": factory.Dict({"en-US": "Retail", "zh-CN": "零售"})})


class ApplicationFactory(ManifestFactory):
    """An application of ``workspace`` (none: the platform's), provisioned by ``provisioner``, in ``category``."""

    class Meta:
        model = Application

    name = factory.Sequence(lambda n: f"app-{n}")
    workspace = None
    provisioner = "workload"
    category = ""
    annotations = factory.Dict({DISPLAY_NAME_ANNOTATION: "Point of sale"})

    @classmethod
    def labels_of(cls, fields: dict) -> dict:
        """The provisioner, category and workspace labels."""
        labels = {**super().labels_of(fields), PROVISIONER_LABEL: fields["provisioner"]}
        if fields.get("category"):
            labels[CATEGORY_LABEL] = fields["category"]
        if fields.get("workspace") is not None:
            labels[WORKSPACE_LABEL] = name_of(fields["workspace"])
        return labels


class ApplicationVersionFactory(ManifestFactory):
    """A version of ``application`` (a new workload application unless given) holding a ``workloadConfig``;
    ``deprecated`` sets the deprecated label. Stored as the system, so it is Pending, submitted by ``system``."""

    class Meta:
        model = ApplicationVersion

    name = factory.Sequence(lambda n: f"appversion-{n}")
    application = Existing(ApplicationFactory)
    version = factory.Sequence(lambda n: f"1.{n}.0")
    config = factory.LazyFunction(workload)
    deprecated = False

    @classmethod
    def labels_of(cls, fields: dict) -> dict:
        """The deprecated label when asked for."""
        labels = super().labels_of(fields)
        if fields.get("deprecated"):
            labels[DEPRECATED_LABEL] = "true"
        return labels

    @classmethod
    def spec_of(cls, fields: dict) -> dict:
        """applicationRef, version and the config."""
        return {"applicationRef": name_of(fields["application"]), "version": fields["version"],
                "workloadConfig": fields["config"], **super().spec_of(fields)}


class ApplicationDeploymentFactory(ManifestFactory):
    """A deployment of ``application`` in ``namespace`` of ``cluster`` (its home, named by the cluster label),
    asking for ``version`` on ``topologies`` (none: one on the home cluster)."""

    class Meta:
        model = ApplicationDeployment

    name = factory.Sequence(lambda n: f"appd-{n}")
    cluster = None
    namespace = "default"
    application = Existing(ApplicationFactory)
    version = "latest"
    topologies = factory.List([])

    @classmethod
    def labels_of(cls, fields: dict) -> dict:
        """The home cluster label when a cluster is given."""
        labels = super().labels_of(fields)
        if fields.get("cluster") is not None:
            labels[CLUSTER_LABEL] = name_of(fields["cluster"])
        return labels

    @classmethod
    def spec_of(cls, fields: dict) -> dict:
        """application, version and topologies."""
        spec = {"application": name_of(fields["application"]), "version": fields["version"],
                **super().spec_of(fields)}
        if fields.get("topologies"):
            spec["topologies"] = [dict(item) for item in fields["topologies"]]
        return spec

    @classmethod
    def to_manifest(cls, fields: dict) -> dict:
        """The manifest, with ``metadata.namespace``."""
        namespace = name_of(fields.pop("namespace"))
        manifest = super().to_manifest(fields)
        manifest["metadata"] = {"name": manifest["metadata"].pop("name"), "namespace": namespace,
                                **manifest["metadata"]}
        return manifest

    @classmethod
    def context_of(cls, manifest: dict) -> dict | None:
        """The namespace, as the URL gives it."""
        return {"namespace": manifest["metadata"]["namespace"]}
