"""The ``model`` provisioner: an AI model served on each topology, from the version's ``modelConfig``.

``modelConfig`` is ``{modelName, modelVersion, storageURI, framework, runtime, replicas, gpu, cpuRequest,
memoryRequest}``; a topology's ``workloadOverride.modelConfig`` is deep-merged over it (a shop without a GPU,
fewer replicas). Per topology, on a cluster that does **not** serve KServe:

* a **Deployment** whose pods fetch the model first — an init container (``EDGE_MODEL_STORAGE_INITIALIZER_IMAGE``,
  KServe's storage initializer) copies ``storageURI`` (``s3://``, ``gs://``, ``http(s)://``, ``hf://``) into an
  ``emptyDir`` mounted at ``/mnt/models``; a ``pvc://<claim>/<path>`` is mounted there read-only instead — and
  then run the serving runtime, whose image, arguments, port and readiness path come from ``RUNTIMES`` (the
  runtime's name, else the framework's; ``EDGE_MODEL_RUNTIME_IMAGES`` changes or adds entries). ``gpu`` GPUs are
  requested as ``nvidia.com/gpu`` limits (with the toleration GPU nodes' taint asks for, and the runtime's GPU
  image when it has one), ``cpuRequest``/``memoryRequest`` as requests, ``replicas`` (the topology's, else the
  config's, else 1) as its replicas;
* a **Service** in front of it (port 80 to the runtime's port).

On a cluster that serves ``serving.kserve.io/v1beta1`` InferenceService (found by discovery; off with
``EDGE_MODEL_USE_KSERVE=false``) the topology is one **InferenceService** instead: a predictor with the model
format of the framework, the runtime's KServe ServingRuntime when known, ``storageUri``, resources,
``min/maxReplicas``, ``nodeSelector``/``affinity`` and the topology's labels on its pods; its ``Ready`` condition
is the topology's status. A topology moved from a plain Deployment to KServe loses the Deployment and Service.

Objects are named ``scoped_name(deployment, key, 45)`` (short enough for the names KServe derives), carry
``Target.labels()`` and the sha256 of what was declared (``HASH_ANNOTATION``: a provision that finds every
object with it sends nothing; one GET per object), and are applied, pruned and read back with
``appstore.provisioners.kubeobjects``.
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
from collections import defaultdict

from django.conf import settings

from appstore.provisioners import register
from appstore.provisioners.base import Provisioned, Provisioner, Target, TopologyState, deep_merge, scoped_name
from appstore.provisioners.kubeobjects import (
    DEPLOYMENT_LABEL,
    TOPOLOGY_LABEL,
    VERSION_LABEL,
    apply_all,
    listed,
    remove,
    selector,
    topology_state,
)
from edgeplatform import kube
from edgeplatform.controllers.errors import PermanentError
from edgeplatform.kube import KubeError
from edgeplatform.resources.errors import cause

__all__ = ["INFERENCE_SERVICE", "MODEL_DIR", "RUNTIMES", "SCHEMES", "ModelProvisioner", "model_format", "runtime_for",
           "runtimes"]

MODEL_DIR = "/mnt/models"
WORKLOAD_LABEL = "app.theriseunion.io/workload"
#: sha256 of what the platform declared for a topology: provisioning the same again sends nothing
HASH_ANNOTATION = "app.theriseunion.io/spec-hash"
GPU = "nvidia.com/gpu"
NAME_MAX = 45
INFERENCE_SERVICE = ("serving.kserve.io/v1beta1", "InferenceService")
_PLAIN = (("apps/v1", "Deployment"), ("v1", "Service"))
#: the storage URI schemes a model may come from
SCHEMES = ("s3://", "gs://", "pvc://", "http://", "https://", "hf://")
_QUANTITY = re.compile(r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+"
                       r"(\.[0-9]*)?)|(\.[0-9]+))))?$")
_CLAIM = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")

_KSERVE_ARGS = ["--model_name={modelName}", "--model_dir={modelDir}", "--http_port={port}"]
#: the serving runtimes built in, by name: image (and ``gpuImage``), ``command``/``args`` (``{modelName}``,
#: ``{modelDir}``, ``{port}`` filled in), the HTTP ``port`` and ``readinessPath``, the KServe ServingRuntime
#: (``kserveRuntime``) and model format (``modelFormat``) it stands for
RUNTIMES: dict[str, dict] = {
    "triton": {"image": "nvcr.io/nvidia/tritonserver:24.08-py3",
               "args": ["tritonserver", "--model-repository={modelDir}", "--http-port={port}"],
               "port": 8080, "readinessPath": "/v2/health/ready", "kserveRuntime": "kserve-tritonserver",
               "modelFormat": "triton"},
    "torchserve": {"image": "pytorch/torchserve:0.12.0-cpu", "gpuImage": "pytorch/torchserve:0.12.0-gpu",
                   "args": ["torchserve", "--start", "--foreground", "--disable-token-auth",
                            "--model-store={modelDir}", "--models", "all"],
                   "port": 8080, "readinessPath": "/ping", "kserveRuntime": "kserve-torchserve",
                   "modelFormat": "pytorch"},
    "tensorflow-serving": {"image": "tensorflow/serving:2.16.1", "gpuImage": "tensorflow/serving:2.16.1-gpu",
                           "command": ["tensorflow_model_server"],
                           "args": ["--model_name={modelName}", "--model_base_path={modelDir}",
                                    "--rest_api_port={port}", "--port=9000"],
                           "port": 8080, "readinessPath": "/v1/models/{modelName}",
                           "kserveRuntime": "kserve-tensorflow-serving", "modelFormat": "tensorflow"},
    "sklearn": {"image": "kserve/sklearnserver:v0.14.1", "args": _KSERVE_ARGS, "port": 8080,
                "readinessPath": "/v1/models/{modelName}", "kserveRuntime": "kserve-sklearnserver",
                "modelFormat": "sklearn"},
    "xgboost": {"image": "kserve/xgbserver:v0.14.1", "args": _KSERVE_ARGS, "port": 8080,
                "readinessPath": "/v1/models/{modelName}", "kserveRuntime": "kserve-xgbserver",
                "modelFormat": "xgboost"},
    "lightgbm": {"image": "kserve/lgbserver:v0.14.1", "args": _KSERVE_ARGS, "port": 8080,
                 "readinessPath": "/v1/models/{modelName}", "kserveRuntime": "kserve-lgbserver",
                 "modelFormat": "lightgbm"},
    "huggingface": {"image": "kserve/huggingfaceserver:v0.14.1", "args": _KSERVE_ARGS, "port": 8080,
                    "readinessPath": "/v1/models/{modelName}", "kserveRuntime": "kserve-huggingfaceserver",
                    "modelFormat": "huggingface"},
    "mlserver": {"image": "seldonio/mlserver:1.6.1", "command": ["mlserver", "start", "{modelDir}"],
                 "args": [], "port": 8080, "readinessPath": "/v2/health/ready", "kserveRuntime": "kserve-mlserver"},
}
#: other names of runtimes and frameworks, as people write them
ALIASES = {"pytorch": "torchserve", "torch": "torchserve", "tensorflow": "tensorflow-serving",
           "tfserving": "tensorflow-serving", "tf-serving": "tensorflow-serving", "scikit-learn": "sklearn",
           "sklearnserver": "sklearn", "xgbserver": "xgboost", "lgbserver": "lightgbm", "lgb": "lightgbm",
           "onnx": "triton", "onnxruntime": "triton", "tensorrt": "triton", "tritonserver": "triton",
           "huggingfaceserver": "huggingface", "transformers": "huggingface"}
#: KServe's model format of a framework (what its ServingRuntimes declare they serve)
FORMATS = {"pytorch": "pytorch", "torch": "pytorch", "tensorflow": "tensorflow", "sklearn": "sklearn",
           "scikit-learn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm", "onnx": "onnx",
           "onnxruntime": "onnx", "tensorrt": "tensorrt", "huggingface": "huggingface", "transformers": "huggingface",
           "triton": "triton", "mlflow": "mlflow", "pmml": "pmml", "paddle": "paddle"}


def _key(name) -> str:
    return str(name or "").strip().lower()


def runtimes() -> dict[str, dict]:
    """``RUNTIMES`` with ``EDGE_MODEL_RUNTIME_IMAGES`` applied: an image name replaces an entry's image, an
    object is merged over the entry (or is a new one, port 8080 unless it says), null removes it."""
    found = copy.deepcopy(RUNTIMES)
    for name, value in (settings.EDGE_MODEL_RUNTIME_IMAGES or {}).items():
        name = _key(name)
        if value is None:
            found.pop(name, None)
        elif isinstance(value, str):
            found[name] = {**found.get(name, {"port": 8080}), "image": value, "gpuImage": value}
        elif isinstance(value, dict):
            found[name] = {**found.get(name, {"port": 8080}), **value}
    return {name: entry for name, entry in found.items() if isinstance(entry.get("image"), str) and entry["image"]}


def runtime_for(config: dict) -> tuple[str, dict] | None:
    """(name, entry) of the runtime serving ``config``: its ``runtime``'s when given, else its ``framework``'s;
    None when there is no image for it."""
    known = runtimes()
    runtime, framework = _key(config.get("runtime")), _key(config.get("framework"))
    for name in ([runtime] if runtime else [framework] if framework else []):
        for candidate in (name, ALIASES.get(name, name)):
            if candidate in known:
                return candidate, known[candidate]
    return None


def model_format(config: dict, entry: dict) -> str:
    """KServe's model format name for ``config`` (from its framework, else the runtime's own)."""
    framework = _key(config.get("framework"))
    return FORMATS.get(framework) or entry.get("modelFormat") or framework or _key(config.get("runtime"))


def _fill(text: str, config: dict, port: int) -> str:
    return str(text).replace("{modelName}", str(config.get("modelName") or "")).replace(
        "{modelDir}", MODEL_DIR).replace("{port}", str(port))


def _name(target: Target) -> str:
    base = target.deployment.name.replace(".", "-")
    return scoped_name(base if base[:1].isalpha() else f"m-{base}", target.key, NAME_MAX)


def _config(target: Target) -> dict:
    config = dict(target.version.spec.get("modelConfig") or {})
    override = target.override.get("modelConfig")
    return deep_merge(config, override) if isinstance(override, dict) else config


def _resources(config: dict) -> dict:
    requests = {name: str(config[key]) for name, key in (("cpu", "cpuRequest"), ("memory", "memoryRequest"))
                if config.get(key)}
    resources = {"requests": requests} if requests else {}
    if int(config.get("gpu") or 0) > 0:
        resources["limits"] = {GPU: int(config["gpu"])}
    return resources


def _placement(target: Target, gpu: int) -> dict:
    spec = {}
    if target.node_selector:
        spec["nodeSelector"] = dict(target.node_selector)
    if target.affinity:
        spec["affinity"] = target.affinity
    if gpu > 0:
        spec["tolerations"] = [{"key": GPU, "operator": "Exists", "effect": "NoSchedule"}]
    return spec


def _pvc(uri: str) -> tuple[str, str]:
    """(claim, path inside it) of a ``pvc://<claim>/<path>`` URI."""
    claim, _, path = uri[len("pvc://"):].partition("/")
    return claim, path.strip("/")


