"""No one grants more than they hold: the check Kubernetes RBAC calls escalation prevention.

Creating or changing a binding, a role, a template, another user or a user's groups can hand out
rules; a caller who is neither the system nor a superuser may hand out only rules they themselves
hold at the scope where the rules will apply. ``missing(user, rules, path)`` names the first rule
they lack; the converters turn it into a 403 naming the field (``forbid_escalation``).

Rules are compared in their compiled form (``compile_rules``), so wildcards must be held as
wildcards and the reference's group spellings count as the groups they stand for.

A refusal names the scope and the rule only where the caller may learn of that scope: the rules a
group carries in a scope hidden from the caller, and the scope itself, are not theirs to learn, so
there the refusal says only that the grant lies in a scope they may not see.
"""
from __future__ import annotations

from edgeplatform.resources.errors import StatusError, cause
from iam.engine.rules import COMPAT_IAM_RESOURCES, COMPAT_NATIVE_PROXY, COMPAT_SCOPE_GROUPS, compile_rules

__all__ = ["exempt", "forbid_escalation", "forbid_taking_over", "missing"]


def exempt(user) -> bool:
    """The system (no user) and superusers may grant anything."""
    return user is None or bool(getattr(user, "is_superuser", False))


def _canonical(group: str, resource: str) -> bool:
    # a reference spelling is expanded by compile_rules to the keys it stands for; those are what count
    if group in COMPAT_SCOPE_GROUPS or group in COMPAT_NATIVE_PROXY:
        return False
    return not (group == "iam.theriseunion.io" and resource in COMPAT_IAM_RESOURCES)


#: what a refusal says about a grant in a scope the caller may not learn of
HIDDEN = "permissions in a scope they may not see"


def missing(user, rules: list[dict], path: str) -> str | None:
    """The first grant in ``rules`` that ``user`` does not hold at scope ``path``; None when they hold all.

    It is described (rule and scope) only when ``user`` may learn of the scope; otherwise as ``HIDDEN``.
    """
    from iam.engine import engine

    if exempt(user):
        return None
    lacking = _first_missing(engine, user, rules, path)
    if lacking is None:
        return None
    return f'{lacking} at "{path}"' if engine.knows_scope(user, path) else HIDDEN


def _first_missing(engine, user, rules: list[dict], path: str) -> str | None:
    for rule in rules or []:
        if rule.get("nonResourceURLs"):
            return f"nonResourceURLs {', '.join(rule['nonResourceURLs'])} (only a platform administrator grants these)"
    index = compile_rules(rules)
    for verb, keys in sorted(index.verbs.items()):
        for key in sorted(keys):
            group, resource = key.split("|", 1)
            if _canonical(group, resource) and not engine.allowed(user, verb, group, resource, path):
                return f'{verb} on {group or "core"}/{resource}'
    for verb, by_key in sorted(index.named.items()):
        for key, names in sorted(by_key.items()):
            group, resource = key.split("|", 1)
            for name in sorted(names):
                if _canonical(group, resource) and not engine.allowed(user, verb, group, resource, path, name):
                    return f'{verb} on {group or "core"}/{resource} "{name}"'
    return None


def forbid_escalation(user, rules: list[dict], paths, field: str, converter, name: str) -> None:
    """Raise 403 (naming ``field``) unless ``user`` holds every rule of ``rules`` at every scope in ``paths``.

    Scopes the caller may learn of are checked first, so that a refusal names what they can act on when it can.
    """
    from iam.engine import engine

    if exempt(user):
        return
    for path in sorted(set(paths), key=lambda p: (not engine.knows_scope(user, p), p)):
        lacking = missing(user, rules, path)
        if lacking:
            message = (f'user "{user.get_username()}" cannot grant permissions they do not hold: {lacking}')
            raise StatusError(403, message, kind=converter.plural, name=name, group=converter.group,
                              causes=[cause(field, message, "FieldValueForbidden")])


def forbid_taking_over(user, target, field: str, converter, name: str) -> None:
    """Raise 403 unless ``user`` holds everything ``target`` holds (to change them, reset their password or
    mint their tokens is to act as them); nobody but a superuser takes over a superuser."""
    from iam.engine import engine
    from iam.models import IAMRole

    if exempt(user) or target.pk == user.pk:
        return
    if target.is_superuser:
        raise StatusError(403, f'user "{user.get_username()}" cannot act on platform administrator '
                               f'"{target.get_username()}"', kind=converter.plural, name=name, group=converter.group,
                          causes=[cause(field, "only a platform administrator may", "FieldValueForbidden")])
    bound = engine.grants(target).bindings
    rules = dict(IAMRole.objects.filter(pk__in={role_id for *_, role_id, _digest in bound})
                 .values_list("pk", "effective_rules"))
    for path, _binding, _role, role_id, _digest in sorted(bound, key=lambda b: (not engine.knows_scope(user, b[0]),
                                                                                 b)):
        forbid_escalation(user, rules.get(role_id) or [], [path], field, converter, name)
