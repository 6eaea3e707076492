"""Components: the no-drift cycle over a fleet (Helm calls, reads per cluster, time) and a dependency chain install.

Run from the repository root::

    .venv/bin/python bench/components.py [--quick] [--clusters 2000] [--components 10] [--per-emulator 10]

Uses its own SQLite file (``var/bench/components.sqlite3``) and emulated API servers on 127.0.0.1 (``tests/kube``)
reached with the real ``kubernetes`` client over HTTP; Helm is the real SDK (spawned, as in the workers).

* **no-drift cycle**: C clusters × K components, every component recorded Ready at revision 1 and every release
  present as Helm stores it (a ``helm.sh/release.v1`` Secret labelled ``owner=helm``, seeded directly, since
  installing 20,000 releases is not what is measured). One cycle is what beat runs: ``due()`` for the component
  controller (nothing is due) and one reconcile of the per-cluster release sweep for every cluster, through the
  controller base. Helm calls are counted by the driver's metric (``helm_operations_total``); reads by the
  emulators (every request they received during the cycle, divided by C). ``--per-emulator`` clusters share one
  emulator (each its own release namespace), so a cluster's LIST also returns its neighbours' Secrets: the read
  count is exact, the bytes per read are larger than a real cluster's.
  Two cycles run: the first also builds each cluster's client (``noop_first_cycle_s``), the second is the steady
  state every later cycle costs (``noop_cycle_s``).
* **chain**: K components on one cluster, each depending on the previous, created in reverse order and
  reconciled as a queue would run them (an attempt that waits for a dependency goes to the back); wall time
  from the first attempt to the last component Ready, and the Helm calls made.
* **index**: ``bench.chartrepo.measure_index(quick)`` (the repository's ``index.yaml`` latency beside a static file)
  when that module is present.

``--quick``: 100 clusters, chain of 5. The last line is one JSON object with the figures.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from controllers import timed  # noqa: E402  (bench/controllers.py: the shared helpers)
from rbac import configure as _configure  # noqa: E402

SQLITE_NAME = "components.sqlite3"


def configure() -> None:
    """The bench's own SQLite file and an in-memory broker (what the sweep queues is counted, never run)."""
    import rbac

    rbac.SQLITE_FILE = ROOT / "var" / "bench" / SQLITE_NAME
    _configure()


def seed_fleet(clusters: int, components: int, per_emulator: int):
    """Clusters and components recorded as installed, and the matching release Secrets on the emulators."""
    from clusters.models import Cluster
    from components.models import Component
    from edgeplatform.controllers.models import ControllerState
    from tests.kube.emulator import Emulator
    from tests.support import Platform

    platform = Platform()
    emulators = [Emulator().start() for _ in range((clusters + per_emulator - 1) // per_emulator)]
    template = platform.apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                               "metadata": {"name": "c00000"}, "spec": {"type": "physical"}})[0]
    rows = []
    for index in range(1, clusters):
        rows.append(Cluster(name=f"c{index:05d}", spec={}, scope_path=template.scope_path.replace(
            "c00000", f"c{index:05d}"), labels=dict(template.labels or {})))
    Cluster.objects.bulk_create(rows, batch_size=500)
    fleet = list(Cluster.objects.order_by("name"))
    for index, cluster in enumerate(fleet):
        endpoint = emulators[index // per_emulator].url
        cluster.spec = {"type": "physical", "connection": {"kubernetesAPIEndpoint": endpoint}}
    Cluster.objects.bulk_update(fleet, ["spec"], batch_size=500)
    comps = []
    for cluster in fleet:
        for number in range(components):
            name = f"comp-{number}"
            comps.append(Component(cluster=cluster, name=name, namespace=cluster.name, scope_path=cluster.scope_path,
                                   spec={"chart": {"name": "component", "namespace": cluster.name},
                                         "version": "1.0.0"},
                                   status={"phase": "Ready", "releaseName": name, "releaseVersion": 1,
                                           "observedGeneration": 1, "observedHash": "0" * 64},
                                   phase="Ready", enabled=True))
    Component.objects.bulk_create(comps, batch_size=1000)
    ControllerState.objects.bulk_create(
        [ControllerState(controller="components", key=str(pk), observed_generation=1)
         for pk in Component.objects.values_list("pk", flat=True)], batch_size=1000)
    for index, cluster in enumerate(fleet):
        client = emulators[index // per_emulator]
        _seed_releases(client, cluster.name, components)
    return fleet, emulators


def _seed_releases(emulator, namespace: str, components: int) -> None:
    """The Secrets Helm would have written for revision 1 of each component's release (labels as Helm sets)."""
    import requests

    base = emulator.url
    requests.post(f"{base}/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": namespace}}, timeout=5)
    for number in range(components):
        name = f"comp-{number}"
        requests.post(f"{base}/api/v1/namespaces/{namespace}/secrets", timeout=5, json={
            "apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": f"sh.helm.release.v1.{name}.v1", "labels": {
                "owner": "helm", "name": name, "status": "deployed", "version": "1",
                "createdAt": str(int(time.time()))}},
            "data": {"release": ""}})


