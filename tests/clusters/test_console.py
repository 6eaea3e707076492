"""The console's fleet overview and the import of a physical cluster, through the Django test client as a browser
would use them: what the page shows, its filters, a scoped user's view, its query count; the import form's
connection check against emulated API servers (good, 401, DNS, timeout, save anyway)."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext

from clusters.console import relative_age
from clusters.models import Cluster, Node
from edgeplatform.controllers import clock
from edgeplatform.controllers.status import format_time

FLEET = "/console/fleet/"
ADD = "/console/clusters/cluster/add/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def reported(name: str, *, ready: bool, phase: str = "", version: str = "v1.29.4", age: float = 30,
             runtime: str | None = None, reason: str = "") -> Cluster:
    """Give cluster ``name`` the status its health check would have written (and an edge runtime)."""
    obj = Cluster.objects.get(name=name)
    condition = {"type": "Ready", "status": "True" if ready else "False",
                 "reason": "Healthy" if ready else reason, "message": "" if ready else f"{reason} message"}
    obj.status = {"phase": "Ready" if ready else phase, "kubernetesVersion": version,
                  "lastHeartbeatTime": format_time(clock.now() - timedelta(seconds=age)),
                  "conditions": [condition]}
    if runtime:
        obj.spec = {**obj.spec, "edgeRuntime": {"type": runtime}}
    obj.save()
    return obj


def node_ready(name: str, cluster: str, value: str) -> None:
    Node.objects.filter(name=name, cluster__name=cluster).update(status={"ready": value})


@pytest.fixture
def fleet(platform):
    """edge-a (kubeedge, Ready; group g-north with 3 nodes, one NotReady; workspace shop with 2 namespaces; one
    loose node), edge-b (Unreachable, stale heartbeat; group g-south, 1 node Unknown), vc (virtual, Pending)."""
    platform.cluster("edge-a")
    platform.cluster("edge-b")
    platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "vc"},
                    "spec": {"type": "virtual"}})
    platform.nodegroup("g-north", "edge-a")
    platform.nodegroup("g-south", "edge-b")
    platform.workspace("shop", "edge-a")
    platform.namespace("shop-web", "edge-a", "shop")
    platform.namespace("shop-db", "edge-a", "shop")
    for index in range(3):
        platform.node(f"north-{index}", "edge-a", "g-north")
        node_ready(f"north-{index}", "edge-a", "True" if index else "False")
    platform.node("loose-1", "edge-a")
    node_ready("loose-1", "edge-a", "True")
    platform.node("south-0", "edge-b", "g-south")
    node_ready("south-0", "edge-b", "Unknown")
    reported("edge-a", ready=True, runtime="kubeedge", age=90)
    reported("edge-b", ready=False, phase="Unreachable", reason="Timeout", age=4 * 3600)
    platform.user("root", superuser=True)
    return platform


def page(client, **params) -> str:
    response = client.get(FLEET, params)
    assert response.status_code == 200
    return response.content.decode()


def row(html: str, name: str) -> str:
    return re.search(rf'<tr id="row-{name}".*?</tr>', html, re.S).group(0)


def tile(html: str, name: str) -> str:
    return re.search(rf'<div class="fleet-tile[^"]*" id="tile-{name}".*?\n    </div>', html, re.S).group(0)


def listed(html: str) -> list[str]:
    return sorted(re.findall(r'<tr id="row-([^"]+)"', html))


def test_the_overview_shows_each_cluster_with_its_health_nodes_and_heartbeat(fleet):
    html = page(root_client())
    assert listed(html) == ["edge-a", "edge-b", "vc"]
    a = row(html, "edge-a")
    assert "physical" in a and "kubeedge" in a and "v1.29.4" in a and ">Ready<" in a
    assert '<td data-field="nodes">3/4</td>' in a and "1 min ago" in a and "stale" not in a
    b = row(html, "edge-b")
    assert ">Unreachable<" in b and '<td data-field="nodes">0/1</td>' in b and "4 h ago" in b and "stale" in b
    assert 'class="fleet-red"' in b and 'class="fleet-amber"' in a  # edge-a has a node down
    vc = row(html, "vc")
    assert "virtual" in vc and "none" in vc and "never" in vc
    # the picture: groups with ready / not-ready nodes and the names of those down, workspaces with namespaces
    north = tile(html, "edge-a")
    assert 'data-health="amber"' in north
    assert "2/3 Ready" in north and "1 not Ready: north-0" in north
    assert 'data-group="(no group)"' in north and "1/1 Ready" in north
    assert "shop · 2 namespaces" in north
    south = tile(html, "edge-b")
    assert 'data-health="red"' in south and "0/1 Ready" in south and "south-0" in south
    assert "Timeout: Timeout message" in south and "heartbeat stale" in south
    assert "nodes 3/5 Ready" in html


def root_client():
    from iam.models import User

    return signed_in(User.objects.get(name="root"))


@pytest.mark.parametrize("params, expected", [
    ({"type": "virtual"}, ["vc"]),
    ({"type": "physical"}, ["edge-a", "edge-b"]),
    ({"runtime": "kubeedge"}, ["edge-a"]),
    ({"runtime": "none"}, ["edge-b", "vc"]),
    ({"ready": "ready"}, ["edge-a"]),
    ({"ready": "notready"}, ["edge-b", "vc"]),
    ({"q": "EDGE"}, ["edge-a", "edge-b"]),
    ({"q": "-b", "ready": "notready"}, ["edge-b"]),
    ({"q": "nothing"}, []),
])
def test_the_filters(fleet, params, expected):
    html = page(root_client(), **params)
    assert listed(html) == expected
    if not expected:
        assert "No clusters match." in html


def test_a_scoped_user_sees_only_their_cluster_and_a_stranger_no_page(fleet):
    fleet.user("viewer")
    fleet.bind("viewer-edge-b", "cluster-viewer", "cluster", "edge-b", users=("viewer",))
    from iam.models import User

    html = page(signed_in(User.objects.get(name="viewer")))
    assert listed(html) == ["edge-b"] and "tile-edge-a" not in html and "north-0" not in html
    assert "g-south" in html and 'id="fleet-import"' not in html
    fleet.user("stranger")
    assert signed_in(User.objects.get(name="stranger")).get(FLEET).status_code == 403
    assert 'id="fleet-import"' in page(root_client())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_query_count_does_not_grow_with_the_clusters(fleet):
    # (a transactional test: inside a test's transaction that wrote IAM data the engine caches no grants, and every
    # check of the console's menu would be a query)
    client = root_client()
    page(client)  # warm the engine's caches
    with CaptureQueriesContext(connection) as few:
        page(client)
    for index in range(12):
        name = f"more-{index}"
        fleet.cluster(name)
        fleet.nodegroup(f"{name}-g", name)
        fleet.workspace(f"{name}-ws", name)
        fleet.node(f"{name}-n", name, f"{name}-g")
        reported(name, ready=True)
    page(client)
    with CaptureQueriesContext(connection) as many:
        html = page(client)
    assert len(listed(html)) == 15
    assert len(many.captured_queries) == len(few.captured_queries)
    assert len(many.captured_queries) <= 15  # a fixed number, whatever the number of clusters


def test_relative_ages():
    assert [relative_age(s) for s in (3, 42, 150, 7300, 200000)] == [
        "just now", "42 s ago", "2 min ago", "2 h ago", "2 d ago"]


# --- import -----------------------------------------------------------------------------------------------------

FAST = {"EDGE_CLUSTER_HEALTH_TIMEOUT": 0.5}


def import_form(client, **fields):
    body = {"name": "site-1", "type": "physical", "provider": "", "kubeconfig": "", "endpoint": "", "token": "",
            "ca_certificate": "", **fields}
    return client.post(ADD, body)


def field_errors(html: str, field: str) -> str:
    match = re.search(rf'<div class="form-row[^"]*field-{field}.*?</div>\s*</div>', html, re.S)
    return match.group(0) if match else ""


@override_settings(**FAST)
def test_a_good_kubeconfig_is_checked_saved_and_ready(kube_clusters, platform, eager_celery,
                                                      django_capture_on_commit_callbacks):
    (member,) = kube_clusters(1, tls=True)
    member.add_node("edge-0")
    platform.user("root", superuser=True)
    member.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = import_form(root_client(), kubeconfig=json.dumps(member.kubeconfig()))
    assert response.status_code == 302, response.content.decode()[:3000]
    obj = Cluster.objects.get(name="site-1")
    assert obj.ready and obj.status["phase"] == "Ready" and obj.status["nodeCount"] == 1
    assert "kubeconfig" not in json.dumps(obj.spec) and obj.connection_secret
    assert member.requests.count(path="/version") == 2  # the form's check, then the controller's


@override_settings(**FAST)
def test_endpoint_token_and_ca_are_checked_and_saved(kube_clusters, platform):
    import base64

    (member,) = kube_clusters(1, tokens=["s3cret"], tls=True)
    platform.user("root", superuser=True)
    ca = base64.b64decode(member.ca_data).decode()
    response = import_form(root_client(), endpoint=member.url, token="s3cret", ca_certificate=ca)
    assert response.status_code == 302
    obj = Cluster.objects.get(name="site-1")
    assert obj.spec["connection"]["kubernetesAPIEndpoint"] == member.url and "s3cret" not in json.dumps(obj.spec)


@pytest.mark.parametrize("case, words", [
    ("unauthorized", "401 Unauthorized: the API server refused the credentials (Unauthorized)"),
    ("dns", "the API server's DNS name was not found (DNSNameNotFound)"),
    ("timeout", "the API server did not answer in time (0.5 s) (Timeout)"),
    ("untrusted", "TLS certificate is not trusted"),
])
@override_settings(**FAST)
def test_a_failed_check_is_shown_on_the_field_and_nothing_is_saved(kube_clusters, platform, case, words):
    tokens = ["s3cret"] if case == "unauthorized" else None
    (member,) = kube_clusters(1, tokens=tokens, tls=case == "untrusted")
    platform.user("root", superuser=True)
    if case == "unauthorized":
        fields = {"endpoint": member.url, "token": "wrong"}
    elif case == "dns":
        document = member.kubeconfig()
        document["clusters"][0]["cluster"]["server"] = "https://no-such-host.invalid:6443"
        fields = {"kubeconfig": json.dumps(document)}
    elif case == "timeout":
        member.delay_next(1, seconds=1.5)
        fields = {"kubeconfig": json.dumps(member.kubeconfig())}
    else:
        fields = {"endpoint": member.url}
    response = import_form(root_client(), **fields)
    html = response.content.decode()
    assert response.status_code == 200
    target = "kubeconfig" if "kubeconfig" in fields else "endpoint"
    errors = field_errors(html, target)
    assert "The connection check failed" in errors and words in errors.replace("&#x27;", "'"), errors
    assert "Save anyway" in html and not Cluster.objects.filter(name="site-1").exists()


@override_settings(**FAST)
def test_save_anyway_stores_an_offline_site(platform):
    platform.user("root", superuser=True)
    response = import_form(root_client(), endpoint="https://no-such-host.invalid:6443", token="t", save_anyway="on")
    assert response.status_code == 302
    obj = Cluster.objects.get(name="site-1")
    assert obj.spec["connection"]["kubernetesAPIEndpoint"] == "https://no-such-host.invalid:6443"


def test_a_kubeconfig_that_would_run_a_command_is_refused_on_the_field(platform):
    platform.user("root", superuser=True)
    document = {"apiVersion": "v1", "kind": "Config", "current-context": "x",
                "clusters": [{"name": "x", "cluster": {"server": "https://10.0.0.1:6443"}}],
                "users": [{"name": "x", "user": {"exec": {"command": "/bin/sh"}}}],
                "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}
    response = import_form(root_client(), kubeconfig=json.dumps(document), save_anyway="on")
    assert response.status_code == 200
    assert "would run a command on the platform host" in field_errors(response.content.decode(), "kubeconfig")
    assert not Cluster.objects.filter(name="site-1").exists()


# --- the same check through the API ------------------------------------------------------------------------------

CHECK = "/oapis/scope.theriseunion.io/v1alpha1/clusters/{}/connectioncheck"


@override_settings(**FAST)
def test_the_api_checks_a_connection_before_it_is_stored_and_a_stored_one(kube_clusters, platform, api):
    (member,) = kube_clusters(1, tokens=["s3cret"])
    member.add_node("edge-0")
    root = platform.user("root", superuser=True)
    client = api(root)
    # a connection not stored yet: a wrong token is refused in words, the right one answers; nothing is written
    wrong = client.post(CHECK.format("site-9"), {"spec": {"connection": {"kubernetesAPIEndpoint": member.url,
                                                                          "token": "wrong"}}})
    assert wrong.status_code == 200
    assert wrong.json()["status"] | {"message": ""} == {"ok": False, "phase": "Failed", "reachable": True,
                                                        "reason": "Unauthorized", "message": "",
                                                        "kubernetesVersion": "", "nodeCount": 0}
    right = client.post(CHECK.format("site-9"), {"spec": {"connection": {"kubernetesAPIEndpoint": member.url,
                                                                          "token": "s3cret"}}}).json()
    assert right["status"]["ok"] and right["status"]["nodeCount"] == 1 and "s3cret" not in json.dumps(right)
    assert not Cluster.objects.filter(name="site-9").exists()
    # a bad field is a 422 naming it
    bad = client.post(CHECK.format("site-9"), {"spec": {"connection": {"kubernetesAPIServerPort": 70000}}})
    assert bad.status_code == 422
    assert bad.json()["details"]["causes"][0]["field"] == "spec.connection.kubernetesAPIServerPort"
    # the stored connection of an existing cluster (empty body)
    platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "edge"},
                    "spec": {"type": "physical", "connection": {"kubernetesAPIEndpoint": member.url,
                                                                "token": "s3cret"}}})
    stored = client.post(CHECK.format("edge"), {}).json()
    assert stored["status"]["ok"] and stored["status"]["kubernetesVersion"].startswith("v1.")


def test_the_api_check_asks_the_engine(platform, api):
    platform.cluster("edge-a")
    platform.cluster("edge-b")
    platform.user("viewer")
    platform.bind("viewer-edge-a", "cluster-viewer", "cluster", "edge-a", users=("viewer",))
    from iam.models import User

    client = api(User.objects.get(name="viewer"))
    assert client.post(CHECK.format("edge-b"), {}).status_code == 404  # not theirs: not found, as GET answers
    assert client.post(CHECK.format("edge-a"), {}).status_code == 403  # a viewer may not run checks
    assert client.post(CHECK.format("new"), {"spec": {"connection": {"kubernetesAPIEndpoint": "https://x:6443"}}}
                       ).status_code == 403