def _replicas(target: Target, config: dict) -> int:
    if target.replicas is not None:
        return int(target.replicas)
    return int(config["replicas"]) if config.get("replicas") is not None else 1


def plain_objects(target: Target, config: dict, entry: dict) -> list[dict]:
    """The Deployment and Service serving ``config`` on ``target``'s topology."""
    name, labels = _name(target), {**target.labels(), WORKLOAD_LABEL: _name(target)}
    pick = {DEPLOYMENT_LABEL: target.deployment.name, TOPOLOGY_LABEL: target.key}
    port, gpu, uri = int(entry.get("port") or 8080), int(config.get("gpu") or 0), str(config["storageURI"])
    server = {"name": "server", "image": entry.get("gpuImage") if gpu > 0 and entry.get("gpuImage") else entry["image"],
              "args": [_fill(arg, config, port) for arg in entry.get("args") or []],
              "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
              "env": [{"name": "MODEL_NAME", "value": str(config.get("modelName") or "")},
                      {"name": "MODEL_VERSION", "value": str(config.get("modelVersion") or "")},
                      {"name": "STORAGE_URI", "value": uri}],
              "volumeMounts": [{"name": "model-store", "mountPath": MODEL_DIR, "readOnly": True}]}
    if entry.get("command"):
        server["command"] = [_fill(part, config, port) for part in entry["command"]]
    if entry.get("readinessPath"):
        server["readinessProbe"] = {"httpGet": {"path": _fill(entry["readinessPath"], config, port), "port": "http"},
                                    "periodSeconds": 10}
    if _resources(config):
        server["resources"] = _resources(config)
    pod = {**_placement(target, gpu), "containers": [server]}
    if uri.startswith("pvc://"):
        claim, path = _pvc(uri)
        pod["volumes"] = [{"name": "model-store", "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}]
        if path:
            server["volumeMounts"][0]["subPath"] = path
    else:
        pod["volumes"] = [{"name": "model-store", "emptyDir": {}}]
        pod["initContainers"] = [{"name": "storage-initializer",
                                  "image": settings.EDGE_MODEL_STORAGE_INITIALIZER_IMAGE,
                                  "args": [uri, MODEL_DIR],
                                  "volumeMounts": [{"name": "model-store", "mountPath": MODEL_DIR}]}]
    metadata = {"name": name, "namespace": target.namespace, "labels": labels}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
         "spec": {"replicas": _replicas(target, config), "selector": {"matchLabels": pick},
                  "template": {"metadata": {"labels": labels}, "spec": pod}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": copy.deepcopy(metadata),
         "spec": {"selector": pick, "ports": [{"name": "http", "port": 80, "targetPort": "http",
                                               "protocol": "TCP"}]}},
    ]


def inference_service(target: Target, config: dict, entry: dict) -> dict:
    """The KServe InferenceService serving ``config`` on ``target``'s topology."""
    name, labels = _name(target), {**target.labels(), WORKLOAD_LABEL: _name(target)}
    replicas, gpu = _replicas(target, config), int(config.get("gpu") or 0)
    model = {"modelFormat": {"name": model_format(config, entry)}, "storageUri": str(config["storageURI"])}
    if entry.get("kserveRuntime"):
        model["runtime"] = entry["kserveRuntime"]
    if _resources(config):
        model["resources"] = _resources(config)
    predictor = {"minReplicas": replicas, "maxReplicas": max(replicas, 1), "labels": labels, "model": model,
                 **_placement(target, gpu)}
    return {"apiVersion": INFERENCE_SERVICE[0], "kind": INFERENCE_SERVICE[1],
            "metadata": {"name": name, "namespace": target.namespace, "labels": labels,
                         "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment"}},
            "spec": {"predictor": predictor}}


