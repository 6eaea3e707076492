"""The earlier implementation's Cluster annotations and what they mean in our spec.

Its users' manifests drive a virtual cluster by annotations; ours by ``spec``. A manifest may carry both: the
converter folds the annotations into the stored spec at write time (``effective_spec``), so every reader (the
typed ``type`` column, filters, the virtual cluster controller) looks in one place. The annotations are kept as
given; a field the spec sets itself wins over its annotation.
"""
from __future__ import annotations

from edgeplatform.resources.errors import cause
from edgeplatform.resources.names import DNS1123_LABEL, DNS1123_LABEL_MAX

__all__ = ["DISTRIBUTIONS", "EDGE_RUNTIMES", "EDGE_RUNTIME_ANNOTATION", "VCLUSTER_DISTRO_ANNOTATION",
           "VCLUSTER_ENABLED_ANNOTATION", "VCLUSTER_NAMESPACE_ANNOTATION", "effective_spec", "vcluster_namespace"]

#: ``"true"``: the cluster is virtual (``spec.type: virtual``).
VCLUSTER_ENABLED_ANNOTATION = "cluster.theriseunion.io/vcluster-enabled"
#: The virtual cluster's distribution (``spec.distribution``).
VCLUSTER_DISTRO_ANNOTATION = "cluster.theriseunion.io/vcluster-distro"
#: The host namespace the virtual cluster runs in (no spec field: the annotation is the source).
VCLUSTER_NAMESPACE_ANNOTATION = "cluster.theriseunion.io/vcluster-namespace"
#: The edge runtime the cluster carries (``spec.edgeRuntime.type``).
EDGE_RUNTIME_ANNOTATION = "cluster.theriseunion.io/edge-runtime"

DISTRIBUTIONS = ("k8s", "k3s", "k0s")
EDGE_RUNTIMES = ("none", "kubeedge", "openyurt")
_BOOLEANS = ("true", "false")


def _where(annotation: str) -> str:
    return f"metadata.annotations[{annotation}]"


def _choice(annotations: dict, annotation: str, choices: tuple, problems: list) -> str | None:
    """The annotation's value when it is one of ``choices``; a cause naming it otherwise."""
    value = annotations.get(annotation)
    if value is None:
        return None
    if value not in choices:
        problems.append(cause(_where(annotation), f"must be one of {', '.join(choices)}", "FieldValueNotSupported"))
        return None
    return value


def effective_spec(annotations: dict, given: dict, spec: dict, problems: list) -> dict:
    """``spec`` (validated, defaults filled) with the annotations folded in where ``given`` (the spec as the user
    wrote it) leaves the field unset; a bad annotation appends a cause naming it to ``problems``."""
    out = dict(spec)
    enabled = _choice(annotations, VCLUSTER_ENABLED_ANNOTATION, _BOOLEANS, problems)
    if enabled == "true" and "type" not in given:
        out["type"] = "virtual"
    distro = _choice(annotations, VCLUSTER_DISTRO_ANNOTATION, DISTRIBUTIONS, problems)
    if distro and "distribution" not in given:
        out["distribution"] = distro
    runtime = _choice(annotations, EDGE_RUNTIME_ANNOTATION, EDGE_RUNTIMES, problems)
    given_runtime = given.get("edgeRuntime") if isinstance(given.get("edgeRuntime"), dict) else {}
    if runtime and "type" not in given_runtime:
        out["edgeRuntime"] = {**(out.get("edgeRuntime") or {}), "type": runtime}
    namespace = annotations.get(VCLUSTER_NAMESPACE_ANNOTATION)
    if namespace is not None and (len(namespace) > DNS1123_LABEL_MAX or not DNS1123_LABEL.fullmatch(namespace)):
        problems.append(cause(_where(VCLUSTER_NAMESPACE_ANNOTATION),
                              "must be a lowercase RFC 1123 label (a-z, 0-9, '-')"))
    return out


def vcluster_namespace(cluster) -> str:
    """The host namespace a virtual cluster runs in: its ``vcluster-namespace`` annotation, else
    ``vcluster-<name>``."""
    return (cluster.annotations or {}).get(VCLUSTER_NAMESPACE_ANNOTATION) or f"vcluster-{cluster.name}"
