"""Workload kinds, pods, services, events and leases behave as kube-apiserver serves them (real client, real HTTP)."""
from __future__ import annotations

from kubernetes import client

from tests.kube.testing import deployment, error_of, raw


def test_discovery_serves_the_new_kinds_namespaced_with_their_subresources(api):
    _, apps_v1 = raw(api, "GET", "/apis/apps/v1")
    names = {r["name"]: r for r in apps_v1["resources"]}
    for plural in ("deployments", "statefulsets", "daemonsets", "replicasets"):
        assert names[plural]["namespaced"] and f"{plural}/status" in names
    _, core_v1 = raw(api, "GET", "/api/v1")
    core = {r["name"]: r for r in core_v1["resources"]}
    assert {"pods", "pods/status", "services", "services/status", "events", "namespaces/finalize"} <= set(core)
    assert (core["pods/eviction"]["group"], core["pods/eviction"]["version"], core["pods/eviction"]["kind"]) == \
        ("policy", "v1", "Eviction")
    assert core["pods/eviction"]["verbs"] == ["create"]
    for group, plural in (("policy", "poddisruptionbudgets"), ("coordination.k8s.io", "leases"),
                          ("events.k8s.io", "events")):
        _, listing = raw(api, "GET", f"/apis/{group}/v1")
        assert [r["namespaced"] for r in listing["resources"] if r["name"] == plural] == [True]
    _, groups = raw(api, "GET", "/apis")
    assert {"apps", "policy", "coordination.k8s.io", "events.k8s.io"} <= {g["name"] for g in groups["groups"]}


def test_deployment_defaults_generation_and_status_subresource(apps):
    created = apps.create_namespaced_deployment("default", dict(deployment("web"), status={"replicas": 5}))
    assert created.spec.replicas == 1
    assert created.spec.strategy.type == "RollingUpdate"
    assert (created.spec.strategy.rolling_update.max_surge, created.spec.strategy.rolling_update.max_unavailable) \
        == ("25%", "25%")
    assert created.spec.revision_history_limit == 10 and created.spec.progress_deadline_seconds == 600
    assert created.spec.template.spec.restart_policy == "Always"
    assert created.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert created.metadata.generation == 1 and created.status is None  # status is reset on create
    # a status write changes no generation; a spec change bumps it; a label change does not
    apps.patch_namespaced_deployment_status("web", "default", {"status": {"observedGeneration": 1, "replicas": 1}})
    labelled = apps.patch_namespaced_deployment("web", "default", {"metadata": {"labels": {"team": "a"}}})
    assert labelled.metadata.generation == 1 and labelled.status.observed_generation == 1
    scaled = apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2 and scaled.status.replicas == 1  # status kept on a main write
    # status sent on the main resource is ignored
    ignored = apps.patch_namespaced_deployment("web", "default", {"status": {"replicas": 9}})
    assert ignored.status.replicas == 1


def test_statefulset_daemonset_replicaset_defaults(apps):
    sts = apps.create_namespaced_stateful_set("default", dict(deployment("db"), spec=dict(
        deployment("db")["spec"], serviceName="db")))
    assert (sts.spec.replicas, sts.spec.pod_management_policy, sts.spec.update_strategy.type) == \
        (1, "OrderedReady", "RollingUpdate")
    ds = apps.create_namespaced_daemon_set("default", deployment("agent"))
    assert ds.spec.update_strategy.rolling_update.max_unavailable == 1 and ds.metadata.generation == 1
    rs = apps.create_namespaced_replica_set("default", deployment("plain", replicas=2))
    assert rs.spec.replicas == 2


def test_selector_must_match_the_template_and_cannot_change(apps):
    body = deployment("web")
    body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    status, error = error_of(apps.create_namespaced_deployment, "default", body)
    assert status == 422 and error["reason"] == "Invalid"
    assert error["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec.template.metadata.labels",
        "message": 'Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`'}]
    body["spec"]["selector"] = {}
    status, error = error_of(apps.create_namespaced_daemon_set, "default", body)
    assert status == 422 and error["details"]["causes"][0]["field"] == "spec.selector"
    assert "empty selector is invalid for daemonset" in error["details"]["causes"][0]["message"]
    apps.create_namespaced_deployment("default", deployment("web", labels={"app": "web", "tier": "f"}))
    status, error = error_of(apps.patch_namespaced_deployment, "web", "default",
                             {"spec": {"selector": {"matchLabels": {"tier": None}}}})
    assert status == 422 and error["details"]["causes"][0]["field"] == "spec.selector"
    assert error["details"]["causes"][0]["message"].endswith("field is immutable")
    no_image = deployment("bare")
    del no_image["spec"]["template"]["spec"]["containers"][0]["image"]
    status, error = error_of(apps.create_namespaced_deployment, "default", no_image)
    assert [c["field"] for c in error["details"]["causes"]] == ["spec.template.spec.containers[0].image"]


