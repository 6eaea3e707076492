"""Rollout: one application deployment to 500 node groups across 50 emulated clusters, a reconcile with no change,
and a version upgrade over the same topologies.

Run from the repository root::

    .venv/bin/python bench/rollout.py [--quick] [--clusters 50] [--groups 10] [--per-emulator 5]

Uses its own SQLite file (``var/bench/rollout.sqlite3``) and emulated API servers on 127.0.0.1 (``tests/kube``)
with their kubelets on (scheduler, workload controllers, pods Ready), reached over HTTP by the gateway's clients.
The emulators run in ``--emulator-processes`` child processes (2), so that their kubelets — the clusters' own
work — do not share the platform's interpreter lock; the platform side (controller, write path, database) runs in
the bench's process, as a worker would.
``--per-emulator`` clusters share one emulator; each is its own Cluster row with its own connection (and client),
its own ``--groups`` node groups and one node per group labelled ``theriseunion.io/nodegroup=<group>``, so every
topology's pod has a node to run on. An application of the ``workload`` provisioner (one Deployment, one replica)
has version 1.0.0 approved; one ApplicationDeployment (``version: latest``) names every node group as a topology.
Reconciles go through the controller base (``engine.reconcile``: lease, steps, status through the write path),
one after the other as the deployment's queued task would run them, half a second apart while the topologies
progress. The machine's two cores are shared by the bench, the emulators and whatever else runs.

* **rollout** (``rollout_s``): from the first reconcile to the deployment ``Running`` (every topology applied and
  every pod Ready, as read back by the controller); ``writes_per_topology``: the write requests the emulators
  received (their request logs) over the topologies (target ≤ 2; a Deployment is one apply, a namespace missing
  on a member costs one refused apply and one create per API server);
* **no change** (``noop_writes``, target 0): one more reconcile; the write requests received (and all requests:
  between two drift checks a cluster whose topologies all run as wanted is not read) and its time;
* **drift check** (``drift_check_writes``, 0): the same with the drift period due: every cluster read (one LIST of
  Deployments, StatefulSets and pods each), nothing written;
* **upgrade** (``upgrade_s``, ``upgrade_writes_per_topology``): version 1.1.0 approved (a new image); from the first
  reconcile to ``Running`` at 1.1.0 on every topology.

``--quick``: 5 clusters × 10 node groups. The last line is one JSON object with the figures.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from controllers import timed  # noqa: E402  (bench/controllers.py: the shared helpers)
from rbac import configure as _configure  # noqa: E402

SQLITE_NAME = "rollout.sqlite3"
GROUP = "app.theriseunion.io/v1alpha1"
NAMESPACE = "shop"
#: seconds between two reconciles while the topologies progress (EDGE_APPSTORE_PROGRESS_POLL's role)
POLL = 0.5


class Emulators:
    """Emulated API servers served by child processes: what the bench needs of them, by index."""

    def __init__(self, count: int, processes: int):
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        self.children = []
        self.where = []  # emulator index → (child, index in the child)
        for number in range(processes):
            share = len(range(number, count, processes))
            if not share:
                continue
            mine, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(theirs, share), daemon=True)
            process.start()
            self.children.append((mine, process))
        for index in range(count):
            self.where.append((index % len(self.children), index // len(self.children)))
        self.urls = []
        for number in range(count):
            child, local = self.where[number]
            self.urls.append(self._call(child, "url", local))

    def _call(self, child: int, op: str, *args):
        conn = self.children[child][0]
        conn.send((op, args))
        ok, value = conn.recv()
        if not ok:
            raise RuntimeError(value)
        return value

    def call(self, index: int, op: str, *args):
        """``op`` on emulator ``index``."""
        child, local = self.where[index]
        return self._call(child, op, local, *args)

    def each(self, op: str, *args) -> list:
        """``op`` on every emulator: the answers."""
        return [self.call(index, op, *args) for index in range(len(self.where))]

    def stop(self) -> None:
        """Stop the servers and the children."""
        for child, (_, process) in enumerate(self.children):
            self._call(child, "stop", 0)
            process.join(5)


def _serve(conn, count: int) -> None:
    """A child process: ``count`` emulators, answering the parent's calls until ``stop``."""
    sys.path.insert(0, str(ROOT))
    from tests.kube.emulator import Emulator

    emulators = [Emulator().start() for _ in range(count)]

    def writes(emulator):
        return emulator.requests.count_writes()

    ops = {
        "url": lambda emulator: emulator.url,
        "add_node": lambda emulator, name, labels: emulator.add_node(name, labels=labels) and None,
        "kubelet_on": lambda emulator: emulator.kubelet_on(nodes=[]) and None,
        "clear": lambda emulator: emulator.requests.clear(),
        "writes": writes,
        "requests": lambda emulator: len(emulator.requests),
        "images": lambda emulator, namespace: [
            item["spec"]["template"]["spec"]["containers"][0]["image"]
            for item in emulator.objects("deployments", namespace=namespace)],
    }
    while True:
        op, args = conn.recv()
        if op == "stop":
            for emulator in emulators:
                emulator.stop()
            conn.send((True, None))
            return
        try:
            conn.send((True, ops[op](emulators[args[0]], *args[1:])))
        except Exception as error:  # reported to the parent, which stops
            conn.send((False, f"{op}: {type(error).__name__}: {error}"))


