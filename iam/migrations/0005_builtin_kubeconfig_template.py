"""Refresh the built-in role templates and roles: ``cluster-download-kubeconfig`` (get ``clusters/kubeconfig``, a
virtual cluster's kubeconfig download) and the cluster-admin role that aggregates it."""
from django.db import migrations


def install(apps, schema_editor):
    from iam.builtins import install as install_builtins

    install_builtins()


class Migration(migrations.Migration):
    dependencies = [("iam", "0004_builtin_chart_repository_templates")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
