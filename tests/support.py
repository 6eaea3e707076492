"""Test support: build platform objects through the real services and talk to the API like a client."""
from __future__ import annotations

import json

from django.test import Client

from edgeplatform.resources.loader import apply
from iam import tokens
from iam.models import User
from tests.factories import (
    PASSWORD,
    ClusterFactory,
    IAMRoleBindingFactory,
    NamespaceFactory,
    NodeFactory,
    NodeGroupFactory,
    UserFactory,
    WorkspaceFactory,
)

__all__ = ["PASSWORD", "ApiClient", "Platform", "binding_manifest", "issue_token"]


def binding_manifest(name: str, role: str, level: str, value: str = "", cluster: str = "",
                     users: tuple = (), groups: tuple = ()) -> dict:
    """An IAMRoleBinding manifest in the reference's shape."""
    return IAMRoleBindingFactory.build(name=name, role=role, level=level, value=value, cluster=cluster, users=users,
                                       groups=groups)


class Platform:
    """A small fleet built with the platform's own write path (validation, signals, grant changes), by name.

    Each method applies (creates or replaces) an object of a factory of ``tests.factories``, named; use the
    factories directly for anything else.
    """

    def user(self, name: str, *, superuser=False, groups: tuple = ()) -> User:
        """A user with the test password, in ``groups`` (created as needed)."""
        return UserFactory(name=name, superuser=superuser, groups=groups)

    def apply(self, *manifests: dict) -> list:
        """Create or replace manifests as the system."""
        return apply(list(manifests))

    def cluster(self, name: str):
        """A physical cluster."""
        return ClusterFactory.apply(name=name)

    def workspace(self, name: str, cluster: str):
        """A workspace in ``cluster``."""
        return WorkspaceFactory.apply(name=name, cluster=cluster)

    def nodegroup(self, name: str, cluster: str):
        """A node group in ``cluster``."""
        return NodeGroupFactory.apply(name=name, cluster=cluster)

    def namespace(self, name: str, cluster: str, workspace: str | None = None):
        """A namespace of ``cluster``, in ``workspace`` if given."""
        return NamespaceFactory.apply(name=name, cluster=cluster, workspace=workspace)

    def node(self, name: str, cluster: str, nodegroup: str | None = None):
        """A node of ``cluster``, in ``nodegroup`` if given."""
        return NodeFactory.apply(name=name, cluster=cluster, nodegroup=nodegroup)

    def bind(self, name: str, role: str, level: str, value: str = "", cluster: str = "", **subjects):
        """Bind users/groups to a role at a scope."""
        return IAMRoleBindingFactory.apply(name=name, role=role, level=level, value=value, cluster=cluster,
                                           **subjects)


class ApiClient:
    """An HTTP client for the API carrying a bearer token, as an API program would."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    @classmethod
    def for_user(cls, user: User | None) -> ApiClient:
        """A client for ``user`` (a token from the password grant), or an anonymous one."""
        return cls(None if user is None else cls.token_for(user))

    @staticmethod
    def token_for(user: User) -> str:
        """A bearer token for ``user`` from ``POST /oauth/token`` (the password grant)."""
        response = Client().post("/oauth/token", {"grant_type": "password", "username": user.name,
                                                  "password": PASSWORD})
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    def _send(self, method: str, url: str, body=None, content_type="application/json"):
        data = json.dumps(body) if body is not None else None
        response = getattr(self.client, method)(url, data=data, content_type=content_type, **self.headers) \
            if data is not None else getattr(self.client, method)(url, **self.headers)
        return response

    def get(self, url: str):
        """GET."""
        return self._send("get", url)

    def post(self, url: str, body: dict):
        """POST a JSON manifest."""
        return self._send("post", url, body)

    def put(self, url: str, body: dict):
        """PUT a JSON manifest."""
        return self._send("put", url, body)

    def patch(self, url: str, body: dict):
        """PATCH with a JSON merge patch."""
        return self._send("patch", url, body, "application/merge-patch+json")

    def delete(self, url: str):
        """DELETE."""
        return self._send("delete", url)


def issue_token(user: User) -> str:
    """A token without going through the password grant (for users without a password)."""
    return tokens.issue(user)[0]
