"""A component's own status fields, and the one function that writes them outside a controller attempt's end.

The controller sets its fields (``phase``, ``observedHash``, ``releaseName``, ``releaseVersion``) in
``run.status``; the controller base writes them with its own (``observedGeneration``, ``reason``, ``message``,
conditions, retries) in one status write at the end of each attempt. Two moments cannot wait for that end and
go through :func:`write`: the phase ``Installing``/``Uninstalling`` before a long Helm call (the console polls it),
and the release just made (``observedHash``, ``releaseVersion``), recorded at once so that a worker killed after
the Helm call but before the attempt ends does not make the next attempt upgrade again. Both go through the write
path's status subresource (``edgeplatform.resources.services.save_status``): synced to the custom resource and
audited on a phase change, like every status write.
"""
from __future__ import annotations

from edgeplatform.controllers.status import notable
from edgeplatform.resources.services import save_status

__all__ = ["DISABLED", "FAILED", "INSTALLING", "PENDING", "PHASES", "READY", "UNINSTALLING", "UNMANAGED", "write"]

PENDING, INSTALLING, READY, FAILED = "Pending", "Installing", "Ready", "Failed"
UNINSTALLING, DISABLED, UNMANAGED = "Uninstalling", "Disabled", "Unmanaged"
PHASES = (PENDING, INSTALLING, READY, FAILED, UNINSTALLING, DISABLED, UNMANAGED)


def write(component, **fields) -> None:
    """Set these status fields of ``component`` now (a None value removes the field), as the system."""
    def change(current: dict) -> dict:
        current.update(fields)
        return {name: value for name, value in current.items() if value is not None}

    row = save_status(component, change, notable=notable)
    component.status, component.resource_version = row.status, row.resource_version
