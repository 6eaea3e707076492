"""Manifests written for the earlier implementation load unchanged and mean the same thing."""
import os
import re
from pathlib import Path

import pytest
import yaml

from edgeplatform.resources.loader import apply, documents
from iam.models import IAMRole

FIXTURE = Path(__file__).parent / "fixtures" / "reference_rbac.yaml"
ROLES = "/oapis/iam.theriseunion.io/v1alpha1/iamroles"


@pytest.fixture
def site(platform):
    platform.cluster("china")
    platform.workspace("beijing", "china")
    platform.namespace("dongchengqu", "china", "beijing")
    return platform


def test_reference_shaped_manifests_post_unchanged_through_the_api(site, api):
    admin = api(site.user("root", superuser=True))
    for manifest in sorted(documents(FIXTURE.read_text()), key=lambda m: ["RoleTemplate", "IAMRole",
                                                                          "IAMRoleBinding"].index(m["kind"])):
        plural = {"RoleTemplate": "roletemplates", "IAMRole": "iamroles", "IAMRoleBinding": "iamrolebindings"}
        response = admin.post(f"/oapis/iam.theriseunion.io/v1alpha1/{plural[manifest['kind']]}", manifest)
        assert response.status_code == 201, response.json()
    role = admin.get(f"{ROLES}/site-team").json()
    assert role["spec"]["aggregatedRoleTemplates"] == ["site-basic"]
    assert admin.get(f"{ROLES}/site-developer").json()["spec"]["aggregatedRoleTemplates"] == [
        "site-basic", "site-manage-projects"]  # dependencies come along


def test_they_mean_the_same_thing(site):
    alice, bob = site.user("alice"), site.user("bob")
    apply(documents(FIXTURE.read_text()))
    ns = site.namespace("dongchengqu", "china", "beijing")
    # tenant.theriseunion.io/workspaces is our scope.theriseunion.io/workspaces
    assert alice.has_perm("clusters.view_workspace", ns.workspace)
    assert not alice.has_perm("clusters.change_workspace", ns.workspace)
    # resources.theriseunion.io stands for the Kubernetes resources of any group
    assert bob.has_perm("create:apps/deployments", ns)
    assert bob.has_perm("delete:/pods", ns)
    assert not alice.has_perm("delete:/pods", ns)
    # …but not for the platform's own kinds: bob reads his own user (everyone does), no one else's
    assert not bob.has_perm("iam.view_user", alice)
    assert bob.has_perm("iam.view_user", bob)
    guest = IAMRole.objects.get(name="guest")
    assert guest.spec.get("aggregatedRoleTemplates") is None and len(guest.effective_rules) == 2


def test_changing_a_template_reaggregates_every_role_that_selects_it(site):
    alice = site.user("alice")
    apply(documents(FIXTURE.read_text()))
    ns = site.namespace("dongchengqu", "china", "beijing")
    assert not alice.has_perm("get:/configmaps", ns)
    extra = {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "RoleTemplate",
             "metadata": {"name": "site-configs", "labels": {"iam.theriseunion.io/scope": "workspace",
                                                             "iam.theriseunion.io/aggregate-to-site-team": ""}},
             "spec": {"rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}]}}
    apply([extra])
    assert IAMRole.objects.get(name="site-team").spec["aggregatedRoleTemplates"] == ["site-basic", "site-configs"]
    assert alice.has_perm("get:/configmaps", ns)
    extra["metadata"]["labels"].pop("iam.theriseunion.io/aggregate-to-site-team")
    apply([extra])
    assert IAMRole.objects.get(name="site-team").spec["aggregatedRoleTemplates"] == ["site-basic"]
    assert not alice.has_perm("get:/configmaps", ns)


@pytest.mark.skipif(not os.environ.get("EDGE_REFERENCE_RBAC_DIR"),
                    reason="EDGE_REFERENCE_RBAC_DIR names a checkout of the reference's templates/rbac folder")
def test_the_reference_files_themselves_load(db):
    """Loads the reference's own `edge-controller/templates/rbac/` files (Helm comments and `{{ }}` lines dropped)."""
    manifests = []
    for path in sorted(Path(os.environ["EDGE_REFERENCE_RBAC_DIR"]).glob("*.yaml")):
        text = re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", path.read_text(), flags=re.DOTALL)
        text = "\n".join(line for line in text.splitlines() if not line.strip().startswith("{{"))
        manifests += [doc for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]
    rows = apply(manifests)
    assert len(rows) == len(manifests)
