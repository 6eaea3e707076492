"""Domain operations on application deployments that several surfaces call (the API's actions, the console).

``rollback`` does not touch a cluster: it writes the chosen earlier version into ``spec.version`` through the
write path, as the user (authorized as an ``update``, audited, generation bumped); the deployment controller then
rolls every topology to it and records a history entry with reason ``Rollback`` (a change to an older version).
"""
from __future__ import annotations

import copy

from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.errors import StatusError, cause
from edgeplatform.resources.services import save_manifest

__all__ = ["rollback", "rollback_target"]

GROUP = "app.theriseunion.io"


def rollback_target(deployment) -> str | None:
    """The version a rollback with no version named goes back to: the one the last change replaced (the newest
    history entry's ``fromVersion``), or None when there is none."""
    for entry in reversed((deployment.status or {}).get("history") or []):
        if entry.get("fromVersion"):
            return entry["fromVersion"]
    return None


def rollback(deployment, *, user, version: str | None = None):
    """Roll ``deployment`` back to ``version`` (an exact version of its application), or to the one before the
    current one; returns the saved row. 422 when there is nothing to go back to or the version is no approved
    version of the application."""
    converter = converter_for(deployment)
    target = version or rollback_target(deployment)
    if not target:
        raise StatusError(422, f'deployment "{deployment.name}" has no earlier version to roll back to', "Invalid",
                          kind=converter.plural, name=deployment.name, group=GROUP,
                          causes=[cause("version", "no earlier version in status.history", "FieldValueRequired")])
    known = deployment.application.versions.filter(version=target, review_phase="Approved").exists()
    if not known:
        raise StatusError(422, f'application "{deployment.application.name}" has no approved version {target}',
                          "Invalid", kind=converter.plural, name=deployment.name, group=GROUP,
                          causes=[cause("version", f"no approved version {target}", "FieldValueNotFound")])
    manifest = converter.to_manifest(deployment)
    spec = copy.deepcopy(manifest.get("spec") or {})
    spec["version"] = target
    manifest["spec"] = spec
    manifest.pop("status", None)
    return save_manifest(converter, manifest, user=user, instance=deployment, url_name=deployment.name,
                         context={"namespace": deployment.namespace})
