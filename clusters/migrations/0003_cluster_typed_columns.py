"""A cluster's type, phase and readiness in typed, indexed columns, backfilled from each row's spec and status."""
from django.db import migrations, models

from clusters.models import CLUSTER_COLUMNS, cluster_columns


def backfill_typed_columns(apps, schema_editor) -> int:
    """Fill ``type``, ``phase`` and ``ready`` of every stored cluster from its spec and status; how many rows
    changed."""
    Cluster = apps.get_model("clusters", "Cluster")
    changed = []
    for cluster in Cluster.objects.only("pk", "spec", "status", *CLUSTER_COLUMNS).iterator():
        columns = cluster_columns(cluster.spec, cluster.status)
        if any(getattr(cluster, column) != value for column, value in columns.items()):
            for column, value in columns.items():
                setattr(cluster, column, value)
            changed.append(cluster)
    Cluster.objects.bulk_update(changed, CLUSTER_COLUMNS, batch_size=500)
    return len(changed)


class Migration(migrations.Migration):
    dependencies = [
        ("clusters", "0002_shared_in_cluster_base"),
    ]

    operations = [
        migrations.AddField(
            model_name="cluster",
            name="type",
            field=models.CharField(db_index=True, default="physical", max_length=16),
        ),
        migrations.AddField(
            model_name="cluster",
            name="phase",
            field=models.CharField(blank=True, db_index=True, max_length=32),
        ),
        migrations.AddField(
            model_name="cluster",
            name="ready",
            field=models.BooleanField(db_index=True, default=False),
        ),
        migrations.RunPython(backfill_typed_columns, migrations.RunPython.noop),
    ]
