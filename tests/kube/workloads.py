"""Defaults and validation of the built-in workload kinds, as kube-apiserver's registry strategies apply them.

``prepare`` runs on every create and update of a Deployment, ReplicaSet, StatefulSet, DaemonSet, Pod, Service or
PodDisruptionBudget: it resets status on create (as ``PrepareForCreate`` does), fills the defaults clients rely on
(``spec.replicas`` 1, the update strategy, a Service's ``clusterIP``, a Pod's ``phase: Pending``), keeps what the
server allocated on update, and returns the causes the server refuses a write with (422): a selector that does not
select the template's labels, an empty selector, a changed ``apps/v1`` selector, a changed ``clusterIP``.
"""
from __future__ import annotations

import copy
import ipaddress
import json

from .selectors import selector_is_empty, selector_matches
from .validation import cause, required

__all__ = ["SERVICE_CIDR", "WORKLOAD_KINDS", "go_labels", "int_or_percent", "prepare"]

WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet")
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORTS = range(30000, 32768)
_KINDS = {("apps", k) for k in WORKLOAD_KINDS} | {("", "Pod"), ("", "Service"), ("policy", "PodDisruptionBudget")}


def go_labels(labels: dict | None) -> str:
    """A label map the way Go's ``%#v`` prints it in field errors: ``map[string]string{"app":"web"}``."""
    inner = ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted((labels or {}).items()))
    return "map[string]string{" + inner + "}"


