"""The status a controller writes is what the reconciled kinds' schema declares, so nothing it writes is untyped
in the CRD or the OpenAPI document."""
from __future__ import annotations

from datetime import UTC, datetime

import jsonschema

from edgeplatform.controllers import status
from edgeplatform.controllers.models import ControllerState
from edgeplatform.resources.schemas import reconciled_state

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _declared(schema: dict, value, where: str = "status") -> list[str]:
    """Paths in ``value`` that ``schema`` does not name (unknown fields are kept by the CRD, but untyped)."""
    missing = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key not in properties:
                missing.append(f"{where}.{key}")
            else:
                missing += _declared(properties[key], item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            missing += _declared(schema.get("items", {}), item, f"{where}[{index}]")
    return missing


def test_a_failing_reconcile_writes_only_declared_fields_of_the_right_types():
    # GIVEN a controller's state after a failed attempt (every field the base writes is set)
    state = ControllerState(controller="demo", key="demo/x", observed_generation=2, step="ensure_release",
                            reason="RetryLater", message="the cluster did not answer", retry_count=3,
                            next_retry=NOW, last_failure=NOW)
    # WHEN the base renders the status of an object it owns the Ready condition of
    written = status.render({"phase": "Installing"}, state, type_=status.READY, ok=False, generation=3, now=NOW)
    schema = reconciled_state("Demo", phase={"type": "string"})
    # THEN every field is declared and valid
    assert {"step", "retryCount", "nextRetryTime", "lastFailureTime", "conditions"} <= set(written)
    assert _declared(schema, written) == []
    jsonschema.validate(written, schema)
