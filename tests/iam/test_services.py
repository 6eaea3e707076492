"""The domain operations of ``iam.services``, called directly: changing a user's groups with the escalation check,
and what a deleted user or group leaves behind."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from edgeplatform.resources import services as write
from edgeplatform.resources.errors import StatusError
from iam import services
from iam.audit.models import AuditEvent
from iam.models import IAMRoleBinding, User, UserGroup
from tests import fleet

USER_ADMIN_RULES = [{"apiGroups": ["iam.theriseunion.io"], "resources": ["users", "groups"], "verbs": ["*"]}]
GROUP = {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "Group"}


def mark() -> int:
    """The newest audit event id so far."""
    newest = AuditEvent.objects.order_by("-id").first()
    return newest.id if newest else 0


@pytest.fixture
def site(platform):
    """A user manager (users and groups, nothing else), bob, a group ``admins`` bound as platform admins and a
    group ``readers`` bound to nothing."""
    platform.apply(fleet.role_manifest("user-manager", "platform", USER_ADMIN_RULES, value="global"))
    platform.user("um")
    platform.bind("um-platform", "user-manager", "platform", "global", users=("um",))
    platform.user("bob")
    platform.apply({**GROUP, "metadata": {"name": "admins"}}, {**GROUP, "metadata": {"name": "readers"}})
    platform.bind("admins-platform", "platform-admin", "platform", "global", groups=("admins",))
    return platform


def groups_of(name: str) -> set[str]:
    return set(User.objects.get(name=name).groups.values_list("name", flat=True))


def test_set_user_groups_refuses_a_group_that_holds_more_than_the_caller(site):
    """GIVEN a user manager and a group bound as platform admins WHEN the manager puts bob in that group with
    set_user_groups THEN it is a 403 naming the group, bob's groups are unchanged and nothing is recorded as
    written."""
    start = mark()

    with pytest.raises(StatusError) as refused:
        services.set_user_groups(User.objects.get(name="bob"), ["readers", "admins"], actor=User.objects.get(name="um"))

    assert refused.value.status_code == 403
    assert refused.value.details["causes"][0]["field"] == "spec.groups[0]"  # sorted: admins first
    assert groups_of("bob") == set()
    assert not AuditEvent.objects.filter(id__gt=start, verb="update", result="allowed").exists()


def test_set_user_groups_changes_membership_through_the_write_path(site):
    """GIVEN a user manager and a group bound to nothing WHEN the manager puts bob in it, then takes him out
    THEN bob's membership follows, each change one audited update of the user showing the groups."""
    um = User.objects.get(name="um")
    start = mark()

    services.set_user_groups(User.objects.get(name="bob"), ["readers"], actor=um)
    assert groups_of("bob") == {"readers"}
    services.set_user_groups(User.objects.get(name="bob"), [], actor=um)
    assert groups_of("bob") == set()

    events = list(AuditEvent.objects.filter(id__gt=start).order_by("id"))
    assert [(e.actor, e.verb, e.kind, e.name) for e in events] == [("um", "update", "User", "bob")] * 2
    assert [e.after["spec"]["groups"] for e in events] == [["readers"], []]


def test_a_superuser_may_add_any_group(site):
    """GIVEN a superuser WHEN they put bob in the platform admins' group THEN bob is in it."""
    root = site.user("root", superuser=True)

    services.set_user_groups(User.objects.get(name="bob"), ["admins"], actor=root)

    assert groups_of("bob") == {"admins"}


def test_a_deleted_group_leaves_its_bindings_and_its_auth_group(site):
    """GIVEN a group bound as platform admins with bob in it WHEN the group is deleted through the write path
    THEN the binding that named only it is deleted and the auth group underneath is gone."""
    services.set_user_groups(User.objects.get(name="bob"), ["admins"])

    write.delete_object(UserGroup._converter, UserGroup.objects.get(name="admins"))

    assert not IAMRoleBinding.objects.filter(name="admins-platform").exists()
    assert not Group.objects.filter(name="admins").exists()
    assert groups_of("bob") == set()
