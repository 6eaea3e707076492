"""The store: rows and archives, resolving versions, and local copies verified by digest that outlive the storage."""
from __future__ import annotations

import hashlib
import re

import pytest

from charts import store
from edgeplatform.helm import HelmDriver, HelmError
from tests.charts.conftest import archive


def test_put_records_metadata_and_digest(db, chart_storage):
    data = archive("demo", "0.1.0")
    row = store.put("library", data, user="alice")
    assert (row.name, row.version, row.size, row.uploaded_by) == ("demo", "0.1.0", len(data), "alice")
    assert row.digest == hashlib.sha256(data).hexdigest()
    assert row.metadata["appVersion"] == "1.0"
    assert (chart_storage / row.file).read_bytes() == data


def test_resolve_exact_latest_stable_and_missing(db):
    for version in ("0.1.0", "0.2.0", "0.3.0-rc.1"):
        store.put("c1", archive("demo", version))
    assert store.resolve("c1", "demo").version == "0.2.0"
    assert store.resolve("c1", "demo", "v0.3.0-rc.1").version == "0.3.0-rc.1"
    with pytest.raises(HelmError, match=re.escape("available: 0.3.0-rc.1, 0.2.0, 0.1.0")):
        store.resolve("c1", "demo", "9.0.0")
    with pytest.raises(HelmError, match="not in repository library"):
        store.resolve("library", "demo")


def test_a_cached_copy_survives_a_storage_outage_and_renders(db, chart_storage, tmp_path, settings):
    # GIVEN a chart resolved once (its verified copy is cached under EDGE_HELM_HOME)
    chart = store.put("library", archive("demo", "0.1.0"))
    path = store.local_path(chart)
    # WHEN the storage loses the archive (a bucket unreachable, a volume gone)
    (chart_storage / chart.file).unlink()
    # THEN the copy is still served, and Helm renders it
    assert store.local_path(chart) == path
    objects = HelmDriver(home=tmp_path / "helm").template(path, release="r1")
    assert {o["kind"] for o in objects} >= {"ConfigMap"}
    # and without the cached copy the failure names the chart, not a stack trace of the storage backend
    path.unlink()
    with pytest.raises(HelmError, match=re.escape('chart "demo" 0.1.0: its archive cannot be read')) as raised:
        store.local_path(chart)
    assert raised.value.kind == "repository"


def test_a_tampered_copy_is_read_again_from_storage(db, chart_storage):
    data = archive("demo", "0.1.0")
    chart = store.put("library", data)
    path = store.local_path(chart)
    path.write_bytes(b"tampered")
    assert store.local_path(chart).read_bytes() == data


def test_a_tampered_archive_in_storage_is_refused(db, chart_storage):
    chart = store.put("library", archive("demo", "0.1.0"))
    (chart_storage / chart.file).write_bytes(archive("demo", "0.1.0", description="swapped"))
    with pytest.raises(HelmError, match="refusing it") as raised:
        store.local_path(chart)
    assert raised.value.kind == "digest"


def test_a_failed_row_write_leaves_no_archive(db, chart_storage, monkeypatch):
    from charts.models import ChartVersion

    def fail(self, *args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(ChartVersion, "save", fail)
    with pytest.raises(RuntimeError):
        store.put("library", archive("demo", "0.1.0"))
    assert not any(chart_storage.rglob("*.tgz"))
