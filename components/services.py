"""Domain operations on components that several surfaces call: the revision history and a declarative rollback.

``record_history`` is what the controller calls after each Helm operation: the release's stored revisions (read
from the cluster, ``components.releases``) become ``ComponentRevision`` rows, with the chart digest and spec hash
of the revisions the controller made itself. ``rollback`` does not call Helm: it writes the chosen revision's
chart version and values back into the spec through the write path, as the user (authorized as an ``update`` and
audited, generation bumped), and the controller upgrades to it, which makes a new revision.
"""
from __future__ import annotations

import copy

from django.db import transaction

from components.models import ComponentRevision
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.errors import StatusError
from edgeplatform.resources.services import save_manifest

__all__ = ["forget_history", "record_history", "revisions", "rollback"]


def revisions(component) -> list[dict]:
    """The component's Helm revisions, newest first: ``revision``, ``status``, ``chartVersion``, ``appVersion``,
    ``description``, ``time`` (RFC 3339)."""
    return [{"revision": row.revision, "status": row.status, "chartVersion": row.chart_version,
             "appVersion": row.app_version, "description": row.description,
             "time": row.created.strftime("%Y-%m-%dT%H:%M:%SZ")}
            for row in component.revisions.order_by("-revision")]


def record_history(component, history, *, made: dict | None = None) -> list[ComponentRevision]:
    """Bring the component's revision rows in line with the release's stored ``history``
    (``components.releases.Revision`` list, oldest first). ``made`` (``digest``, ``spec_hash``, ``chart_version``)
    describes the operation this attempt ran, so the revisions it made carry their digest and hash; a revision
    Helm made by rolling back copies them from the revision it went back to. (An uninstall ends the history, as
    Helm's: the controller then calls :func:`forget_history`.) Returns the rows now stored, newest first."""
    rows = {row.revision: row for row in component.revisions.all()}
    with transaction.atomic():
        for revision in history:
            row = rows.get(revision.revision)
            if row is None:
                row = ComponentRevision(component=component, revision=revision.revision,
                                        release_name=revision.name)
                digest, spec_hash = _provenance(revision, rows, made)
                row.digest, row.spec_hash = digest, spec_hash
            row.chart_name = str(((revision.payload.get("chart") or {}).get("metadata") or {}).get("name") or "")
            row.chart_version, row.app_version = revision.chart_version, revision.app_version
            row.values, row.status, row.description = revision.values, revision.status, revision.description[:500]
            row.save()
            rows[revision.revision] = row
    return sorted(rows.values(), key=lambda row: -row.revision)


def forget_history(component) -> None:
    """Drop the revision rows of a release that was uninstalled (Helm keeps no history of it either)."""
    component.revisions.all().delete()


def _provenance(revision, rows: dict, made: dict | None) -> tuple[str, str]:
    """(digest, spec hash) of a new revision: the operation's own, or those of the revision a rollback restored."""
    target = _rollback_target(revision.description)
    if target is not None and target in rows:
        return rows[target].digest, rows[target].spec_hash
    if made and revision.chart_version == made.get("chart_version") and target is None:
        return made.get("digest", ""), made.get("spec_hash", "")
    return "", ""


def _rollback_target(description: str) -> int | None:
    """The revision Helm's "Rollback to N" description names."""
    words = description.split()
    if len(words) == 3 and words[0] == "Rollback" and words[1] == "to" and words[2].isdigit():
        return int(words[2])
    return None


def rollback(component, revision: int, *, user):
    """Ask for ``revision`` again: its chart version and values are written into the spec through the write path
    as ``user`` (an ``update`` of the component, audited); the controller then upgrades, making a new revision.
    404 Status when the component has no such revision; the saved component is returned."""
    row = component.revisions.filter(revision=revision).first()
    if row is None:
        raise StatusError(404, f'component "{component.name}" has no revision {revision}', "NotFound",
                          kind="components", name=component.name, group="ext.theriseunion.io")
    converter = converter_for(component)
    manifest = converter.to_manifest(component)
    spec = copy.deepcopy(manifest.get("spec") or {})
    spec["version"] = row.chart_version
    spec["values"] = copy.deepcopy(row.values)
    manifest["spec"] = spec
    manifest.pop("status", None)
    return save_manifest(converter, manifest, user=user, instance=component, url_name=component.name)
