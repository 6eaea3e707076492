"""Who may read, upload and delete in which chart repository: the permission engine decides, through the built-in
role templates (``cluster-view-charts``, ``cluster-manage-charts``, ``platform-view-charts``,
``platform-manage-charts``)."""
from __future__ import annotations

import pytest
from django.test import Client

from charts import access, store
from tests.charts.conftest import archive, bearer

ANYONE = None
#: repository → user → (read, upload, delete) status codes. A cluster the user holds no binding on or below is
#: answered as missing (404); a platform binding (``regular``) knows every cluster, but reads ``library`` only.
MATRIX = {
    "c1": {ANYONE: (401, 401, 401), "nobody": (404, 404, 404), "admin1": (200, 201, 200),
           "viewer1": (200, 403, 403), "regular": (403, 403, 403), "root": (200, 201, 200)},
    "c2": {ANYONE: (401, 401, 401), "nobody": (404, 404, 404), "admin1": (404, 404, 404),
           "viewer1": (404, 404, 404), "regular": (403, 403, 403), "root": (200, 201, 200)},
    "library": {ANYONE: (401, 401, 401), "nobody": (403, 403, 403), "admin1": (403, 403, 403),
                "viewer1": (403, 403, 403), "regular": (200, 403, 403), "root": (200, 201, 200)},
}
CASES = [(repository, user) for repository, users in MATRIX.items() for user in users]


@pytest.mark.parametrize("repository, who", CASES, ids=[f"{r}-{u or 'anonymous'}" for r, u in CASES])
def test_permission_matrix(people, repository, who):
    # GIVEN demo 0.1.0 in every repository
    for name in MATRIX:
        store.put(name, archive("demo", "0.1.0"))
    headers = bearer(people[who][1]) if who else {}
    client = Client()
    read, upload, delete = MATRIX[repository][who]
    # WHEN the user reads, uploads and deletes; THEN the engine's answers
    assert client.get(f"/chartrepo/{repository}/index.yaml", **headers).status_code == read
    assert client.get(f"/chartrepo/{repository}/charts/demo-0.1.0.tgz", **headers).status_code == read
    assert client.get(f"/api/chartrepo/{repository}/charts", **headers).status_code == read
    assert client.post(f"/api/chartrepo/{repository}/charts", data=archive("demo", "0.2.0"),
                       content_type="application/gzip", **headers).status_code == upload
    assert client.delete(f"/api/chartrepo/{repository}/charts/demo/0.1.0", **headers).status_code == delete
    # and what was refused changed nothing
    stored = set(store.ChartVersion.objects.filter(repository=repository).values_list("version", flat=True))
    assert stored == {"0.2.0"} if upload == 201 else stored == {"0.1.0"}


def test_overwriting_needs_update_besides_create(people, platform):
    # GIVEN a role allowing to create charts at c1 but not to update them
    from tests.factories.iam import IAMRoleFactory, rule

    IAMRoleFactory.apply(name="chart-uploader", level="cluster",
                         rules=[rule("ext.theriseunion.io", "charts", "get", "list", "create")])
    platform.bind("up", "chart-uploader", "cluster", "c1", users=("nobody",))
    headers = bearer(people["nobody"][1])
    client = Client()
    url = "/api/chartrepo/c1/charts"
    assert client.post(url, data=archive("demo", "0.1.0"), content_type="application/gzip",
                       **headers).status_code == 201
    # WHEN they force an existing version THEN 403; a new version with ?force is only a create
    assert client.post(f"{url}?force", data=archive("demo", "0.1.0", description="other"),
                       content_type="application/gzip", **headers).status_code == 403
    assert client.post(f"{url}?force", data=archive("demo", "0.2.0"), content_type="application/gzip",
                       **headers).status_code == 201


def test_readable_lists_the_repositories_a_user_may_read(people):
    assert [name for name, _ in access.readable(people["root"][0])] == ["library", "c1", "c2"]
    assert [name for name, _ in access.readable(people["admin1"][0])] == ["c1"]
    assert [name for name, _ in access.readable(people["regular"][0])] == ["library"]
    assert access.readable(people["nobody"][0]) == []
