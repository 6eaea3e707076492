"""Domain operations on users, groups, roles and bindings that several surfaces call.

The converters' hooks (``iam.manifests``) name these functions, so the API, the console, the CRD sync and
the loader all change users and grants the same way; a surface that means one of these operations (the
console's member list) calls it directly. Changes to other objects go through the write path
(``edgeplatform.resources.services``) as the system: audited with the actor in context, and synced.
"""
from __future__ import annotations

import hashlib

from django.contrib.auth.models import Group
from django.db.models import Q

from edgeplatform.resources import scopes
from edgeplatform.resources import services as write
from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.names import CLUSTER_LABEL, SCOPE_LABEL, SCOPE_VALUE_LABEL
from iam.engine import escalation
from iam.models import (
    BindingSubject,
    IAMRole,
    IAMRoleBinding,
    User,
    UserGroup,
)

__all__ = [
    "bind_creator_as_admin",
    "delete_auth_group",
    "drop_scope_grants",
    "forbid_user_escalation",
    "move_scope_grants",
    "set_credentials",
    "set_membership",
    "set_user_groups",
    "unbind",
]


# --- users and groups -------------------------------------------------------------------------------------
def set_user_groups(user: User, groups, *, actor=None) -> User:
    """Make ``user`` a member of exactly ``groups``, through the write path as ``actor`` (None: the system):
    authorized, refused with a 403 naming ``spec.groups[i]`` when a group added is bound to more than ``actor``
    holds (``forbid_user_escalation``), audited and synced. Returns the saved user."""
    converter = converter_for(User)
    manifest = converter.to_manifest(user)
    manifest.pop("status", None)  # the state is not being changed
    manifest["spec"]["groups"] = sorted(set(groups))
    return write.save_manifest(converter, manifest, user=actor, instance=user)


def forbid_user_escalation(actor, instance: User | None, spec: dict, state: str | None, converter, name: str) -> None:
    """Raise 403 when a write of a user would hand ``actor`` more than they hold.

    Setting another user's password or state is acting as them, so ``actor`` must hold what they hold; joining a
    group means holding what the group is bound to, wherever it is bound (whether or not a Group object of that
    name exists). The system and superusers are exempt.
    """
    if escalation.exempt(actor):
        return
    credentials = [f"spec.{key}" for key in ("password", "encryptedPassword") if spec.get(key)]
    if instance is not None and state and (state == "Active") != instance.is_active:
        credentials.append("status.state")
    if instance is not None and credentials:
        escalation.forbid_taking_over(actor, instance, credentials[0], converter, name)
    wanted = list(spec.get("groups") or [])
    current = set(instance.groups.values_list("name", flat=True)) if instance is not None else set()
    bound = (BindingSubject.objects.filter(kind="Group", name__in=set(wanted) - current)
             .values_list("name", "binding__scope_path", "binding__role__effective_rules")
             .order_by("name", "binding__scope_path"))
    for group, path, rules in bound:
        escalation.forbid_escalation(actor, rules or [], [path], f"spec.groups[{wanted.index(group)}]", converter,
                                     name)


def set_credentials(user: User, password: str | None, encrypted: str | None) -> None:
    """Hash a new password onto ``user`` (or take a bcrypt hash as it is); a new user given neither gets an
    unusable password."""
    if password:
        user.set_password(password)
    elif encrypted:
        user.password = f"bcrypt${encrypted}"
    elif user.pk is None:
        user.set_unusable_password()


def set_membership(user: User, names) -> None:
    """Make the saved ``user`` a member of exactly the auth groups ``names``; a name no Group object carries is held
    as an external group (an auth group without a platform Group, which a Group created later takes over)."""
    names = list(names)
    groups = {group.name: group for group in Group.objects.filter(name__in=names)}
    for name in names:
        if name not in groups:
            groups[name], _ = Group.objects.get_or_create(name=name)
    user.groups.set(groups.values())


def delete_auth_group(group: UserGroup) -> None:
    """Once a platform group is deleted, the auth group underneath goes too."""
    Group.objects.filter(pk=group.group_id).delete()


def unbind(kind: str, name: str) -> None:
    """Take a subject (``User`` or ``Group``) out of every binding through the write path, as the system (each
    change audited and synced), so that a later subject of that name inherits nothing; a binding left with no
    subject is deleted."""
    def mine(subject: dict) -> bool:
        return subject.get("kind") == kind and subject.get("name") == name

    bindings = IAMRoleBinding.objects.filter(subject_rows__kind=kind, subject_rows__name=name).distinct()
    for binding in bindings.order_by("name"):
        remaining = [subject for subject in binding.spec.get("subjects") or [] if not mine(subject)]
        if remaining:
            write.save_as_system(binding, lambda manifest, rest=remaining: manifest["spec"].update(subjects=rest))
        else:
            write.delete_object(converter_for(IAMRoleBinding), binding)


# --- grants that follow scopes --------------------------------------------------------------------------
def _under(path: str) -> Q:
    return Q(scope_path=path) | Q(scope_path__startswith=path + "/")


def drop_scope_grants(path: str) -> int:
    """The bindings and pinned roles at and below a deleted scope go with it, one by one through the write path
    (each audited and its custom resource removed); how many went."""
    from iam.signals import record_change

    gone = write.delete_all(IAMRoleBinding.objects.filter(_under(path)).order_by("name")) + \
        write.delete_all(IAMRole.objects.filter(_under(path)).order_by("name"))
    if gone:
        record_change(None)
    return gone


def move_scope_grants(old_path: str, new_path: str) -> int:
    """Bindings and pinned roles follow a scope that moved (a namespace to another workspace); how many moved."""
    from iam.signals import record_change

    moved = 0
    for model in (IAMRoleBinding, IAMRole):
        for row in model.objects.filter(_under(old_path)).only("pk", "scope_path"):
            model.objects.filter(pk=row.pk).update(scope_path=new_path + row.scope_path[len(old_path):])
            moved += 1
    if moved:
        record_change(None)
    return moved


def bind_creator_as_admin(path: str, creator) -> IAMRoleBinding | None:
    """The user who creates a cluster, workspace, node group, namespace or node is bound as its admin (the
    ``<level>-admin`` prototype), through the write path as the system (the creator may not bind anyone
    themselves): audited and synced. Nobody is bound for the system or a superuser."""
    if creator is None or not getattr(creator, "is_authenticated", False) or creator.is_superuser:
        return None
    level = scopes.level_of(path)
    role = IAMRole.objects.filter(name=f"{level}-admin", scope_level=level, scope_value="").first()
    if role is None:
        return None
    digest = hashlib.sha256(f"{path}|{creator.name}".encode()).hexdigest()[:10]
    labels = {SCOPE_LABEL: level, SCOPE_VALUE_LABEL: scopes.name_of(path)}
    if level in scopes.CLUSTER_QUALIFIED:
        labels[CLUSTER_LABEL] = scopes.cluster_of(path)
    return write.save_manifest(converter_for(IAMRoleBinding), {
        "apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "IAMRoleBinding",
        "metadata": {"name": f"{scopes.name_of(path)[:40]}-{level}-admin-{digest}", "labels": labels,
                     "annotations": {"theriseunion.io/creator": creator.name}},
        "spec": {"roleRef": {"apiGroup": "iam.theriseunion.io", "kind": "IAMRole", "name": role.name},
                 "subjects": [{"kind": "User", "name": creator.name, "apiGroup": "iam.theriseunion.io"}]}})
