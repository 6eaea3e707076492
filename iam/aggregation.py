"""Role aggregation: the one writer of a role's effective rules and uiPermissions.

A role merges its own rules with the templates it names, the templates its label selector
matches, and (transitively) the templates those declare as dependencies. Any change to a
template re-aggregates every role, so a role always reflects the templates it selects
(KubeSphere's known bug is that it does not).
"""
from __future__ import annotations

from edgeplatform.resources import labels as selectors


def _selector(role_spec: dict):
    selector = (role_spec.get("aggregationRoleTemplates") or {}).get("roleSelector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return None  # an empty selector aggregates nothing (not everything)
    return selectors.from_label_selector(selector)


def select_templates(role_spec: dict, templates: dict) -> list:
    """The templates a role aggregates, by name, by selector and by dependency, sorted by name."""
    aggregation = role_spec.get("aggregationRoleTemplates") or {}
    chosen = {name for name in aggregation.get("templateNames") or [] if name in templates}
    requirements = _selector(role_spec)
    if requirements is not None:
        chosen |= {name for name, tpl in templates.items() if selectors.matches(requirements, tpl.labels)}
    pending = list(chosen)
    while pending:
        for dependency in templates[pending.pop()].dependencies:
            if dependency in templates and dependency not in chosen:
                chosen.add(dependency)
                pending.append(dependency)
    return [templates[name] for name in sorted(chosen)]


def _unique(items):
    seen, out = set(), []
    for item in items:
        key = repr(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def aggregate_into(role, templates: dict | None = None) -> bool:
    """Recompute ``role``'s effective rules/uiPermissions and aggregatedRoleTemplates; True if they changed."""
    from iam.models import RoleTemplate

    if templates is None:
        templates = {t.name: t for t in RoleTemplate.objects.all()}
    spec = dict(role.spec or {})
    ignore = (role.annotations or {}).get("iam.theriseunion.io/ignore-aggregate") == "true"
    chosen = [] if ignore else select_templates(spec, templates)
    rules = _unique([*(spec.get("rules") or []), *(r for t in chosen for r in t.spec.get("rules") or [])])
    ui = sorted({*(spec.get("uiPermissions") or []), *(p for t in chosen for p in t.spec.get("uiPermissions") or [])})
    names = [t.name for t in chosen]
    changed = (rules != role.effective_rules or ui != role.effective_ui
               or names != (spec.get("aggregatedRoleTemplates") or []))
    if names or "aggregatedRoleTemplates" in spec:
        spec["aggregatedRoleTemplates"] = names
    role.spec, role.effective_rules, role.effective_ui = spec, rules, ui
    role.digest = digest(rules, ui)
    return changed


def digest(rules: list, ui: list) -> str:
    """A content digest of effective rules and uiPermissions (the key compiled rule sets are cached under)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps([rules, ui], sort_keys=True).encode()).hexdigest()


def reaggregate_all() -> int:
    """Re-aggregate every role after a template changed; return how many roles changed."""
    from iam.models import IAMRole, RoleTemplate

    templates = {t.name: t for t in RoleTemplate.objects.all()}
    changed = 0
    for role in IAMRole.objects.all():
        if aggregate_into(role, templates):
            IAMRole.objects.filter(pk=role.pk).update(
                spec=role.spec, effective_rules=role.effective_rules, effective_ui=role.effective_ui,
                digest=role.digest, resource_version=role.resource_version + 1)
            changed += 1
    return changed
