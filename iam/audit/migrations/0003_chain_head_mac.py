"""The chain head's MAC, and seals for events that were waiting to be sealed when this was installed.

Both are computed here from what the database holds now (trust on upgrade): from then on, the head cannot be
pointed back at an older event, nor a row inserted behind the platform's back be sealed, without the key.
"""
from django.db import migrations, models


def seal_existing(apps, schema_editor):
    from iam.audit.chain import head_mac, seal_digest

    for event in apps.get_model("audit", "AuditEvent").objects.filter(sequence__isnull=True):
        event.hash = seal_digest(event)
        event.save(update_fields=["hash"])
    for head in apps.get_model("audit", "ChainHead").objects.all():
        head.mac = head_mac(head.last_sequence, head.last_hash, head.anchor_sequence, head.anchor_hash)
        head.save(update_fields=["mac"])


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_view_audit_template")]
    operations = [
        migrations.AddField(model_name="chainhead", name="mac", field=models.CharField(blank=True, default="",
                                                                                      max_length=64)),
        migrations.RunPython(seal_existing, migrations.RunPython.noop),
    ]
