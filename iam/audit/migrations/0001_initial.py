"""Audit events and the chain head (made here, so the first sealers never race to create it)."""
from django.db import migrations, models


def create_head(apps, schema_editor):
    apps.get_model("audit", "ChainHead").objects.get_or_create(pk=1)


class Migration(migrations.Migration):

    initial = True

    dependencies = [
    ]

    operations = [
        migrations.CreateModel(
            name='ChainHead',
            fields=[
                ('id', models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                ('last_sequence', models.PositiveBigIntegerField(default=0)),
                ('last_hash', models.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64)),
                ('anchor_sequence', models.PositiveBigIntegerField(default=0)),
                ('anchor_hash', models.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64)),
            ],
        ),
        migrations.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('sequence', models.PositiveBigIntegerField(blank=True, null=True, unique=True)),
                ('timestamp', models.DateTimeField(db_index=True)),
                ('actor', models.CharField(db_index=True, max_length=253)),
                ('source_ip', models.CharField(blank=True, max_length=64)),
                ('user_agent', models.CharField(blank=True, max_length=512)),
                ('request_id', models.CharField(blank=True, max_length=64)),
                ('verb', models.CharField(max_length=32)),
                ('api_group', models.CharField(blank=True, max_length=253)),
                ('resource', models.CharField(blank=True, max_length=63)),
                ('kind', models.CharField(blank=True, max_length=63)),
                ('name', models.CharField(blank=True, max_length=253)),
                ('scope_path', models.CharField(blank=True, max_length=600)),
                ('path', models.CharField(blank=True, max_length=1024)),
                ('result', models.CharField(max_length=16)),
                ('status_code', models.PositiveSmallIntegerField()),
                ('message', models.TextField(blank=True)),
                ('before', models.JSONField(blank=True, null=True)),
                ('after', models.JSONField(blank=True, null=True)),
                ('previous_hash', models.CharField(blank=True, max_length=64)),
                ('hash', models.CharField(blank=True, max_length=64)),
            ],
            options={
                'ordering': ('-id',),
                'indexes': [models.Index(fields=['resource', 'name'], name='audit_resource_name')],
            },
        ),
        migrations.RunPython(create_head, migrations.RunPython.noop),
    ]
