"""Review of application versions (DESIGN §7): submitted → Approved or Rejected, then deprecated.

* A version is **submitted** when it is written: created, or its spec changed while Pending or Rejected (a
  resubmission). Its status then says ``reviewPhase: Pending``, ``submitter`` (who wrote it; ``system`` for the
  platform's own writes) and ``submitTime`` (``submission``, which the converter applies).
* Someone allowed to ``review`` application versions at the version's scope (the verb is granted by the
  templates that grant ``*`` on them: ``platform-manage-appstore``, ``workspace-manage-applications``), other than
  the submitter, **approves** or **rejects** it with a message (``decide``): ``reviewer``, ``reviewTime``,
  ``reviewMessage``. Only a Pending version is decided (409 otherwise); a decision is one audit event (``approve``
  or ``reject``) and one status write.
* Only Approved versions deploy, and an Approved version's spec is immutable (a change is a new version;
  ``immutable_problem``).
* An Approved version can be **deprecated** (``set_deprecated``): the label ``app.theriseunion.io/deprecated:
  "true"``, written through the write path as an ``update``: no new deployment resolves to it (``latest`` and
  ranges skip it, an exact request for it is refused), running ones keep it.
"""
from __future__ import annotations

import copy
from datetime import UTC, datetime

from appstore.models import DEPRECATED_LABEL
from edgeplatform import auditing
from edgeplatform.resources import services
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.errors import StatusError, cause
from edgeplatform.resources.services import authorize, save_manifest, save_status

__all__ = ["APPROVED", "PENDING", "REJECTED", "decide", "immutable_problem", "phase_of", "request_problem",
           "set_deprecated", "submission"]

PENDING, APPROVED, REJECTED = "Pending", "Approved", "Rejected"
DEPRECATED = "Deprecated"
DECISIONS = {"Approve": APPROVED, "Approved": APPROVED, "Reject": REJECTED, "Rejected": REJECTED}
GROUP = "app.theriseunion.io"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _name(user) -> str:
    return user.get_username() if user is not None else "system"


def phase_of(review_phase: str, deprecated: bool) -> str:
    """A version's ``status.phase``: ``Deprecated`` once deprecated, else its review phase."""
    return DEPRECATED if deprecated and review_phase == APPROVED else (review_phase or PENDING)


def submission(status: dict, user, *, deprecated: bool = False) -> dict:
    """The status of a version just (re)submitted by ``user``: Pending, with its submitter and time; an earlier
    decision's fields are cleared."""
    status = {key: value for key, value in (status or {}).items()
              if key not in ("reviewer", "reviewTime", "reviewMessage")}
    status.update(reviewPhase=PENDING, submitter=_name(user), submitTime=_now(),
                  phase=phase_of(PENDING, deprecated))
    return status


def immutable_problem(instance, spec: dict) -> dict | None:
    """The cause refusing a spec change of an Approved version (None when the change is allowed)."""
    if instance is not None and instance.review_phase == APPROVED and spec != (instance.spec or {}):
        return cause("spec", f'version {instance.version} is approved: its spec is immutable (publish a new '
                             "version instead)", "FieldValueForbidden")
    return None


def request_problem(application, request: str, ran: frozenset[str] = frozenset()) -> dict | None:
    """The cause refusing a deployment's ``spec.version`` of ``application`` when it names one exact version that
    is deprecated or rejected (None otherwise: ``latest``, a range, an approved or pending version, or one not
    published yet, which the controller waits for). A deprecated version the deployment ran before (``ran``: a
    rollback to it) is no new deployment and is allowed."""
    from appstore import versions

    exact = versions.parse(request)
    if exact is None:
        return None
    for row in application.versions.filter(major=exact.major, minor=exact.minor, patch=exact.patch):
        if not versions.admits(request, row.version):
            continue
        if row.review_phase == REJECTED:
            return cause("spec.version", f'version {row.version} of application "{application.name}" was rejected: '
                                         "it cannot be deployed", "FieldValueForbidden")
        if row.deprecated and row.version not in ran:
            return cause("spec.version", f'version {row.version} of application "{application.name}" is '
                                         "deprecated: no new deployment may use it", "FieldValueForbidden")
    return None


def decide(version, decision: str, *, user, message: str = ""):
    """Approve or reject a Pending ``version`` as ``user`` (``decision``: ``Approve`` or ``Reject``); returns the
    row. 403 when ``user`` may not review it or submitted it; 409 when it is not Pending; 422 for another
    decision."""
    converter = converter_for(version)
    phase = DECISIONS.get(decision)
    if phase is None:
        raise StatusError(422, f'decision must be Approve or Reject, not "{decision}"', "Invalid",
                          kind=converter.plural, name=version.name, group=GROUP,
                          causes=[cause("decision", "must be Approve or Reject", "FieldValueNotSupported")])
    try:
        authorize(user, "review", converter, version.scope_path, version.name, version)
    except StatusError as error:  # the engine's refusal is audited, as the write path's are
        services._announce_denial(error)
        raise
    if user is not None and (version.status or {}).get("submitter") == user.get_username():
        raise StatusError(403, f'user "{user.get_username()}" submitted version {version.version} and may not '
                               "review it", "Forbidden", kind=converter.plural, name=version.name, group=GROUP)
    if version.review_phase != PENDING:
        raise StatusError(409, f"version {version.version} is {version.review_phase or 'not submitted'}, not "
                               "Pending", "Conflict", kind=converter.plural, name=version.name, group=GROUP)
    before = converter.to_manifest(version)

    def change(current):
        current = copy.deepcopy(current)
        current.update(reviewPhase=phase, reviewer=_name(user), reviewTime=_now(), reviewMessage=message[:2000],
                       phase=phase_of(phase, version.deprecated))
        return current

    row = save_status(version, change, notable=lambda before_status, after_status: False)
    auditing.record("approve" if phase == APPROVED else "reject", resource=converter.plural, group=GROUP,
                    kind=converter.kind, name=row.name, scope_path=row.scope_path, before=before,
                    after=converter.to_manifest(row), message=message[:500])
    return row


def set_deprecated(version, *, user, deprecated: bool = True):
    """Deprecate (or undeprecate) an Approved ``version`` as ``user``: its deprecated label written through the
    write path (an ``update``, audited); 409 for a version that is not Approved. Returns the row."""
    converter = converter_for(version)
    if deprecated and version.review_phase != APPROVED:
        raise StatusError(409, f"version {version.version} is {version.review_phase or 'not submitted'}: only an "
                               "approved version is deprecated", "Conflict", kind=converter.plural,
                          name=version.name, group=GROUP)
    manifest = converter.to_manifest(version)
    labels = manifest["metadata"].setdefault("labels", {})
    if deprecated:
        labels[DEPRECATED_LABEL] = "true"
    else:
        labels.pop(DEPRECATED_LABEL, None)
    manifest.pop("status", None)
    return save_manifest(converter, manifest, user=user, instance=version, url_name=version.name)
