"""``manage.py charts import|list``: an air-gapped site's bundle of archives and chart directories."""
from __future__ import annotations

import hashlib
import io
import shutil

import pytest
from django.core.management import CommandError, call_command

from charts.models import ChartVersion
from iam.audit.models import AuditEvent
from tests.charts.conftest import DEMO, WEB, archive


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("charts", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_a_bundle_of_archives_and_directories(db, tmp_path):
    # GIVEN a bundle: two archives, one chart directory, one file that is no chart
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "demo-0.1.0.tgz").write_bytes(archive("demo", "0.1.0"))
    (bundle / "demo-0.2.0.tgz").write_bytes(archive("demo", "0.2.0"))
    shutil.copytree(WEB, bundle / "web")
    (bundle / "web" / ".helmignore").write_text("*.swp\n")
    (bundle / "web" / "notes.swp").write_text("editor junk")
    (bundle / "broken.tgz").write_bytes(b"not a chart")
    # WHEN it is imported
    with pytest.raises(CommandError, match="1 of 4 refused"):
        run("import", str(bundle))
    # THEN the charts are in library, the directory packaged without what .helmignore names
    assert sorted(ChartVersion.objects.filter(repository="library").values_list("name", "version")) == [
        ("demo", "0.1.0"), ("demo", "0.2.0"), ("web", "0.1.0")]
    web = ChartVersion.objects.get(name="web")
    assert web.uploaded_by == "" and web.metadata["appVersion"] == "1.27"
    import tarfile

    from charts import store

    with tarfile.open(store.local_path(web)) as tar:
        assert "web/Chart.yaml" in tar.getnames() and "web/notes.swp" not in tar.getnames()
    events = AuditEvent.objects.filter(resource="charts", verb="create")
    assert events.count() == 3 and {e.actor for e in events} == {"system:charts-import"}


def test_import_skips_what_is_there_and_force_overwrites(db, tmp_path):
    path = tmp_path / "demo-0.1.0.tgz"
    path.write_bytes(archive("demo", "0.1.0"))
    out, _ = run("import", str(path), "--repository", "library")
    assert out.startswith("imported demo 0.1.0") and "library: 1 imported, 0 skipped, 0 refused" in out
    assert "the same archive is there" in run("import", str(path))[0]
    changed = archive("demo", "0.1.0", description="rebuilt")
    path.write_bytes(changed)
    out, _ = run("import", str(path))
    assert "--force overwrites it" in out and "1 skipped" in out
    out, _ = run("import", str(path), "--force")
    assert "imported demo 0.1.0" in out
    assert ChartVersion.objects.get(name="demo").digest == hashlib.sha256(changed).hexdigest()


def test_import_into_a_cluster_repository_and_list(platform, tmp_path):
    platform.cluster("edge-1")
    run("import", str(DEMO), "--repository", "edge-1")
    with pytest.raises(CommandError, match='no repository "edge-2"'):
        run("import", str(DEMO), "--repository", "edge-2")
    out, _ = run("list")
    assert "edge-1" in out and "demo" in out and "0.1.0" in out and "system" in out
    assert "demo" not in run("list", "--repository", "library")[0]
