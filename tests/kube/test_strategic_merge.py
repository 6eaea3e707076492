"""Strategic merge patch merges lists by their patchMergeKey and honours the directives, for built-in kinds only."""
from __future__ import annotations

from kubernetes import client

from tests.kube.testing import deployment, raw

STRATEGIC = "application/strategic-merge-patch+json"
PATH = "/apis/apps/v1/namespaces/default/deployments/web"


def _web(apps):
    body = deployment("web")
    body["spec"]["template"]["spec"].update(
        containers=[{"name": "main", "image": "nginx:1.27", "ports": [{"containerPort": 80}],
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "volumeMounts": [{"name": "data", "mountPath": "/data"}], "args": ["--one"]},
                    {"name": "sidecar", "image": "envoy:1"}],
        volumes=[{"name": "data", "emptyDir": {}}],
        tolerations=[{"key": "edge", "operator": "Exists"}])
    body["metadata"]["finalizers"] = ["example.io/a"]
    return apps.create_namespaced_deployment("default", body)


def _patch(api, body, path=PATH):
    status, answer = raw(api, "PATCH", path, body, STRATEGIC)
    assert status == 200, answer
    return answer


def test_the_client_default_patch_merges_containers_by_name(api):
    apps = client.AppsV1Api(api)
    _web(apps)
    patched = apps.patch_namespaced_deployment("web", "default", {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "envoy:2"}]}}}})
    containers = patched.spec.template.spec.containers
    assert [(c.name, c.image) for c in containers] == [("main", "nginx:1.27"), ("sidecar", "envoy:2")]
    assert containers[0].env[1].value == "2"  # untouched fields of the other container stay


def test_nested_lists_merge_by_their_keys_and_others_replace(api):
    _web(client.AppsV1Api(api))
    spec = _patch(api, {"spec": {"template": {"spec": {
        "containers": [{"name": "main", "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}],
                        "ports": [{"containerPort": 8080}], "volumeMounts": [{"mountPath": "/data", "readOnly": True}],
                        "args": ["--two"]}],
        "tolerations": [{"key": "other", "operator": "Exists"}]}}}})["spec"]["template"]["spec"]
    main = spec["containers"][0]
    assert [(e["name"], e["value"]) for e in main["env"]] == [("A", "1"), ("B", "two"), ("C", "3")]
    assert [p["containerPort"] for p in main["ports"]] == [80, 8080]
    assert main["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]
    assert main["args"] == ["--two"]  # no merge key: replaced
    assert spec["tolerations"] == [{"key": "other", "operator": "Exists"}]  # tolerations replace
    assert len(spec["containers"]) == 2


def test_patch_delete_and_replace_directives(api):
    _web(client.AppsV1Api(api))
    spec = _patch(api, {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "$patch": "delete"},
        {"name": "main", "env": [{"name": "A", "$patch": "delete"}]}]}}}})["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["main"]
    assert [e["name"] for e in spec["containers"][0]["env"]] == ["B"]
    spec = _patch(api, {"spec": {"template": {"spec": {"containers": [
        {"name": "only", "image": "busybox:1"}, {"$patch": "replace"}]}}}})["spec"]["template"]["spec"]
    assert [c["name"] for c in spec["containers"]] == ["only"]
    spec = _patch(api, {"spec": {"template": {"spec": {"securityContext": {"$patch": "replace", "runAsUser": 1}}}}})
    assert spec["spec"]["template"]["spec"]["securityContext"] == {"runAsUser": 1}
    answer = _patch(api, {"spec": {"template": {"spec": {"securityContext": {"$patch": "delete"}}}}})
    assert answer["spec"]["template"]["spec"]["securityContext"] == {}  # deleted, then defaulted as the server does


def test_retain_keys_primitive_list_deletes_and_element_order(api):
    _web(client.AppsV1Api(api))
    # switching a volume's source: $retainKeys drops the old one (kubectl apply sends it for volumes and strategy)
    answer = _patch(api, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.io/a"],
                                       "finalizers": ["example.io/b"]},
                          "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                                   "template": {"spec": {"volumes": [
                                       {"name": "data", "$retainKeys": ["name", "configMap"],
                                        "configMap": {"name": "cfg"}}]}}}})
    assert answer["spec"]["template"]["spec"]["volumes"] == [{"name": "data", "configMap": {"name": "cfg"}}]
    assert answer["spec"]["strategy"] == {"type": "Recreate"}
    assert answer["metadata"]["finalizers"] == ["example.io/b"]
    answer = _patch(api, {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "extra"}, {"name": "main"}],
        "containers": [{"name": "extra", "image": "busybox:1"}]}}}})
    assert [c["name"] for c in answer["spec"]["template"]["spec"]["containers"]] == ["sidecar", "extra", "main"]


def test_services_merge_ports_by_port_and_configmaps_merge_maps(api):
    core = client.CoreV1Api(api)
    core.create_namespaced_service("default", {"metadata": {"name": "svc"}, "spec": {"ports": [
        {"name": "http", "port": 80}, {"name": "https", "port": 443}]}})
    patched = core.patch_namespaced_service("svc", "default", {"spec": {"ports": [{"port": 443, "targetPort": 8443}]}})
    assert [(p.port, p.target_port) for p in patched.spec.ports] == [(80, 80), (443, 8443)]
    core.create_namespaced_config_map("default", {"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}})
    assert core.patch_namespaced_config_map("cm", "default", {"data": {"a": None, "c": "3"}}).data == \
        {"b": "2", "c": "3"}


def test_custom_resources_refuse_strategic_merge_patch_with_415(api):
    from tests.kube.test_kube_emulator import CRD

    client.ApiextensionsV1Api(api).create_custom_resource_definition(CRD)
    client.CustomObjectsApi(api).create_namespaced_custom_object("example.io", "v1alpha1", "default", "widgets", {
        "apiVersion": "example.io/v1alpha1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}})
    path = "/apis/example.io/v1alpha1/namespaces/default/widgets/w"
    status, answer = raw(api, "PATCH", path, {"spec": {"size": 2}}, STRATEGIC)
    assert (status, answer["reason"]) == (415, "UnsupportedMediaType")
    assert answer["message"] == ("the body of the request was in an unknown format - accepted media types include: "
                                 "application/json-patch+json, application/merge-patch+json, "
                                 "application/apply-patch+yaml")
    assert raw(api, "PATCH", path, {"spec": {"size": 2}}, "application/merge-patch+json")[0] == 200
