"""The ``model`` provisioner end to end against an emulated member cluster through the platform's gateway: a
serving Deployment and Service per topology (the model fetched by an init container, the runtime image from the
map, GPUs as ``nvidia.com/gpu``), or, where the cluster serves KServe's InferenceService, one of those whose
Ready condition is the topology's status."""
from __future__ import annotations

import pytest
from django.test import override_settings

from appstore import provisioners
from appstore.provisioners.model import MODEL_DIR
from edgeplatform import kube as gateway
from edgeplatform.controllers.errors import PermanentError
from tests.appstore.provisioning import BASE, application, deployment, member, targets, version
from tests.support import ApiClient

MODEL = {"modelName": "shelf-detector", "modelVersion": "3", "storageURI": "s3://models/shelf-detector/3",
         "framework": "PyTorch", "replicas": 1, "cpuRequest": "500m", "memoryRequest": "1Gi"}
ISVC_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "inferenceservices.serving.kserve.io"},
    "spec": {"group": "serving.kserve.io", "scope": "Namespaced",
             "names": {"plural": "inferenceservices", "singular": "inferenceservice", "kind": "InferenceService",
                       "shortNames": ["isvc"]},
             "versions": [{"name": "v1beta1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]}}


@pytest.fixture
def stores(kube_clusters, platform):
    """Cluster ``edge`` with node groups store-1 (a node) and store-2 (a node), namespace ``vision``, and the
    application ``shelf-detector`` of type model."""
    emulator, cluster = member(kube_clusters, platform, groups=("store-1", "store-2"))
    platform.namespace("vision", "edge")
    return emulator, cluster, application(platform, "shelf-detector", "model")


def test_each_topology_serves_the_model_with_its_runtime_fetched_first_and_gpus_requested(stores, platform):
    emulator, cluster, app = stores
    provisioner = provisioners.get("model")
    v3 = version(platform, app, "3.0.0", modelConfig={**MODEL, "gpu": 1})
    row = deployment(platform, "shelf-detector", "vision", app, [
        {"nodeGroup": "store-1", "replicas": 2},
        {"nodeGroup": "store-2", "workloadOverride": {"modelConfig": {"gpu": 0, "runtime": "triton"}}},
        {"nodeGroup": "__cloud__", "workloadOverride": {"modelConfig": {"gpu": 0, "storageURI": "pvc://models/shelf/3"}}}])
    found = {t.topology["nodeGroup"]: t for t in targets(row, v3)}
    client = gateway.member_client(cluster)

    with override_settings(EDGE_MODEL_RUNTIME_IMAGES={"triton": "registry.shop.example/tritonserver:24.08-py3"}):
        made = {group: provisioner.provision(target, client) for group, target in found.items()}
    # THEN each topology is a Deployment and a Service named after the deployment and its key
    names = {group: result.workloads[0] for group, result in made.items()}
    assert all(name.startswith("shelf-detector-") and name.endswith(found[g].key) for g, name in names.items())
    # the first apply into the missing namespace is refused: the namespace is made and the apply sent again
    assert {g: r.writes for g, r in made.items()} == {"store-1": 4, "store-2": 2, "__cloud__": 2}
    one = emulator.object("deployments", names["store-1"], "vision")
    pod = one["spec"]["template"]["spec"]
    assert one["spec"]["replicas"] == 2 and pod["nodeSelector"] == {"theriseunion.io/nodegroup": "store-1"}
    assert one["metadata"]["labels"]["app.theriseunion.io/version"] == "3.0.0"
    # AND the model is fetched from its storageURI into the volume the server reads, before the server starts
    (fetch,) = pod["initContainers"]
    assert fetch["image"] == "kserve/storage-initializer:v0.14.1" and fetch["args"] == [MODEL["storageURI"], MODEL_DIR]
    assert pod["volumes"] == [{"name": "model-store", "emptyDir": {}}]
    (server,) = pod["containers"]
    assert server["image"] == "pytorch/torchserve:0.12.0-gpu"  # PyTorch's runtime, its GPU image
    assert f"--model-store={MODEL_DIR}" in server["args"]
    assert server["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"nvidia.com/gpu": 1}}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    # AND the override of store-2 takes the image the setting maps triton to, with no GPU
    two = emulator.object("deployments", names["store-2"], "vision")["spec"]["template"]["spec"]
    assert two["containers"][0]["image"] == "registry.shop.example/tritonserver:24.08-py3"
    assert "limits" not in two["containers"][0]["resources"] and "tolerations" not in two
    # AND the cloud side mounts the model's claim (nothing to fetch) and keeps off edge nodes
    cloud = emulator.object("deployments", names["__cloud__"], "vision")["spec"]["template"]["spec"]
    assert "initContainers" not in cloud and "nodeSelector" not in cloud and "nodeAffinity" in cloud["affinity"]
    assert cloud["volumes"] == [{"name": "model-store", "persistentVolumeClaim": {"claimName": "models",
                                                                                  "readOnly": True}}]
    assert cloud["containers"][0]["volumeMounts"] == [{"name": "model-store", "mountPath": MODEL_DIR,
                                                       "readOnly": True, "subPath": "shelf/3"}]
    service = emulator.object("services", names["store-1"], "vision")
    assert service["spec"]["selector"]["app.theriseunion.io/topology-hash"] == found["store-1"].key

    # WHEN provisioned again with nothing changed, THEN nothing is written
    emulator.requests.clear()
    with override_settings(EDGE_MODEL_RUNTIME_IMAGES={"triton": "registry.shop.example/tritonserver:24.08-py3"}):
        assert [provisioner.provision(target, client).writes for target in found.values()] == [0, 0, 0]
    assert emulator.requests.count_writes() == 0

    # WHEN the pods are up, THEN each topology is Running on its node group's nodes
    assert emulator.settle()
    shown = provisioner.status(list(found.values()), client)
    assert {g: (shown[t.key].phase, shown[t.key].ready_replicas, shown[t.key].nodes) for g, t in found.items()} == {
        "store-1": ("Running", 2, ["store-1-1"]), "store-2": ("Running", 1, ["store-2-1"]),
        "__cloud__": ("Running", 1, ["edge-cloud-1"])}

    # WHEN store-2 is pruned, THEN its Deployment and Service go and store-1's stay
    assert provisioner.unprovision(row, client, frozenset({found["store-1"].key, found["__cloud__"].key})) == 2
    assert sorted(d["metadata"]["name"] for d in emulator.objects("deployments", namespace="vision")) == sorted(
        [names["store-1"], names["__cloud__"]])
    assert provisioner.status([found["store-2"]], client)[found["store-2"].key].phase == "Missing"


def test_where_kserve_is_served_each_topology_is_an_inference_service_whose_ready_condition_is_its_status(
        stores, platform):
    emulator, cluster, app = stores
    provisioner = provisioners.get("model")
    client = gateway.member_client(cluster)
    v3 = version(platform, app, "3.0.0", modelConfig=MODEL)
    row = deployment(platform, "shelf-detector", "vision", app, [{"nodeGroup": "store-1"}])
    (target,) = targets(row, v3)
    plain = provisioner.provision(target, client).workloads[0]  # before KServe is installed: a Deployment
    assert emulator.object("deployments", plain, "vision") is not None

    # WHEN KServe's CRD is installed and the topology is provisioned again
    gateway.apply(client, ISVC_CRD)
    provisioner.provision(target, client)
    # THEN it is an InferenceService (the plain Deployment and Service are gone)
    (isvc,) = emulator.objects("inferenceservices", namespace="vision", group="serving.kserve.io")
    predictor = isvc["spec"]["predictor"]
    assert predictor["model"] == {"modelFormat": {"name": "pytorch"}, "runtime": "kserve-torchserve",
                                  "storageUri": MODEL["storageURI"],
                                  "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}
    assert predictor["nodeSelector"] == {"theriseunion.io/nodegroup": "store-1"}
    assert predictor["labels"]["app.theriseunion.io/topology-hash"] == target.key
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 1)
    assert emulator.objects("deployments", namespace="vision") == []
    assert emulator.objects("services", namespace="vision") == []
    name = isvc["metadata"]["name"]

    def kserve_reports(status: dict):  # what KServe's controller writes
        gateway.apply(client, {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                               "metadata": {"name": name, "namespace": "vision"},
                               "status": {"observedGeneration": 1, **status}},
                      field_manager="kserve", subresource="status")
        return provisioner.status([target], client)[target.key]

    # THEN it is Progressing until KServe says Ready, Running then, and Failed when the model cannot load
    assert kserve_reports({"conditions": [{"type": "Ready", "status": "False", "reason": "PredictorNotReady",
                                           "message": "predictor is not ready"}]}).phase == "Progressing"
    running = kserve_reports({"conditions": [{"type": "Ready", "status": "True"}]})
    assert (running.phase, running.workloads, running.version) == ("Running", [name], "3.0.0")
    failed = kserve_reports({"conditions": [{"type": "Ready", "status": "False"}], "modelStatus": {
        "transitionStatus": "BlockedByFailedLoad", "lastFailureInfo": {"message": "model.pt: unexpected EOF"}}})
    assert failed.phase == "Failed" and "unexpected EOF" in failed.message
    # AND unprovisioning removes it
    assert provisioner.unprovision(row, client) == 1
    assert emulator.objects("inferenceservices", namespace="vision", group="serving.kserve.io") == []


def test_a_model_config_is_validated_naming_the_field(platform):
    provisioner = provisioners.get("model")
    assert provisioner.validate(MODEL) == []
    assert provisioner.validate({**MODEL, "storageURI": "pvc://models-claim/shelf/3"}) == []
    assert provisioner.validate({**MODEL, "framework": "", "runtime": "tensorflow-serving"}) == []
    fields = {c["field"]: c["message"] for c in provisioner.validate(
        {**MODEL, "storageURI": "ftp://models.example/x", "framework": "caffe", "cpuRequest": "lots"})}
    assert set(fields) == {"spec.modelConfig.storageURI", "spec.modelConfig.runtime", "spec.modelConfig.cpuRequest"}
    assert "s3://" in fields["spec.modelConfig.storageURI"] and "caffe" in fields["spec.modelConfig.runtime"]
    unknown = provisioner.validate({**MODEL, "runtime": "my-server"})
    assert [c["field"] for c in unknown] == ["spec.modelConfig.runtime"] and "my-server" in unknown[0]["message"]
    with override_settings(EDGE_MODEL_RUNTIME_IMAGES={"my-server": "registry.shop.example/my-server:1.0"}):
        assert provisioner.validate({**MODEL, "runtime": "my-server"}) == []
    # through the API: a version with a runtime nobody maps is refused, naming spec.modelConfig.runtime
    app = application(platform, "shelf-detector", "model")
    admin = ApiClient.for_user(platform.user("root", superuser=True))
    body = {"apiVersion": "app.theriseunion.io/v1alpha1", "kind": "ApplicationVersion",
            "metadata": {"name": "shelf-detector-3"},
            "spec": {"applicationRef": app.name, "version": "3.0.0", "modelConfig": {**MODEL, "runtime": "my-server"}}}
    refused = admin.post(f"{BASE}/applicationversions", body)
    assert refused.status_code == 422
    assert [c["field"] for c in refused.json()["details"]["causes"]] == ["spec.modelConfig.runtime"]


def test_an_override_that_breaks_the_config_is_permanent(stores, platform):
    emulator, cluster, app = stores
    v3 = version(platform, app, "3.0.0", modelConfig=MODEL)
    row = deployment(platform, "shelf-detector", "vision", app, [
        {"nodeGroup": "store-1", "workloadOverride": {"modelConfig": {"storageURI": "ftp://elsewhere/x"}}}])
    (target,) = targets(row, v3)
    with pytest.raises(PermanentError) as failed:
        provisioners.get("model").provision(target, gateway.member_client(cluster))
    assert "spec.modelConfig.storageURI" in str(failed.value)
    assert emulator.objects("deployments", namespace="vision") == []
