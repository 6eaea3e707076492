"""The console shows each user what the permission engine allows them, and writes through the one write path.

GIVEN a small fleet (two clusters, three workspaces, a node group, namespaces and nodes) and a user bound to
one built-in role at one scope, WHEN that user opens console pages, THEN menus, rows and buttons are what
their grants allow, and nothing else.
"""
from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from clusters.models import Workspace
from iam.models import IAMRoleBinding
from tests.factories import IAMRoleFactory, RoleTemplateFactory
from tests.support import PASSWORD, binding_manifest

C = "/console"
PAGES = {
    "clusters": f"{C}/clusters/cluster/",
    "workspaces": f"{C}/clusters/workspace/",
    "nodegroups": f"{C}/clusters/nodegroup/",
    "namespaces": f"{C}/clusters/namespace/",
    "nodes": f"{C}/clusters/node/",
    "users": f"{C}/iam/user/",
    "groups": f"{C}/iam/usergroup/",
    "roletemplates": f"{C}/iam/roletemplate/",
    "roles": f"{C}/iam/iamrole/",
    "bindings": f"{C}/iam/iamrolebinding/",
    "categories": f"{C}/iam/category/",
}
#: pages beside the model pages that the menu may link to
EXTRA_PAGES = {"audit": f"{C}/audit/", "lockouts": f"{C}/lockouts/", "charts": f"{C}/charts/"}


@pytest.fixture
def fleet(platform):
    """c1 (w1, w2, g1, n1 in w1, n2 in w2, x1 in g1, x2 loose) and c2 (w3); one admin."""
    platform.cluster("c1")
    platform.cluster("c2")
    for ws, cl in (("w1", "c1"), ("w2", "c1"), ("w3", "c2")):
        platform.workspace(ws, cl)
    platform.nodegroup("g1", "c1")
    platform.namespace("n1", "c1", "w1")
    platform.namespace("n2", "c1", "w2")
    platform.node("x1", "c1", "g1")
    platform.node("x2", "c1")
    platform.user("root", superuser=True)
    return platform


def console_for(platform, name, role=None, level="", value="", cluster=""):
    """A logged-in browser session for a new user bound to ``role`` at one scope."""
    user = platform.user(name)
    if role:
        platform.bind(f"{name}-binding", role, level, value, cluster, users=(name,))
    client = Client()
    client.force_login(user)
    return client


def rows(client, page):
    """The object names listed on a console list page (the first column's links)."""
    response = client.get(PAGES[page])
    assert response.status_code == 200, (page, response.status_code)
    return sorted(re.findall(r'<th class="field-name"><a href="[^"]+">([^<]+)</a>', response.content.decode()))


def menu(client):
    """The list pages linked from the dashboard."""
    html = client.get(f"{C}/").content.decode()
    return {page for page, url in PAGES.items() if f'href="{url}"' in html}


def menu_and_quick_actions(client):
    """Every page the dashboard links to, and its quick actions."""
    html = client.get(f"{C}/").content.decode()
    pages = {page for page, url in {**PAGES, **EXTRA_PAGES}.items() if f'href="{url}"' in html}
    return pages, set(re.findall(r'id="quick-(\w+)"', html))


def forbidden(client, url) -> bool:
    """A page the user may not open: 403."""
    return client.get(url).status_code == 403


def hidden(client, url) -> bool:
    """An object page the user may not know of: 404, as for an object that does not exist."""
    return client.get(url).status_code == 404


