"""The permission matrix of the app store with the built-in roles: list, get, create, deploy and review × who holds
platform-admin, platform-regular, workspace-admin or workspace-viewer (of w1), namespace-operator (of n1 in c1) or
nodegroup-admin (of g1) × their own side (application pos of w1, deployed in c1/n1) and a foreign workspace's
(application till of w3, deployed in c2/n1). What is hidden answers 404, as for every kind; what is seen but not
allowed, 403; a create naming a scope the caller may not learn of, 422 naming the field."""
from __future__ import annotations

from django.test import TestCase

from appstore import review
from appstore.models import Application, ApplicationDeployment, ApplicationVersion
from tests import fleet
from tests.appstore.conftest import BASE, deployment_manifest
from tests.factories import ApplicationFactory, ApplicationVersionFactory
from tests.support import ApiClient

ROLES = {
    "platform-admin": ("platform", "global", ""),
    "platform-regular": ("platform", "global", ""),
    "workspace-admin": ("workspace", "w1", ""),
    "workspace-viewer": ("workspace", "w1", ""),
    "namespace-operator": ("namespace", "n1", "c1"),
    "nodegroup-admin": ("nodegroup", "g1", ""),
}
#: (application, its workspace, the namespace's cluster of its deployment) of each side
SIDES = {"own": ("pos", "w1", "c1"), "foreign": ("till", "w3", "c2")}
OPERATIONS = ("list", "get", "create", "deploy", "review")
OK, CREATED, FORBIDDEN, HIDDEN, INVALID = 200, 201, 403, 404, 422

#: role → operation → (own side, foreign side); list: the applications listed
EXPECTED = {
    "platform-admin": {"list": {"pos", "till"}, "get": (OK, OK), "create": (CREATED, CREATED),
                       "deploy": (CREATED, CREATED), "review": (OK, OK)},
    # browses the app store: every application is seen (a platform binding knows every scope), nothing changed
    "platform-regular": {"list": {"pos", "till"}, "get": (OK, OK), "create": (FORBIDDEN, FORBIDDEN),
                         "deploy": (FORBIDDEN, FORBIDDEN), "review": (FORBIDDEN, FORBIDDEN)},
    "workspace-admin": {"list": {"pos"}, "get": (OK, HIDDEN), "create": (CREATED, INVALID),
                        "deploy": (CREATED, INVALID), "review": (OK, HIDDEN)},
    "workspace-viewer": {"list": {"pos"}, "get": (OK, HIDDEN), "create": (FORBIDDEN, INVALID),
                         "deploy": (FORBIDDEN, INVALID), "review": (FORBIDDEN, HIDDEN)},
    # deploys in their namespace what its workspace publishes, without seeing the catalog's versions
    "namespace-operator": {"list": set(), "get": (HIDDEN, HIDDEN), "create": (FORBIDDEN, INVALID),
                           "deploy": (CREATED, INVALID), "review": (HIDDEN, HIDDEN)},
    # holds deployments of their node group, but no namespace to write one in
    "nodegroup-admin": {"list": set(), "get": (HIDDEN, HIDDEN), "create": (INVALID, INVALID),
                        "deploy": (INVALID, INVALID), "review": (HIDDEN, HIDDEN)},
}


def _answers() -> dict:
    from tests.support import Platform

    platform = Platform()
    fleet.build(platform)
    for application, workspace, _ in SIDES.values():
        ApplicationFactory(name=application, workspace=workspace)
        review.decide(ApplicationVersionFactory(name=f"{application}-1-0-0", application=application,
                                                version="1.0.0"), "Approve", user=None)
        ApplicationVersionFactory(name=f"{application}-1-1-0", application=application, version="1.1.0")
    answers = {}
    for role, (level, value, cluster) in ROLES.items():
        user = platform.user(f"u-{role}")
        platform.bind(f"b-{role}", role, level, value, cluster, users=(user.name,))
        client = ApiClient.for_user(user)
        listed = client.get(f"{BASE}/applications")
        assert listed.status_code == 200, listed.json()
        answers[(role, "list")] = {item["metadata"]["name"] for item in listed.json()["items"]} & {
            application for application, _, _ in SIDES.values()}
        for side, (application, workspace, home) in SIDES.items():
            answers[(role, "get", side)] = (client.get(f"{BASE}/applications/{application}").status_code,
                                            client.get(f"{BASE}/applicationversions/{application}-1-0-0")
                                            .status_code)
            created = client.post(f"{BASE}/applications", ApplicationFactory.build(
                name=f"new-{side}-{role}", workspace=workspace))
            answers[(role, "create", side)] = created.status_code
            assert Application.objects.filter(name=f"new-{side}-{role}").exists() == (created.status_code == 201)
            deployed = client.post(f"{BASE}/namespaces/n1/applicationdeployments", deployment_manifest(
                f"d-{side}-{role}", "1.0.0", application=application, cluster=home))
            answers[(role, "deploy", side)] = deployed.status_code
            assert ApplicationDeployment.objects.filter(name=f"d-{side}-{role}").exists() == \
                (deployed.status_code == 201)
            reviewed = client.post(f"{BASE}/applicationversions/{application}-1-1-0/review",
                                   {"decision": "Approve", "message": role})
            answers[(role, "review", side)] = reviewed.status_code
            if reviewed.status_code == 200:  # put back for the next role
                version = ApplicationVersion.objects.get(name=f"{application}-1-1-0")
                assert version.status["reviewer"] == user.name
                from edgeplatform.resources.services import save_status

                save_status(version, lambda status: {**status, "reviewPhase": "Pending"},
                            notable=lambda a, b: False)
            for response in (created, deployed, reviewed):
                if response.status_code >= 400:
                    body = response.json()
                    assert (body["kind"], body["code"]) == ("Status", response.status_code), body
    return answers


class TestAppStorePermissions(TestCase):
    """Every answer is computed once (``setUpTestData``); each role × operation is one test."""

    @classmethod
    def setUpTestData(cls):
        cls.answers = _answers()

    def check(self, role: str, operation: str) -> None:
        """``role``'s answers to ``operation`` on both sides are the expected ones."""
        if operation == "list":
            self.assertEqual(self.answers[(role, "list")], EXPECTED[role]["list"])
            return
        got = tuple(self.answers[(role, operation, side)] for side in SIDES)
        if operation == "get":  # the application and its version answer alike
            self.assertTrue(all(pair[0] == pair[1] for pair in got), got)
            got = tuple(pair[0] for pair in got)
        self.assertEqual(got, EXPECTED[role][operation])


def _case(role: str, operation: str):
    def test(self):
        self.check(role, operation)
    test.__name__ = f"test_{operation}_as_{role.replace('-', '_')}"
    test.__doc__ = f"What a {role} is answered to {operation} on their own side and a foreign workspace's."
    return test


for _role in ROLES:
    for _operation in OPERATIONS:
        setattr(TestAppStorePermissions, f"test_{_operation}_as_{_role.replace('-', '_')}", _case(_role, _operation))
