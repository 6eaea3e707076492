"""Locked-out accounts: ``GET .../lockouts`` lists them, ``DELETE .../lockouts/<username>`` unlocks.

Reading needs ``list users`` at the platform, unlocking ``update users`` at the platform (the engine decides).
"""
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from edgeplatform.resources.errors import StatusError, not_found, status_object
from iam import lockout
from iam.engine import engine

GROUP = "iam.theriseunion.io"
VERSION = f"{GROUP}/v1alpha1"


def require(request, verb: str) -> None:
    """403 unless the engine lets the caller ``verb`` users at the platform."""
    if not engine.allowed(request.user, verb, GROUP, "users", "platform"):
        raise StatusError(403, f'user "{request.user.get_username()}" cannot {verb} resource "lockouts" in API '
                               f'group "{GROUP}" at scope "platform"', kind="lockouts", group=GROUP)


def to_manifest(row: dict) -> dict:
    """One lock as a ``Lockout`` object."""
    return {"apiVersion": VERSION, "kind": "Lockout", "metadata": {"name": row["username"]},
            "status": {"failures": row["failures"], "lastFailure": row["lastFailure"],
                       "lockedUntil": row["lockedUntil"], "addresses": row["addresses"]}}


class LockoutListView(APIView):
    """Every lock in force."""

    @extend_schema(responses=OpenApiTypes.OBJECT, tags=[f"{GROUP}/lockouts"])
    def get(self, request):
        """The locks, by user name."""
        require(request, "list")
        return Response({"apiVersion": VERSION, "kind": "LockoutList", "metadata": {},
                         "items": [to_manifest(row) for row in lockout.locked_accounts()]})


class LockoutDetailView(APIView):
    """One user name's lock: read it or lift it."""

    @extend_schema(responses=OpenApiTypes.OBJECT, tags=[f"{GROUP}/lockouts"])
    def get(self, request, name):
        """The lock on ``name``, 404 when there is none."""
        require(request, "get")
        for row in lockout.locked_accounts():
            if row["username"] == name:
                return Response(to_manifest(row))
        raise not_found("lockouts", name, GROUP)

    @extend_schema(responses=OpenApiTypes.OBJECT, tags=[f"{GROUP}/lockouts"])
    def delete(self, request, name):
        """Unlock ``name`` (its failures are forgotten too); 404 when it was not locked."""
        require(request, "update")
        if "\x00" in name or not lockout.unlock(name, actor=request.user):  # no user name holds NUL
            raise not_found("lockouts", name, GROUP)
        return Response(status_object(200, "", f'lockout "{name}" lifted', {"name": name, "kind": "lockouts",
                                                                           "group": GROUP}, success=True))
