"""A workspace's template on its member cluster (``clusters.workspaces``), against the emulated API server: the
template namespaces created with the workspace label and recreated after a deletion there, quotas written and
changed, the status counted and written only when it changes, a member that fails retried."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from clusters.models import Namespace, Workspace
from clusters.workspaces import CONTROLLER, QUOTA_NAME
from edgeplatform import kube as gateway
from edgeplatform.controllers.engine import reconcile
from iam.audit.models import AuditEvent
from tests.clusters.sites import CLUSTER_LABEL, FAST, GROUP, connect, core, sync_members
from tests.support import ApiClient


@pytest.fixture
def edge(kube_clusters, platform, eager_celery):
    (emulator,) = kube_clusters(1)
    gateway.forget_clients()
    with override_settings(**FAST):
        connect(platform, emulator)
        yield emulator, core(emulator)
    gateway.forget_clients()


def workspace(platform, spec: dict, name: str = "shop") -> Workspace:
    platform.apply({"apiVersion": GROUP, "kind": "Workspace",
                    "metadata": {"name": name, "labels": {CLUSTER_LABEL: "edge"}}, "spec": spec})
    return Workspace.objects.get(name=name)


def run(name: str = "shop"):
    return reconcile(CONTROLLER, Workspace.objects.get(name=name).pk)


TEMPLATE = {"template": {"namespaces": ["orders", "billing"],
                         "resourceQuotas": {"requests.cpu": "4", "pods": "20"}}}


def test_template_namespaces_and_quotas_are_created_on_the_member_and_the_status_is_counted(edge, platform):
    _emulator, api = edge
    workspace(platform, TEMPLATE)
    # WHEN the workspace is reconciled
    outcome = run()
    assert outcome.result == "success", outcome
    # THEN both namespaces exist on the member, labelled into the workspace, each with the quota
    for name in ("orders", "billing"):
        labels = api.read_namespace(name).metadata.labels
        assert labels["theriseunion.io/workspace"] == "shop" and labels["theriseunion.io/managed"] == "true"
        quota = api.read_namespaced_resource_quota(QUOTA_NAME, name)
        assert quota.spec.hard == {"requests.cpu": "4", "pods": "20"}
        managers = {m.manager for m in api.read_namespace(name).metadata.managed_fields}
        assert "edge-platform" in managers
    # AND the member sync brought them into the platform, in the workspace, and the status counts them
    sync_members()
    assert set(Namespace.objects.filter(workspace__name="shop").values_list("name", flat=True)) == {"orders",
                                                                                                    "billing"}
    run()
    status = Workspace.objects.get(name="shop").status
    assert status["phase"] == "Active" and status["namespaceCount"] == 2 and status["memberCount"] == 0
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Ready": "True"}


def test_a_template_namespace_deleted_on_the_member_is_created_again(edge, platform):
    _emulator, api = edge
    workspace(platform, TEMPLATE)
    assert run().result == "success"
    # WHEN someone deletes one on the member
    api.delete_namespace("billing")
    # THEN the next reconcile creates it again, with its quota
    assert run().result == "success"
    assert api.read_namespace("billing").metadata.labels["theriseunion.io/workspace"] == "shop"
    assert api.read_namespaced_resource_quota(QUOTA_NAME, "billing").spec.hard["pods"] == "20"


def test_a_reconcile_with_nothing_to_do_writes_nothing(edge, platform):
    emulator, _ = edge
    workspace(platform, TEMPLATE)
    assert run().result == "success"
    sync_members()
    run()
    emulator.requests.clear()
    audited = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as queries:
        assert run().result == "success"
    assert emulator.requests.count_writes() == 0
    assert not [q for q in queries.captured_queries if "clusters_workspace" in q["sql"]
                and q["sql"].lstrip().upper().startswith("UPDATE")]
    assert AuditEvent.objects.count() == audited


def test_a_changed_quota_is_applied_and_an_emptied_one_removed(edge, platform):
    _, api = edge
    workspace(platform, TEMPLATE)
    assert run().result == "success"
    workspace(platform, {"template": {"namespaces": ["orders", "billing"], "resourceQuotas": {"pods": "5"}}})
    assert run().result == "success"
    assert api.read_namespaced_resource_quota(QUOTA_NAME, "orders").spec.hard == {"pods": "5"}
    workspace(platform, {"template": {"namespaces": ["orders", "billing"]}})
    assert run().result == "success"
    assert api.list_namespaced_resource_quota("orders").items == []


def test_a_namespace_removed_from_the_template_stays_on_the_member_in_the_workspace(edge, platform):
    _, api = edge
    workspace(platform, TEMPLATE)
    assert run().result == "success"
    workspace(platform, {"template": {"namespaces": ["orders"]}})
    assert run().result == "success"
    assert api.read_namespace("billing").metadata.labels["theriseunion.io/workspace"] == "shop"


@pytest.mark.parametrize("fault", ["unavailable", "conflict", "no answer"])
def test_a_member_that_fails_leaves_the_workspace_pending_and_retried_then_it_completes(edge, platform, fault):
    emulator, api = edge
    workspace(platform, TEMPLATE)
    if fault == "no answer":  # held past the client's read timeout, then refused: the write changed nothing
        emulator.delay_next(1, seconds=2.5, status=503)
    else:
        emulator.fail_next(1, status=503 if fault == "unavailable" else 409)
    outcome = run()
    assert outcome.result == "retry"
    status = Workspace.objects.get(name="shop").status
    assert status["phase"] == "Pending" and status["step"] == "ensure_namespaces" and status["retryCount"] == 1
    assert run().result == "success"
    assert api.read_namespace("orders").metadata.labels["theriseunion.io/workspace"] == "shop"
    assert Workspace.objects.get(name="shop").status["phase"] == "Active"


def test_a_namespace_of_another_workspace_is_refused_by_name(edge, platform):
    _, api = edge
    workspace(platform, {}, name="other")
    api.create_namespace({"metadata": {"name": "orders", "labels": {"theriseunion.io/workspace": "other"}}})
    workspace(platform, TEMPLATE)
    assert run().result == "permanent"
    status = Workspace.objects.get(name="shop").status
    assert status["reason"] == "NamespaceInOtherWorkspace" and '"orders"' in status["message"]


def test_the_member_count_counts_subjects_bound_at_the_workspace(edge, platform):
    workspace(platform, TEMPLATE)
    alice, bob = platform.user("alice"), platform.user("bob")
    platform.bind("shop-admins", "workspace-admin", "workspace", "shop", users=(alice.name, bob.name))
    assert run().result == "success"
    assert Workspace.objects.get(name="shop").status["memberCount"] == 2


def test_the_status_is_served_by_the_api(edge, platform):
    workspace(platform, TEMPLATE)
    run()
    admin = ApiClient.for_user(platform.user("root", superuser=True))
    body = admin.get(f"/oapis/{GROUP}/workspaces/shop").json()
    assert body["status"]["phase"] == "Active" and body["status"]["namespaceCount"] == 0
