"""Install the built-in template ``platform-view-audit`` on databases whose built-ins predate it.

Fresh databases already have it (``iam.0002_builtin_rbac`` loads every file of ``iam/builtins``); like that
migration this one runs the live loader, so the template is validated and aggregated into platform-admin.
"""
from django.db import migrations


def install(apps, schema_editor):
    from iam.builtins import HERE
    from iam.models import RoleTemplate

    if not RoleTemplate.objects.filter(name="platform-view-audit").exists():
        from edgeplatform.resources.loader import apply_files

        apply_files([HERE / "audit.yaml"])


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial"), ("iam", "0002_builtin_rbac")]
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
