"""The switchable kubelet: workloads become pods on nodes, pods become Ready (or not), status follows."""
from __future__ import annotations

import threading
import time

from kubernetes import client, config, watch

from tests.kube.testing import deployment, error_of, wait_for


def _status(kube, resource, name, namespace="default"):
    return (kube.object(resource, name, namespace) or {}).get("status") or {}


def _pods(kube, namespace="default"):
    return kube.objects("pods", namespace=namespace)


def _ready(pod):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def _collect(core, kube, stop):
    """Pod events from now on, in a thread, until ``stop`` is set."""
    events: list = []
    w = watch.Watch()

    def run():
        for event in w.stream(core.list_namespaced_pod, "default", resource_version=str(kube.resource_version),
                              timeout_seconds=10):
            obj = event["object"]
            ready = any(c.type == "Ready" and c.status == "True" for c in (obj.status.conditions or []))
            events.append((event["type"], obj.metadata.name, obj.status.phase, ready))
            if stop.is_set():
                w.stop()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert wait_for(lambda: kube.open_watches >= 1)
    return events, thread


def test_a_deployment_becomes_ready_pods_spread_over_nodes(kube, apps):
    kube.kubelet_on(nodes=2)
    apps.create_namespaced_deployment("default", deployment("web", replicas=3))
    assert wait_for(lambda: _status(kube, "deployments", "web").get("availableReplicas") == 3)
    assert kube.settle()
    status = apps.read_namespaced_deployment_status("web", "default").status
    assert (status.replicas, status.ready_replicas, status.updated_replicas, status.observed_generation) == (3, 3, 3, 1)
    assert status.unavailable_replicas is None
    conditions = {c.type: (c.status, c.reason) for c in status.conditions}
    assert conditions == {"Available": ("True", "MinimumReplicasAvailable"),
                          "Progressing": ("True", "NewReplicaSetAvailable")}
    (rs,) = apps.list_namespaced_replica_set("default").items
    assert rs.metadata.owner_references[0].kind == "Deployment" and rs.metadata.name.startswith("web-")
    assert rs.spec.selector.match_labels["pod-template-hash"] == rs.metadata.labels["pod-template-hash"]
    assert (rs.status.replicas, rs.status.ready_replicas, rs.status.available_replicas) == (3, 3, 3)
    pods = _pods(kube)
    assert len(pods) == 3 and all(p["status"]["phase"] == "Running" and _ready(p) for p in pods)
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-1", "node-1", "node-2"]
    assert len({p["status"]["podIP"] for p in pods}) == 3
    assert all(p["metadata"]["ownerReferences"][0]["name"] == rs.metadata.name for p in pods)
    nodes = client.CoreV1Api(apps.api_client).list_node().items
    assert [c.status for n in nodes for c in n.status.conditions if c.type == "Ready"] == ["True", "True"]


def test_a_rolling_update_makes_a_new_replicaset_and_scales_the_old_one_down(kube, apps, core):
    kube.kubelet_on(nodes=1)
    apps.create_namespaced_deployment("default", deployment("web", replicas=4))
    assert wait_for(lambda: _status(kube, "deployments", "web").get("availableReplicas") == 4)
    stop = threading.Event()
    events, thread = _collect(core, kube, stop)
    apps.patch_namespaced_deployment("web", "default", {"spec": {"template": {"spec": {"containers": [
        {"name": "main", "image": "nginx:1.28"}]}}}})
    assert wait_for(lambda: _status(kube, "deployments", "web").get("observedGeneration") == 2
                    and _status(kube, "deployments", "web").get("updatedReplicas") == 4
                    and _status(kube, "deployments", "web").get("replicas") == 4
                    and _status(kube, "deployments", "web").get("availableReplicas") == 4)
    assert kube.settle()
    stop.set()
    kube.drop_watches(abrupt=False)  # end the stream cleanly
    replica_sets = sorted(apps.list_namespaced_replica_set("default").items,
                          key=lambda r: r.metadata.annotations["deployment.kubernetes.io/revision"])
    assert [(r.spec.replicas, r.spec.template.spec.containers[0].image) for r in replica_sets] == [
        (0, "nginx:1.27"), (4, "nginx:1.28")]
    assert {p["spec"]["containers"][0]["image"] for p in _pods(kube)} == {"nginx:1.28"}
    assert apps.read_namespaced_deployment("web", "default").status.observed_generation == 2
    # the watch saw the whole rollout: new pods added, made ready, old ones deleted
    kinds = {e[0] for e in events}
    assert kinds == {"ADDED", "MODIFIED", "DELETED"}
    assert sum(1 for e in events if e[0] == "ADDED") == 4 and sum(1 for e in events if e[0] == "DELETED") == 4
    thread.join(5)
    assert not thread.is_alive()


