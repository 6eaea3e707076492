"""The base every platform kind is stored on: Kubernetes object metadata plus a scope path."""
from __future__ import annotations

import uuid

from django.db import models

from edgeplatform import authz


class ScopedQuerySet(models.QuerySet):
    """Every request starts here: ``Model.objects.restrict(user, verb)``."""

    def restrict(self, user, verb: str = "get"):
        """Only the rows ``user`` may ``verb`` (get, list, update, delete, …)."""
        q = authz.authorizer().visible_q(user, verb, self.model)
        return self if q is None else self.filter(q)


class ManifestModel(models.Model):
    """Metadata of a Kubernetes-style object: name, uid, labels, versions, spec and status.

    ``scope_path`` is the scope the object lives in (for scope objects: the scope they are);
    the permission engine filters on it. Subclasses set the ``kind`` metadata through their
    converter (``edgeplatform.resources.converters``).
    """

    name = models.CharField(max_length=253, db_index=True)
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    labels = models.JSONField(default=dict, blank=True)
    annotations = models.JSONField(default=dict, blank=True)
    spec = models.JSONField(default=dict, blank=True)
    status = models.JSONField(default=dict, blank=True)
    resource_version = models.PositiveBigIntegerField(default=1)
    generation = models.PositiveBigIntegerField(default=1)
    scope_path = models.CharField(max_length=600, db_index=True, default="platform")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = ScopedQuerySet.as_manager()
    #: typed, indexed columns derived from spec and status (``derived_columns``) on every save, so that filters and
    #: counts need no JSON lookups; never shown in or read from the manifest
    derived_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True
        ordering = ("name",)

    def __str__(self):
        return self.name

    def derived_columns(self) -> dict:
        """The values of ``derived_fields`` for the row's spec and status."""
        return {}

    def save(self, *args, **kwargs):
        """Fill the derived columns on every save (a save of only some fields, too, when spec or status is one)."""
        if self.derived_fields:
            for column, value in self.derived_columns().items():
                setattr(self, column, value)
            fields = kwargs.get("update_fields")
            if fields is not None and {"spec", "status"} & set(fields):
                kwargs["update_fields"] = {*fields, *self.derived_fields}
        super().save(*args, **kwargs)
