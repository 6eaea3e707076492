"""Factories of the iam kinds: User, Group, Category, RoleTemplate, IAMRole and IAMRoleBinding."""
from __future__ import annotations

import factory

from edgeplatform.resources.names import SCOPE_LABEL
from iam.models import Category, IAMRole, IAMRoleBinding, RoleTemplate, User, UserGroup
from tests.factories.base import PASSWORD, ManifestFactory, name_of, scope_labels

__all__ = ["CategoryFactory", "GroupFactory", "IAMRoleBindingFactory", "IAMRoleFactory", "RoleTemplateFactory",
           "UserFactory", "rule"]

GROUP = "iam.theriseunion.io"


def rule(group: str, resource: str, *verbs: str) -> dict:
    """A PolicyRule granting ``verbs`` (all of them when none are named) on ``group/resource``."""
    return {"apiGroups": [group], "resources": [resource], "verbs": list(verbs) or ["*"]}


class GroupFactory(ManifestFactory):
    """A group of users (members are set on users, ``spec.groups``)."""

    class Meta:
        model = UserGroup

    name = factory.Sequence(lambda n: f"group-{n}")


class UserFactory(ManifestFactory):
    """A user who logs in with ``PASSWORD``, member of ``groups`` (Group objects are created for names that have
    none). A superuser is made as ``manage.py createsuperuser`` makes one: the API cannot grant that."""

    class Meta:
        model = User

    name = factory.Sequence(lambda n: f"user-{n}")
    email = ""
    password = PASSWORD
    groups = ()
    superuser = False

    @classmethod
    def spec_of(cls, fields: dict) -> dict:
        """e-mail, groups and the password (hashed on arrival)."""
        spec = super().spec_of(fields)
        if fields["email"]:
            spec["email"] = fields["email"]
        if fields["groups"]:
            spec["groups"] = list(fields["groups"])
        if fields["password"]:
            spec["password"] = fields["password"]
        return spec

    @classmethod
    def _create(cls, model_class, **fields):
        from edgeplatform.resources import services

        for group in fields["groups"]:
            if not UserGroup.objects.filter(name=group).exists():
                GroupFactory(name=group)
        if not fields["superuser"]:
            return super()._create(model_class, **fields)
        cls.to_manifest(fields)  # the same checks of the declarations
        user = User.objects.create_superuser(fields["name"], fields["email"], fields["password"])
        if fields["groups"]:
            user = services.save_as_system(user, lambda manifest: manifest["spec"].update(
                groups=list(fields["groups"])))
        return user


class CategoryFactory(ManifestFactory):
    """A category the console groups role templates by."""

    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"category-{n}")
    spec = factory.Dict({"displayName": factory.Dict({"en-US": "Category", "zh-CN": "类别"})})


class RoleTemplateFactory(ManifestFactory):
    """A role template of ``level`` (None: no scope label) with ``rules`` and ``ui_permissions``."""

    class Meta:
        model = RoleTemplate

    name = factory.Sequence(lambda n: f"template-{n}")
    level = "platform"
    rules = factory.List([factory.Dict(rule("scope.theriseunion.io", "clusters", "get", "list"))])
    ui_permissions = factory.List([])

    @classmethod
    def labels_of(cls, fields: dict) -> dict:
        """The given labels and the level's."""
        labels = super().labels_of(fields)
        if fields["level"]:
            labels[SCOPE_LABEL] = fields["level"]
        return labels

    @classmethod
    def spec_of(cls, fields: dict) -> dict:
        """Rules and uiPermissions."""
        return {**super().spec_of(fields), "rules": list(fields["rules"]),
                "uiPermissions": list(fields["ui_permissions"])}


class ScopedFactory(ManifestFactory):
    """A kind whose scope is named by labels: ``level``, ``value`` and ``cluster``, or a scope row as ``scope``."""

    class Meta:
        abstract = True

    class Params:
        scope = None

    level = factory.LazyAttribute(lambda o: o.scope.level if o.scope is not None else "platform")
    value = factory.LazyAttribute(lambda o: o.scope.name if o.scope is not None else "")
    cluster = factory.LazyAttribute(lambda o: o.scope.cluster.name if o.scope is not None
                                    and o.scope.level in ("namespace", "node") else "")

    @classmethod
    def labels_of(cls, fields: dict) -> dict:
        """The given labels and the scope's."""
        return {**super().labels_of(fields), **scope_labels(fields["level"], fields["value"], fields["cluster"])}


class IAMRoleFactory(ScopedFactory):
    """A role of its own rules and of ``templates`` (by name): a prototype of its level without a scope value, else
    pinned to that scope."""

    class Meta:
        model = IAMRole

    name = factory.Sequence(lambda n: f"role-{n}")
    rules = factory.List([])
    ui_permissions = factory.List([])
    templates = factory.List([])

    @classmethod
    def spec_of(cls, fields: dict) -> dict:
        """Rules, uiPermissions and the templates aggregated by name."""
        spec = {**super().spec_of(fields), "rules": list(fields["rules"]),
                "uiPermissions": list(fields["ui_permissions"])}
        if fields["templates"]:
            spec["aggregationRoleTemplates"] = {"templateNames": list(fields["templates"])}
        return spec


class IAMRoleBindingFactory(ScopedFactory):
    """``users`` and ``groups`` bound to ``role`` (a row or a name; by default a new prototype role of the binding's
    level that grants nothing) at a scope."""

    class Meta:
        model = IAMRoleBinding

    name = factory.Sequence(lambda n: f"binding-{n}")
    role = factory.LazyAttribute(lambda o: IAMRoleFactory(level=o.level))
    users = ()
    groups = ()

    @classmethod
    def spec_of(cls, fields: dict) -> dict:
        """The role reference and the subjects."""
        subjects = [{"kind": "User", "name": name, "apiGroup": GROUP} for name in fields["users"]]
        subjects += [{"kind": "Group", "name": name, "apiGroup": GROUP} for name in fields["groups"]]
        return {**super().spec_of(fields),
                "roleRef": {"apiGroup": GROUP, "kind": "IAMRole", "name": name_of(fields["role"])},
                "subjects": subjects}
