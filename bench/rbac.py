"""Native RBAC translation: one workspace binding over N namespaces, then a re-translation with nothing changed.

Run from the repository root::

    .venv/bin/python bench/rbac.py [--quick] [-n 100] [--rounds 5]

Uses a fresh SQLite file of its own (``var/bench/rbac.sqlite3``), migrates, and starts two emulated Kubernetes
API servers on 127.0.0.1 (``tests/kube``), reached through the real ``kubernetes`` client over HTTP. Each
emulated cluster gets a Cluster row, a workspace with N namespaces (present on the cluster too) and one
workspace binding. Measured:

* ``reconcile``: ``reconcile_cluster`` — the first translation (N RoleBindings + 1 ClusterRole), a no-change
  re-translation (median of ``--rounds``), a targeted ``reconcile_binding`` with no change, and the
  re-translation after one namespace joined the workspace;
* ``naive``: the baseline on the other cluster — apply every desired object unconditionally (server-side
  apply, no read of the actual state, no pruning), first and again.

Time is wall clock per run; requests and writes are counted by the emulator. A no-change re-translation must
make 0 writes. ``--quick``: N = 20. The last line is one JSON object with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SQLITE_FILE = ROOT / "var" / "bench" / "rbac.sqlite3"


def configure() -> None:
    """Point Django at the bench's own database and an in-memory broker (nothing queued is run)."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "edgeplatform.settings"
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
    SQLITE_FILE.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{SQLITE_FILE}"


def build(platform, emulator, name: str, count: int):
    """A cluster reached at ``emulator`` with workspace ``<name>-ws`` of ``count`` namespaces and one binding."""
    from edgeplatform import kube as gateway

    cluster = platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                              "metadata": {"name": name},
                              "spec": {"type": "physical", "connection": {"kubernetesAPIEndpoint": emulator.url}}})[0]
    platform.workspace(f"{name}-ws", name)
    client = gateway.member_client(cluster)
    for index in range(count + 1):  # one spare namespace joins the workspace later
        namespace = f"ns-{index:04d}"
        gateway.apply(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        if index < count:
            platform.namespace(namespace, name, f"{name}-ws")
    platform.bind(f"{name}-devs", "bench-dev", "workspace", f"{name}-ws", users=("alice", "bob"),
                  groups=("developers",))
    return cluster


def measure(emulator, call) -> dict:
    """Run ``call`` once: seconds, requests by verb, writes."""
    emulator.requests.clear()
    start = time.perf_counter()
    result = call()
    seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 4), "requests": len(emulator.requests),
            "writes": emulator.requests.count_writes(), "byVerb": emulator.requests.by_verb(), "result": result}


def median_of(runs: list[dict]) -> dict:
    """The median time of several runs, with the request counts of the last (they do not vary)."""
    return {**runs[-1], "seconds": round(statistics.median(r["seconds"] for r in runs), 4), "runs": len(runs)}


def run(count: int, rounds: int) -> dict:
    """Build both clusters and take every measurement."""
    from edgeplatform import kube as gateway
    from iam.native_rbac import reconcile_binding, reconcile_cluster
    from iam.native_rbac.desired import desired_objects
    from tests.fleet import role_manifest
    from tests.kube.emulator import Emulator
    from tests.support import Platform

    platform = Platform()
    platform.apply(role_manifest("bench-dev", "workspace", [
        {"apiGroups": [""], "resources": ["pods", "pods/log", "services", "configmaps"], "verbs": ["*"]},
        {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets"], "verbs": ["*"]},
        {"apiGroups": ["app.theriseunion.io"], "resources": ["applicationdeployments"], "verbs": ["*"]}]))
    ours, naive = Emulator(name="rbac").start(), Emulator(name="naive").start()
    try:
        cluster = build(platform, ours, "bench", count)
        baseline_cluster = build(platform, naive, "naive", count)
        out = {}
        objects = len(desired_objects(cluster))
        out["first"] = measure(ours, lambda: reconcile_cluster(cluster).writes)
        out["unchanged"] = median_of([measure(ours, lambda: reconcile_cluster(cluster).writes)
                                      for _ in range(rounds)])
        out["unchangedBinding"] = median_of([measure(ours, lambda: reconcile_binding(cluster, "bench-devs").writes)
                                             for _ in range(rounds)])
        platform.namespace(f"ns-{count:04d}", "bench", "bench-ws")
        out["oneNamespaceJoined"] = measure(ours, lambda: reconcile_cluster(cluster).writes)

        client = gateway.member_client(baseline_cluster)

        def apply_everything():
            desired = desired_objects(baseline_cluster)
            for manifest in sorted(desired.values(), key=lambda m: m["kind"] != "ClusterRole"):
                gateway.apply(client, manifest)
            return len(desired)

        out["naiveFirst"] = measure(naive, apply_everything)
        out["naiveUnchanged"] = median_of([measure(naive, apply_everything) for _ in range(rounds)])
        return {"namespaces": count, "objects": objects, **out}
    finally:
        ours.stop()
        naive.stop()


def table(results: dict) -> str:
    """The readable table."""
    rows = [("translate (first)", "reconcile_cluster", results["first"]),
            ("re-translate, no change", "reconcile_cluster", results["unchanged"]),
            ("re-translate, no change", "reconcile_binding", results["unchangedBinding"]),
            ("one namespace joined", "reconcile_cluster", results["oneNamespaceJoined"]),
            ("translate (first)", "naive apply-all", results["naiveFirst"]),
            ("re-translate, no change", "naive apply-all", results["naiveUnchanged"])]
    lines = [f"workspace binding over {results['namespaces']} namespaces ({results['objects']} RBAC objects)",
             f"{'case':<26}{'method':<20}{'ms':>9}{'requests':>10}{'writes':>8}  by verb"]
    for case, method, row in rows:
        verbs = ", ".join(f"{k}={v}" for k, v in sorted(row["byVerb"].items()))
        lines.append(f"{case:<26}{method:<20}{row['seconds'] * 1000:>9.1f}{row['requests']:>10}{row['writes']:>8}"
                     f"  {verbs}")
    return "\n".join(lines)


def main() -> int:
    """Parse arguments, run, print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 namespaces")
    parser.add_argument("-n", type=int, default=100, help="namespaces in the workspace")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each no-change case (median)")
    args = parser.parse_args()
    count = 20 if args.quick else args.n
    configure()

    import logging

    import django

    django.setup()
    logging.getLogger("iam.native_rbac").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    results = run(count, args.rounds)
    print(table(results))
    unchanged_writes = results["unchanged"]["writes"] + results["unchangedBinding"]["writes"]
    summary = {
        "bench": "rbac", "namespaces": count, "objects": results["objects"],
        **{f"{key}_{field}": results[key][field] for key in ("first", "unchanged", "unchangedBinding",
                                                               "oneNamespaceJoined", "naiveFirst", "naiveUnchanged")
           for field in ("seconds", "requests", "writes")},
        "no_change_writes_ok": unchanged_writes == 0,
    }
    print(json.dumps(summary), flush=True)
    return 0 if unchanged_writes == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
