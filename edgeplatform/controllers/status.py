"""What a controller writes into an object's status, after the Kubernetes conventions.

A controller that owns its kind's status (condition ``Ready``) writes::

    status:
      observedGeneration: 3          # the spec the last successful reconcile brought about
      step: ensure_release           # the step reached (the failing one while retrying)
      reason: RetryLater             # CamelCase, why
      message: "..."                 # for people
      retryCount: 2
      nextRetryTime: "2026-12-03T12:00:00Z"
      lastFailureTime: "2026-12-03T11:59:00Z"
      conditions:
      - {type: Ready, status: "False", reason: RetryLater, message: "...", observedGeneration: 3,
         lastTransitionTime: "..."}

A controller that works on another controller's kind (the RBAC translation on a Cluster) writes only a
condition of its own (``RBACSynced``) and leaves the rest of the status to the kind's own controller. A
condition's ``lastTransitionTime`` moves only when its ``status`` flips.
"""
from __future__ import annotations

from datetime import datetime

__all__ = ["READY", "condition", "format_time", "notable", "render", "set_condition"]

READY = "Ready"
#: the fields the base writes for a controller that owns the status (removed when they no longer apply)
_OWNED = ("observedGeneration", "step", "reason", "message", "retryCount", "nextRetryTime", "lastFailureTime")


def format_time(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC, to the second, as Kubernetes writes times."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def condition(type_: str, ok: bool, reason: str, message: str, generation: int, now: datetime) -> dict:
    """A condition as Kubernetes spells it."""
    return {"type": type_, "status": "True" if ok else "False", "reason": reason, "message": message,
            "lastTransitionTime": format_time(now), "observedGeneration": generation}


def set_condition(conditions: list[dict] | None, new: dict) -> list[dict]:
    """``conditions`` with ``new`` in place of the one of its type; the old ``lastTransitionTime`` is kept while
    the status stays the same."""
    out, placed = [], False
    for item in conditions or []:
        if item.get("type") == new["type"]:
            if item.get("status") == new["status"] and item.get("lastTransitionTime"):
                new = {**new, "lastTransitionTime": item["lastTransitionTime"]}
            out.append(new)
            placed = True
        else:
            out.append(item)
    return out if placed else [*out, new]


def render(current: dict | None, state, *, type_: str, ok: bool, generation: int, now: datetime) -> dict:
    """The status after an attempt, from the object's ``current`` status and the controller's ``state``
    (:class:`~edgeplatform.controllers.models.ControllerState`)."""
    status = dict(current or {})
    reason = state.reason or ("Reconciled" if ok else "Failed")
    status["conditions"] = set_condition(status.get("conditions"),
                                         condition(type_, ok, reason, state.message, generation, now))
    if type_ != READY:
        return status
    for name in _OWNED:
        status.pop(name, None)
    fields = {"observedGeneration": state.observed_generation or None, "step": state.step or None,
              "reason": reason, "message": state.message or None, "retryCount": state.retry_count or None,
              "nextRetryTime": format_time(state.next_retry), "lastFailureTime": format_time(state.last_failure)}
    status.update({name: value for name, value in fields.items() if value is not None})
    return status


def notable(before: dict | None, after: dict | None) -> bool:
    """Whether a status change is worth an audit event: the phase changed, or a condition appeared, went, or
    flipped its status. A retry that only moves counters, times and messages is not."""
    before, after = before or {}, after or {}
    if before.get("phase") != after.get("phase"):
        return True

    def flags(status):
        return {item.get("type"): item.get("status") for item in status.get("conditions") or []}

    return flags(before) != flags(after)