def test_recreate_empties_the_old_replicaset_first(kube, apps):
    kube.kubelet_on(nodes=1)
    apps.create_namespaced_deployment("default", deployment("job", replicas=2, strategy={"type": "Recreate"}))
    assert wait_for(lambda: _status(kube, "deployments", "job").get("availableReplicas") == 2)
    apps.patch_namespaced_deployment("job", "default", {"spec": {"template": {"metadata": {"labels": {"v": "2"}}}}})
    assert wait_for(lambda: _status(kube, "deployments", "job").get("observedGeneration") == 2
                    and _status(kube, "deployments", "job").get("updatedReplicas") == 2
                    and _status(kube, "deployments", "job").get("availableReplicas") == 2)
    assert kube.settle()
    assert [p["metadata"]["labels"].get("v") for p in _pods(kube)] == ["2", "2"]


def test_a_statefulset_makes_ordered_pods_one_ready_after_another(kube, apps, core):
    kube.kubelet_on(nodes=1, delay=0.2)
    stop = threading.Event()
    events, thread = _collect(core, kube, stop)
    body = deployment("db", replicas=3)
    body["spec"]["serviceName"] = "db"
    apps.create_namespaced_stateful_set("default", body)
    assert wait_for(lambda: _status(kube, "statefulsets", "db").get("readyReplicas") == 3, timeout=10)
    stop.set()
    kube.drop_watches(abrupt=False)  # end the stream cleanly
    thread.join(5)
    added = [name for kind, name, _, _ in events if kind == "ADDED"]
    assert added == ["db-0", "db-1", "db-2"]
    for earlier, later in (("db-0", "db-1"), ("db-1", "db-2")):  # OrderedReady: the next after the previous is Ready
        ready_at = next(i for i, e in enumerate(events) if e[1] == earlier and e[3])
        assert ready_at < events.index(next(e for e in events if e[:2] == ("ADDED", later)))
    pod = core.read_namespaced_pod("db-1", "default")
    assert pod.spec.hostname == "db-1" and pod.spec.subdomain == "db"
    assert pod.metadata.labels["statefulset.kubernetes.io/pod-name"] == "db-1"
    status = apps.read_namespaced_stateful_set_status("db", "default").status
    assert (status.replicas, status.current_replicas, status.updated_replicas) == (3, 3, 3)
    assert status.current_revision == status.update_revision and status.observed_generation == 1
    apps.patch_namespaced_stateful_set("db", "default", {"spec": {"replicas": 1}})
    assert wait_for(lambda: [p["metadata"]["name"] for p in _pods(kube)] == ["db-0"])


