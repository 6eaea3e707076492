"""Server-side validation the emulator performs for built-in kinds: names, Secrets, RBAC, CRDs.

Only the rules our code can trip over are here; each failure is a cause in kube-apiserver's words.
"""
from __future__ import annotations

import base64
import re

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
RBAC_GROUP = "rbac.authorization.k8s.io"


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict:
    """One ``details.causes`` entry."""
    return {"reason": reason, "message": message, "field": field}


def required(field: str) -> dict:
    """A missing required field."""
    return cause(field, "Required value", "FieldValueRequired")


def name_causes(kind: str, group: str, name: str) -> list[dict]:
    """Name rules: DNS labels for namespaces, path segments for RBAC, DNS subdomains otherwise."""
    if not name:
        return [required("metadata.name")]
    if group == RBAC_GROUP:
        if name in (".", "..") or "/" in name or "%" in name:
            return [cause("metadata.name", f'Invalid value: "{name}": may not contain "/" or "%"')]
        return []
    if kind == "Namespace":
        ok, limit, what = DNS_LABEL.match(name), 63, "a lowercase RFC 1123 label"
    else:
        ok, limit, what = DNS_SUBDOMAIN.match(name), 253, "a lowercase RFC 1123 subdomain"
    if not ok or len(name) > limit:
        return [cause("metadata.name", f'Invalid value: "{name}": must be {what} of at most {limit} characters')]
    return []


def normalize_secret(obj: dict) -> list[dict]:
    """``stringData`` folds into base64 ``data``; ``data`` values must be base64."""
    obj.setdefault("type", "Opaque")
    string_data = obj.pop("stringData", None) or {}
    data = obj.get("data") or {}
    causes = []
    for key, value in data.items():
        try:
            base64.b64decode(value or "", validate=True)
        except ValueError:
            causes.append(cause(f"data[{key}]", "Invalid value: illegal base64 data"))
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if data:
        obj["data"] = data
    return causes


def rbac_causes(kind: str, obj: dict, old: dict | None) -> list[dict]:
    """Roles need verbs (and API groups with resources); bindings need a valid roleRef and subjects."""
    causes = []
    if kind in ("Role", "ClusterRole"):
        for i, rule in enumerate(obj.get("rules") or []):
            if not rule.get("verbs"):
                causes.append(required(f"rules[{i}].verbs"))
            if rule.get("resources") and "apiGroups" not in rule:
                causes.append(cause(f"rules[{i}].apiGroups", "Required value: resource rules must supply at least "
                                    "one api group", "FieldValueRequired"))
            if rule.get("nonResourceURLs") and kind == "Role":
                causes.append(cause(f"rules[{i}].nonResourceURLs", "Invalid value: namespaced rules cannot apply to "
                                    "non-resource URLs"))
            if not rule.get("resources") and not rule.get("nonResourceURLs"):
                causes.append(required(f"rules[{i}].resources"))
        return causes
    ref = obj.get("roleRef") or {}
    allowed = ("ClusterRole",) if kind == "ClusterRoleBinding" else ("Role", "ClusterRole")
    if not ref.get("name"):
        causes.append(required("roleRef.name"))
    if ref.get("kind") not in allowed:
        causes.append(cause("roleRef.kind", f'Unsupported value: "{ref.get("kind", "")}": supported values: '
                            + ", ".join(f'"{k}"' for k in allowed), "FieldValueNotSupported"))
    if ref.get("apiGroup") != RBAC_GROUP:
        causes.append(cause("roleRef.apiGroup", f'Unsupported value: "{ref.get("apiGroup", "")}": supported '
                            f'values: "{RBAC_GROUP}"', "FieldValueNotSupported"))
    if old is not None and (old.get("roleRef") or {}) != ref:
        causes.append(cause("roleRef", "Invalid value: cannot change roleRef"))
    for i, subject in enumerate(obj.get("subjects") or []):
        skind = subject.get("kind")
        if not subject.get("name"):
            causes.append(required(f"subjects[{i}].name"))
        if skind in ("User", "Group"):
            if subject.get("apiGroup") != RBAC_GROUP:
                causes.append(cause(f"subjects[{i}].apiGroup", f'Unsupported value: "{subject.get("apiGroup", "")}"'
                                    f': supported values: "{RBAC_GROUP}"', "FieldValueNotSupported"))
        elif skind == "ServiceAccount":
            if subject.get("apiGroup"):
                causes.append(cause(f"subjects[{i}].apiGroup", "Unsupported value: supported values: \"\"",
                                    "FieldValueNotSupported"))
            if kind == "ClusterRoleBinding" and not subject.get("namespace"):
                causes.append(required(f"subjects[{i}].namespace"))
        else:
            causes.append(cause(f"subjects[{i}].kind", f'Unsupported value: "{skind}": supported values: '
                                '"ServiceAccount", "User", "Group"', "FieldValueNotSupported"))
    return causes


def crd_causes(obj: dict) -> list[dict]:
    """The checks a CRD must pass before its resources are served (names, scope, one storage version)."""
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    causes = []
    for field in ("group", "scope"):
        if not spec.get(field):
            causes.append(required(f"spec.{field}"))
    for field in ("plural", "kind"):
        if not names.get(field):
            causes.append(required(f"spec.names.{field}"))
    expected = f"{names.get('plural', '')}.{spec.get('group', '')}"
    if (obj.get("metadata") or {}).get("name") != expected:
        causes.append(cause("metadata.name", f'Invalid value: "{obj["metadata"].get("name")}": must be '
                            f"spec.names.plural+\".\"+spec.group"))
    if spec.get("scope") not in (None, "Namespaced", "Cluster"):
        causes.append(cause("spec.scope", 'Unsupported value: supported values: "Cluster", "Namespaced"',
                            "FieldValueNotSupported"))
    versions = spec.get("versions") or []
    if not versions:
        causes.append(required("spec.versions"))
    if sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(cause("spec.versions", "Invalid value: must have exactly one version marked as storage "
                            "version"))
    for i, version in enumerate(versions):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not schema:
            causes.append(required(f"spec.versions[{i}].schema.openAPIV3Schema"))
        elif schema.get("type") != "object":
            causes.append(cause(f"spec.versions[{i}].schema.openAPIV3Schema.type",
                                'Unsupported value: supported values: "object"', "FieldValueNotSupported"))
    return causes
