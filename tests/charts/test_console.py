"""The console's Chart repositories page, through the Django test client as a browser would use it."""
from __future__ import annotations

import re

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from charts import store
from charts.models import ChartVersion
from iam.audit.models import AuditEvent
from tests.charts.conftest import archive

PAGE = "/console/charts/"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _seed():
    store.put("c1", archive("demo", "0.1.0"), user="admin1")
    store.put("c2", archive("demo", "0.9.0"))
    store.put("library", archive("web", "0.1.0"))


def test_a_cluster_admin_sees_their_repository_with_actions(people):
    _seed()
    page = signed_in(people["admin1"][0]).get(PAGE)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="repository-c1"' in html and 'id="repository-c2"' not in html and "repository-library" not in html
    row = re.search(r'<tr id="chart-c1-demo-0.1.0">.*?</tr>', html, re.S).group(0)
    digest = ChartVersion.objects.get(repository="c1").digest
    assert digest[:12] in row and "admin1" in row and "Delete" in row
    assert "/console/charts/delete/?repository=c1&amp;name=demo&amp;version=0.1.0" in row
    assert "helm repo add c1 http://testserver/chartrepo/c1 --username admin1 --password &lt;token&gt;" in html
    assert 'id="chart-upload"' in html and '<option value="c1">c1</option>' in html


def test_readers_see_no_actions_and_strangers_no_page(people):
    _seed()
    viewer = signed_in(people["viewer1"][0]).get(PAGE).content.decode()
    assert 'id="repository-c1"' in viewer and "Delete" not in viewer and 'id="chart-upload"' not in viewer
    regular = signed_in(people["regular"][0]).get(PAGE).content.decode()
    assert 'id="repository-library"' in regular and 'id="repository-c1"' not in regular
    assert "Delete" not in regular and 'id="chart-upload"' not in regular
    assert signed_in(people["nobody"][0]).get(PAGE).status_code == 403
    root = signed_in(people["root"][0]).get(PAGE).content.decode()
    assert all(f'id="repository-{name}"' in root for name in ("library", "c1", "c2"))


def test_upload_through_the_console(people):
    client = signed_in(people["admin1"][0])
    data = archive("demo", "0.2.0")
    response = client.post(PAGE, {"repository": "c1", "chart": SimpleUploadedFile("demo.tgz", data)})
    assert response.status_code == 302
    row = ChartVersion.objects.get(repository="c1", name="demo", version="0.2.0")
    assert row.uploaded_by == "admin1" and row.size == len(data)
    assert AuditEvent.objects.filter(resource="charts", verb="create", actor="admin1").count() == 1
    # the same version again: the form says so; with "Overwrite" it replaces it
    again = client.post(PAGE, {"repository": "c1", "chart": SimpleUploadedFile("demo.tgz", archive(
        "demo", "0.2.0", description="new"))})
    assert again.status_code == 200 and "already exists" in again.content.decode()
    forced = client.post(PAGE, {"repository": "c1", "force": "on", "chart": SimpleUploadedFile(
        "demo.tgz", archive("demo", "0.2.0", description="new"))})
    assert forced.status_code == 302
    assert ChartVersion.objects.get(repository="c1", version="0.2.0").metadata["description"] == "new"
    # a repository the user may not upload to is no choice; a bad archive stores nothing
    refused = client.post(PAGE, {"repository": "library", "chart": SimpleUploadedFile("x.tgz", data)})
    assert refused.status_code == 200 and "library is not one of the available choices" in refused.content.decode()
    bad = client.post(PAGE, {"repository": "c1", "chart": SimpleUploadedFile("x.tgz", b"not gzip")})
    assert "Not a chart archive: not a gzipped tar archive" in bad.content.decode()
    assert ChartVersion.objects.filter(repository="c1").count() == 1


def test_a_viewer_may_not_post_an_upload(people):
    response = signed_in(people["viewer1"][0]).post(PAGE, {"repository": "c1", "chart": SimpleUploadedFile(
        "demo.tgz", archive())})
    assert response.status_code == 403 and not ChartVersion.objects.exists()


def test_delete_is_confirmed_first(people):
    _seed()
    url, which = "/console/charts/delete/", {"repository": "c1", "name": "demo", "version": "0.1.0"}
    client = signed_in(people["admin1"][0])
    confirm = client.get(url, which)
    assert confirm.status_code == 200 and "Delete chart <strong>demo</strong> version" in confirm.content.decode()
    assert ChartVersion.objects.filter(repository="c1").exists()
    assert client.post(url, which).status_code == 302
    assert not ChartVersion.objects.filter(repository="c1").exists()
    assert AuditEvent.objects.filter(resource="charts", verb="delete", actor="admin1").count() == 1


def test_delete_refused_to_readers_and_hidden_from_strangers(people):
    _seed()
    url = "/console/charts/delete/"
    assert signed_in(people["viewer1"][0]).post(url, {"repository": "c1", "name": "demo", "version": "0.1.0"}
                                                 ).status_code == 403
    assert signed_in(people["regular"][0]).post(url, {"repository": "library", "name": "web", "version": "0.1.0"}
                                                 ).status_code == 403
    assert signed_in(people["admin1"][0]).post(url, {"repository": "c2", "name": "demo", "version": "0.9.0"}
                                                ).status_code == 404
    assert ChartVersion.objects.count() == 3
    denied = AuditEvent.objects.filter(resource="charts", result="denied", actor="viewer1").get()
    assert denied.verb == "delete" and denied.name == "demo-0.1.0"
