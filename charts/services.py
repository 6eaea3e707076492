"""Uploading and removing charts as a person or the system does it: stored through ``store``, audited once each.

The API, the console and ``manage.py charts import`` all come here, so every change to a repository is one
AuditEvent (who, what, which repository, the archive's digest), whichever surface made it.
"""
from __future__ import annotations

from django.db import transaction

from edgeplatform import auditing

from . import access, store
from .models import ChartVersion

__all__ = ["remove", "upload"]


def _username(user) -> str:
    return user.get_username() if user is not None and getattr(user, "is_authenticated", False) else ""


def _manifest(repository: str, row: ChartVersion) -> dict:
    return {"repository": repository, "name": row.name, "version": row.version, "digest": f"sha256:{row.digest}",
            "size": row.size}


def upload(repository: str, data: bytes, *, user=None, force: bool = False) -> ChartVersion:
    """Store an archive in ``repository`` and audit it (``create``, or ``update`` when ``force`` overwrote a
    version). ``store.ArchiveError`` / ``store.ChartExists`` as ``store.put`` raises them, nothing stored."""
    with transaction.atomic():
        row = store.put(repository, data, force=force, user=_username(user))
        after = _manifest(repository, row)
        before = dict(after, digest=f"sha256:{row.replaced}") if row.replaced else None
        auditing.record("update" if row.replaced else "create", resource=access.RESOURCE, group=access.GROUP,
                        kind="ChartVersion", name=f"{row.name}-{row.version}",
                        scope_path=access.scope_path(repository) or "", status_code=200 if row.replaced else 201,
                        before=before, after=after,
                        message=f"chart {row.name} {row.version} stored in repository {repository}")
    return row


def remove(repository: str, name: str, version: str | None = None) -> list[ChartVersion]:
    """Remove chart ``name`` (one ``version`` or all) from ``repository``; one audit event per removed version."""
    with transaction.atomic():
        removed = store.delete(repository, name, version)
        for row in removed:
            auditing.record("delete", resource=access.RESOURCE, group=access.GROUP, kind="ChartVersion",
                            name=f"{row.name}-{row.version}", scope_path=access.scope_path(repository) or "",
                            before=_manifest(repository, row),
                            message=f"chart {row.name} {row.version} removed from repository {repository}")
    return removed
