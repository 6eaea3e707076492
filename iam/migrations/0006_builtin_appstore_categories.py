"""Refresh the built-in role templates and roles: the app store templates of the platform grant its categories
(``appcategories``) beside its applications and versions."""
from django.db import migrations


def install(apps, schema_editor):
    from iam.builtins import install as install_builtins

    install_builtins()


class Migration(migrations.Migration):
    dependencies = [("iam", "0005_builtin_kubeconfig_template")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
