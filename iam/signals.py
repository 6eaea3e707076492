"""Keep grants fresh: every change to who may do what writes the grant change log.

Handlers hang on the models, not on the API, so changes from any writer (API, console,
sync, shell, migrations) are seen; that includes the roles' effective rules, re-aggregated
when any template changes. Grants also follow the scopes the clusters app announces
(``edgeplatform.resources.signals``): those listeners hand over to ``iam.services``. What a
write of a user or group does beyond that is the converters' (``iam.manifests``).
"""
from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver

from edgeplatform.resources.signals import scope_created, scope_deleted, scope_moved
from iam.models import GrantChange, IAMRole, IAMRoleBinding, RoleTemplate, User, UserGroup

FANOUT_LIMIT = 1000


def record_change(user_ids: list[int] | None) -> None:
    """Log a change for ``user_ids`` (None: anyone) and evict them in this process now and on commit."""
    from iam.engine import engine

    ids = None if user_ids is None or len(user_ids) > FANOUT_LIMIT else sorted(set(user_ids))
    if ids == []:
        return
    if ids is None:
        GrantChange.objects.create()
    else:
        GrantChange.objects.bulk_create([GrantChange(user_id=i) for i in ids])
    engine.cache.evict(ids)
    transaction.on_commit(lambda: engine.cache.evict(ids))


def users_of_subjects(subjects: list[dict]) -> list[int] | None:
    """The users a list of binding subjects reaches (None when a group reaches everyone)."""
    names = [s.get("name") for s in subjects if s.get("kind") == "User"]
    groups = [s.get("name") for s in subjects if s.get("kind") == "Group"]
    if "system:authenticated" in groups:
        return None
    ids = set(User.objects.filter(name__in=names).values_list("pk", flat=True))
    if groups:
        ids |= set(User.groups.through.objects.filter(group__name__in=groups).values_list("user_id", flat=True))
    return list(ids)


@receiver(post_save, sender=RoleTemplate)
@receiver(post_delete, sender=RoleTemplate)
def _template_changed(sender, instance, **kwargs):
    """Effective rules are computed grant data with one writer: whoever changes a template, every role merges
    its templates again (and anyone's grants may change)."""
    from iam.aggregation import reaggregate_all

    reaggregate_all()
    record_change(None)


@receiver(post_save, sender=IAMRole)
@receiver(post_delete, sender=IAMRole)
def _role_changed(sender, instance, **kwargs):
    record_change(None)


@receiver(pre_save, sender=IAMRoleBinding)
def _binding_before(sender, instance, **kwargs):
    if instance.pk:
        old = IAMRoleBinding.objects.filter(pk=instance.pk).values_list("spec", flat=True).first() or {}
        instance._old_subjects = old.get("subjects") or []


@receiver(post_save, sender=IAMRoleBinding)
@receiver(post_delete, sender=IAMRoleBinding)
def _binding_changed(sender, instance, **kwargs):
    subjects = [*(instance.spec or {}).get("subjects", []), *getattr(instance, "_old_subjects", [])]
    record_change(users_of_subjects(subjects))


@receiver(m2m_changed, sender=User.groups.through)
def _membership_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if not action.startswith("post_") and action != "pre_clear":
        return
    if action == "pre_clear":  # pk_set is empty on clear: remember who is leaving
        instance._cleared = list(instance.user_set.values_list("pk", flat=True)) if reverse else [instance.pk]
        return
    if reverse:  # group.user_set changed
        record_change(list(pk_set or []) or getattr(instance, "_cleared", []))
    else:
        record_change([instance.pk])


@receiver(pre_save, sender=User)
def _user_before(sender, instance, **kwargs):
    if instance.pk:
        instance._old_auth = User.objects.filter(pk=instance.pk).values_list(
            "name", "is_active", "is_superuser").first()


@receiver(post_save, sender=User)
def _user_changed(sender, instance, created, **kwargs):
    now = (instance.name, instance.is_active, instance.is_superuser)
    if created or getattr(instance, "_old_auth", None) != now:
        record_change([instance.pk])


@receiver(post_delete, sender=User)
def _user_deleted(sender, instance, **kwargs):
    """A deleted user's grants and tokens, wherever a process keeps them, go at once (after the delete: the
    log rows naming the user went with it)."""
    record_change([instance.pk])


@receiver(pre_delete, sender=Group)
@receiver(pre_delete, sender=UserGroup)
def _group_deleted(sender, instance, **kwargs):
    group = instance.group if isinstance(instance, UserGroup) else instance
    record_change(list(group.user_set.values_list("pk", flat=True)))


@receiver(scope_deleted)
def _scope_deleted(sender, path, **kwargs):
    """Bindings and pinned roles of a deleted scope go with it."""
    from iam import services

    services.drop_scope_grants(path)


@receiver(scope_moved)
def _scope_moved(sender, old_path, new_path, **kwargs):
    """Bindings and pinned roles follow a scope that moved."""
    from iam import services

    services.move_scope_grants(old_path, new_path)


@receiver(scope_created)
def _creator_becomes_admin(sender, path, creator=None, **kwargs):
    """The creator of a scope object is bound as its admin."""
    from iam import services

    services.bind_creator_as_admin(path, creator)
