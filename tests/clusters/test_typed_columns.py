"""A cluster's type, phase and readiness live in typed, indexed columns kept in step with its spec and status, so
filters and counts need no JSON lookups; the manifest does not change."""
from __future__ import annotations

import importlib

from django.apps import apps
from django.db.models import Count

from clusters.models import Cluster
from edgeplatform.resources import services as write
from edgeplatform.resources.loader import apply

READY = {"type": "Ready", "status": "True", "reason": "Reconciled", "message": "",
         "lastTransitionTime": "2026-12-01T00:00:00Z"}
backfill = importlib.import_module("clusters.migrations.0003_cluster_typed_columns").backfill_typed_columns


def cluster(name: str, kind: str) -> Cluster:
    return apply([{"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": name},
                   "spec": {"type": kind}}])[0]


def columns(name: str) -> tuple:
    return Cluster.objects.filter(name=name).values_list("type", "phase", "ready").get()


def test_the_columns_follow_spec_and_status_on_every_write(db):
    """GIVEN a virtual cluster written through the API's write path WHEN its status says Running and Ready
    (saved whole, then by its status field alone), and then its spec makes it physical THEN the columns say so
    each time, and the manifest shows neither column."""
    obj = cluster("v1", "virtual")
    assert columns("v1") == ("virtual", "", False)

    obj.status = {"phase": "Provisioning", "conditions": [{**READY, "status": "False"}]}
    obj.save()
    assert columns("v1") == ("virtual", "Provisioning", False)

    obj.status = {"phase": "Running", "conditions": [READY]}
    obj.save(update_fields=["status"])
    assert columns("v1") == ("virtual", "Running", True)

    write.save_as_system(Cluster.objects.get(name="v1"), lambda manifest: manifest["spec"].update(type="physical"))
    assert columns("v1") == ("physical", "Running", True)

    manifest = Cluster._converter.to_manifest(Cluster.objects.get(name="v1"))
    assert manifest["spec"]["type"] == "physical" and manifest["status"]["phase"] == "Running"
    assert not {"phase", "ready"} & set(manifest["spec"]) and "ready" not in manifest["status"]


def test_clusters_are_filtered_and_counted_by_type_phase_and_ready_without_json_lookups(db):
    """GIVEN two virtual clusters (one Ready) and a physical one WHEN they are counted by type and filtered by
    phase and readiness THEN the typed columns answer, on any database."""
    for name, kind in (("v1", "virtual"), ("v2", "virtual"), ("p1", "physical")):
        cluster(name, kind)
    ready = Cluster.objects.get(name="v1")
    ready.status = {"phase": "Running", "conditions": [READY]}
    ready.save()

    by_type = dict(Cluster.objects.values_list("type").annotate(n=Count("pk")))
    assert by_type == {"virtual": 2, "physical": 1}
    assert list(Cluster.objects.filter(type="virtual", phase="Running", ready=True).values_list("name", flat=True)) \
        == ["v1"]


def test_the_migration_backfills_rows_written_before_the_columns(db):
    """GIVEN clusters whose columns do not yet say what their spec and status say (rows from before the columns
    existed) WHEN the migration's backfill runs THEN every row is filled, and running it again changes nothing."""
    cluster("v1", "virtual")
    cluster("p1", "physical")
    Cluster.objects.filter(name="v1").update(status={"phase": "Running", "conditions": [READY]})
    Cluster.objects.update(type="physical", phase="", ready=False)  # the columns' defaults, as the migration adds them

    assert backfill(apps, None) == 1
    assert columns("v1") == ("virtual", "Running", True)
    assert columns("p1") == ("physical", "", False)
    assert backfill(apps, None) == 0
