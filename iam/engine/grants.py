"""A user's effective grants: every binding of the user and their groups, compiled per scope path.

This is the precomputed structure the cascade reads (DESIGN §3). It is built from the
database in one query and is what the caches hold.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from django.db.models import Q

from edgeplatform.resources.scopes import PLATFORM, chain
from iam.engine import objects
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
    #: (path, binding name, role name, role id, role digest), sorted, for explanations
    bindings: tuple = ()
    #: ... and the id ranges below it not yet committed then (changes these may not reflect)
    pending: tuple = ()
    #: django-guardian object permissions (the Resource level): (app label, model, pk) → codenames;
    #: None when there are more than ``objects.CAP`` of them (a check then asks guardian)
    object_perms: dict | None = field(default_factory=dict)

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
    """Build a user's grants from the database: one query while the roles are in ``role_index``.

    ``stamp`` is the newest change-log id the caller has seen and ``pending`` the id ranges
    below it the caller has not seen committed: the grants reflect every other change up to
    ``stamp`` and are judged fresh against both.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_grants_sql(), [user_id, user_id, user_id, user_id, AUTHENTICATED_GROUP, user_id])
        rows = cursor.fetchall()
        if not rows:
            return Grants(user_id, stamp, active=False, pending=pending)
        _, active, superuser, has_object_perms = rows[0][:4]
        # a second query only for the few who hold object permissions (a superuser needs none)
        object_perms = objects.load(cursor, user_id) if has_object_perms and active and not superuser else {}
    bindings = {row[4:] for row in rows if row[4] is not None}
    found = _assemble(user_id, stamp, bool(active), bool(superuser), bindings, pending)
    found.object_perms = object_perms
    return found


@lru_cache(maxsize=1)
def _grants_sql() -> str:
    """The user row, whether they hold object permissions, and every binding of the user, their groups and
    all authenticated users.

    Hand-written because this is the cold path of every check: the ORM spends longer building
    its two queries than the database spends answering this one.
    """
    from django.contrib.auth.models import Group

    from iam.models import BindingSubject, IAMRole, IAMRoleBinding, User

    user, subject = User._meta.db_table, BindingSubject._meta.db_table
    binding, role = IAMRoleBinding._meta.db_table, IAMRole._meta.db_table
    group, membership = Group._meta.db_table, User.groups.through._meta.db_table
    return f"""
        SELECT u.name, u.is_active, u.is_superuser, f.objperms, x.scope_path, x.binding, x.role, x.role_id,
               x.digest
        FROM {user} u CROSS JOIN (SELECT {objects.exist_sql()} AS objperms) f LEFT JOIN (
            SELECT DISTINCT b.scope_path AS scope_path, b.name AS binding, r.name AS role, b.role_id AS role_id,
                   r.digest AS digest
            FROM {subject} s
            JOIN {binding} b ON b.id = s.binding_id
            JOIN {role} r ON r.id = b.role_id
            WHERE (s.kind = 'User' AND s.name = (SELECT name FROM {user} WHERE id = %s))
               OR (s.kind = 'Group' AND s.name IN (
                   SELECT g.name FROM {group} g JOIN {membership} m ON m.group_id = g.id WHERE m.user_id = %s))
               OR (s.kind = 'Group' AND s.name = %s)
        ) x ON 1 = 1
        WHERE u.id = %s"""


def build(user_id: int, change_id: int, name: str, groups: list[str], *, active=True, superuser=False) -> Grants:
    """Grants of the subject ``name`` in ``groups`` (access reviews for a named subject)."""
    from iam.models import BindingSubject

    subject = Q(kind="User", name=name) | Q(kind="Group", name__in=[*groups, AUTHENTICATED_GROUP])
    rows = set(BindingSubject.objects.filter(subject)
               .values_list("binding__scope_path", "binding__name", "binding__role__name", "binding__role_id",
                            "binding__role__digest"))
    return _assemble(user_id, change_id, active, superuser, rows)


def _assemble(user_id: int, change_id: int, active: bool, superuser: bool, rows, pending: tuple = ()) -> Grants:
    """Merge the compiled rules of each bound role per scope path."""
    by_path: dict[str, RuleIndex] = {}
    ui_by_path: dict[str, frozenset] = {}
    for path, _binding, _role_name, role_id, digest in rows:
        index, ui = role_index(role_id, digest)
        by_path[path] = by_path[path].merged(index) if path in by_path else index
        if ui:
            ui_by_path[path] = ui_by_path.get(path, frozenset()) | ui
    return Grants(user_id, change_id, active, superuser, by_path, ui_by_path, tuple(sorted(rows)), pending)


def explain(grants: Grants, verb: str, group: str, resource: str, path: str, name: str = "",
            reveal=lambda scope: True) -> tuple[bool, str]:
    """Whether ``grants`` allow the request and, if so, which binding at which scope did.

    ``reveal(scope)`` says whether the asker may see the bindings at ``scope``; if not, the reason
    says only that a binding further up allows.
    """
    if grants.superuser and grants.active:
        return True, "allowed: platform administrator (superuser)"
    if not grants.active:
        return False, "denied: the user is disabled or does not exist"
    for scope in chain(path):
        for bound_path, binding, role_name, role_id, digest in grants.bindings:
            if bound_path == scope and role_index(role_id, digest)[0].allows(verb, group, resource, name):
                if not reveal(scope):
                    return True, "allowed by a binding at a scope above this one"
                return True, f'allowed by IAMRoleBinding "{binding}" (role "{role_name}") at scope "{scope}"'
    return False, f'denied: no binding on the chain of "{path}" grants {verb} on {group or "core"}/{resource}'