def test_a_daemonset_runs_on_every_matching_node_whose_taints_it_tolerates(kube, apps, core):
    kube.add_node("edge-a", labels={"edge": "true"})
    kube.add_node("edge-b", labels={"edge": "true"}, taints=[{"key": "site", "value": "b", "effect": "NoSchedule"}])
    kube.add_node("edge-c", labels={"edge": "true"}, unschedulable=True)
    kube.add_node("cloud")
    kube.kubelet_on(nodes=[])
    body = deployment("agent")
    body["spec"]["template"]["spec"]["nodeSelector"] = {"edge": "true"}
    apps.create_namespaced_daemon_set("default", body)
    assert wait_for(lambda: _status(kube, "daemonsets", "agent").get("numberReady") == 2)
    # a cordoned node keeps its daemon pods: the DaemonSet controller tolerates node.kubernetes.io/unschedulable
    assert sorted(p["spec"]["nodeName"] for p in _pods(kube)) == ["edge-a", "edge-c"]
    apps.patch_namespaced_daemon_set("agent", "default", {"spec": {"template": {"spec": {"tolerations": [
        {"key": "site", "operator": "Exists"}]}}}})
    assert wait_for(lambda: sorted(p["spec"]["nodeName"] for p in _pods(kube) if _ready(p)
                                   and p["spec"].get("tolerations", [{}])[0].get("key") == "site")
                    == ["edge-a", "edge-b", "edge-c"])
    assert kube.settle()
    status = apps.read_namespaced_daemon_set_status("agent", "default").status
    assert (status.desired_number_scheduled, status.current_number_scheduled, status.number_ready,
            status.updated_number_scheduled, status.number_misscheduled, status.observed_generation) == \
        (3, 3, 3, 3, 0, 2)


