"""The controllers' own tables: leases (who works on what, until when) and each object's reconcile state."""
from __future__ import annotations

from django.db import models

__all__ = ["ControllerState", "Lease"]


class Lease(models.Model):
    """A lock with an expiry: held by ``owner`` until ``expires``; a worker that dies holding it costs the
    time until then, never the work (the next worker takes the expired lease over)."""

    key = models.CharField(max_length=300, unique=True)
    owner = models.CharField(max_length=200)
    expires = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key} held by {self.owner} until {self.expires:%Y-%m-%dT%H:%M:%SZ}"


class ControllerState(models.Model):
    """Where one controller stands with one object: the typed copy of what its status says, indexed so that
    beat finds the objects to reconcile again without reading any status JSON."""

    controller = models.CharField(max_length=63)
    key = models.CharField(max_length=253)
    #: the generation the last successful reconcile brought about (0: never)
    observed_generation = models.BigIntegerField(default=0)
    #: the step reached (the one that failed, when the last attempt failed)
    step = models.CharField(max_length=100, blank=True, default="")
    #: the generation at which the failed attempt reached ``step`` (a retry resumes there while it holds)
    step_generation = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=100, blank=True, default="")
    message = models.TextField(blank=True, default="")
    retry_count = models.PositiveIntegerField(default=0)
    next_retry = models.DateTimeField(null=True, blank=True, db_index=True)
    last_failure = models.DateTimeField(null=True, blank=True)
    last_success = models.DateTimeField(null=True, blank=True)
    #: a permanent error was met at this generation: nothing runs until the generation moves
    failed_generation = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["controller", "key"], name="controllerstate_unique_key")]

    def __str__(self) -> str:
        return f"{self.controller} {self.key}: {self.reason or 'new'}"
