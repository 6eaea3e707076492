"""What a console request is about, noted on the request for the audit log's record of a refusal.

The API's paths name their kind and object, so the audit middleware reads them from the URL. The
console's do not (``/console/clusters/workspace/7/change/``), so each console view notes here the verb,
the kind and, once it is looked up, the object: a request refused with 403, or answered 404 for an
object that exists but is hidden from the caller, is then recorded naming what was refused.

The note is the request attribute ``audit_resource`` (a dict of ``record()``'s fields, plus
``hides_object`` for a 404 that hides an existing row); ``iam.audit.middleware`` reads it.
"""
from __future__ import annotations

__all__ = ["ATTRIBUTE", "note_hidden", "note_kind", "note_object"]

ATTRIBUTE = "audit_resource"


def note_kind(request, verb: str, *, group: str, resource: str, kind: str = "") -> None:
    """The request does ``verb`` on a kind (a list page, an add form, a page beside the model pages)."""
    setattr(request, ATTRIBUTE, {"verb": verb, "group": group, "resource": resource, "kind": kind,
                                 "name": "", "scope_path": ""})


def note_object(request, obj) -> None:
    """The request is about the stored object ``obj``, which the caller may know of."""
    noted = getattr(request, ATTRIBUTE, None)
    if noted is not None:
        noted.update(name=obj.name, scope_path=obj.scope_path or "")


def note_hidden(request) -> None:
    """The request's 404 hides an object that exists.

    Neither its name nor its scope is noted: the caller may read their own audit events, and the event must
    not tell them more than the 404 did. Its key is in the event's path.
    """
    noted = getattr(request, ATTRIBUTE, None)
    if noted is not None:
        noted["hides_object"] = True