def test_services_get_a_cluster_ip_that_stays(core):
    assert core.read_namespaced_service("kubernetes", "default").spec.cluster_ip == "10.96.0.1"
    first = core.create_namespaced_service("default", {"metadata": {"name": "web"},
                                                       "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
    second = core.create_namespaced_service("default", {"metadata": {"name": "api"}, "spec": {
        "type": "NodePort", "ports": [{"port": 8080, "targetPort": "http"}]}})
    assert first.spec.cluster_ip == "10.96.0.2" and first.spec.cluster_ips == ["10.96.0.2"]
    assert second.spec.cluster_ip == "10.96.0.3" and 30000 <= second.spec.ports[0].node_port <= 32767
    assert (first.spec.type, first.spec.session_affinity, first.spec.ports[0].protocol,
            first.spec.ports[0].target_port) == ("ClusterIP", "None", "TCP", 80)
    assert first.spec.ip_families == ["IPv4"] and first.spec.ip_family_policy == "SingleStack"
    headless = core.create_namespaced_service("default", {"metadata": {"name": "db"},
                                                          "spec": {"clusterIP": "None", "ports": [{"port": 5432}]}})
    assert headless.spec.cluster_ip == "None"
    # a replace without the allocated address keeps it; changing it is refused
    body = first.to_dict()
    replaced = core.replace_namespaced_service("web", "default", {
        "metadata": {"name": "web", "resourceVersion": body["metadata"]["resource_version"]},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 81}]}})
    assert replaced.spec.cluster_ip == "10.96.0.2" and replaced.spec.ports[0].port == 81
    status, error = error_of(core.patch_namespaced_service, "web", "default", {"spec": {"clusterIP": "10.96.0.50"}})
    assert status == 422 and error["details"]["causes"][0]["field"] == "spec.clusterIPs[0]"


def test_pods_start_pending_and_their_spec_is_immutable(core):
    pod = core.create_namespaced_pod("default", {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "busybox"}]}, "status": {"phase": "Running"}})
    assert pod.status.phase == "Pending" and pod.status.qos_class == "BestEffort"
    assert pod.spec.containers[0].image_pull_policy == "Always"  # no tag means latest
    assert pod.metadata.generation is None
    assert core.patch_namespaced_pod("p", "default", {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}})
    status, error = error_of(core.patch_namespaced_pod, "p", "default", {"spec": {"hostname": "x"}})
    assert status == 422 and error["details"]["causes"][0]["reason"] == "FieldValueForbidden"
    status, error = raw(core.api_client, "POST", "/api/v1/namespaces/default/pods",
                        {"metadata": {"name": "q"}, "spec": {}})
    assert status == 422 and error["details"]["causes"][0]["field"] == "spec.containers"


def test_leases_support_optimistic_leader_election(api):
    leases = client.CoordinationV1Api(api)
    lease = leases.create_namespaced_lease("kube-system", {"metadata": {"name": "controller"}, "spec": {
        "holderIdentity": "a", "leaseDurationSeconds": 15}})
    lease.spec.holder_identity = "b"
    taken = leases.replace_namespaced_lease("controller", "kube-system", lease)
    assert taken.spec.holder_identity == "b"
    lease.spec.holder_identity = "c"  # the stale copy loses
    status, _ = error_of(leases.replace_namespaced_lease, "controller", "kube-system", lease)
    assert status == 409


def test_core_and_events_k8s_io_events(api):
    core = client.CoreV1Api(api)
    core.create_namespaced_event("default", {"metadata": {"name": "e1"}, "reason": "Started", "message": "m",
                                             "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}})
    assert [e.reason for e in core.list_namespaced_event("default").items] == ["Started"]
    events = client.EventsV1Api(api)
    events.create_namespaced_event("default", {"metadata": {"name": "e2"}, "reason": "Pulled", "note": "n",
                                               "action": "Pull", "reportingController": "kubelet",
                                               "reportingInstance": "node-1",
                                               "eventTime": "2026-01-01T00:00:00.000000Z",
                                               "regarding": {"kind": "Pod", "name": "p"}, "type": "Normal"})
    assert [e.note for e in events.list_namespaced_event("default").items] == ["n"]
