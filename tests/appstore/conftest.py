"""Fixtures of the app store's API tests: the shared two-cluster fleet (``tests.fleet``) with an application of
workspace c1/w1 and its publishers, reviewers and viewers bound with the built-in roles."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests import fleet
from tests.factories import ApplicationFactory
from tests.support import ApiClient

BASE = "/oapis/app.theriseunion.io/v1alpha1"


@pytest.fixture
def store(platform):
    """The fleet, application ``pos`` of w1, and clients of: ``alice`` and ``bob`` (workspace-admin of w1),
    ``vera`` (workspace-viewer of w1) and ``admin`` (a superuser)."""
    objs = fleet.build(platform)
    application = ApplicationFactory(name="pos", workspace=objs["c1/w1"])
    users = {}
    for name, role in (("alice", "workspace-admin"), ("bob", "workspace-admin"), ("vera", "workspace-viewer")):
        users[name] = platform.user(name)
        platform.bind(f"{name}-w1", role, "workspace", "w1", users=(name,))
    users["admin"] = platform.user("admin", superuser=True)
    clients = {name: ApiClient.for_user(user) for name, user in users.items()}
    return SimpleNamespace(objs=objs, application=application, users=users, **clients)


def version_manifest(version: str, application: str = "pos", image: str = "", name: str = "") -> dict:
    """An ApplicationVersion of ``application`` running ``image`` (one Deployment)."""
    from tests.factories.appstore import workload

    return {"apiVersion": "app.theriseunion.io/v1alpha1", "kind": "ApplicationVersion",
            "metadata": {"name": name or f"{application}-{version.replace('.', '-')}"},
            "spec": {"applicationRef": application, "version": version,
                     "workloadConfig": workload(image or f"registry.example.com/shop/pos:{version}")}}


def deployment_manifest(name: str, version: str, namespace: str = "n1", application: str = "pos",
                        topologies: list | None = None, cluster: str = "c1") -> dict:
    """An ApplicationDeployment in ``namespace`` of ``cluster``."""
    manifest = {"apiVersion": "app.theriseunion.io/v1alpha1", "kind": "ApplicationDeployment",
                "metadata": {"name": name, "namespace": namespace,
                             "labels": {"scope.theriseunion.io/cluster": cluster}},
                "spec": {"application": application, "version": version}}
    if topologies is not None:
        manifest["spec"]["topologies"] = topologies
    return manifest


def assert_status(response, code: int, reason: str, field: str | None = None) -> dict:
    """The answer is a Kubernetes Status of ``code``/``reason``, naming ``field`` among its causes if given."""
    body = response.json()
    assert response.status_code == code, body
    assert (body["kind"], body["status"], body["code"], body["reason"]) == ("Status", "Failure", code, reason), body
    if field is not None:
        assert field in [item["field"] for item in body["details"]["causes"]], body
    return body


@pytest.fixture
def china(platform):
    """The reference's own places: cluster ``china``, workspace ``beijing`` with namespace ``dongchengqu``, node
    group ``shop-001`` and node ``edge-node-7``; the ``platform`` helper is returned."""
    platform.cluster("china")
    platform.workspace("beijing", "china")
    platform.namespace("dongchengqu", "china", "beijing")
    platform.nodegroup("shop-001", "china")
    platform.node("edge-node-7", "china")
    return platform