def int_or_percent(value, total: int, round_up: bool) -> int:
    """An IntOrString scaled against ``total`` (``"25%"`` of 10 is 3 rounding up, 2 rounding down)."""
    if isinstance(value, str) and value.endswith("%"):
        share = int(value[:-1]) * total
        return -(-share // 100) if round_up else share // 100
    return int(value or 0)


def prepare(store, rtype, obj: dict, old: dict | None) -> list[dict]:
    """Default ``obj`` in place (create when ``old`` is None) and return the causes that make it invalid."""
    if (rtype.group, rtype.kind) not in _KINDS:
        return []
    if old is None and rtype.kind != "Pod":
        obj.pop("status", None)
    if rtype.kind == "Pod":
        return _pod(obj, old)
    if rtype.kind == "Service":
        return _service(store, obj, old)
    if rtype.kind == "PodDisruptionBudget":
        return _pdb(obj)
    return _workload(rtype.kind, obj, old)


# ----- apps/v1 -----

def _workload(kind: str, obj: dict, old: dict | None) -> list[dict]:
    spec = obj.setdefault("spec", {})
    if kind != "DaemonSet":
        spec.setdefault("replicas", 1)
    spec.setdefault("revisionHistoryLimit", 10)
    if kind == "Deployment":
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        spec.setdefault("progressDeadlineSeconds", 600)
    elif kind == "StatefulSet":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.setdefault("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {"partition": 0})
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    elif kind == "DaemonSet":
        strategy = spec.setdefault("updateStrategy", {"type": "RollingUpdate"})
        if strategy.setdefault("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {"maxUnavailable": 1, "maxSurge": 0})
    template = spec.setdefault("template", {})
    _pod_spec_defaults(template.setdefault("spec", {}))
    causes = []
    if isinstance(spec.get("replicas"), int) and spec["replicas"] < 0:
        causes.append(cause("spec.replicas", f"Invalid value: {spec['replicas']}: must be greater than or equal "
                                             "to 0"))
    selector = spec.get("selector")
    labels = (template.get("metadata") or {}).get("labels") or {}
    if selector is None:
        causes.append(required("spec.selector"))
    elif selector_is_empty(selector):
        causes.append(cause("spec.selector", f"Invalid value: {_go_selector(selector)}: empty selector is invalid "
                                             f"for {kind.lower()}"))
    elif not selector_matches(selector, labels):
        causes.append(cause("spec.template.metadata.labels", f"Invalid value: {go_labels(labels)}: `selector` "
                                                             "does not match template `labels`"))
    if old is not None and (old.get("spec") or {}).get("selector") != selector:
        causes.append(cause("spec.selector", f"Invalid value: {_go_selector(selector)}: field is immutable"))
    causes += _containers_causes(template.get("spec") or {}, "spec.template.spec")
    return causes


def _go_selector(selector: dict | None) -> str:
    selector = selector or {}
    return (f"v1.LabelSelector{{MatchLabels:{go_labels(selector.get('matchLabels'))}, "
            f"MatchExpressions:{selector.get('matchExpressions') or '[]v1.LabelSelectorRequirement(nil)'}}}")


# ----- core/v1 pods -----

def _pod_spec_defaults(spec: dict) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("securityContext", {})
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        image = str(container.get("image") or "")
        tag = image.rsplit("/", 1)[-1]
        latest = "@" not in image and (":" not in tag or tag.endswith(":latest"))
        container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        for port in container.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def _containers_causes(spec: dict, prefix: str) -> list[dict]:
    containers = spec.get("containers")
    if not containers:
        return [required(f"{prefix}.containers")]
    causes, seen = [], set()
    for i, container in enumerate(containers):
        if not (container or {}).get("name"):
            causes.append(required(f"{prefix}.containers[{i}].name"))
        elif container["name"] in seen:
            causes.append(cause(f"{prefix}.containers[{i}].name", f'Duplicate value: "{container["name"]}"',
                                "FieldValueDuplicate"))
        else:
            seen.add(container["name"])
        if not (container or {}).get("image"):
            causes.append(required(f"{prefix}.containers[{i}].image"))
    return causes


def _pod(obj: dict, old: dict | None) -> list[dict]:
    spec = obj.setdefault("spec", {})
    _pod_spec_defaults(spec)
    if old is None:
        obj["status"] = {"phase": "Pending", "qosClass": _qos(spec)}
        return _containers_causes(spec, "spec")
    causes = _containers_causes(spec, "spec")
    before = copy.deepcopy(old.get("spec") or {})
    after = copy.deepcopy(spec)
    for side in (before, after):  # what a pod update may change: images, tolerations added, deadline
        for container in side.get("containers") or []:
            container.pop("image", None)
        side.pop("activeDeadlineSeconds", None)
        side.pop("tolerations", None)
    if before != after:
        causes.append(cause("spec", "Forbidden: pod updates may not change fields other than "
                                    "`spec.containers[*].image`, `spec.initContainers[*].image`, "
                                    "`spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing "
                                    "tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set to 1 "
                                    "if it was previously negative)", "FieldValueForbidden"))
    return causes


def _qos(spec: dict) -> str:
    resources = [c.get("resources") or {} for c in spec.get("containers") or [] if isinstance(c, dict)]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(r.get("limits") and {k: v for k, v in (r.get("requests") or r["limits"]).items()}
                     == r["limits"] for r in resources)
    return "Guaranteed" if guaranteed else "Burstable"


# ----- core/v1 services -----

def _service(store, obj: dict, old: dict | None) -> list[dict]:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    causes = []
    if old is not None:  # allocated values survive an update that leaves them out (patchAllocatedValues)
        before = old.get("spec") or {}
        for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if not spec.get(key) and before.get(key):
                spec[key] = copy.deepcopy(before[key])
        if before.get("clusterIP") and spec.get("clusterIP") != before.get("clusterIP"):
            causes.append(cause("spec.clusterIPs[0]", f'Invalid value: ["{spec.get("clusterIP")}"]: may not change '
                                                      "once set"))
    if spec["type"] != "ExternalName":
        if not spec.get("clusterIP"):
            spec["clusterIP"] = _free_ip(store)
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        if spec["clusterIP"] != "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    used = _used_node_ports(store)
    old_ports = {p.get("port"): p.get("nodePort") for p in ((old or {}).get("spec") or {}).get("ports") or []}
    for i, port in enumerate(spec.get("ports") or []):
        port.setdefault("protocol", "TCP")
        if "port" not in port:
            causes.append(required(f"spec.ports[{i}].port"))
            continue
        port.setdefault("targetPort", port["port"])
        if spec["type"] in ("NodePort", "LoadBalancer") and not port.get("nodePort"):
            port["nodePort"] = old_ports.get(port["port"]) or next(p for p in NODE_PORTS if p not in used)
            used.add(port["nodePort"])
    if not spec.get("ports") and spec["type"] != "ExternalName" and spec.get("clusterIP") != "None":
        causes.append(required("spec.ports"))
    obj.setdefault("status", {"loadBalancer": {}})
    return causes


def _services(store) -> list[dict]:
    return list(store.objects.get(("", "services"), {}).values())


def _free_ip(store) -> str:
    used = {(s.get("spec") or {}).get("clusterIP") for s in _services(store)}
    for host in SERVICE_CIDR.hosts():
        if str(host) not in used:
            return str(host)
    raise RuntimeError("the service range is full")


def _used_node_ports(store) -> set[int]:
    return {p.get("nodePort") for s in _services(store) for p in (s.get("spec") or {}).get("ports") or []
            if p.get("nodePort")}


# ----- policy/v1 -----

def _pdb(obj: dict) -> list[dict]:
    spec = obj.setdefault("spec", {})
    causes = []
    if "minAvailable" in spec and "maxUnavailable" in spec:
        causes.append(cause("spec", "Invalid value: policy.PodDisruptionBudgetSpec: minAvailable and "
                                    "maxUnavailable cannot be both set"))
    for key in ("minAvailable", "maxUnavailable"):
        value = spec.get(key)
        if isinstance(value, str):
            number = value[:-1] if value.endswith("%") else ""
            if not number.isdigit() or int(number) > 100:
                causes.append(cause(f"spec.{key}", f'Invalid value: "{value}": must be an integer or percentage '
                                                   '(e.g \'5%\')'))
        elif isinstance(value, int) and value < 0:
            causes.append(cause(f"spec.{key}", f"Invalid value: {value}: must be greater than or equal to 0"))
    return causes
