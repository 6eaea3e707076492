"""List endpoints cost the same number of queries for 3 items as for 30 (no query per row)."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support import binding_manifest

BASE = "/oapis/scope.theriseunion.io/v1alpha1"
IAM = "/oapis/iam.theriseunion.io/v1alpha1"


def grow(platform, start, count):
    for i in range(start, start + count):
        platform.workspace(f"w{i}", "c1")
        platform.namespace(f"n{i}", "c1", f"w{i}")
        platform.node(f"x{i}", "c1", "g1")
        platform.user(f"u{i}", groups=(f"team{i}",))
        platform.apply(binding_manifest(f"b{i}", "workspace-viewer", "workspace", f"w{i}", users=(f"u{i}",)))


def queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), len(response.json()["items"])


@pytest.mark.parametrize("url", [f"{BASE}/clusters", f"{BASE}/workspaces", f"{BASE}/clusters/c1/namespaces",
                                 f"{BASE}/clusters/c1/nodes", f"{IAM}/iamroles", f"{IAM}/iamrolebindings",
                                 f"{IAM}/users", f"{IAM}/groups", f"{IAM}/roletemplates"])
@pytest.mark.parametrize("who", ["admin", "member"])
def test_list_query_count_does_not_grow_with_rows(platform, api, url, who):
    platform.cluster("c1")
    platform.nodegroup("g1", "c1")
    admin = platform.user("root", superuser=True)
    member = platform.user("member")
    platform.bind("member-c1", "cluster-viewer", "cluster", "c1", users=("member",))
    client = api(admin if who == "admin" else member)
    grow(platform, 0, 3)
    client.get(url)  # warm the caches a first request fills
    small, small_rows = queries(client, url)
    grow(platform, 3, 27)
    client.get(url)
    large, large_rows = queries(client, url)
    assert large == small, f"{url}: {small} queries for {small_rows} rows, {large} for {large_rows}"