def no_drift_cycle(fleet, emulators) -> dict:
    """One beat cycle with nothing drifted: what it costs."""
    from components.controller import CONTROLLER, SWEEP
    from edgeplatform.controllers.engine import reconcile
    from edgeplatform.controllers.tasks import due
    from edgeplatform.helm import metrics as helm_metrics

    for emulator in emulators:
        emulator.requests.clear()
    helm_before = helm_metrics.calls()
    drifted = 0
    started = time.perf_counter()
    due_components = due(CONTROLLER)
    for cluster in fleet:
        outcome = reconcile(SWEEP, cluster.pk)
        assert outcome.result == "success", outcome
        drifted += len((outcome.value or {}).get("drifted", []))
    seconds = time.perf_counter() - started
    reads = sum(len(emulator.requests) for emulator in emulators)
    return {"noop_helm_calls": int(helm_metrics.calls() - helm_before),
            "noop_reads_per_cluster": round(reads / len(fleet), 3), "noop_requests": reads,
            "noop_cycle_s": round(seconds, 3), "noop_per_cluster_ms": round(seconds / len(fleet) * 1000, 3),
            "noop_components_due": len(due_components), "noop_drifted": drifted}


def chain_install(length: int) -> dict:
    """``length`` components in a dependency chain on one emulated cluster, installed through the controller."""
    from collections import deque

    from charts import store
    from components.controller import CONTROLLER
    from components.models import Component
    from edgeplatform.controllers.engine import reconcile
    from edgeplatform.helm import metrics as helm_metrics
    from tests.helm_repo import package
    from tests.kube.emulator import Emulator
    from tests.paths import FIXTURES
    from tests.support import Platform

    emulator = Emulator().start()
    store.put("library", package(FIXTURES / "charts" / "component")[1], force=True)
    cluster = Platform().apply({"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster",
                                "metadata": {"name": "chain"}, "spec": {"type": "physical", "connection": {
                                    "kubernetesAPIEndpoint": emulator.url}}})[0]
    comps = []
    for number in reversed(range(length)):
        spec = {"chart": {"name": "component"}, "version": "1.0.0", "values": {"message": f"link {number}"}}
        if number:
            spec["dependsOn"] = [f"link-{number - 1}"]
        comps.append(Component.objects.create(cluster=cluster, name=f"link-{number}", namespace="chain",
                                              scope_path=cluster.scope_path, spec=spec))
    queue, attempts = deque(comp.pk for comp in comps), 0
    helm_before = helm_metrics.calls()
    started = time.perf_counter()
    while queue:
        key = queue.popleft()
        attempts += 1
        outcome = reconcile(CONTROLLER, key)
        if outcome.result != "success":
            queue.append(key)
        if attempts > length * length + 10:
            raise RuntimeError("the chain did not converge")
    seconds = time.perf_counter() - started
    ready = Component.objects.filter(cluster=cluster, phase="Ready").count()
    emulator.stop()
    return {"chain_length": length, "chain_install_s": round(seconds, 3),
            "chain_helm_calls": int(helm_metrics.calls() - helm_before), "chain_attempts": attempts,
            "chain_ready": ready}


def index_figures(quick: bool) -> dict:
    """The chart repository's index.yaml figures (``bench/chartrepo.py``: 5,000 versions beside a static file)."""
    from chartrepo import measure_index

    return measure_index(quick)


def main() -> int:
    """Run the phases and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 clusters and a chain of 5")
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--components", type=int, default=10)
    parser.add_argument("--per-emulator", type=int, default=10, help="clusters served by one emulated API server")
    args = parser.parse_args()
    clusters = 100 if args.quick else args.clusters
    chain = 5 if args.quick else args.components
    configure()

    import django

    django.setup()
    import tempfile

    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    settings.EDGE_HELM_HOME = tempfile.mkdtemp(prefix="bench-helm-")
    settings.STORAGES = {**settings.STORAGES, "charts": {**settings.STORAGES["charts"], "OPTIONS": {
        "location": tempfile.mkdtemp(prefix="bench-charts-")}}}

    results = {"clusters": clusters, "components_per_cluster": args.components, "database": "sqlite",
               "clusters_per_emulator": args.per_emulator}
    seed_seconds = timed(lambda: results.update(_fleet=seed_fleet(clusters, args.components, args.per_emulator)))
    fleet, emulators = results.pop("_fleet")
    results["seed_s"] = round(seed_seconds, 2)
    first = no_drift_cycle(fleet, emulators)  # builds each cluster's client (decrypts its connection) once
    results["noop_first_cycle_s"] = first["noop_cycle_s"]
    results["noop_first_reads_per_cluster"] = first["noop_reads_per_cluster"]
    results.update(no_drift_cycle(fleet, emulators))  # the steady state: what every later cycle costs
    for emulator in emulators:
        emulator.stop()
    results.update(chain_install(chain))
    results.update(index_figures(args.quick))

    print(f"Components: {clusters} clusters x {args.components} components, no drift, one cycle "
          f"({args.per_emulator} clusters per emulated API server, SQLite)")
    print(f"{'measure':34} {'value':>12}")
    for label, key in (("Helm calls in the cycle", "noop_helm_calls"), ("reads per cluster", "noop_reads_per_cluster"),
                       ("components due / drifted", None), ("first cycle seconds (clients built)",
                                                            "noop_first_cycle_s"),
                       ("cycle seconds", "noop_cycle_s"), ("per cluster (ms)", "noop_per_cluster_ms")):
        value = f"{results['noop_components_due']}/{results['noop_drifted']}" if key is None else results[key]
        print(f"{label:34} {value!s:>12}")
    print(f"Chain of {chain} dependent components on one cluster (real Helm, spawned)")
    for label, key in (("wall seconds to all Ready", "chain_install_s"), ("Helm calls", "chain_helm_calls"),
                       ("reconcile attempts", "chain_attempts"), ("components Ready", "chain_ready")):
        print(f"{label:34} {results[key]!s:>12}")
    print(f"{'index.yaml P99 ms / rps ratio':34} {results['index_p99_ms']!s:>6} / {results['index_rps_ratio']!s}")
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
