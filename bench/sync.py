"""CRD sync: time and API requests to sync N objects out to the host cluster and N custom resource changes in.

Run from the repository root::

    .venv/bin/python bench/sync.py [--quick] [-n 1000]

Uses its own SQLite file (``var/bench/sync.sqlite3``) and the emulated API server of the test suite
(``tests/kube``) on 127.0.0.1 as the host cluster. N workspaces (with a status) are created in the database,
then:

- **out**: every row is synced the way the after-commit task does it — ``sync_object``: read the custom
  resource, then (only where it differs) one server-side apply of the object and one of its status — first
  when the custom resources do not exist, then after every row's spec changed, then once more with nothing
  changed (which must write nothing). Baseline, against a second emulator: the client-side way, GET then POST
  (or PUT with the resourceVersion read) for the object and a PUT of its status, every time.
- **in**: N custom resources are changed with kubectl-style applies (field manager ``kubectl``), then the
  watcher brings them into the database from its watch stream; each save re-applies the custom resource with
  its new hash (Celery eager), and a second watch round must see only its own writes and write nothing.
  Baseline: the same N changes brought in by a full relist-and-diff (what a poller would do).

The last line is one JSON object with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "var" / "bench"
SQLITE_FILE = WORK / "sync.sqlite3"
WORKSPACES = "scope.theriseunion.io/v1alpha1"


def configure(kubeconfig: Path) -> None:
    """Point Django at the bench's own database and the emulated host cluster."""
    WORK.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    os.environ.update(DJANGO_SETTINGS_MODULE="edgeplatform.settings", CELERY_BROKER_URL="memory://",
                      DATABASE_URL=f"sqlite:///{SQLITE_FILE}", EDGE_KUBECONFIG=str(kubeconfig))


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def baseline_out(client, converter, names) -> None:
    """Client-side create-or-replace: GET, then POST or PUT (with the resourceVersion), then PUT the status
    (each row re-read, as the sync task does)."""
    from edgeplatform.kube import KubeError
    from edgeplatform.kube.operations import apply_body
    from edgeplatform.kube.sync import desired_manifest

    info = client.resource(converter.api_version, converter.kind)
    for name in names:
        row = converter.lookup(name)
        body = apply_body(desired_manifest(converter, row))
        status = body.pop("status", None)
        try:
            current = client.request("GET", info.path(row.name))
        except KubeError as error:
            if not error.not_found:
                raise
            current = client.request("POST", info.path(), body=body)
        else:
            body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
            current = client.request("PUT", info.path(row.name), body=body)
        if status:
            client.request("PUT", info.path(row.name, subresource="status"),
                           body={**body, "metadata": {**body["metadata"],
                                                      "resourceVersion": current["metadata"]["resourceVersion"]},
                                 "status": status})


