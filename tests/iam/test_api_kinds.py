"""The generated API cases (``tests/api_cases.py``) of User, Group, Category, RoleTemplate, IAMRole and
IAMRoleBinding."""
from tests.api_cases import KindAPICase
from tests.factories import (
    CategoryFactory,
    GroupFactory,
    IAMRoleBindingFactory,
    IAMRoleFactory,
    RoleTemplateFactory,
    UserFactory,
    rule,
)

IAM = "iam.theriseunion.io"


def _three(factory, **fields) -> dict:
    """Three platform objects: grants at a cluster (the limited and foreign users') reach none of them."""
    return {place: factory(**fields) for place in ("inside", "beside", "abroad")}


class TestUserAPI(KindAPICase):
    """Users are platform objects (everyone also reads their own user, which is none of the places)."""

    factory = UserFactory
    level = "platform"
    update = {"spec": {"displayName": "Ann Example"}}
    patch = {"spec": {"description": "on call this week"}}

    @classmethod
    def places(cls, objs):
        return _three(UserFactory, groups=("operators",))

    @classmethod
    def new(cls, objs, where):
        return {"groups": ("operators",)}


class TestGroupAPI(KindAPICase):
    """Groups are platform objects."""

    factory = GroupFactory
    level = "platform"
    update = {"spec": {"displayName": "Operators"}}
    patch = {"spec": {"description": "who runs the sites"}}

    @classmethod
    def places(cls, objs):
        return _three(GroupFactory)

    @classmethod
    def new(cls, objs, where):
        return {}


class TestCategoryAPI(KindAPICase):
    """Categories are platform objects."""

    factory = CategoryFactory
    level = "platform"
    update = {"spec": {"icon": "folder"}}
    patch = {"spec": {"displayName": {"en-US": "Renamed"}}}

    @classmethod
    def places(cls, objs):
        return _three(CategoryFactory)

    @classmethod
    def new(cls, objs, where):
        return {}


class TestRoleTemplateAPI(KindAPICase):
    """Platform-level templates (a cluster's readers of templates see those of the cluster's levels, not these);
    a new one grants only what its creator holds platform-wide."""

    factory = RoleTemplateFactory
    level = "platform"
    update = {"spec": {"displayName": {"en-US": "Cluster readers"}}}
    patch = {"spec": {"description": {"en-US": "reads clusters"}}}

    @classmethod
    def places(cls, objs):
        return _three(RoleTemplateFactory, level="platform")

    @classmethod
    def new(cls, objs, where):
        return {"rules": [rule(IAM, "roletemplates", "get")]}


class TestIAMRoleAPI(KindAPICase):
    """Roles pinned to w1 (inside), w2 (beside) and w3 (abroad); a new one grants only what its creator holds
    there."""

    factory = IAMRoleFactory
    level = "workspace"
    update = {"spec": {"displayName": {"en-US": "Line readers"}}}
    patch = {"spec": {"uiPermissions": ["workspace/overview.view"]}}

    @classmethod
    def places(cls, objs):
        return {place: IAMRoleFactory(scope=objs[key]) for place, key in _WORKSPACES.items()}

    @classmethod
    def new(cls, objs, where):
        return {"scope": objs[_WORKSPACES[where]], "rules": [rule(IAM, "iamroles", "get")]}


class TestIAMRoleBindingAPI(KindAPICase):
    """Bindings at w1 (inside), w2 (beside) and w3 (abroad) of a workspace prototype that grants nothing."""

    factory = IAMRoleBindingFactory
    level = "workspace"
    update = {"spec": {"subjects": [{"kind": "Group", "name": "line-1", "apiGroup": IAM}]}}
    patch = {"metadata": {"labels": {"team": "line-1"}}}

    @classmethod
    def places(cls, objs):
        return {place: IAMRoleBindingFactory(scope=objs[key], users=("someone",))
                for place, key in _WORKSPACES.items()}

    @classmethod
    def new(cls, objs, where):
        return {"scope": objs[_WORKSPACES[where]], "users": ("someone",)}


_WORKSPACES = {"inside": "c1/w1", "beside": "c1/w2", "abroad": "c2/w3"}
