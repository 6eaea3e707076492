"""ChartMuseum's API in Harbor's layout, as Helm, the cm-push plugin and a ChartMuseum client use it."""
from __future__ import annotations

import hashlib
import os

import pytest
import yaml
from django.test import Client

from charts import store
from charts.models import ChartVersion
from tests.charts.conftest import WEB, archive, basic, bearer

API = "/api/chartrepo"


@pytest.fixture
def root(people):
    """A client of the platform administrator (bearer token)."""
    return _Client(people["root"][1])


class _Client:
    """A test client that sends one user's bearer token with every request."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.headers = bearer(token) if token else {}

    def get(self, url, **extra):
        return self.client.get(url, **self.headers, **extra)

    def delete(self, url):
        return self.client.delete(url, **self.headers)

    def upload(self, repository: str, data: bytes, query: str = ""):
        """A raw body, as ``curl --data-binary @chart.tgz`` sends it."""
        return self.client.post(f"{API}/{repository}/charts{query}", data=data, content_type="application/gzip",
                                **self.headers)

    def upload_form(self, repository: str, data: bytes, filename: str = "chart.tgz", query: str = ""):
        """A multipart form with the field ``chart``, as ``helm cm-push`` sends it."""
        from django.core.files.uploadedfile import SimpleUploadedFile

        return self.client.post(f"{API}/{repository}/charts{query}",
                                {"chart": SimpleUploadedFile(filename, data, "application/gzip")}, **self.headers)


def index_of(client, repository: str) -> dict:
    response = client.get(f"/chartrepo/{repository}/index.yaml")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/x-yaml"
    return yaml.safe_load(response.content)


def test_raw_upload_appears_in_the_index_with_its_chart_fields_digest_and_url(root):
    # GIVEN an archive whose Chart.yaml declares a dependency
    data = archive("stack", "1.2.0", appVersion="9.9", description="A stack",
                   dependencies=[{"name": "web", "version": "0.1.0", "repository": "file://../web"}])
    # WHEN it is uploaded as a raw body
    response = root.upload("library", data)
    # THEN ChartMuseum's answer, and index.yaml lists it from its metadata, with the archive's sha256
    assert response.status_code == 201 and response.json() == {"saved": True}
    (entry,) = index_of(root, "library")["entries"]["stack"]
    assert entry["name"] == "stack" and entry["version"] == "1.2.0" and entry["appVersion"] == "9.9"
    assert entry["apiVersion"] == "v2" and entry["description"] == "A stack"
    assert entry["dependencies"] == [{"name": "web", "version": "0.1.0", "repository": "file://../web"}]
    assert entry["urls"] == ["charts/stack-1.2.0.tgz"]
    assert entry["digest"] == hashlib.sha256(data).hexdigest()
    assert entry["created"].endswith("Z")


def test_multipart_upload_then_download_gives_the_same_bytes(root):
    data = archive("demo", "0.3.0")
    assert root.upload_form("library", data, "demo-0.3.0.tgz").status_code == 201
    response = root.get("/chartrepo/library/charts/demo-0.3.0.tgz")
    assert response.status_code == 200 and response["Content-Type"] == "application/gzip"
    assert b"".join(response.streaming_content) == data
    assert root.get("/chartrepo/library/charts/demo-9.9.9.tgz").status_code == 404


def test_an_archive_lost_by_the_storage_is_503_not_a_crash(root, chart_storage):
    assert root.upload("library", archive("demo", "0.1.0")).status_code == 201
    (chart_storage / ChartVersion.objects.get().file).unlink()
    response = root.get("/chartrepo/library/charts/demo-0.1.0.tgz")
    assert response.status_code == 503
    assert response.json() == {"error": "demo-0.1.0.tgz cannot be read from the chart storage"}


def test_a_name_with_dashes_downloads_by_its_file_name(root):
    data = archive("my-web-app", "1.0.0-rc.1", source=WEB)
    assert root.upload("library", data).status_code == 201
    response = root.get("/chartrepo/library/charts/my-web-app-1.0.0-rc.1.tgz")
    assert response.status_code == 200 and b"".join(response.streaming_content) == data


def test_an_existing_version_is_409_unless_forced(root):
    first, second = archive("demo", "0.1.0"), archive("demo", "0.1.0", description="changed")
    assert root.upload("library", first).status_code == 201
    conflict = root.upload("library", second)
    assert conflict.status_code == 409 and "already exists" in conflict.json()["error"]
    assert index_of(root, "library")["entries"]["demo"][0]["digest"] == hashlib.sha256(first).hexdigest()
    # ?force (the cm-push plugin's --force) and ?force=true both overwrite
    assert root.upload("library", second, "?force").status_code == 201
    assert index_of(root, "library")["entries"]["demo"][0]["digest"] == hashlib.sha256(second).hexdigest()
    assert root.upload_form("library", first, query="?force=true").status_code == 201
    assert ChartVersion.objects.get(repository="library", name="demo").digest == hashlib.sha256(first).hexdigest()
    assert root.upload("library", second, "?force=false").status_code == 409


def test_list_and_get_answer_as_chartmuseum(root):
    for version in ("0.1.0", "0.10.0", "0.2.0", "1.0.0-beta.1"):
        assert root.upload("c1", archive("demo", version)).status_code == 201
    assert root.upload("c1", archive("web", "0.1.0", source=WEB)).status_code == 201
    listed = root.get(f"{API}/c1/charts").json()
    assert sorted(listed) == ["demo", "web"]
    # newest first, by semantic version (a pre-release after nothing it precedes)
    assert [v["version"] for v in listed["demo"]] == ["1.0.0-beta.1", "0.10.0", "0.2.0", "0.1.0"]
    assert [v["version"] for v in root.get(f"{API}/c1/charts/demo").json()] == [
        "1.0.0-beta.1", "0.10.0", "0.2.0", "0.1.0"]
    one = root.get(f"{API}/c1/charts/demo/0.2.0").json()
    assert one["version"] == "0.2.0" and one["urls"] == ["charts/demo-0.2.0.tgz"]
    assert root.get(f"{API}/c1/charts/demo/latest").json()["version"] == "0.10.0"  # the newest stable
    missing = root.get(f"{API}/c1/charts/nothing")
    assert missing.status_code == 404 and missing.json() == {"error": "chart not found"}
    assert root.get(f"{API}/c1/charts/demo/3.0.0").status_code == 404
    assert root.get(f"{API}/c2/charts").json() == {}  # each cluster has its own repository


def test_delete_a_version_then_the_whole_chart(root, chart_storage, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        for version in ("0.1.0", "0.2.0", "0.3.0"):
            assert root.upload("library", archive("demo", version)).status_code == 201
        assert index_of(root, "library")["entries"]["demo"][0]["version"] == "0.3.0"
        response = root.delete(f"{API}/library/charts/demo/0.3.0")
    assert response.status_code == 200 and response.json() == {"deleted": True}
    assert [v["version"] for v in index_of(root, "library")["entries"]["demo"]] == ["0.2.0", "0.1.0"]
    assert root.get("/chartrepo/library/charts/demo-0.3.0.tgz").status_code == 404
    assert len(list((chart_storage / "library").iterdir())) == 2  # its archive left the storage
    assert root.delete(f"{API}/library/charts/demo/0.3.0").status_code == 404
    with django_capture_on_commit_callbacks(execute=True):
        assert root.delete(f"{API}/library/charts/demo").json() == {"deleted": True}
    assert index_of(root, "library")["entries"] == {}
    assert list((chart_storage / "library").iterdir()) == []
    assert root.delete(f"{API}/library/charts/demo").status_code == 404


def test_index_is_cached_and_revalidated_by_etag(root):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert root.upload("library", archive("demo", "0.1.0")).status_code == 201
    first = root.get("/chartrepo/library/index.yaml")
    # a second read renders nothing: no query of chart rows, only authentication's
    with CaptureQueriesContext(connection) as queries:
        again = root.get("/chartrepo/library/index.yaml")
    assert again.content == first.content
    assert not [q for q in queries.captured_queries if "charts_chartversion" in q["sql"]]
    unchanged = root.get("/chartrepo/library/index.yaml", HTTP_IF_NONE_MATCH=first["ETag"])
    assert unchanged.status_code == 304
    # an upload invalidates it
    assert root.upload("library", archive("demo", "0.2.0")).status_code == 201
    changed = root.get("/chartrepo/library/index.yaml", HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    assert [v["version"] for v in yaml.safe_load(changed.content)["entries"]["demo"]] == ["0.2.0", "0.1.0"]


def test_health_answers_anyone(db):
    for url in (f"{API}/health", f"{API}/library/health"):
        response = Client().get(url)
        assert response.status_code == 200 and response.json() == {"healthy": True}


def test_unknown_repository_is_404(root):
    response = root.get("/chartrepo/nowhere/index.yaml")
    assert response.status_code == 404 and response.json() == {"error": "repository nowhere not found"}
    assert root.upload("nowhere", archive()).status_code == 404


# ----- bad archives -----

def _not_tar() -> bytes:
    import gzip

    return gzip.compress(b"just some text, no tar archive")


@pytest.mark.parametrize("body, problem", [
    (b"PK\x03\x04 this is a zip file", "not a gzipped tar archive"),
    (_not_tar(), "not a gzipped tar archive"),
    (archive("demo", "0.1.0", top="other"), 'under "other/", not under its name "demo/"'),
    (archive("demo", "one"), "not a semantic version"),
    (archive("demo", ""), "needs a name and a version"),
    (archive("", "0.1.0", top="demo"), "needs a name and a version"),
    (archive("de mo", "0.1.0"), "is not a chart name"),
])
def test_a_bad_archive_is_refused_and_stores_nothing(root, chart_storage, body, problem):
    response = root.upload("library", body)
    assert response.status_code == 400
    assert problem in response.json()["error"] and response.json()["error"].startswith("invalid chart archive")
    assert not ChartVersion.objects.exists()
    assert not chart_storage.exists() or not any(chart_storage.rglob("*.tgz"))


def test_yaml_dates_in_chart_yaml_are_kept_as_strings(root):
    import datetime

    data = archive("demo", "0.1.0", annotations={"released": datetime.date(2026, 1, 2)})
    assert root.upload("library", data).status_code == 201
    assert index_of(root, "library")["entries"]["demo"][0]["annotations"] == {"released": "2026-01-02"}


def test_delete_names_an_exact_version(root):
    assert root.upload("library", archive("demo", "0.1.0")).status_code == 201
    assert root.delete(f"{API}/library/charts/demo/latest").status_code == 404
    assert ChartVersion.objects.filter(name="demo").exists()


def test_an_archive_without_chart_yaml_is_refused(root, chart_storage):
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("demo/values.yaml")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"a: 1"[:3]))
    response = root.upload_form("library", buffer.getvalue())
    assert response.status_code == 400 and "no Chart.yaml" in response.json()["error"]
    assert not ChartVersion.objects.exists() and not any(chart_storage.rglob("*.tgz"))


def test_an_archive_over_the_limit_is_refused_before_it_is_read(root, settings, chart_storage):
    settings.EDGE_CHART_MAX_BYTES = 4096
    # a body whose Content-Length is over the limit (and its slack) is not read at all
    client = Client()
    response = client.generic("POST", f"{API}/library/charts", b"", content_type="application/gzip",
                              HTTP_CONTENT_LENGTH=str(10 * 1024 * 1024), CONTENT_LENGTH=str(10 * 1024 * 1024),
                              **root.headers)
    assert response.status_code == 413 and "4096 bytes" in response.json()["error"]
    # a body just over the limit (within the slack) is read to the limit and refused
    padded = archive("demo", "0.1.0") + b"\0" * 8192
    response = root.upload("library", padded)
    assert response.status_code == 413
    response = root.upload_form("library", padded)
    assert response.status_code == 413
    assert not ChartVersion.objects.exists() and not any(chart_storage.rglob("*.tgz"))


def test_an_archive_larger_than_the_api_body_limit_but_within_the_chart_limit_is_taken(root, settings, tmp_path):
    # GIVEN a chart of 5 MiB (incompressible), over the API's 3 MiB body limit, under the 20 MiB chart limit
    import shutil

    source = tmp_path / "big"
    shutil.copytree(WEB, source)
    (source / "files").mkdir()
    (source / "files" / "blob.bin").write_bytes(os.urandom(5 * 1024 * 1024))
    data = archive("big", "1.0.0", source=source)
    assert len(data) > settings.EDGE_API_MAX_BODY
    # WHEN it is uploaded raw and as a form THEN both are stored whole
    assert root.upload("library", data).status_code == 201
    assert root.upload_form("library", data, query="?force").status_code == 201
    response = root.get("/chartrepo/library/charts/big-1.0.0.tgz")
    assert b"".join(response.streaming_content) == data


def test_an_empty_body_or_form_without_chart_is_400(root):
    assert root.upload("library", b"").status_code == 400
    response = root.client.post(f"{API}/library/charts", {"other": "x"}, **root.headers)
    assert response.status_code == 400 and response.json() == {"error": 'the multipart form has no "chart" field'}


# ----- authentication -----

def test_basic_auth_with_a_token_as_helm_sends_it(people):
    store.put("library", archive())
    token = people["regular"][1]
    client = Client()
    assert client.get("/chartrepo/library/index.yaml", **basic("regular", token)).status_code == 200
    assert client.get("/chartrepo/library/index.yaml", **basic("", token)).status_code == 200
    assert client.get("/chartrepo/library/index.yaml", **bearer(token)).status_code == 200
    # a token of someone else's, a password, a made-up token: 401 with the Basic challenge again
    for headers in (basic("root", token), basic("regular", "password"), bearer("edge_nonsense")):
        refused = client.get("/chartrepo/library/index.yaml", **headers)
        assert refused.status_code == 401, headers
        assert refused["WWW-Authenticate"].startswith("Basic realm=")


def test_cm_push_as_the_plugin_sends_it(people):
    # the plugin posts the multipart field "chart" to /api/<path of the repository URL>/charts with basic auth
    from django.core.files.uploadedfile import SimpleUploadedFile

    token = people["admin1"][1]
    response = Client().post("/api/chartrepo/c1/charts?force", {"chart": SimpleUploadedFile(
        "demo-0.1.0.tgz", archive(), "application/octet-stream")}, **basic("admin1", token))
    assert response.status_code == 201 and response.json() == {"saved": True}
    assert ChartVersion.objects.filter(repository="c1", name="demo", uploaded_by="admin1").exists()


def test_anonymous_gets_a_basic_challenge(db):
    response = Client().get("/chartrepo/library/index.yaml")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="edge-platform chart repository"'
    assert response.json() == {"error": "authentication required"}


def test_a_console_session_reads_the_index(people):
    client = Client()
    client.force_login(people["regular"][0])
    assert client.get("/chartrepo/library/index.yaml").status_code == 200