def _hashed(objects: list[dict]) -> list[dict]:
    """``objects`` annotated with the sha256 of what they declare (``HASH_ANNOTATION``)."""
    digest = hashlib.sha256(json.dumps(objects, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    for manifest in objects:
        manifest["metadata"].setdefault("annotations", {})[HASH_ANNOTATION] = digest
    return objects


def _in_place(client, objects: list[dict]) -> bool:
    """Whether every one of ``objects`` is on the cluster as declared (one GET each, no write)."""
    for manifest in objects:
        metadata = manifest["metadata"]
        found = kube.get(client, manifest["apiVersion"], manifest["kind"], metadata["name"], metadata["namespace"])
        if found is None or ((found.get("metadata") or {}).get("annotations") or {}).get(HASH_ANNOTATION) != \
                metadata["annotations"][HASH_ANNOTATION]:
            return False
    return True


def serves_kserve(client) -> bool:
    """Whether ``client``'s cluster serves KServe's InferenceService (and the platform may use it)."""
    if not settings.EDGE_MODEL_USE_KSERVE:
        return False
    try:
        client.resource(*INFERENCE_SERVICE)
    except KubeError as error:
        if error.status == 404:
            return False
        raise
    return True


def _isvc_state(item: dict, pods: list[dict]) -> TopologyState:
    """A topology's state from its InferenceService: its ``Ready`` condition (at the current generation), a
    failed model load or invalid spec, and its pods."""
    metadata, status = item.get("metadata") or {}, item.get("status") or {}
    predictor = (item.get("spec") or {}).get("predictor") or {}
    wanted = int(predictor.get("minReplicas") if predictor.get("minReplicas") is not None else 1)
    ready_pods = [pod for pod in pods if any(c.get("type") == "Ready" and c.get("status") == "True"
                                             for c in (pod.get("status") or {}).get("conditions") or [])]
    nodes = sorted({(pod.get("spec") or {}).get("nodeName") for pod in pods} - {None, ""})
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready = conditions.get("Ready") or {}
    model = status.get("modelStatus") or {}
    observed = int(status.get("observedGeneration") or 0) >= int(metadata.get("generation") or 0)
    version = (metadata.get("labels") or {}).get(VERSION_LABEL, "")
    base = {"replicas": wanted, "nodes": nodes, "workloads": [metadata.get("name", "")], "version": version}
    if model.get("transitionStatus") in ("BlockedByFailedLoad", "InvalidSpec"):
        failure = (model.get("lastFailureInfo") or {}).get("message") or ready.get("message") or \
            model["transitionStatus"]
        return TopologyState("Failed", ready_replicas=len(ready_pods), message=f"{metadata.get('name')}: {failure}",
                             **base)
    if ready.get("status") == "True" and observed:
        return TopologyState("Running", ready_replicas=max(len(ready_pods), wanted if not pods else 0), **base)
    return TopologyState("Progressing", ready_replicas=len(ready_pods),
                         message=ready.get("message") or "waiting for the InferenceService to be Ready", **base)


@register
class ModelProvisioner(Provisioner):
    """An AI model served per topology (module docstring)."""

    type, config_key = "model", "modelConfig"

    def validate(self, config: dict) -> list[dict]:
        """modelName, modelVersion and storageURI present, the URI's scheme one of ``SCHEMES``, a runtime image
        for the runtime (or framework), quantities and counts well formed."""
        where = f"spec.{self.config_key}"
        if not isinstance(config, dict):
            return [cause(where, "must be an object", "FieldValueTypeInvalid")]
        problems = []
        for field in ("modelName", "modelVersion", "storageURI"):
            if not isinstance(config.get(field), str) or not config[field].strip():
                problems.append(cause(f"{where}.{field}", "is required", "FieldValueRequired"))
        uri = config.get("storageURI")
        if isinstance(uri, str) and uri.strip():
            if not uri.startswith(SCHEMES):
                problems.append(cause(f"{where}.storageURI", f'"{uri}": the scheme must be one of '
                                      f"{', '.join(SCHEMES)}", "FieldValueNotSupported"))
            elif uri.startswith("pvc://") and not _CLAIM.fullmatch(_pvc(uri)[0]):
                problems.append(cause(f"{where}.storageURI", f'"{uri}": pvc://<claim>/<path> needs the name of a '
                                      "PersistentVolumeClaim"))
            elif uri.rstrip("/") in {scheme.rstrip("/") for scheme in SCHEMES}:
                problems.append(cause(f"{where}.storageURI", f'"{uri}" names no location'))
        if runtime_for(config) is None:
            runtime, framework = config.get("runtime"), config.get("framework")
            known = ", ".join(sorted(runtimes()))
            message = f'no serving runtime image for runtime "{runtime}"' if runtime else \
                f'no serving runtime image for framework "{framework}"; name a runtime' if framework else \
                "a runtime (or a framework) is required"
            problems.append(cause(f"{where}.runtime", f"{message} (known: {known}; EDGE_MODEL_RUNTIME_IMAGES adds "
                                  "more)", "FieldValueNotSupported" if runtime or framework else "FieldValueRequired"))
        for field in ("replicas", "gpu"):
            value = config.get(field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                problems.append(cause(f"{where}.{field}", "must be a whole number, 0 or more"))
        for field in ("cpuRequest", "memoryRequest"):
            value = config.get(field)
            if value not in (None, "") and not _QUANTITY.fullmatch(str(value)):
                problems.append(cause(f"{where}.{field}", f'"{value}" is not a quantity (500m, 2Gi)'))
        return problems

    def provision(self, target: Target, client) -> Provisioned:
        """Apply the topology's InferenceService (KServe served) or Deployment and Service, unless they are there
        as asked already (their spec-hash annotation; then nothing is sent)."""
        config = _config(target)
        problems = self.validate(config)
        if problems:
            raise PermanentError("; ".join(f"{c['field']}: {c['message']}" for c in problems),
                                 reason="InvalidModelConfig")
        _, entry = runtime_for(config)
        name = _name(target)
        kserve = serves_kserve(client)
        objects = _hashed([inference_service(target, config, entry)] if kserve else
                          plain_objects(target, config, entry))
        if _in_place(client, objects):
            return Provisioned([name], 0)
        writes = apply_all(client, objects, namespace=target.namespace)
        if kserve and kube.get(client, "apps/v1", "Deployment", name, target.namespace) is not None:
            for api_version, kind in _PLAIN:  # it ran as a plain Deployment before KServe came
                writes += int(kube.ensure_absent(client, api_version, kind, name, target.namespace))
        return Provisioned([name], writes)

    def unprovision(self, deployment, client, keep: frozenset[str] = frozenset()) -> int:
        """Remove the deployment's InferenceServices, Deployments and Services of topologies not in ``keep``."""
        return remove(client, deployment, (INFERENCE_SERVICE, *_PLAIN), keep)

    def status(self, targets: list[Target], client) -> dict[str, TopologyState]:
        """From one LIST of the deployment's InferenceServices (none where KServe is not served), one of its
        Deployments and one of its pods, for every topology of the cluster."""
        if not targets:
            return {}
        deployment = targets[0].deployment
        namespace, chosen = deployment.namespace, selector(deployment)
        by_key: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for (api_version, kind) in (INFERENCE_SERVICE, ("apps/v1", "Deployment")):
            for item in listed(client, api_version, kind, namespace, chosen):
                by_key[((item.get("metadata") or {}).get("labels") or {}).get(TOPOLOGY_LABEL, "")][kind].append(item)
        if by_key:
            for pod in listed(client, "v1", "Pod", namespace, chosen):
                by_key[((pod.get("metadata") or {}).get("labels") or {}).get(TOPOLOGY_LABEL, "")]["Pod"].append(pod)
        states = {}
        for target in targets:
            found = by_key.get(target.key) or {}
            pods = found.get("Pod", [])
            if found.get("InferenceService"):
                states[target.key] = _isvc_state(found["InferenceService"][0], pods)
            elif found.get("Deployment"):
                nodes = {(pod.get("spec") or {}).get("nodeName") for pod in pods} - {None, ""}
                states[target.key] = topology_state(found["Deployment"], nodes)
            else:
                states[target.key] = TopologyState("Missing", message="nothing of it is on the cluster")
        return states
