"""Compiling PolicyRules into an index that answers a check with a few set lookups.

A rule set becomes ``{verb: frozenset(keys)}`` where a key is ``group|resource`` and
either side may be ``*``. A check for (verb, group, resource) looks up at most two verbs
times four keys. Rules with ``resourceNames`` go to a second, rarely used index.
"""
from __future__ import annotations

from dataclasses import dataclass, field

KNOWN_VERBS = frozenset({"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
                         "approve", "bind", "escalate", "impersonate", "use", "proxy", "*"})
#: A nonResourceURLs rule is matched against the request's HTTP method, as in Kubernetes RBAC (the reference
#: grants ``post`` on ``/oauth/token``); the resource verbs stay valid there too (the reference writes ``list``).
HTTP_VERBS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "*"})
NON_RESOURCE_VERBS = KNOWN_VERBS | HTTP_VERBS

#: Groups of the reference implementation's templates that name our scope kinds.
COMPAT_SCOPE_GROUPS = frozenset({"tenant.theriseunion.io", "tenant", "cluster.theriseunion.io"})
#: Resource spellings of the reference, mapped to the (group, resource) they mean here. The original
#: key is always kept too, so rules written for either name work.
COMPAT_RESOURCES = {
    "namespaces": (("", "namespaces"),),
    "workspaces/namespaces": (("", "namespaces"),),
    "nodegroups/namespaces": (("", "namespaces"),),
    "nodes": (("", "nodes"),),
    "nodegroups/nodes": (("", "nodes"),),
}
COMPAT_IAM_RESOURCES = {
    "roles": "iamroles",
    "rolebindings": "iamrolebindings",
    "members": "iamrolebindings",
    "nodegroups/members": "iamrolebindings",
}
#: The reference's proxy group for native Kubernetes resources, and the native groups it stands for.
COMPAT_NATIVE_PROXY = frozenset({"resources.theriseunion.io", "resource.theriseunion.io"})
NATIVE_GROUPS = ("", "apps", "batch", "autoscaling", "networking.k8s.io", "policy", "storage.k8s.io",
                 "events.k8s.io", "discovery.k8s.io", "metrics.k8s.io")


def _expand(group: str, resource: str) -> list[str]:
    keys = [f"{group}|{resource}"]
    if group in COMPAT_SCOPE_GROUPS:
        keys.append(f"scope.theriseunion.io|{resource}")
        keys += [f"{g}|{r}" for g, r in COMPAT_RESOURCES.get(resource, ())]
        if resource == "*":
            keys += ["|namespaces", "|nodes"]
    elif group == "iam.theriseunion.io" and resource in COMPAT_IAM_RESOURCES:
        keys.append(f"iam.theriseunion.io|{COMPAT_IAM_RESOURCES[resource]}")
    elif group in COMPAT_NATIVE_PROXY:
        keys += [f"{native}|{resource}" for native in NATIVE_GROUPS]
    return keys


@dataclass
class RuleIndex:
    """The compiled form of a set of PolicyRules."""

    verbs: dict[str, frozenset] = field(default_factory=dict)
    named: dict[str, dict[str, frozenset]] = field(default_factory=dict)

    def allows(self, verb: str, group: str, resource: str, name: str = "") -> bool:
        """True when some rule grants ``verb`` on ``group/resource`` (object ``name``)."""
        for v in (verb, "*"):
            keys = self.verbs.get(v)
            if keys and (f"{group}|{resource}" in keys or f"{group}|*" in keys or f"*|{resource}" in keys
                         or "*|*" in keys):
                return True
        if name and self.named:
            for v in (verb, "*"):
                by_key = self.named.get(v)
                if by_key:
                    for key in (f"{group}|{resource}", f"{group}|*", f"*|{resource}", "*|*"):
                        if name in by_key.get(key, ()):
                            return True
        return False

    def merged(self, other: RuleIndex) -> RuleIndex:
        """The union of two indexes."""
        verbs = dict(self.verbs)
        for verb, keys in other.verbs.items():
            verbs[verb] = verbs.get(verb, frozenset()) | keys
        named = {verb: dict(by_key) for verb, by_key in self.named.items()}
        for verb, by_key in other.named.items():
            target = named.setdefault(verb, {})
            for key, names in by_key.items():
                target[key] = target.get(key, frozenset()) | names
        return RuleIndex(verbs, named)

    def __bool__(self) -> bool:
        return bool(self.verbs or self.named)


def compile_rules(rules: list[dict]) -> RuleIndex:
    """Compile PolicyRules (apiGroups, resources, verbs, resourceNames) into a RuleIndex."""
    verbs: dict[str, set] = {}
    named: dict[str, dict[str, set]] = {}
    for rule in rules or []:
        keys = [key for group in rule.get("apiGroups") or [] for resource in rule.get("resources") or []
                for key in _expand(group, resource)]
        names = rule.get("resourceNames") or []
        for verb in (v.lower() for v in rule.get("verbs") or []):
            if names:
                by_key = named.setdefault(verb, {})
                for key in keys:
                    by_key.setdefault(key, set()).update(names)
            else:
                verbs.setdefault(verb, set()).update(keys)
    return RuleIndex({v: frozenset(k) for v, k in verbs.items()},
                     {v: {k: frozenset(n) for k, n in by_key.items()} for v, by_key in named.items()})


def validate_rules(rules, field: str = "spec.rules") -> list[tuple[str, str]]:
    """Problems of a list of PolicyRules as (field path, message) pairs."""
    problems = []
    if not isinstance(rules, list):
        return [(field, "must be a list of PolicyRules")]
    for i, rule in enumerate(rules):
        where = f"{field}[{i}]"
        if not isinstance(rule, dict):
            problems.append((where, "must be a PolicyRule object"))
            continue
        unknown = set(rule) - {"apiGroups", "resources", "resourceNames", "nonResourceURLs", "verbs"}
        if unknown:
            problems.append((where, f"unknown fields: {', '.join(sorted(unknown))}"))
        for key in ("apiGroups", "resources", "resourceNames", "nonResourceURLs", "verbs"):
            value = rule.get(key)
            if value is not None and (not isinstance(value, list) or not all(isinstance(x, str) for x in value)):
                problems.append((f"{where}.{key}", "must be a list of strings"))
        verbs = rule.get("verbs")
        if not verbs:
            problems.append((f"{where}.verbs", "at least one verb is required"))
        elif isinstance(verbs, list):
            # a rule for non-resource URLs only is matched against HTTP methods
            known = NON_RESOURCE_VERBS if rule.get("nonResourceURLs") and not rule.get("resources") else KNOWN_VERBS
            for verb in verbs:  # the reference wrote "GET" in nonResourceURLs rules; verbs match case-blind
                if not isinstance(verb, str) or verb.lower() not in known:
                    problems.append((f"{where}.verbs", f'unsupported verb "{verb}"; known verbs: '
                                                       + ", ".join(sorted(known))))
        has_resources = bool(rule.get("resources"))
        if has_resources and rule.get("apiGroups") is None:
            problems.append((f"{where}.apiGroups", "required when resources are given (\"\" is the core group)"))
        if not has_resources and not rule.get("nonResourceURLs"):
            problems.append((f"{where}.resources", "a rule needs resources or nonResourceURLs"))
    return problems
