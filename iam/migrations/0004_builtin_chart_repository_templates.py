"""Refresh the built-in role templates and roles: the chart repository templates (``platform-view-charts``,
``platform-manage-charts``, ``cluster-view-charts``, ``cluster-manage-charts``) and the roles aggregating them."""
from django.db import migrations


def install(apps, schema_editor):
    from iam.builtins import install as install_builtins

    install_builtins()


class Migration(migrations.Migration):
    dependencies = [("iam", "0003_api_clients_refresh_tokens")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
