"""The app store's objects (DESIGN §7): AppCategory → Application → ApplicationVersion → ApplicationDeployment.

Where each lives for the permission engine (``scope_path``):

* an **AppCategory** at the platform (it only groups applications in the catalog);
* an **Application** in the workspace its ``theriseunion.io/workspace`` label names (``workspace``), or at the
  platform when it names none (an application the platform team publishes for every workspace);
* an **ApplicationVersion** where its application is (``application``);
* an **ApplicationDeployment** in its namespace on its home cluster (``cluster``; ``namespace`` is also the host
  namespace of its custom resource, as kube-apiserver keeps it): the namespace's scope path. Its topologies may
  reach other clusters; each is authorized where it lands (``appstore.manifests``).

Typed, indexed columns are derived from labels, spec and status on every save (``derived_fields``): the
application's ``provisioner`` and ``category``, a version's semantic-version parts (so "newest approved" is an
ORDER BY), ``review_phase`` and ``deprecated``, a deployment's ``phase``.
"""
from __future__ import annotations

from django.db import models

from clusters.models import Cluster, Workspace
from edgeplatform.resources.models import ManifestModel

__all__ = ["DEPRECATED_LABEL", "AppCategory", "Application", "ApplicationDeployment", "ApplicationVersion",
           "DeploymentRollout", "DeploymentTopology",
           "application_columns", "deployment_columns", "version_columns"]

PROVISIONER_LABEL = "app.theriseunion.io/provisioner"
CATEGORY_LABEL = "app.theriseunion.io/category"
#: ``"true"`` on an ApplicationVersion: deprecated (no new deployments; running ones keep working)
DEPRECATED_LABEL = "app.theriseunion.io/deprecated"


def application_columns(labels) -> dict:
    """An application's ``provisioner`` and ``category``, from its labels."""
    labels = labels if isinstance(labels, dict) else {}
    return {"provisioner": str(labels.get(PROVISIONER_LABEL) or "")[:63],
            "category": str(labels.get(CATEGORY_LABEL) or "")[:63]}


def version_columns(spec, status, labels) -> dict:
    """A version's ``version`` and its numeric parts, ``review_phase`` and ``deprecated``."""
    from appstore.versions import parse

    spec = spec if isinstance(spec, dict) else {}
    status = status if isinstance(status, dict) else {}
    labels = labels if isinstance(labels, dict) else {}
    text = str(spec.get("version") or "")
    parsed = parse(text)
    phase = status.get("reviewPhase")
    return {"version": text[:128],
            "major": parsed.major if parsed else 0, "minor": parsed.minor if parsed else 0,
            "patch": parsed.patch if parsed else 0,
            "prerelease": ".".join(str(part) for part in parsed.prerelease)[:128] if parsed else "",
            "review_phase": phase[:16] if isinstance(phase, str) else "",
            "deprecated": labels.get(DEPRECATED_LABEL) == "true"}


def deployment_columns(status) -> dict:
    """A deployment's ``phase`` (``status.phase``)."""
    phase = (status if isinstance(status, dict) else {}).get("phase")
    return {"phase": phase[:32] if isinstance(phase, str) else ""}


class LabelledColumns(ManifestModel):
    """A manifest model whose derived columns read its labels too: a save of only some fields refreshes them
    when ``labels`` is one."""

    class Meta(ManifestModel.Meta):
        abstract = True

    def save(self, *args, **kwargs):
        """Add the derived columns to a partial save that writes the labels."""
        fields = kwargs.get("update_fields")
        if fields is not None and "labels" in fields:
            kwargs["update_fields"] = {*fields, *self.derived_fields}
        super().save(*args, **kwargs)


class AppCategory(ManifestModel):
    """A catalog heading (``appcat``): i18n display names and descriptions, an icon. Applications name one with
    the ``app.theriseunion.io/category`` label (an IAM Category of that name is shown the same way)."""


