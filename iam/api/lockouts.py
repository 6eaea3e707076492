"""Locked-out accounts: ``GET .../lockouts`` lists them, ``DELETE .../lockouts/<username>`` unlocks.

Reading needs ``list users`` at the platform, unlocking ``update users`` at the platform (the engine decides).
"""
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from edgeplatform.resources.errors import StatusError, not_found, status_object
from edgeplatform.resources.openapi import list_of, ref, status_responses
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

    @extend_schema(
        operation_id="listIamTheriseunionIoV1alpha1Lockout", tags=[f"{GROUP}/lockouts"],
        summary="List the locked-out user names",
        responses={200: OpenApiResponse(list_of("Lockout", VERSION, {
                "apiVersion": serializers.ChoiceField(choices=[VERSION]),
                "kind": serializers.ChoiceField(choices=["Lockout"]),
                "metadata": inline_serializer("LockoutMetadata", {
                    "name": serializers.CharField(help_text="The locked user name.")}),
                "status": inline_serializer("LockoutStatus", {
                    "failures": serializers.IntegerField(help_text="Failed logins counted."),
                    "lastFailure": serializers.DateTimeField(help_text="When the last one was."),
                    "lockedUntil": serializers.DateTimeField(help_text="When the lock ends."),
                    "addresses": serializers.ListField(child=serializers.CharField(),
                                                       help_text="The addresses the failures came from.")}),
            }), description="The locks in force"), **status_responses(403)})
    def get(self, request):
        """The locks, by user name."""
        require(request, "list")
        return Response({"apiVersion": VERSION, "kind": "LockoutList", "metadata": {},
                         "items": [to_manifest(row) for row in lockout.locked_accounts()]})


class LockoutDetailView(APIView):
    """One user name's lock: read it or lift it."""

    @extend_schema(operation_id="readIamTheriseunionIoV1alpha1Lockout", tags=[f"{GROUP}/lockouts"],
                   summary="Read the lock on a user name",
                   responses={200: OpenApiResponse(ref("Lockout"), description="The lock"),
                              **status_responses(403, 404)})
    def get(self, request, name):
        """The lock on ``name``, 404 when there is none."""
        require(request, "get")
        for row in lockout.locked_accounts():
            if row["username"] == name:
                return Response(to_manifest(row))
        raise not_found("lockouts", name, GROUP)

    @extend_schema(operation_id="deleteIamTheriseunionIoV1alpha1Lockout", tags=[f"{GROUP}/lockouts"],
                   summary="Lift the lock on a user name",
                   responses={200: OpenApiResponse(ref("Status"), description="The lock was lifted"),
                              **status_responses(403, 404)})
    def delete(self, request, name):
        """Unlock ``name`` (its failures are forgotten too); 404 when it was not locked."""
        require(request, "update")
        if "\x00" in name or not lockout.unlock(name, actor=request.user):  # no user name holds NUL
            raise not_found("lockouts", name, GROUP)
        return Response(status_object(200, "", f'lockout "{name}" lifted', {"name": name, "kind": "lockouts",
                                                                           "group": GROUP}, success=True))
