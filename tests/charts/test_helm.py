"""``helm repo add`` and ``helm pull`` against the platform's own repository, with the real Helm SDK (its
``repo_index`` and ``pull``, in a spawned subprocess through the driver) over HTTP on a live server."""
from __future__ import annotations

import hashlib

import pytest

from charts import store
from edgeplatform.helm import HelmDriver, HelmError
from tests.charts.conftest import WEB, archive

# the live server answers from another thread: committed rows, and the built-in roles restored after each test
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def served(live_server, people):
    """library holds demo 0.1.0 and 0.2.0 and web 0.1.0; (url of library, regular's name and token)."""
    for data in (archive("demo", "0.1.0"), archive("demo", "0.2.0"), archive("web", "0.1.0", source=WEB)):
        store.put("library", data)
    return f"{live_server.url}/chartrepo/library", "regular", people["regular"][1]


def test_helm_repo_add_and_pull_with_a_token(served, tmp_path):
    url, username, token = served
    driver = HelmDriver(home=tmp_path / "helm")
    # WHEN Helm reads the index with --username/--password (the password a platform token)
    index = driver.repo_index(url, username=username, password=token)
    # THEN it sees every chart and version, with the digests of the stored archives
    assert sorted(index["entries"]) == ["demo", "web"]
    assert sorted(v["version"] for v in index["entries"]["demo"]) == ["0.1.0", "0.2.0"]
    digests = {row.version: row.digest for row in store.ChartVersion.objects.filter(name="demo")}
    assert {v["version"]: v["digest"] for v in index["entries"]["demo"]} == digests
    # WHEN it pulls a chart, THEN the archive is the stored one, and it renders
    pulled = driver.pull("demo", url, tmp_path / "pulled", version="0.1.0", username=username, password=token)
    assert hashlib.sha256(pulled.read_bytes()).hexdigest() == digests["0.1.0"]
    assert "ConfigMap" in {o["kind"] for o in driver.template(pulled, release="r1")}
    latest = driver.pull("web", url, tmp_path / "latest", username=username, password=token)
    assert latest.name == "web-0.1.0.tgz"


def test_helm_without_credentials_is_refused(served, tmp_path):
    url, _, _ = served
    with pytest.raises(HelmError, match="401"):
        HelmDriver(home=tmp_path / "helm").repo_index(url)
