"""The fixed cost of an authorized API request, in queries: once the process knows the token and the grants, a
workspace member's list asks the database for its rows and their clusters' names, and nothing else."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support import ApiClient, issue_token

# committed rows: grants and tokens read inside a transaction that changed them are never kept
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
URL = "/oapis/scope.theriseunion.io/v1alpha1/workspaces"


def test_a_members_list_costs_the_rows_and_their_clusters_names(platform, settings):
    # GIVEN a member of 3 of 5 workspaces whose token and grants this process has seen
    platform.cluster("c1")
    for i in range(5):
        platform.workspace(f"w{i}", "c1")
    member = platform.user("member")
    for i in range(3):
        platform.bind(f"m{i}", "workspace-viewer", "workspace", f"w{i}", cluster="c1", users=("member",))
    client = ApiClient(issue_token(member))
    settings.EDGE_AUTHZ_POLL_INTERVAL = 3600  # the change-log poll is timed, not per request: keep it out
    assert len(client.get(URL).json()["items"]) == 3
    # WHEN they list again
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(URL)
    # THEN two queries: the visible rows (one IN, no prefix test per workspace) and the clusters' names
    assert [item["metadata"]["name"] for item in answer.json()["items"]] == ["w0", "w1", "w2"]
    sql = [query["sql"] for query in queries.captured_queries]
    assert len(sql) == 2, sql
    assert sql[0].startswith('SELECT "clusters_workspace"') and " IN (" in sql[0] and "LIKE" not in sql[0]
    assert sql[1].startswith('SELECT "clusters_cluster"."id", "clusters_cluster"."name" FROM "clusters_cluster" '
                             'WHERE '), sql[1]