# --- login -----------------------------------------------------------------------------------------
def test_login_with_password_needs_no_staff_flag(fleet):
    fleet.user("alice")
    client = Client()
    assert client.get(f"{C}/").status_code == 302
    page = client.get(f"{C}/login/")
    assert page.status_code == 200 and b'name="password"' in page.content
    response = client.post(f"{C}/login/?next=/console/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/console/"
    assert client.get(f"{C}/").status_code == 200
    wrong = Client().post(f"{C}/login/", {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200 and b"errornote" in wrong.content


def test_logout_ends_the_session(fleet):
    client = console_for(fleet, "alice")
    assert client.post(f"{C}/logout/").status_code == 200
    assert client.get(f"{C}/").status_code == 302


def test_old_admin_url_leads_to_the_console(fleet):
    assert Client().get("/admin/").url == "/console/"


# --- visibility per built-in role -------------------------------------------------------------------
def test_platform_admin_sees_everything_and_may_add(fleet):
    client = console_for(fleet, "pa", "platform-admin", "platform", "global")
    assert menu(client) == set(PAGES)
    assert rows(client, "workspaces") == ["w1", "w2", "w3"]
    html = client.get(PAGES["workspaces"]).content.decode()
    assert 'class="addlink"' in html and 'value="delete_selected"' in html


def test_cluster_viewer_sees_one_cluster_read_only(fleet):
    client = console_for(fleet, "cv", "cluster-viewer", "cluster", "c1")
    assert {"clusters", "workspaces", "nodegroups", "namespaces", "nodes"} <= menu(client)
    assert not {"users", "groups"} & menu(client)
    assert rows(client, "clusters") == ["c1"]
    assert rows(client, "workspaces") == ["w1", "w2"]
    assert rows(client, "nodes") == ["x1", "x2"]
    html = client.get(PAGES["workspaces"]).content.decode()
    assert 'class="addlink"' not in html and "delete_selected" not in html
    assert forbidden(client, PAGES["users"]) and forbidden(client, PAGES["groups"])
    assert forbidden(client, f"{PAGES['workspaces']}add/")


def test_workspace_viewer_sees_only_their_workspace_and_no_iam_admin(fleet):
    client = console_for(fleet, "wv", "workspace-viewer", "workspace", "w1")
    assert rows(client, "workspaces") == ["w1"]
    assert rows(client, "namespaces") == ["n1"]
    assert not {"clusters", "users", "groups", "nodegroups", "nodes", "roletemplates", "roles",
                "bindings"} & menu(client)
    for page in ("users", "groups", "clusters", "nodes", "roletemplates", "roles", "bindings"):
        assert forbidden(client, PAGES[page]), page
    w1, w2 = Workspace.objects.get(name="w1"), Workspace.objects.get(name="w2")
    assert hidden(client, f"{PAGES['workspaces']}{w2.pk}/change/")
    assert hidden(client, f"{PAGES['workspaces']}{w2.pk}/yaml/")
    view = client.get(f"{PAGES['workspaces']}{w1.pk}/change/").content.decode()
    assert "View workspace" in view and 'name="_save"' not in view and "deletelink" not in view
    listing = client.get(PAGES["workspaces"]).content.decode()
    assert 'class="addlink"' not in listing and "delete_selected" not in listing
    yaml_page = client.get(f"{PAGES['workspaces']}{w1.pk}/yaml/").content.decode()
    assert "disabled" in yaml_page and 'name="_save"' not in yaml_page
    assert client.post(f"{PAGES['workspaces']}{w1.pk}/yaml/", {"manifest": "kind: Workspace"}).status_code == 403


def test_workspace_admin_may_manage_members_of_their_workspace_only(fleet):
    client = console_for(fleet, "wa", "workspace-admin", "workspace", "w1")
    assert rows(client, "workspaces") == ["w1"]
    assert 'class="addlink"' in client.get(PAGES["bindings"]).content.decode()
    assert forbidden(client, PAGES["users"])
    fleet.user("bob")
    ok = client.post(f"{PAGES['bindings']}add/", {"name": "bob-w1", "role": "workspace-viewer",
                                                  "scope": "clusters/c1/workspaces/w1", "users": "bob"})
    assert ok.status_code == 302, ok.content.decode()[-2000:]
    assert IAMRoleBinding.objects.get(name="bob-w1").scope_path == "clusters/c1/workspaces/w1"
    denied = client.post(f"{PAGES['bindings']}add/", {"name": "bob-w2", "role": "workspace-viewer",
                                                      "scope": "clusters/c1/workspaces/w2", "users": "bob"})
    # w2 is not hers to know of: refused as a scope that does not exist, naming the field
    assert denied.status_code == 200
    assert "workspace &quot;w2&quot; in cluster &quot;c1&quot; not found" in denied.content.decode()
    assert 'value="bob-w2"' in denied.content.decode()  # the input is kept
    assert not IAMRoleBinding.objects.filter(name="bob-w2").exists()


def test_nodegroup_viewer_sees_the_group_and_its_nodes(fleet):
    client = console_for(fleet, "gv", "nodegroup-viewer", "nodegroup", "g1", "c1")
    assert rows(client, "nodegroups") == ["g1"]
    assert rows(client, "nodes") == ["x1"]
    assert not {"workspaces", "namespaces", "users", "groups", "clusters"} & menu(client)


def test_namespace_viewer_sees_only_their_namespace(fleet):
    client = console_for(fleet, "nv", "namespace-viewer", "namespace", "n1", "c1")
    assert rows(client, "namespaces") == ["n1"]
    assert not {"workspaces", "users", "groups", "clusters", "nodes"} & menu(client)
    assert forbidden(client, PAGES["workspaces"])


def test_user_without_bindings_sees_an_empty_console(fleet):
    client = console_for(fleet, "nobody")
    assert menu(client) == set()
    assert b"Nothing is shared with you yet" in client.get(f"{C}/").content
    assert forbidden(client, PAGES["workspaces"])


# --- the console of every built-in role, as a table --------------------------------------------------------
# What each of the 19 built-in roles of docs/builtin-roles.md shows, read off its templates' rules there (and
# the uiPermissions that come with them), for a user "u" bound by "u-binding" at one scope of the fleet below.
# A page is in the menu exactly when it is listed here; every other page answers 403. Buttons:
#   A  "Add" on the list page            (create at some scope)
#   B  the bulk "Delete selected" action (delete at some scope)
#   C  "Save" on the change form of the first and the last row listed (update at the row's scope)
#   D  "Delete" on those change forms    (delete at the row's scope)
# IAM pages (templates, roles, bindings, categories) are for those who administer access: who may create
# bindings somewhere, or read the kind at the platform (README, "Console"). Roles and templates readable at a
# scope include the built-in prototypes of its level and the levels below (the ones a binding there may use).

#: docs/builtin-roles.md, "Roles": the built-in roles of each level
PROTOTYPES = {
    "platform": ("anonymous", "platform-admin", "platform-regular", "platform-self-provisioner"),
    "cluster": ("cluster-admin", "cluster-regular", "cluster-self-provisioner", "cluster-viewer"),
    "workspace": ("workspace-admin", "workspace-regular", "workspace-self-provisioner", "workspace-viewer"),
    "nodegroup": ("nodegroup-admin", "nodegroup-viewer"),
    "namespace": ("namespace-admin", "namespace-operator", "namespace-viewer"),
    "node": ("node-admin", "node-viewer"),
}
#: docs/builtin-roles.md, "Role templates": how many built-in templates each level has, and their name prefix
TEMPLATES = {"platform": (14, "platform-"), "cluster": (16, "cluster-"), "workspace": (13, "workspace-"),
             "nodegroup": (8, "nodegroup-"), "namespace": (10, "project-"), "node": (4, "node-")}
ALL_LEVELS = tuple(PROTOTYPES)


def prototypes(*levels):
    """The built-in roles of ``levels``, as the roles page lists them."""
    return sorted(name for level in levels for name in PROTOTYPES[level])


class Templates:
    """The built-in templates of some levels (too many to spell out: checked by count and name prefix)."""

    def __init__(self, *levels):
        self.levels = levels

    def check(self, names):
        assert len(names) == sum(TEMPLATES[level][0] for level in self.levels), names
        prefixes = tuple(TEMPLATES[level][1] for level in self.levels)
        others = tuple(p for level, (_, p) in TEMPLATES.items() if level not in self.levels and
                       not any(p.startswith(mine) for mine in prefixes))
        assert all(n.startswith(prefixes) and not n.startswith(others) for n in names), names


PLATFORM = ("platform", "global", "")
AT_C1 = ("cluster", "c1", "")
AT_W1 = ("workspace", "w1", "c1")
AT_G1 = ("nodegroup", "g1", "c1")
AT_N1 = ("namespace", "n1", "c1")
AT_X1 = ("node", "x1", "c1")
EVERYONES_BINDINGS = ["by-c2", "by-g2", "by-n1", "by-n3", "by-w2", "by-x1", "u-binding"]

# role: (scope, {page: (rows, buttons)}, extra pages, quick actions)
CONSOLE_OF = {
    # every template of every level (aggregate-to-admin): the whole fleet, every button, the admin pages
    "platform-admin": (PLATFORM, {
        "clusters": (["c1", "c2"], "ABCD"), "workspaces": (["w1", "w2", "w3"], "ABCD"),
        "nodegroups": (["g1", "g2"], "ABCD"), "namespaces": (["n1", "n2", "n3"], "ABCD"),
        "nodes": (["x1", "x2", "x3"], "ABCD"), "users": (["bystander", "root", "u"], "ABCD"),
        "groups": (["ops"], "ABCD"), "roletemplates": (Templates(*ALL_LEVELS), "ABCD"),
        "roles": (prototypes(*ALL_LEVELS), "ABCD"), "bindings": (EVERYONES_BINDINGS, "ABCD"),
        "categories": (["tools"], "ABCD"),
    }, {"audit", "lockouts", "charts"}, {"cluster", "workspace", "nodegroup", "namespace", "user", "iamrolebinding",
                                         "application"}),
    # platform-basic (users: get; subjectaccessreviews: create) + platform-create-workspaces (workspaces: create)
    "platform-self-provisioner": (PLATFORM, {}, set(), {"workspace"}),
    # platform-basic + platform-view-appstore (app store kinds, not console pages) + platform-view-charts (library)
    "platform-regular": (PLATFORM, {}, {"charts"}, set()),
    # rules: []
    "anonymous": (PLATFORM, {}, set(), set()),
    # cluster-basic (clusters: read) and every cluster-manage-* (workspaces, nodegroups, nodes, namespaces,
    # iamroles, iamrolebindings: *) at c1
    "cluster-admin": (AT_C1, {
        "clusters": (["c1"], ""), "workspaces": (["w1", "w2"], "ABCD"), "nodegroups": (["g1"], "ABCD"),
        "namespaces": (["n1", "n2"], "ABCD"), "nodes": (["x1", "x2"], "ABCD"),
        # roles may be created and deleted at c1, but the prototypes listed live at the platform
        "roles": (prototypes("cluster", "workspace", "nodegroup", "namespace", "node"), "AB"),
        "bindings": (["by-n1", "by-w2", "by-x1", "u-binding"], "ABCD"),
    }, {"charts"}, {"workspace", "nodegroup", "namespace", "iamrolebinding"}),
    # cluster-basic + cluster-view-*: read only; members and roles readable but no bindings to create
    "cluster-viewer": (AT_C1, {
        "clusters": (["c1"], ""), "workspaces": (["w1", "w2"], ""), "nodegroups": (["g1"], ""),
        "namespaces": (["n1", "n2"], ""), "nodes": (["x1", "x2"], ""),
    }, {"charts"}, set()),
    # cluster-basic + cluster-view-nodegroups + cluster-view-nodes
    "cluster-regular": (AT_C1, {"clusters": (["c1"], ""), "nodegroups": (["g1"], ""), "nodes": (["x1", "x2"], "")},
                        set(), set()),
    # cluster-basic + cluster-create-workspaces (create only: no list page, a quick action)
    "cluster-self-provisioner": (AT_C1, {"clusters": (["c1"], "")}, set(), {"workspace"}),
    # workspace-basic (read) + workspace-manage-settings (update, patch: no delete) on w1; namespaces: *;
    # iamrolebindings, iamroles: *; roletemplates: read
    "workspace-admin": (AT_W1, {
        "workspaces": (["w1"], "C"), "namespaces": (["n1"], "ABCD"),
        "roletemplates": (Templates("workspace", "namespace"), ""),
        "roles": (prototypes("workspace", "namespace"), "AB"), "bindings": (["by-n1", "u-binding"], "ABCD"),
    }, set(), {"namespace", "iamrolebinding", "application"}),
    # workspace-basic + workspace-view-*: read only, and no IAM pages
    "workspace-viewer": (AT_W1, {"workspaces": (["w1"], ""), "namespaces": (["n1"], "")}, set(), set()),
    # workspace-basic + workspace-view-projects + workspace-view-applications
    "workspace-regular": (AT_W1, {"workspaces": (["w1"], ""), "namespaces": (["n1"], "")}, set(), set()),
    # workspace-basic + workspace-create-projects (create only: a quick action)
    "workspace-self-provisioner": (AT_W1, {"workspaces": (["w1"], "")}, set(), {"namespace"}),
    # nodegroup-basic (read) + nodegroup-manage-settings (update, patch, delete: no create);
    # nodegroup-manage-nodes (nodes: read, update, patch); iamrolebindings: *, iamroles: read
    "nodegroup-admin": (AT_G1, {
        "nodegroups": (["g1"], "BCD"), "nodes": (["x1"], "C"),
        "roles": (prototypes("nodegroup", "node"), ""), "bindings": (["by-x1", "u-binding"], "ABCD"),
    }, set(), {"iamrolebinding"}),
    # nodegroup-basic + nodegroup-view-*: read only
    "nodegroup-viewer": (AT_G1, {"nodegroups": (["g1"], ""), "nodes": (["x1"], "")}, set(), set()),
    # project-basic (read) + project-manage-settings (namespaces: update, patch); project-manage-members
    # (iamrolebindings: *, iamroles: read)
    "namespace-admin": (AT_N1, {
        "namespaces": (["n1"], "C"), "roles": (prototypes("namespace"), ""),
        "bindings": (["by-n1", "u-binding"], "ABCD"),
    }, set(), {"iamrolebinding"}),
    # project-basic + workloads and app deployments; members readable, no bindings to create
    "namespace-operator": (AT_N1, {"namespaces": (["n1"], "")}, set(), set()),
    "namespace-viewer": (AT_N1, {"namespaces": (["n1"], "")}, set(), set()),
    # node-basic + node-view + node-manage (nodes: read, update, patch)
    "node-admin": (AT_X1, {"nodes": (["x1"], "C")}, set(), set()),
    "node-viewer": (AT_X1, {"nodes": (["x1"], "")}, set(), set()),
}


def test_the_table_covers_every_built_in_role():
    assert set(CONSOLE_OF) == {name for names in PROTOTYPES.values() for name in names}
    assert len(CONSOLE_OF) == 19


def test_the_table_covers_every_built_in_role_in_the_database(db):
    from iam.models import IAMRole

    assert set(IAMRole.objects.filter(builtin=True).values_list("name", flat=True)) == set(CONSOLE_OF)


@pytest.fixture
def wide_fleet(fleet):
    """The fleet plus c2's own node group (g2), namespace (n3 in w3) and node (x3 in g2), a group, a category,
    and a bystander bound at scopes all around: by-c2, by-w2, by-g2, by-n1, by-n3, by-x1."""
    fleet.nodegroup("g2", "c2")
    fleet.namespace("n3", "c2", "w3")
    fleet.node("x3", "c2", "g2")
    fleet.user("bystander", groups=("ops",))
    fleet.apply({"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "Category", "metadata": {"name": "tools"}})
    for name, role, level, value, cluster in (
            ("by-c2", "cluster-viewer", "cluster", "c2", ""),
            ("by-w2", "workspace-viewer", "workspace", "w2", "c1"),
            ("by-g2", "nodegroup-viewer", "nodegroup", "g2", "c2"),
            ("by-n1", "namespace-viewer", "namespace", "n1", "c1"),
            ("by-n3", "namespace-viewer", "namespace", "n3", "c2"),
            ("by-x1", "node-viewer", "node", "x1", "c1")):
        fleet.bind(name, role, level, value, cluster, users=("bystander",))
    return fleet


def list_page(client, page):
    """(names, change URLs, html) of a list page showing every row."""
    response = client.get(f"{PAGES[page]}?all=")
    assert response.status_code == 200, (page, response.status_code)
    html = response.content.decode()
    found = re.findall(r'<th class="field-name"><a href="([^"]+)">([^<]+)</a>', html)
    return [name for _, name in found], [url for url, _ in found], html


def buttons_on(client, urls, html) -> str:
    """The buttons (A B C D, see above) a list page and the change forms of its first and last row show."""
    tools = re.search(r'<ul class="object-tools">(.*?)</ul>', html, re.S)
    shown = {"A": bool(tools and "addlink" in tools.group(1)), "B": 'value="delete_selected"' in html}
    forms = [client.get(url).content.decode() for url in {urls[0], urls[-1]}] if urls else []
    for letter, mark in (("C", 'name="_save"'), ("D", 'class="deletelink"')):
        seen = {mark in form for form in forms}
        assert len(seen) <= 1, (letter, "first and last row differ")
        shown[letter] = seen == {True}
    return "".join(letter for letter, on in shown.items() if on)


def object_urls(page):
    """Change URLs of every object of the page's kind in the fleet, by name."""
    from django.apps import apps

    app_label, model_name = PAGES[page].strip("/").split("/")[1:3]
    model = apps.get_model(app_label, model_name)
    return {obj.name: f"{PAGES[page]}{obj.pk}/change/" for obj in model.objects.all()}


@pytest.mark.parametrize("role", sorted(CONSOLE_OF))
def test_console_of_each_built_in_role(wide_fleet, role):
    (level, value, cluster), pages, extra, quick = CONSOLE_OF[role]
    # GIVEN u bound to the role at one scope
    client = console_for(wide_fleet, "u", role, level, value, cluster)
    # THEN the menu links exactly the table's pages, and the dashboard offers its quick actions
    assert menu_and_quick_actions(client) == (set(pages) | extra, quick)
    for page, url in {**PAGES, **EXTRA_PAGES}.items():
        if page not in pages and page not in extra:
            assert forbidden(client, url), page
    for page, (expected, buttons) in pages.items():
        # each list shows the rows of the role's scope, nothing of another workspace, cluster or node group
        names, urls, html = list_page(client, page)
        if isinstance(expected, Templates):
            expected.check(names)
        else:
            assert sorted(names) == expected, page
        assert buttons_on(client, urls, html) == buttons, page
        # the change page of any other object of the kind is answered as a missing one
        others = {name: url for name, url in object_urls(page).items() if name not in names}
        for name, url in sorted(others.items())[:1]:
            assert hidden(client, url), (page, name)


# --- uiPermissions decide which of the granted pages and buttons the console offers -------------------------
WORKSPACES_API = "/oapis/scope.theriseunion.io/v1alpha1/workspaces"


def custom_role(name, level, rules, ui):
    """A role of one template of ``level`` with ``rules`` and ``ui`` (uiPermissions)."""
    template = RoleTemplateFactory(name=f"{name}-template", level=level, rules=rules, ui_permissions=ui)
    IAMRoleFactory(name=name, level=level, templates=[template.name])


ALL_ON_WORKSPACES = [{"apiGroups": ["scope.theriseunion.io"], "resources": ["workspaces"], "verbs": ["*"]}]


def workspace_buttons(client):
    names, urls, html = list_page(client, "workspaces")
    return sorted(names), buttons_on(client, urls, html)


def test_granted_buttons_show_only_with_the_pages_ui_permission(fleet, api):
    # GIVEN two roles at c1 with the same rules (workspaces: *), one with the uiPermission to view them only,
    # the other with the one to manage them
    custom_role("ws-rules-view-ui", "cluster", ALL_ON_WORKSPACES, ["cluster/workspaces.view"])
    custom_role("ws-rules-manage-ui", "cluster", ALL_ON_WORKSPACES,
                ["cluster/workspaces.view", "cluster/workspaces.manage"])
    viewer_ui = console_for(fleet, "ed", "ws-rules-view-ui", "cluster", "c1")
    manager_ui = console_for(fleet, "em", "ws-rules-manage-ui", "cluster", "c1")
    # THEN both see c1's workspaces; only the one holding cluster/workspaces.manage gets add, change and delete
    assert workspace_buttons(viewer_ui) == (["w1", "w2"], "")
    assert workspace_buttons(manager_ui) == (["w1", "w2"], "ABCD")
    assert forbidden(viewer_ui, f"{PAGES['workspaces']}add/")
    assert menu_and_quick_actions(viewer_ui)[1] == set() and "workspace" in menu_and_quick_actions(manager_ui)[1]
    w1 = Workspace.objects.get(name="w1")
    assert viewer_ui.post(f"{PAGES['workspaces']}{w1.pk}/change/", {"display_name": "x"}).status_code == 403
    # AND the uiPermissions narrow the console only: the API answers the rules
    from iam.models import User

    response = api(User.objects.get(name="ed")).patch(f"{WORKSPACES_API}/w1", {"spec": {"description": "by API"}})
    assert response.status_code == 200, response.json()


def test_a_page_needs_both_the_grant_and_its_ui_permission(fleet):
    # GIVEN a role granting nodes without a uiPermission, and one holding the uiPermission without a grant
    custom_role("nodes-no-ui", "cluster", [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["*"]}], [])
    custom_role("ui-no-nodes", "cluster", [], ["cluster/nodes.view", "cluster/nodes.manage"])
    for name, role in (("rules-only", "nodes-no-ui"), ("ui-only", "ui-no-nodes")):
        client = console_for(fleet, name, role, "cluster", "c1")
        # THEN neither has a nodes page
        assert menu_and_quick_actions(client) == (set(), set()), name
        assert forbidden(client, PAGES["nodes"]), name


def test_an_object_grant_needs_no_ui_permission(fleet):
    # GIVEN a user without bindings who holds django-guardian grants to view and change w1 (the Resource level)
    from guardian.shortcuts import assign_perm

    client = console_for(fleet, "og")
    w1 = Workspace.objects.get(name="w1")
    for codename in ("clusters.view_workspace", "clusters.change_workspace"):
        assign_perm(codename, fleet_user("og"), w1)
    # THEN w1's change form offers Save, though no role gives them a uiPermission
    form = client.get(f"{PAGES['workspaces']}{w1.pk}/change/")
    assert form.status_code == 200 and 'name="_save"' in form.content.decode()
    w2 = Workspace.objects.get(name="w2")
    assert hidden(client, f"{PAGES['workspaces']}{w2.pk}/change/")


# --- forms and the YAML tab go through the write path ------------------------------------------------
@pytest.fixture
def admin_client(fleet):
    client = Client()
    client.force_login(fleet_user("root"))
    return client


def fleet_user(name):
    from iam.models import User

    return User.objects.get(name=name)


def test_add_workspace_form_rejects_bad_name_and_keeps_the_input(admin_client):
    response = admin_client.post(f"{PAGES['workspaces']}add/", {"name": "Bad_Name", "cluster": "c1",
                                                               "display_name": "Kept text"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "lowercase RFC 1123" in html and 'value="Kept text"' in html
    assert not Workspace.objects.filter(name="Bad_Name").exists()
    ok = admin_client.post(f"{PAGES['workspaces']}add/", {"name": "w9", "cluster": "c2", "display_name": "Nine"})
    assert ok.status_code == 302
    w9 = Workspace.objects.get(name="w9")
    assert w9.scope_path == "clusters/c2/workspaces/w9" and w9.spec["displayName"] == "Nine"


def test_change_form_saves_through_the_write_path(admin_client):
    w1 = Workspace.objects.get(name="w1")
    response = admin_client.post(f"{PAGES['workspaces']}{w1.pk}/change/", {"display_name": "First",
                                                                           "description": "d"})
    assert response.status_code == 302
    w1.refresh_from_db()
    assert w1.spec["displayName"] == "First" and w1.resource_version == 2 and w1.generation == 2


def test_yaml_tab_shows_field_errors_and_keeps_the_input(admin_client):
    w1 = Workspace.objects.get(name="w1")
    url = f"{PAGES['workspaces']}{w1.pk}/yaml/"
    page = admin_client.get(url).content.decode()
    assert "kind: Workspace" in page and "resourceVersion: &#x27;1&#x27;" in page
    bad = ("apiVersion: scope.theriseunion.io/v1alpha1\nkind: Workspace\nmetadata:\n  name: w1\n"
           "  labels: {scope.theriseunion.io/cluster: c1}\nspec:\n  displayName: " + "x" * 200 + "\n")
    response = admin_client.post(url, {"manifest": bad})
    html = response.content.decode()
    assert response.status_code == 200 and "spec.displayName" in html and "x" * 200 in html
    syntax = admin_client.post(url, {"manifest": "metadata: [unclosed"}).content.decode()
    assert "not valid YAML" in syntax and "metadata: [unclosed" in syntax
    good = bad.replace("x" * 200, "Renamed") + ""
    assert admin_client.post(url, {"manifest": good}).status_code == 302
    w1.refresh_from_db()
    assert w1.spec["displayName"] == "Renamed"


def test_yaml_tab_reports_a_stale_resource_version(admin_client):
    w1 = Workspace.objects.get(name="w1")
    url = f"{PAGES['workspaces']}{w1.pk}/yaml/"
    stale = ("apiVersion: scope.theriseunion.io/v1alpha1\nkind: Workspace\nmetadata:\n  name: w1\n"
             "  resourceVersion: '1'\n  labels: {scope.theriseunion.io/cluster: c1}\nspec: {displayName: Mine}\n")
    admin_client.post(f"{PAGES['workspaces']}{w1.pk}/change/", {"display_name": "Theirs"})
    response = admin_client.post(url, {"manifest": stale})
    html = response.content.decode()
    assert response.status_code == 200 and "has been modified" in html and "displayName: Mine" in html
    w1.refresh_from_db()
    assert w1.spec["displayName"] == "Theirs"


def test_binding_form_with_scope_path_and_unknown_role_names_the_field(admin_client):
    response = admin_client.post(f"{PAGES['bindings']}add/", {"name": "b1", "role": "workspace-viewer",
                                                             "scope": "clusters/c1/workspaces/nope", "users": "x"})
    html = response.content.decode()
    assert response.status_code == 200 and "not found" in html and 'value="clusters/c1/workspaces/nope"' in html


def test_delete_goes_through_the_write_path(admin_client):
    w2 = Workspace.objects.get(name="w2")
    response = admin_client.post(f"{PAGES['workspaces']}{w2.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Workspace.objects.filter(name="w2").exists()


def test_user_form_sets_groups_and_state(admin_client, fleet):
    fleet.user("carol", groups=("ops",))
    from iam.models import User

    carol = User.objects.get(name="carol")
    response = admin_client.post(f"{PAGES['users']}{carol.pk}/change/", {"email": "c@example.com",
                                                                        "display_name": "Carol", "groups": []})
    assert response.status_code == 302, response.content.decode()[-1500:]
    carol.refresh_from_db()
    assert not carol.is_active and carol.email == "c@example.com" and not carol.groups.exists()


# --- scope picker, my permissions, dashboard ---------------------------------------------------------
def test_scope_picker_offers_only_visible_scopes(fleet):
    client = console_for(fleet, "wa", "workspace-admin", "workspace", "w1")
    top = client.get(f"{C}/scopes/?parent=platform").json()
    assert [i["path"] for i in top["items"]] == ["clusters/c1"]
    below = client.get(f"{C}/scopes/?parent=clusters/c1").json()
    assert [i["path"] for i in below["items"]] == ["clusters/c1/workspaces/w1"]
    inside = client.get(f"{C}/scopes/?parent=clusters/c1/workspaces/w1").json()
    assert [i["path"] for i in inside["items"]] == ["clusters/c1/workspaces/w1/namespaces/n1"]
    admin = Client()
    admin.force_login(fleet_user("root"))
    # under c1: w1, w2, g1 and the node x2 that is in no node group (n1, n2 sit in their workspaces)
    assert [i["path"] for i in admin.get(f"{C}/scopes/?parent=clusters/c1").json()["items"]] == [
        "clusters/c1/workspaces/w1", "clusters/c1/workspaces/w2", "clusters/c1/nodegroups/g1", "clusters/c1/nodes/x2"]
    assert client.get(f"{C}/scopes/?parent=bogus").status_code == 400


def test_my_permissions_lists_grants_by_scope(fleet):
    client = console_for(fleet, "wv", "workspace-viewer", "workspace", "w1")
    html = client.get(f"{C}/my-permissions/").content.decode()
    assert "clusters/c1/workspaces/w1" in html and "wv-binding" in html and "workspace-viewer" in html
    assert "workspace/members.view" in html
    assert f'href="{C}/my-permissions/"' in client.get(f"{C}/").content.decode()


def test_dashboard_counts_what_the_user_sees_and_health(fleet):
    client = console_for(fleet, "cv", "cluster-viewer", "cluster", "c1")
    html = client.get(f"{C}/").content.decode()
    assert re.search(r'id="tile-workspaces">\s*<span class="console-tile-count">2<', html)
    assert re.search(r'id="tile-clusters">\s*<span class="console-tile-count">1<', html)
    assert 'id="health-database"' in html and "unreachable" not in html


# --- cost -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("page", ["workspaces", "namespaces", "nodes", "users", "groups", "roles", "bindings"])
def test_list_pages_cost_the_same_queries_for_more_rows(fleet, page, settings):
    # the engine's change-log poll runs on a timer; keep it out of the count
    settings.EDGE_AUTHZ_POLL_INTERVAL = 3600
    client = console_for(fleet, "cv", "cluster-viewer", "cluster", "c1")
    root = Client()
    root.force_login(fleet_user("root"))

    def grow(start, count):
        for i in range(start, start + count):
            fleet.workspace(f"ws{i}", "c1")
            fleet.namespace(f"ns{i}", "c1", f"ws{i}")
            fleet.node(f"nd{i}", "c1", "g1")
            fleet.user(f"user{i}", groups=(f"team{i}",))
            fleet.apply(binding_manifest(f"bind{i}", "workspace-viewer", "workspace", f"ws{i}", users=(f"user{i}",)))

    def count(c):
        if c.get(PAGES[page]).status_code == 403:  # a page the cluster viewer does not have
            return None
        with CaptureQueriesContext(connection) as ctx:
            assert c.get(PAGES[page]).status_code == 200
        return len(ctx.captured_queries)

    grow(0, 2)
    small = count(root), count(client)
    grow(2, 5)
    assert (count(root), count(client)) == small


# --- account and administration pages ------------------------------------------------------------------
def test_personal_tokens_are_shown_once_listed_and_revocable(fleet):
    from iam.models import AccessToken

    client = console_for(fleet, "wv", "workspace-viewer", "workspace", "w1")
    created = client.post(f"{C}/tokens/", {"name": "ci", "expires_in_days": "30"}).content.decode()
    raw = re.search(r'id="raw-token">([^<]+)<', created).group(1)
    assert raw.startswith("edge_")
    # the token works against the API, and the page never shows it again
    api = Client().get("/oapis/scope.theriseunion.io/v1alpha1/workspaces", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.status_code == 200 and [i["metadata"]["name"] for i in api.json()["items"]] == ["w1"]
    listing = client.get(f"{C}/tokens/").content.decode()
    assert raw not in listing and ">ci<" in listing
    bad = client.post(f"{C}/tokens/", {"name": "", "expires_in_days": "0"}).content.decode()
    assert "This field is required" in bad and "greater than or equal to 1" in bad
    token = AccessToken.objects.get(name="ci")
    other = console_for(fleet, "mallory")
    other.post(f"{C}/tokens/", {"revoke": token.pk})
    token.refresh_from_db()
    assert token.revoked is None  # nobody revokes someone else's token
    client.post(f"{C}/tokens/", {"revoke": token.pk})
    token.refresh_from_db()
    assert token.revoked is not None
    assert Client().get("/oapis/scope.theriseunion.io/v1alpha1/workspaces",
                        HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_lockouts_are_listed_and_unlocked_by_admins_only(fleet, settings):
    fleet.user("eve")
    for _ in range(settings.EDGE_LOCKOUT_FAILURES):
        Client().post(f"{C}/login/", {"username": "eve", "password": "wrong"})
    refused = Client().post(f"{C}/login/", {"username": "eve", "password": PASSWORD})
    assert refused.status_code in (403, 429)
    viewer = console_for(fleet, "wv", "workspace-viewer", "workspace", "w1")
    assert viewer.get(f"{C}/lockouts/").status_code == 403
    assert viewer.post(f"{C}/lockouts/", {"unlock": "eve"}).status_code == 403
    admin = Client()
    admin.force_login(fleet_user("root"))
    page = admin.get(f"{C}/lockouts/").content.decode()
    assert 'id="lock-eve"' in page and 'name="unlock" value="eve"' in page
    assert admin.post(f"{C}/lockouts/", {"unlock": "eve"}).status_code == 302
    assert 'id="lock-eve"' not in admin.get(f"{C}/lockouts/").content.decode()
    client = Client()
    assert client.post(f"{C}/login/", {"username": "eve", "password": PASSWORD}).status_code == 302


def test_audit_log_page_filters_and_links_exports(admin_client):
    w1 = Workspace.objects.get(name="w1")
    admin_client.post(f"{PAGES['workspaces']}{w1.pk}/change/", {"display_name": "Audited"})
    page = admin_client.get(f"{C}/audit/?user=root&verb=update").content.decode()
    assert re.search(r"<td>root</td><td>update</td>\s*<td>workspaces/w1<details", page)
    assert "displayName: Audited" in page  # the change's before/after, inline
    assert 'href="/oapis/iam.theriseunion.io/v1alpha1/auditevents?user=root&amp;verb=update&amp;format=csv"' in page
    bad = admin_client.get(f"{C}/audit/?since=yesterday").content.decode()
    assert "since:" in bad and 'value="yesterday"' in bad
    nothing = admin_client.get(f"{C}/audit/?user=nobody").content.decode()
    assert "No events match" in nothing


def test_every_user_reads_their_own_activity_a_page_at_a_time(fleet, monkeypatch):
    """GIVEN a workspace viewer who has made requests, and another user's events WHEN they open My activity
    THEN they see their own events only, newest first, paged, linked from every page."""
    import iam.console.audit
    from iam.audit.models import AuditEvent

    monkeypatch.setattr(iam.console.audit, "AUDIT_PAGE", 2)
    client = console_for(fleet, "wv", "workspace-viewer", "workspace", "w1")
    for _ in range(3):
        client.get(f"{C}/audit/")  # refused: three denied events of their own
    assert f'href="{C}/my-activity/"' in client.get(f"{C}/").content.decode()
    first = client.get(f"{C}/my-activity/").content.decode()
    actors = re.findall(r'<tr class="audit-event" id="event-(\d+)"><td>\d+</td><td>[^<]*</td><td>([^<]+)</td>', first)
    assert [actor for _, actor in actors] == ["wv", "wv"]
    ids = [int(i) for i, _ in actors]
    assert ids == sorted(ids, reverse=True) and ids[0] == AuditEvent.objects.filter(actor="wv").latest("id").id
    assert 'id="audit-older"' in first and "page 1 of 2" in first
    second = client.get(f"{C}/my-activity/?page=2").content.decode()
    assert "page 2 of 2" in second and 'id="audit-newer"' in second
    assert AuditEvent.objects.exclude(actor="wv").exists()
    assert "<td>root</td>" not in first + second


def test_audit_and_lockout_pages_are_not_for_workspace_viewers(fleet):
    client = console_for(fleet, "wv", "workspace-viewer", "workspace", "w1")
    html = client.get(f"{C}/").content.decode()
    assert f'href="{C}/audit/"' not in html and f'href="{C}/lockouts/"' not in html
    assert client.get(f"{C}/audit/").status_code == 403


def test_quick_actions_follow_ui_permissions_and_the_engine(fleet):
    def actions(client):
        return set(re.findall(r'id="quick-(\w+)"', client.get(f"{C}/").content.decode()))

    assert actions(console_for(fleet, "pa", "platform-admin", "platform", "global")) >= {
        "cluster", "workspace", "user", "iamrolebinding", "application"}
    assert actions(console_for(fleet, "wa", "workspace-admin", "workspace", "w1")) == {"namespace",
                                                                                        "iamrolebinding",
                                                                                        "application"}
    assert actions(console_for(fleet, "cv", "cluster-viewer", "cluster", "c1")) == set()
    assert actions(console_for(fleet, "wv", "workspace-viewer", "workspace", "w1")) == set()


def test_history_is_the_audit_trail(admin_client):
    w1 = Workspace.objects.get(name="w1")
    response = admin_client.get(f"{PAGES['workspaces']}{w1.pk}/history/")
    assert response.status_code == 302 and response.url == f"{C}/audit/?resource=workspaces%2Fw1"


def test_changing_ones_own_password_goes_through_the_write_path_and_is_audited(fleet):
    from iam.audit.models import AuditEvent

    client = console_for(fleet, "plain")
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    new = "An0ther-Passw0rd!"
    response = client.post(f"{C}/password_change/", {"old_password": PASSWORD, "new_password1": new,
                                                     "new_password2": new})
    assert response.status_code == 302, response.content.decode()[:2000]
    [event] = AuditEvent.objects.filter(id__gt=start)
    assert (event.verb, event.resource, event.name, event.actor) == ("update", "users", "plain", "plain")
    assert new not in str(event.after) and new not in str(event.before)
    from iam.models import User

    stored = User.objects.get(name="plain")
    assert stored.check_password(new) and not stored.check_password(PASSWORD)
    assert client.get(f"{C}/").status_code == 200  # the session survives its own password change


# --- refusals are audited as the API's are -------------------------------------------------------------
def new_events(start):
    from iam.audit.models import AuditEvent

    return list(AuditEvent.objects.filter(id__gt=start).order_by("id"))


def newest_event_id():
    from iam.audit.models import AuditEvent

    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def fields(event):
    return (event.actor, event.verb, event.api_group, event.resource, event.kind, event.name, event.scope_path,
            event.result, event.status_code)


def test_a_hidden_objects_pages_answer_404_and_each_visit_is_one_denied_event(fleet):
    # GIVEN a workspace viewer of w1, and w2 beside it in the same cluster
    client = console_for(fleet, "wv", "workspace-viewer", "workspace", "w1")
    w2 = Workspace.objects.get(name="w2")
    for method, suffix, verb in (("get", "change/", "get"), ("post", "change/", "update"),
                                 ("get", "delete/", "delete"), ("get", "history/", "get"),
                                 ("get", "yaml/", "get"), ("post", "yaml/", "update")):
        url = f"{PAGES['workspaces']}{w2.pk}/{suffix}"
        start = newest_event_id()
        # WHEN they open one of w2's pages THEN it is answered as a missing object, and recorded once
        response = getattr(client, method)(url, {"manifest": "kind: Workspace"} if method == "post" else None)
        assert response.status_code == 404, (method, suffix, response.status_code)
        [event] = new_events(start)
        assert fields(event) == ("wv", verb, "scope.theriseunion.io", "workspaces", "Workspace", "", "", "denied",
                                 404), (method, suffix)
        assert event.path == url
        # the viewer may read their own events: the event says no more than the 404 did (no name, no scope)
        assert "w2" not in f"{event.name} {event.scope_path} {event.message}"
    assert not Workspace.objects.get(name="w2").spec.get("displayName")


def test_an_object_that_does_not_exist_is_404_and_not_a_denial(fleet):
    client = console_for(fleet, "wv", "workspace-viewer", "workspace", "w1")
    start = newest_event_id()
    assert client.get(f"{PAGES['workspaces']}999999/change/").status_code == 404
    assert client.get(f"{PAGES['workspaces']}not-an-id/change/").status_code == 404
    assert new_events(start) == []


def test_console_403s_are_one_denied_event_naming_the_kind_and_object(fleet):
    # GIVEN a workspace viewer of w1
    client = console_for(fleet, "wv", "workspace-viewer", "workspace", "w1")
    w1 = Workspace.objects.get(name="w1")
    cases = [
        ("get", PAGES["users"], ("list", "iam.theriseunion.io", "users", "User", "", "")),
        ("get", PAGES["bindings"], ("list", "iam.theriseunion.io", "iamrolebindings", "IAMRoleBinding", "", "")),
        ("get", f"{PAGES['workspaces']}add/", ("create", "scope.theriseunion.io", "workspaces", "Workspace", "", "")),
        ("post", f"{PAGES['workspaces']}{w1.pk}/change/",
         ("update", "scope.theriseunion.io", "workspaces", "Workspace", "w1", "clusters/c1/workspaces/w1")),
        ("get", f"{PAGES['workspaces']}{w1.pk}/delete/",
         ("delete", "scope.theriseunion.io", "workspaces", "Workspace", "w1", "clusters/c1/workspaces/w1")),
        ("post", f"{PAGES['workspaces']}{w1.pk}/yaml/",
         ("update", "scope.theriseunion.io", "workspaces", "Workspace", "w1", "clusters/c1/workspaces/w1")),
        ("get", f"{C}/audit/", ("list", "iam.theriseunion.io", "auditevents", "AuditEvent", "", "")),
        ("post", f"{C}/lockouts/", ("update", "iam.theriseunion.io", "lockouts", "", "", "")),
    ]
    for method, url, expected in cases:
        start = newest_event_id()
        # WHEN the console refuses them THEN one denied event names what was refused
        response = getattr(client, method)(url, {"display_name": "x", "manifest": "kind: Workspace"}
                                           if method == "post" else None)
        assert response.status_code == 403, (url, response.status_code)
        [event] = new_events(start)
        assert fields(event) == ("wv", *expected, "denied", 403), url
        assert event.path == url
