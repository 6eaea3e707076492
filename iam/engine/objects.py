"""The Resource level: django-guardian object permissions, held in a user's grants so that a check asks no query.

Object permissions are granted and revoked with guardian's own API (``assign_perm``, ``remove_perm``).
They are loaded with the rest of a user's grants (``grants.compute``, one more query only for users
who hold any) and cached with them, so ``has_perm`` answers a Django-spelled check, allowed or
denied, from memory, and the list filter selects the very rows ``has_perm`` allows.

* A user who holds more than ``CAP`` object permissions keeps only the note "many"; each check then
  asks guardian, as guardian's backend would.
* Freshness: saving or deleting a guardian row (what ``assign_perm`` and ``remove_perm`` do) writes
  the grant change log like any other change to who may do what (the hooks at the bottom). Guardian's
  bulk helpers (``bulk_assign_perm``, ``assign_perm_to_many``) insert with ``bulk_create``, which sends
  no signal: call ``iam.signals.record_change(user_ids)`` after them, or the rows are seen when the
  user's grants are next built (at the latest after ``EDGE_AUTHZ_CACHE_TTL``).
"""
from __future__ import annotations

from functools import lru_cache

from django.db.models import Q
from django.db.models.signals import post_delete, post_save

__all__ = ["CAP", "exist_sql", "held", "key_of", "load", "rows_q"]

#: object permissions a user's grants hold at most; beyond, checks ask guardian
CAP = 1000


def key_of(obj) -> tuple[str, str, str]:
    """(app label, model name, primary key as text): how guardian's generic rows name an object."""
    opts = obj._meta.concrete_model._meta  # guardian files proxies under their concrete model
    return opts.app_label, opts.model_name, str(obj.pk)


def held(grants, user, codename: str, obj) -> bool:
    """True when ``user`` (whose grants are ``grants``) or one of their groups holds ``codename`` on ``obj``."""
    if grants.object_perms is None:
        from guardian.core import ObjectPermissionChecker

        return ObjectPermissionChecker(user).has_perm(codename, obj)
    return codename in grants.object_perms.get(key_of(obj), ())


def rows_q(grants, user, codename: str, model) -> Q | None:
    """The rows of ``model`` on which the user holds ``codename``; None when there are none."""
    perms = grants.object_perms
    if perms is None:
        return _rows_q_from_guardian(user, codename, model)
    opts = model._meta.concrete_model._meta
    pk_field = model._meta.pk
    pks = []
    for (app_label, model_name, pk), codenames in perms.items():
        if codename in codenames and (app_label, model_name) == (opts.app_label, opts.model_name):
            try:
                pks.append(pk_field.to_python(pk))
            except Exception:  # a row naming a key this model cannot have matches nothing
                continue
    return Q(pk__in=pks) if pks else None


def _rows_q_from_guardian(user, codename: str, model) -> Q:
    """The same, as subqueries on guardian's tables (for users holding more than ``CAP``)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db.models import IntegerField
    from django.db.models.functions import Cast
    from guardian.models import GroupObjectPermission, UserObjectPermission

    ctype = ContentType.objects.get_for_model(model)
    direct = UserObjectPermission.objects.filter(user=user, permission__codename=codename, content_type=ctype)
    via_group = GroupObjectPermission.objects.filter(group__user=user, permission__codename=codename,
                                                     content_type=ctype)
    if isinstance(model._meta.pk, IntegerField):
        return Q(pk__in=direct.annotate(pk_int=Cast("object_pk", IntegerField())).values("pk_int")) \
            | Q(pk__in=via_group.annotate(pk_int=Cast("object_pk", IntegerField())).values("pk_int"))
    return Q(pk__in=direct.values("object_pk")) | Q(pk__in=via_group.values("object_pk"))


@lru_cache(maxsize=1)
def _tables() -> dict:
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission, UserObjectPermission

    from iam.models import User

    return {"uop": UserObjectPermission._meta.db_table, "gop": GroupObjectPermission._meta.db_table,
            "perm": Permission._meta.db_table, "ct": ContentType._meta.db_table,
            "membership": User.groups.through._meta.db_table}


def exist_sql() -> str:
    """A boolean SQL expression with two ``%s`` (the user id, twice): does the user hold any object permission?"""
    t = _tables()
    return (f"(EXISTS (SELECT 1 FROM {t['uop']} WHERE user_id = %s) OR EXISTS (SELECT 1 FROM {t['gop']} o "
            f"JOIN {t['membership']} m ON m.group_id = o.group_id WHERE m.user_id = %s))")


@lru_cache(maxsize=1)
def _load_sql() -> str:
    t = _tables()
    select = (f"SELECT ct.app_label, ct.model, o.object_pk, p.codename FROM {{table}} o "
              f"JOIN {t['perm']} p ON p.id = o.permission_id JOIN {t['ct']} ct ON ct.id = o.content_type_id")
    return (f"{select.format(table=t['uop'])} WHERE o.user_id = %s UNION "
            f"{select.format(table=t['gop'])} JOIN {t['membership']} m ON m.group_id = o.group_id "
            "WHERE m.user_id = %s LIMIT %s")


def load(cursor, user_id: int) -> dict | None:
    """The user's object permissions, ``{(app label, model, pk): frozenset(codenames)}``; None beyond ``CAP``."""
    cursor.execute(_load_sql(), [user_id, user_id, CAP + 1])
    rows = cursor.fetchall()
    if len(rows) > CAP:
        return None
    out: dict[tuple, set] = {}
    for app_label, model, pk, codename in rows:
        out.setdefault((app_label, model, pk), set()).add(codename)
    return {key: frozenset(codenames) for key, codenames in out.items()}


# --- freshness: guardian's rows are grants like bindings are -------------------------------------------

def _user_permission_changed(sender, instance, **kwargs):
    from iam.signals import record_change

    record_change([instance.user_id])


def _group_permission_changed(sender, instance, **kwargs):
    from iam.models import User
    from iam.signals import record_change

    record_change(list(User.groups.through.objects.filter(group_id=instance.group_id)
                       .values_list("user_id", flat=True)))


# lazy model references: connected whenever guardian's models are loaded, whatever imports this first
for _signal in (post_save, post_delete):
    _signal.connect(_user_permission_changed, sender="guardian.UserObjectPermission",
                    dispatch_uid=f"iam.engine.objects.user.{_signal is post_save}")
    _signal.connect(_group_permission_changed, sender="guardian.GroupObjectPermission",
                    dispatch_uid=f"iam.engine.objects.group.{_signal is post_save}")