def configure() -> None:
    """The bench's own SQLite file and an in-memory broker (what the writes queue is never run)."""
    import rbac

    rbac.SQLITE_FILE = ROOT / "var" / "bench" / SQLITE_NAME
    _configure()


def seed(clusters: int, groups: int, per_emulator: int, processes: int):
    """Emulators (kubelets on) with a node per group, the Cluster rows, node groups, the home namespace, the
    application and its first approved version, and the deployment naming every group."""
    from appstore import review
    from appstore.models import ApplicationDeployment
    from tests.support import Platform

    platform = Platform()
    emulators = Emulators((clusters + per_emulator - 1) // per_emulator, processes)
    topologies = []
    for index in range(clusters):
        name = f"c{index:03d}"
        platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                        "metadata": {"name": name}, "spec": {"type": "physical", "connection": {
                            "kubernetesAPIEndpoint": emulators.urls[index // per_emulator]}}})
        for number in range(groups):
            group = f"{name}-shop-{number:02d}"
            platform.nodegroup(group, name)
            emulators.call(index // per_emulator, "add_node", f"{group}-n0", {"theriseunion.io/nodegroup": group})
            topologies.append({"nodeGroup": group})
    emulators.each("kubelet_on")
    platform.namespace(NAMESPACE, "c000")
    platform.apply({"apiVersion": GROUP, "kind": "Application", "metadata": {
        "name": "pos", "labels": {"app.theriseunion.io/provisioner": "workload"}}, "spec": {}})
    reviewer = platform.user("reviewer", superuser=True)
    review.decide(version_row(platform, "1.0.0"), "Approve", user=reviewer)
    row = platform.apply({"apiVersion": GROUP, "kind": "ApplicationDeployment", "metadata": {
        "name": "pos", "namespace": NAMESPACE, "labels": {"scope.theriseunion.io/cluster": "c000"}},
        "spec": {"application": "pos", "version": "latest", "topologies": topologies}})[0]
    return ApplicationDeployment.objects.get(pk=row.pk), emulators, reviewer, platform


def version_row(platform, number: str):
    """Version ``number`` of ``pos``: one Deployment ``web`` of one replica, image tagged with the version."""
    return platform.apply({"apiVersion": GROUP, "kind": "ApplicationVersion",
                           "metadata": {"name": f"pos-{number.replace('.', '-')}"},
                           "spec": {"applicationRef": "pos", "version": number, "workloadConfig": {"deployments": [
                               {"name": "web", "spec": {"replicas": 1, "template": {"spec": {"containers": [
                                   {"name": "web", "image": f"registry.example/pos:{number}"}]}}}}]}}})[0]


def until_running(row, emulators, version: str, limit: float = 600) -> dict:
    """Reconcile until the deployment is Running at ``version``: seconds, reconciles, write requests received."""
    from appstore.controller import CONTROLLER
    from edgeplatform.controllers.engine import reconcile

    emulators.each("clear")
    started = time.perf_counter()
    attempts = 0
    first_s = None
    while True:
        outcome = reconcile(CONTROLLER, row.pk)
        attempts += 1
        first_s = first_s if first_s is not None else time.perf_counter() - started
        row.refresh_from_db()
        status = row.status or {}
        if status.get("phase") == "Running" and status.get("applicationVersion") == version:
            break
        if time.perf_counter() - started > limit:
            raise SystemExit(f"not Running after {limit} s: {status.get('phase')} {status.get('message')} "
                             f"({outcome.result})")
        time.sleep(POLL)
    seconds = time.perf_counter() - started
    writes = sum(emulators.each("writes"))
    return {"s": round(seconds, 2), "reconciles": attempts, "writes": writes, "first_reconcile_s": round(first_s, 2),
            "ready": row.status.get("readyStatus")}


def noop(row, emulators) -> dict:
    """One reconcile with nothing changed: write requests, requests, time."""
    from appstore.controller import CONTROLLER
    from edgeplatform.controllers.engine import reconcile

    emulators.each("clear")
    seconds = timed(lambda: reconcile(CONTROLLER, row.pk))
    row.refresh_from_db()
    return {"s": round(seconds, 2), "writes": sum(emulators.each("writes")),
            "requests": sum(emulators.each("requests")), "phase": row.status.get("phase")}


def main() -> int:
    """Run the phases and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 clusters x 10 node groups")
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--groups", type=int, default=10, help="node groups (topologies) per cluster")
    parser.add_argument("--per-emulator", type=int, default=5, help="clusters served by one emulated API server")
    parser.add_argument("--emulator-processes", type=int, default=2, help="child processes serving the emulators")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="EDGE_APPSTORE_ROLLOUT_CONCURRENCY (default: the setting's)")
    args = parser.parse_args()
    clusters = 5 if args.quick else args.clusters
    per_emulator = min(args.per_emulator, clusters)
    configure()

    import django

    django.setup()
    logging.getLogger("edgeplatform.kube").setLevel(logging.ERROR)
    from django.conf import settings
    from django.core.management import call_command

    from appstore import review

    call_command("migrate", verbosity=0)
    if args.concurrency:
        settings.EDGE_APPSTORE_ROLLOUT_CONCURRENCY = args.concurrency
    results = {"clusters": clusters, "topologies": clusters * args.groups, "clusters_per_emulator": per_emulator,
               "emulator_processes": args.emulator_processes,
               "concurrency": settings.EDGE_APPSTORE_ROLLOUT_CONCURRENCY, "database": "sqlite"}
    seeded = {}
    results["seed_s"] = round(timed(lambda: seeded.update(zip(("row", "emulators", "reviewer", "platform"),
                                                              seed(clusters, args.groups, per_emulator,
                                                                   args.emulator_processes),
                                                              strict=True))), 2)
    row, emulators = seeded["row"], seeded["emulators"]
    topologies = results["topologies"]
    try:
        rollout = until_running(row, emulators, "1.0.0")
        quiet = noop(row, emulators)
        period = settings.EDGE_APPSTORE_DRIFT_PERIOD
        settings.EDGE_APPSTORE_DRIFT_PERIOD = 0  # the next reconcile is a drift check: every cluster read
        drift = noop(row, emulators)
        settings.EDGE_APPSTORE_DRIFT_PERIOD = period
        review.decide(version_row(seeded["platform"], "1.1.0"), "Approve", user=seeded["reviewer"])
        row.refresh_from_db()
        upgrade = until_running(row, emulators, "1.1.0")
        found = [image for images in emulators.each("images", NAMESPACE) for image in images]
        images, deployments = set(found), len(found)
    finally:
        emulators.stop()
    results.update({
        "rollout_s": rollout["s"], "rollout_reconciles": rollout["reconciles"],
        "rollout_first_reconcile_s": rollout["first_reconcile_s"], "rollout_writes": rollout["writes"],
        "writes_per_topology": round(rollout["writes"] / topologies, 3), "rollout_ready": rollout["ready"],
        "noop_writes": quiet["writes"], "noop_requests": quiet["requests"], "noop_s": quiet["s"],
        "noop_phase": quiet["phase"], "drift_check_writes": drift["writes"], "drift_check_requests": drift["requests"],
        "drift_check_s": drift["s"],
        "upgrade_s": upgrade["s"], "upgrade_reconciles": upgrade["reconciles"],
        "upgrade_first_reconcile_s": upgrade["first_reconcile_s"], "upgrade_writes": upgrade["writes"],
        "upgrade_writes_per_topology": round(upgrade["writes"] / topologies, 3), "upgrade_ready": upgrade["ready"],
        "deployments_on_clusters": deployments, "images_after_upgrade": sorted(images),
    })
    print(f"Rollout: one deployment to {topologies} node groups across {clusters} clusters ({per_emulator} clusters "
          f"per emulated API server, rollout concurrency {results['concurrency']}, SQLite)")
    print(f"{'measure':34} {'rollout':>12} {'no change':>12} {'drift check':>12} {'upgrade':>12}")
    for label, keys in (
            ("seconds (to Running)", ("rollout_s", "noop_s", "drift_check_s", "upgrade_s")),
            ("first reconcile (applies), s", ("rollout_first_reconcile_s", None, None, "upgrade_first_reconcile_s")),
            ("reconciles", ("rollout_reconciles", None, None, "upgrade_reconciles")),
            ("requests to the members", (None, "noop_requests", "drift_check_requests", None)),
            ("Kubernetes writes", ("rollout_writes", "noop_writes", "drift_check_writes", "upgrade_writes")),
            ("writes per topology", ("writes_per_topology", None, None, "upgrade_writes_per_topology")),
            ("ready", ("rollout_ready", "noop_phase", None, "upgrade_ready"))):
        print(f"{label:34} " + " ".join(f"{results[key] if key else '':>12}" for key in keys))
    print(f"targets: rollout ≤ 60 s, ≤ 2 writes per topology, 0 writes with no change; "
          f"{deployments} Deployments on the clusters (one per topology), images {', '.join(sorted(images))}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