def main() -> int:
    """Run the phases and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 objects instead of 1,000")
    parser.add_argument("-n", type=int, default=1000)
    args = parser.parse_args()
    n = 100 if args.quick else args.n

    from tests.kube.emulator import Emulator

    WORK.mkdir(parents=True, exist_ok=True)
    host, other = Emulator(name="host").start(), Emulator(name="baseline").start()
    host_config = host.write_kubeconfig(WORK / "sync-host.kubeconfig")
    other_config = other.write_kubeconfig(WORK / "sync-baseline.kubeconfig")
    configure(host_config)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from clusters.manifests import WorkspaceConverter
    from clusters.models import Cluster, Workspace
    from edgeplatform.celery import app
    from edgeplatform.kube import crds, host_client
    from edgeplatform.kube.sync import sync_object
    from edgeplatform.kube.watch import Watcher
    from edgeplatform.resources.loader import apply as load

    call_command("migrate", verbosity=0)
    app.conf.task_always_eager = True
    client = host_client()
    crds.install(client)
    from django.test import override_settings

    from edgeplatform.kube import forget_clients

    with override_settings(EDGE_KUBECONFIG=str(other_config)):
        forget_clients()
        base_client = host_client()
        crds.install(base_client)
    forget_clients()
    client = host_client()
    converter = WorkspaceConverter()

    # rows, written with sync switched off (their after-commit sync would otherwise run now)
    with override_settings(EDGE_CRD_SYNC=False):
        load([{"apiVersion": WORKSPACES, "kind": "Cluster", "metadata": {"name": "edge"}, "spec": {}}])
        with transaction.atomic():
            load([{"apiVersion": WORKSPACES, "kind": "Workspace",
                   "metadata": {"name": f"ws-{i:05d}", "labels": {"scope.theriseunion.io/cluster": "edge"}},
                   "spec": {"displayName": f"Workspace {i}", "manager": "alice"}} for i in range(n)])
    Workspace.objects.update(status={"phase": "Active", "namespaceCount": 0})
    assert Cluster.objects.count() == 1
    names = list(Workspace.objects.order_by("name").values_list("name", flat=True))
    rows = list(Workspace.objects.order_by("name").select_related("cluster"))
    results: dict = {"n": n}

    def out_phase(label: str):
        host.requests.clear()
        seconds, _ = timed(lambda: [sync_object("Workspace", name, client=client) for name in names])
        results[f"out_{label}"] = {"seconds": round(seconds, 3), "requests": len(host.requests),
                                   "writes": host.requests.count_writes()}
        other.requests.clear()
        seconds, _ = timed(lambda: baseline_out(base_client, converter, names))
        results[f"out_{label}_baseline"] = {"seconds": round(seconds, 3), "requests": len(other.requests),
                                            "writes": other.requests.count_writes()}

    out_phase("create")
    with override_settings(EDGE_CRD_SYNC=False):
        Workspace.objects.update(spec={"displayName": "Renamed", "manager": "bob"})
    out_phase("update")
    out_phase("unchanged")
    assert len(host.objects("workspaces")) == n and len(rows) == n

    # --- in: N kubectl changes through the watch stream -----------------------------------------------------
    from edgeplatform.kube import apply

    watcher = Watcher(client, [converter], timeout_seconds=120)
    watcher.relist(watcher.kinds["Workspace"])  # initial list: all the platform's own (nothing to do)

    def kubectl_changes(tag: str) -> None:
        for name in names:
            apply(client, {"apiVersion": WORKSPACES, "kind": "Workspace",
                           "metadata": {"name": name, "labels": {"scope.theriseunion.io/cluster": "edge"}},
                           "spec": {"displayName": f"{tag} {name}", "manager": "bob"}}, field_manager="kubectl")

    kubectl_changes("kubectl")
    host.requests.clear()

    def until_saved(target: int) -> None:
        while watcher.stats.saved < target:
            time.sleep(0.01)
        host.drop_watches(abrupt=False)

    stopper = threading.Thread(target=until_saved, args=(n,), daemon=True)
    stopper.start()
    seconds, _ = timed(lambda: watcher.step("Workspace"))
    results["in_watch"] = {"seconds": round(seconds, 3), "requests": len(host.requests),
                           "reads": len(host.requests) - host.requests.count_writes(),
                           "writes": host.requests.count_writes(), "saved": watcher.stats.saved}
    assert Workspace.objects.filter(spec__displayName__startswith="kubectl").count() == n

    # the watcher now sees its own re-applies: they must cause no writes
    host.requests.clear()
    watcher.timeout_seconds = 1
    saved_before = watcher.stats.saved
    seconds, _ = timed(lambda: watcher.step("Workspace"))
    results["echo"] = {"seconds": round(seconds, 3), "writes": host.requests.count_writes(),
                       "saved": watcher.stats.saved - saved_before, "ignored": watcher.stats.ignored}

    # baseline: the same number of changes brought in by relist-and-diff
    kubectl_changes("relisted")
    host.requests.clear()
    state = watcher.kinds["Workspace"]
    saved_before = watcher.stats.saved
    seconds, _ = timed(lambda: watcher.relist(state))
    results["in_relist_baseline"] = {"seconds": round(seconds, 3), "requests": len(host.requests),
                                     "reads": len(host.requests) - host.requests.count_writes(),
                                     "writes": host.requests.count_writes(),
                                     "saved": watcher.stats.saved - saved_before}
    # what a poller pays every period even when nothing changed
    host.requests.clear()
    seconds, _ = timed(lambda: watcher.relist(state))
    results["relist_idle"] = {"seconds": round(seconds, 3), "requests": len(host.requests),
                              "writes": host.requests.count_writes()}
    host.stop()
    other.stop()

    print(f"CRD sync, {n} workspaces, emulated host cluster (127.0.0.1), SQLite")
    print(f"{'phase':34} {'seconds':>8} {'per object':>11} {'requests':>9} {'writes':>7}")
    for key, label in (("out_create", "out, create: read+SSA (ours)"),
                       ("out_create_baseline", "out, create: GET+POST/PUT"),
                       ("out_update", "out, update: read+SSA (ours)"), ("out_update_baseline", "out, update: GET+PUT"),
                       ("out_unchanged", "out, unchanged: read (ours)"),
                       ("out_unchanged_baseline", "out, unchanged: GET+PUT"),
                       ("in_watch", "in: watch (ours)"), ("in_relist_baseline", "in: relist-and-diff")):
        row = results[key]
        print(f"{label:34} {row['seconds']:8.3f} {row['seconds'] / n * 1000:9.2f}ms {row['requests']:9d} "
              f"{row['writes']:7d}")
    echo = results["echo"]
    print(f"after 'in', the watcher saw its own {n} re-applies: {echo['writes']} writes, {echo['saved']} saves")
    idle = results["relist_idle"]
    print(f"a relist-and-diff with nothing changed: {idle['seconds']:.3f}s, {idle['requests']} requests "
          f"(a watch costs nothing while idle)")
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
