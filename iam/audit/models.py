"""Audit events and the head of their hash chain."""
from __future__ import annotations

from django.db import models

GENESIS = "0" * 64


class AuditEvent(models.Model):
    """One mutation, denied request or security event: who did what to which object, where, and how it ended.

    The row is inserted in the transaction of what it describes, unsealed; right after that transaction
    commits it is sealed: given the next gapless ``sequence`` and a ``hash`` over its canonical content and
    ``previous_hash`` (the hash of the event before it), so changing or removing a sealed row breaks the
    chain (``manage.py audit verify``). Until then ``hash`` holds the row's *seal*, an HMAC over its content
    made when the platform inserted it: a row that someone else inserted cannot be sealed into the chain.
    (The seal is kept in ``hash`` rather than a column of its own so that it is gone once the row is sealed:
    it cannot be copied from a sealed row into a forged one.)
    """

    id = models.BigAutoField(primary_key=True)
    sequence = models.PositiveBigIntegerField(null=True, blank=True, unique=True)  # None until sealed
    timestamp = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=253, db_index=True)
    source_ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    verb = models.CharField(max_length=32)
    api_group = models.CharField(max_length=253, blank=True)
    resource = models.CharField(max_length=63, blank=True)
    kind = models.CharField(max_length=63, blank=True)
    name = models.CharField(max_length=253, blank=True)
    scope_path = models.CharField(max_length=600, blank=True)
    path = models.CharField(max_length=1024, blank=True)
    result = models.CharField(max_length=16)
    status_code = models.PositiveSmallIntegerField()
    message = models.TextField(blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    previous_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)  # the seal until the row is sealed, then the chain hash

    class Meta:
        # few indexes: each one is paid on every audited write
        ordering = ("-id",)
        indexes = [models.Index(fields=["resource", "name"], name="audit_resource_name")]

    def __str__(self):
        return f"#{self.sequence or '-'} {self.actor} {self.verb} {self.resource}/{self.name} {self.result}"


class ChainHead(models.Model):
    """The one row that knows where the chain ends and where it starts.

    ``last_sequence``/``last_hash`` name the newest event, so removing the newest rows is detected;
    ``anchor_sequence``/``anchor_hash`` name the newest *pruned* event, which the oldest kept event must
    follow. ``mac`` is an HMAC over those four values (``iam.audit.chain.head_mac``), so pointing the head
    back at an older event takes the key. Sealing locks this row, which orders concurrent sealers.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_sequence = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS)
    anchor_sequence = models.PositiveBigIntegerField(default=0)
    anchor_hash = models.CharField(max_length=64, default=GENESIS)
    mac = models.CharField(max_length=64, blank=True, default="")

    def __str__(self):
        return f"audit chain head #{self.last_sequence}"
