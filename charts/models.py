"""Chart versions stored in the platform's chart repositories (DESIGN §8).

One row per chart version per repository: its metadata (``Chart.yaml``) and digest, so that ``index.yaml`` is built
from rows and never by re-reading archives; the archive itself is a file of the ``charts`` storage
(``STORAGES["charts"]``: the filesystem under ``var/`` by default, S3-compatible storage by setting).
"""
from __future__ import annotations

from django.db import models

__all__ = ["LIBRARY", "ChartVersion"]

#: the repository every cluster shares
LIBRARY = "library"


class ChartVersion(models.Model):
    """One version of one chart in one repository (a cluster's, named after it, or ``library``)."""

    repository = models.CharField(max_length=63, db_index=True)
    name = models.CharField(max_length=250)
    version = models.CharField(max_length=128)
    #: sha256 of the archive, hex
    digest = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    #: the archive's name in the ``charts`` storage
    file = models.CharField(max_length=600)
    #: Chart.yaml as uploaded (name, version, appVersion, description, dependencies, …)
    metadata = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True)
    #: who uploaded it ("" for the system: an import)
    uploaded_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ("repository", "name", "-created")
        constraints = [models.UniqueConstraint(fields=["repository", "name", "version"],
                                               name="chart_version_unique")]

    def __str__(self):
        return f"{self.repository}/{self.name}-{self.version}"

    @property
    def filename(self) -> str:
        """The archive's file name in the repository (``charts/<name>-<version>.tgz``), as ChartMuseum names it."""
        return f"{self.name}-{self.version}.tgz"
