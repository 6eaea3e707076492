"""A user's effective grants: every binding of the user and their groups, compiled per scope path.

This is the precomputed structure the cascade reads (DESIGN §3). It is built from the
database in two small queries and is what the caches hold.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from django.db.models import Q

from edgeplatform.resources.scopes import PLATFORM, chain
from iam.engine.rules import RuleIndex, compile_rules

AUTHENTICATED_GROUP = "system:authenticated"


@dataclass
class Grants:
    """The compiled grants of one user."""

    user_id: int
    #: the newest change-log id seen when these were built ...
    change_id: int
    active: bool = True
    superuser: bool = False
    by_path: dict[str, RuleIndex] = field(default_factory=dict)
    ui_by_path: dict[str, frozenset] = field(default_factory=dict)
    #: (path, binding name, role name, role id, role digest), for explanations
    bindings: tuple = ()
    #: ... and the id ranges below it not yet committed then (changes these may not reflect)
    pending: tuple = ()

    def allows(self, verb: str, group: str, resource: str, path: str, name: str = "") -> bool:
        """The cascade: the first scope on the chain whose rules match allows; none denies."""
        if self.superuser:
            return self.active
        if not self.active:
            return False
        by_path = self.by_path
        for scope in chain(path):
            index = by_path.get(scope)
            if index is not None and index.allows(verb, group, resource, name):
                return True
        return False

    def paths_allowing(self, verb: str, group: str, resource: str) -> list[str]:
        """Every bound scope where ``verb`` on ``group/resource`` is granted (for list filters)."""
        return [path for path, index in self.by_path.items() if index.allows(verb, group, resource)]

    def named_grants(self, verb: str, group: str, resource: str) -> list[tuple[str, frozenset]]:
        """(path, names) for rules that grant only on named objects."""
        out = []
        for path, index in self.by_path.items():
            names: set = set()
            for v in (verb, "*"):
                for key in (f"{group}|{resource}", f"{group}|*", f"*|{resource}", "*|*"):
                    names |= index.named.get(v, {}).get(key, frozenset())
            if names:
                out.append((path, frozenset(names)))
        return out

    def ui_permissions(self, path: str = PLATFORM) -> frozenset:
        """uiPermissions in force at ``path``: those bound there and at every scope above it."""
        out: set = set()
        for scope in chain(path):
            out |= self.ui_by_path.get(scope, frozenset())
        return frozenset(out)


@lru_cache(maxsize=4096)
def role_index(role_id: int, digest: str) -> tuple[RuleIndex, frozenset]:
    """A role's compiled rules and uiPermissions, shared by every user bound to it (keyed by content digest)."""
    from iam.models import IAMRole

    rules, ui = IAMRole.objects.filter(pk=role_id).values_list("effective_rules", "effective_ui").first() \
        or ([], [])
    return compile_rules(rules), frozenset(ui)


def compute(user_id: int, stamp: int, pending: tuple = ()) -> Grants:
    """Build a user's grants from the database (two queries while the roles are in ``role_index``).

    ``stamp`` is the newest change-log id the caller has seen and ``pending`` the id ranges
    below it the caller has not seen committed: the grants reflect every other change up to
    ``stamp`` and are judged fresh against both.
    """
    from django.contrib.auth.models import Group

    from iam.models import User

    row = User.objects.filter(pk=user_id).values_list("name", "is_active", "is_superuser").first()
    if row is None:
        return Grants(user_id, stamp, active=False, pending=pending)
    name, active, superuser = row
    groups = Group.objects.filter(user__id=user_id).values("name")
    found = _build(user_id, stamp, name, groups, active=active, superuser=superuser)
    found.pending = pending
    return found


def build(user_id: int, change_id: int, name: str, groups: list[str], *, active=True, superuser=False) -> Grants:
    """Grants of the subject ``name`` in ``groups`` (access reviews for a named subject)."""
    return _build(user_id, change_id, name, list(groups), active=active, superuser=superuser)


def _build(user_id: int, change_id: int, name: str, groups, *, active: bool, superuser: bool) -> Grants:
    from iam.models import BindingSubject

    subject = Q(kind="User", name=name) | Q(kind="Group", name__in=groups) | Q(kind="Group", name=AUTHENTICATED_GROUP)
    rows = (BindingSubject.objects.filter(subject)
            .values_list("binding__scope_path", "binding__name", "binding__role_id",
                         "binding__role__digest", "binding__role__name")
            .distinct())
    by_path: dict[str, RuleIndex] = {}
    ui_by_path: dict[str, frozenset] = {}
    bindings = []
    for path, binding, role_id, digest, role_name in rows:
        index, ui = role_index(role_id, digest)
        bindings.append((path, binding, role_name, role_id, digest))
        by_path[path] = by_path[path].merged(index) if path in by_path else index
        if ui:
            ui_by_path[path] = ui_by_path.get(path, frozenset()) | ui
    return Grants(user_id, change_id, active, superuser, by_path, ui_by_path, tuple(sorted(bindings)))


def explain(grants: Grants, verb: str, group: str, resource: str, path: str, name: str = "") -> tuple[bool, str]:
    """Whether ``grants`` allow the request and, if so, which binding at which scope did."""
    if grants.superuser and grants.active:
        return True, "allowed: platform administrator (superuser)"
    if not grants.active:
        return False, "denied: the user is disabled or does not exist"
    for scope in chain(path):
        for bound_path, binding, role_name, role_id, digest in grants.bindings:
            if bound_path == scope and role_index(role_id, digest)[0].allows(verb, group, resource, name):
                return True, f'allowed by IAMRoleBinding "{binding}" (role "{role_name}") at scope "{scope}"'
    return False, f'denied: no binding on the chain of "{path}" grants {verb} on {group or "core"}/{resource}'