class Application(LabelledColumns):
    """What is offered: a name, a display name, a description, a provisioner type and a category, owned by a
    workspace (or the platform). Everything is metadata, as in the reference; its spec is empty."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="applications")
    provisioner = models.CharField(max_length=63, db_index=True, blank=True)
    category = models.CharField(max_length=63, db_index=True, blank=True)
    derived_fields = ("provisioner", "category")

    class Meta(LabelledColumns.Meta):
        constraints = [models.UniqueConstraint(fields=["name"], name="application_name_unique")]

    def derived_columns(self) -> dict:
        """``application_columns`` of its labels."""
        return application_columns(self.labels)


class ApplicationVersion(LabelledColumns):
    """One semantic version of an application: its provisioner's config and where it is in review."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="versions")
    version = models.CharField(max_length=128, db_index=True)
    major = models.PositiveIntegerField(default=0)
    minor = models.PositiveIntegerField(default=0)
    patch = models.PositiveIntegerField(default=0)
    #: dot-joined pre-release identifiers ("" for a release)
    prerelease = models.CharField(max_length=128, blank=True)
    review_phase = models.CharField(max_length=16, db_index=True, blank=True)
    deprecated = models.BooleanField(default=False, db_index=True)
    derived_fields = ("version", "major", "minor", "patch", "prerelease", "review_phase", "deprecated")

    class Meta(LabelledColumns.Meta):
        constraints = [
            models.UniqueConstraint(fields=["name"], name="applicationversion_name_unique"),
            models.UniqueConstraint(fields=["application", "version"], name="applicationversion_version_unique"),
        ]
        indexes = [models.Index(fields=["application", "major", "minor", "patch"], name="appversion_order")]

    def derived_columns(self) -> dict:
        """``version_columns`` of its spec, status and labels."""
        return version_columns(self.spec, self.status, self.labels)


class ApplicationDeployment(ManifestModel):
    """An application shipped to topologies (node groups, nodes, the cloud side) of one or many clusters."""

    #: the home cluster: the one whose namespace holds the deployment (the permission scope), and where a
    #: topology that names no cluster runs
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="application_deployments")
    namespace = models.CharField(max_length=63, db_index=True)
    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="deployments")
    phase = models.CharField(max_length=32, blank=True, db_index=True)
    #: who wrote the spec last (a user's name; "" for the system): the ``operator`` of the history entry a spec
    #: change leads to. Not part of the manifest (the audit log has the full story)
    updated_by = models.CharField(max_length=150, blank=True)
    #: when a delete was asked for (the custom resource's deletionTimestamp): held until every topology is removed
    deletion_requested = models.DateTimeField(null=True, blank=True)
    derived_fields = ("phase",)

    class Meta(ManifestModel.Meta):
        constraints = [models.UniqueConstraint(fields=["namespace", "name"], name="appdeployment_name_unique")]

    def derived_columns(self) -> dict:
        """``deployment_columns`` of its status."""
        return deployment_columns(self.status)


class DeploymentTopology(models.Model):
    """What the deployment controller last did and saw on one topology of a deployment (``status.topologyStatuses``
    is rendered from these rows): the hash of what it applied (a topology whose desired hash equals it and whose
    objects are there is not written again), the version, and the state read back."""

    deployment = models.ForeignKey(ApplicationDeployment, on_delete=models.CASCADE, related_name="topology_rows")
    #: ``appstore.provisioners.base.topology_key`` of its place
    key = models.CharField(max_length=16)
    index = models.PositiveIntegerField(default=0)
    cluster = models.CharField(max_length=63, db_index=True)
    topology = models.JSONField(default=dict, blank=True)
    #: sha256 of the version, the topology and its placement when last applied ("" : never applied, or refused)
    applied_hash = models.CharField(max_length=64, blank=True)
    version = models.CharField(max_length=128, blank=True)
    workloads = models.JSONField(default=list, blank=True)
    phase = models.CharField(max_length=16, blank=True)
    message = models.TextField(blank=True)
    replicas = models.PositiveIntegerField(default=0)
    ready_replicas = models.PositiveIntegerField(default=0)
    nodes = models.JSONField(default=list, blank=True)
    #: when it was last applied (the start of its progress timeout)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["deployment", "key"], name="deploymenttopology_key_unique")]
        ordering = ["deployment", "index"]

    def __str__(self) -> str:
        return f"{self.deployment_id}/{self.key}"


class DeploymentRollout(models.Model):
    """The rollout in course (or last finished) of a deployment: the version it goes to and from, why, since when,
    and the last version that ran everywhere (where an automatic rollback goes)."""

    deployment = models.OneToOneField(ApplicationDeployment, on_delete=models.CASCADE, related_name="rollout")
    version = models.CharField(max_length=128, blank=True)
    from_version = models.CharField(max_length=128, blank=True)
    reason = models.CharField(max_length=16, blank=True)
    started = models.DateTimeField(null=True, blank=True)
    #: when every topology was first Running at ``version`` (None while it rolls)
    finished = models.DateTimeField(null=True, blank=True)
    #: the last version every topology ran (Running)
    good_version = models.CharField(max_length=128, blank=True)
    #: the version an automatic rollback left, so that the history entry says why
    rolled_back_from = models.CharField(max_length=128, blank=True)
    #: when every cluster's state was last read (the drift check): in between, a cluster whose topologies are all
    #: Running at their desired hash is not read again
    checked = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.deployment_id}: {self.from_version} → {self.version}"
