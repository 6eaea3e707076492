"""Test support: build platform objects through the real services and talk to the API like a client."""
from __future__ import annotations

import json

from django.test import Client

from edgeplatform.resources.loader import apply
from iam import tokens
from iam.models import User

PASSWORD = "Edge-Test-Passw0rd!"


def binding_manifest(name: str, role: str, level: str, value: str = "", cluster: str = "",
                     users: tuple = (), groups: tuple = ()) -> dict:
    """An IAMRoleBinding manifest in the reference's shape."""
    labels = {"iam.theriseunion.io/scope": level}
    if value:
        labels["iam.theriseunion.io/scope-value"] = value
    if cluster:
        labels["scope.theriseunion.io/cluster"] = cluster
    subjects = [{"kind": "User", "name": u, "apiGroup": "iam.theriseunion.io"} for u in users]
    subjects += [{"kind": "Group", "name": g, "apiGroup": "iam.theriseunion.io"} for g in groups]
    return {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "IAMRoleBinding",
            "metadata": {"name": name, "labels": labels},
            "spec": {"roleRef": {"apiGroup": "iam.theriseunion.io", "kind": "IAMRole", "name": role},
                     "subjects": subjects}}


class Platform:
    """A small fleet built with the platform's own write path (validation, signals, grant changes)."""

    def user(self, name: str, *, superuser=False, groups: tuple = ()) -> User:
        """A user with the test password, in ``groups`` (created as needed)."""
        from django.contrib.auth.models import Group

        from iam.models import UserGroup

        user = User.objects.create_user(name, password=PASSWORD, is_superuser=superuser, is_staff=superuser)
        for group in groups:
            auth_group, _ = Group.objects.get_or_create(name=group)
            UserGroup.objects.get_or_create(name=group, defaults={"group": auth_group})
            user.groups.add(auth_group)
        return user

    def apply(self, *manifests: dict) -> list:
        """Apply manifests as the system."""
        return apply(list(manifests))

    def cluster(self, name: str):
        """A physical cluster."""
        return self.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                           "metadata": {"name": name}, "spec": {"type": "physical"}})[0]

    def workspace(self, name: str, cluster: str):
        """A workspace in ``cluster``."""
        return self._in_cluster("Workspace", name, cluster)

    def nodegroup(self, name: str, cluster: str):
        """A node group in ``cluster``."""
        return self._in_cluster("NodeGroup", name, cluster)

    def _in_cluster(self, kind: str, name: str, cluster: str):
        return self.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": kind,
                           "metadata": {"name": name, "labels": {"scope.theriseunion.io/cluster": cluster}}})[0]

    def namespace(self, name: str, cluster: str, workspace: str | None = None):
        """A namespace of ``cluster``, in ``workspace`` if given."""
        return self._native("Namespace", name, cluster, "theriseunion.io/workspace", workspace)

    def node(self, name: str, cluster: str, nodegroup: str | None = None):
        """A node of ``cluster``, in ``nodegroup`` if given."""
        return self._native("Node", name, cluster, "theriseunion.io/nodegroup", nodegroup)

    @staticmethod
    def _native(kind, name, cluster, label, parent):
        manifest = {"apiVersion": "v1", "kind": kind,
                    "metadata": {"name": name, "labels": {label: parent} if parent else {}}}
        return apply([manifest], context={"cluster": cluster})[0]

    def bind(self, name: str, role: str, level: str, value: str = "", cluster: str = "", **subjects):
        """Bind users/groups to a role at a scope."""
        return self.apply(binding_manifest(name, role, level, value, cluster, **subjects))[0]


class ApiClient:
    """An HTTP client for the API carrying a bearer token, as an API program would."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    @classmethod
    def for_user(cls, user: User | None) -> ApiClient:
        """A client for ``user`` (a token from the password grant), or an anonymous one."""
        if user is None:
            return cls(None)
        response = Client().post("/oauth/token", {"grant_type": "password", "username": user.name,
                                                  "password": PASSWORD})
        assert response.status_code == 200, response.content
        return cls(response.json()["access_token"])

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
