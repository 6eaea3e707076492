"""Install the built-in role templates and roles.

This runs the live loader (not historical models): the built-ins go through the same
validation, aggregation and grant-change logic as any other write.
"""
from django.db import migrations


def install(apps, schema_editor):
    from iam.builtins import install as install_builtins

    install_builtins()


class Migration(migrations.Migration):
    dependencies = [("iam", "0001_initial"), ("clusters", "0001_initial")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
