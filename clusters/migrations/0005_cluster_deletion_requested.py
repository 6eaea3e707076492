"""A virtual cluster's delete is held until its vcluster release is uninstalled: when it was asked for."""
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [("clusters", "0004_jointoken")]

    operations = [
        migrations.AddField(model_name="cluster", name="deletion_requested",
                            field=models.DateTimeField(blank=True, null=True)),
    ]