def test_unschedulable_pods_stay_pending_and_cordoned_nodes_get_no_new_pods(kube, core, apps):
    kube.kubelet_on(nodes=2)
    core.patch_node("node-1", {"spec": {"unschedulable": True}})
    core.create_namespaced_pod("default", {"metadata": {"name": "gpu"}, "spec": {
        "nodeSelector": {"gpu": "yes"}, "containers": [{"name": "c", "image": "cuda:12"}]}})
    core.create_namespaced_pod("default", {"metadata": {"name": "pinned"}, "spec": {
        "nodeName": "node-1", "containers": [{"name": "c", "image": "x:1"}]}})
    apps.create_namespaced_deployment("default", deployment("web", replicas=2))
    assert wait_for(lambda: _status(kube, "deployments", "web").get("readyReplicas") == 2)
    assert wait_for(lambda: _status(kube, "pods", "gpu").get("conditions"))
    pod = core.read_namespaced_pod("gpu", "default")
    assert pod.status.phase == "Pending" and pod.spec.node_name is None
    (scheduled,) = pod.status.conditions
    assert (scheduled.type, scheduled.status, scheduled.reason) == ("PodScheduled", "False", "Unschedulable")
    assert scheduled.message == ("0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                                 "1 node(s) were unschedulable.")
    web = [p for p in _pods(kube) if p["metadata"]["name"].startswith("web-")]
    assert {p["spec"]["nodeName"] for p in web} == {"node-2"}
    assert wait_for(lambda: _ready(kube.object("pods", "pinned", "default")))  # nodeName bypasses the scheduler
    core.patch_node("node-1", {"metadata": {"labels": {"gpu": "yes"}}, "spec": {"unschedulable": False}})
    assert wait_for(lambda: _ready(kube.object("pods", "gpu", "default")))
    assert core.read_namespaced_pod("gpu", "default").spec.node_name == "node-1"


def test_switches_not_ready_offline_node_and_readiness_delay(kube, apps, core):
    kube.kubelet_on(nodes=2, ready=False)
    apps.create_namespaced_deployment("default", deployment("web", replicas=2))
    assert wait_for(lambda: _status(kube, "deployments", "web").get("replicas") == 2
                    and len([p for p in _pods(kube) if p["status"]["phase"] == "Running"]) == 2)
    assert kube.settle()
    status = apps.read_namespaced_deployment_status("web", "default").status
    assert status.ready_replicas is None and status.unavailable_replicas == 2
    assert {c.type: c.status for c in status.conditions}["Available"] == "False"
    pod = core.read_namespaced_pod(_pods(kube)[0]["metadata"]["name"], "default")
    ready = next(c for c in pod.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason, ready.message) == ("False", "ContainersNotReady",
                                                           "containers with unready status: [main]")
    kube.pods_ready(True)
    assert wait_for(lambda: _status(kube, "deployments", "web").get("readyReplicas") == 2)
    # an offline edge site: its node goes Unknown and its pods stop being Ready
    kube.node_offline("node-2")
    assert wait_for(lambda: _status(kube, "deployments", "web").get("readyReplicas") == 1)
    node = core.read_node("node-2")
    assert [(c.status, c.reason) for c in node.status.conditions] == [("Unknown", "NodeStatusUnknown")]
    kube.node_offline("node-2", offline=False)
    assert wait_for(lambda: _status(kube, "deployments", "web").get("readyReplicas") == 2)
    kube.readiness_delay(0.5)
    started = time.monotonic()
    core.create_namespaced_pod("default", {"metadata": {"name": "slow"}, "spec": {"containers": [
        {"name": "c", "image": "x:1"}]}})
    assert wait_for(lambda: (_status(kube, "pods", "slow").get("phase") == "Running"))
    assert not _ready(kube.object("pods", "slow", "default"))
    assert wait_for(lambda: _ready(kube.object("pods", "slow", "default")))
    assert time.monotonic() - started >= 0.5


def test_with_the_kubelet_off_nothing_happens_and_deleting_a_deployment_collects_its_pods(kube, apps):
    apps.create_namespaced_deployment("default", deployment("idle"))
    time.sleep(0.2)
    assert kube.objects("replicasets", namespace="default") == [] and _status(kube, "deployments", "idle") == {}
    kube.kubelet_on()
    assert wait_for(lambda: len(_pods(kube)) == 1)
    apps.delete_namespaced_deployment("idle", "default")
    assert wait_for(lambda: not _pods(kube) and not kube.objects("replicasets", namespace="default"))
    kube.kubelet_off()
    assert not kube.kubelet.running


def test_a_drain_cordons_and_evicts_within_the_budget(kube, apps, core, policy):
    kube.kubelet_on(nodes=2)
    apps.create_namespaced_deployment("default", deployment("web", replicas=2))
    assert wait_for(lambda: _status(kube, "deployments", "web").get("availableReplicas") == 2)
    policy.create_namespaced_pod_disruption_budget("default", {"metadata": {"name": "web"}, "spec": {
        "minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})
    core.patch_node("node-1", {"spec": {"unschedulable": True}})
    (victim,) = [p["metadata"]["name"] for p in _pods(kube) if p["spec"]["nodeName"] == "node-1"]
    eviction = client.V1Eviction(metadata=client.V1ObjectMeta(name=victim, namespace="default"))
    status, _ = error_of(core.create_namespaced_pod_eviction, victim, "default", eviction)
    assert status == 429  # the budget needs both
    apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert wait_for(lambda: (_status(kube, "poddisruptionbudgets", "web").get("disruptionsAllowed") == 1))
    core.create_namespaced_pod_eviction(victim, "default", eviction)
    assert wait_for(lambda: _status(kube, "deployments", "web").get("availableReplicas") == 3
                    and all(p["spec"].get("nodeName") == "node-2" for p in _pods(kube)))


def test_each_cluster_has_its_own_kubelet(kube_clusters):
    host, member = kube_clusters(2)
    member.kubelet_on(nodes=["edge-1"])
    for cluster in (host, member):
        api = config.new_client_from_config(str(cluster.kubeconfig_path))
        client.AppsV1Api(api).create_namespaced_deployment("default", deployment("web"))
    assert wait_for(lambda: _status(member, "deployments", "web").get("readyReplicas") == 1)
    assert host.objects("pods", namespace="default") == [] and not host.kubelet.running
    assert member.objects("pods", namespace="default")[0]["spec"]["nodeName"] == "edge-1"
