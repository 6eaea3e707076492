"""Getting in (``POST /oauth/token``) and asking the engine (SubjectAccessReview), DESIGN §3."""
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from iam.models import AccessToken
from tests.support import PASSWORD

SAR = "/oapis/iam.theriseunion.io/v1alpha1/subjectaccessreviews"
USERS = "/oapis/iam.theriseunion.io/v1alpha1/users"


def token_for(name, password=PASSWORD):
    return Client().post("/oauth/token", {"grant_type": "password", "username": name, "password": password})


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_password_grant_issues_an_expiring_bearer_token(platform):
    platform.user("ann")
    response = token_for("ann")
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 24 * 3600 and body["access_token"]
    assert response["Cache-Control"] == "no-store"
    assert Client().get(f"{USERS}/ann", **bearer(body["access_token"])).status_code == 200
    row = AccessToken.objects.get()
    assert body["access_token"] not in row.key_hash  # only the digest is stored


@pytest.mark.parametrize("form, error", [
    ({"grant_type": "password", "username": "ann", "password": "wrong"}, "invalid_grant"),
    ({"grant_type": "password", "username": "nobody", "password": "x"}, "invalid_grant"),
    ({"grant_type": "password", "username": "ann"}, "invalid_request"),
    ({"grant_type": "implicit", "username": "ann", "password": PASSWORD}, "unsupported_grant_type"),
])
def test_bad_token_requests_are_refused(platform, form, error):
    platform.user("ann")
    response = Client().post("/oauth/token", form)
    assert response.status_code == 400 and response.json()["error"] == error


def test_expired_revoked_and_disabled_tokens_are_refused(platform):
    ann = platform.user("ann")
    expired, revoked, disabled = (token_for("ann").json()["access_token"] for _ in range(3))
    AccessToken.objects.filter(pk=AccessToken.objects.order_by("pk").first().pk).update(
        expires=timezone.now() - timedelta(seconds=1))
    assert Client().get(f"{USERS}/ann", **bearer(expired)).status_code == 401
    assert Client().post("/oauth/revoke", {"token": revoked}).status_code == 200
    assert Client().get(f"{USERS}/ann", **bearer(revoked)).status_code == 401
    assert Client().get(f"{USERS}/ann", **bearer(disabled)).status_code == 200
    ann.is_active = False
    ann.save()
    response = Client().get(f"{USERS}/ann", **bearer(disabled))
    assert response.status_code == 401 and response.json()["kind"] == "Status"
    assert Client().get(f"{USERS}/ann", **bearer("edge_not-a-token")).status_code == 401


def review(user, verb, resource, level="platform", value="", cluster="", group=""):
    scope = {"level": level, "value": value}
    if cluster:
        scope["cluster"] = cluster
    return {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "SubjectAccessReview",
            "spec": {"user": user, "resourceAttributes": {"verb": verb, "group": group, "resource": resource},
                     "scope": scope}}


@pytest.fixture
def site(platform):
    platform.cluster("c1")
    platform.workspace("w1", "c1")
    platform.workspace("w2", "c1")
    platform.namespace("n1", "c1", "w1")
    platform.user("ann")
    platform.user("bob")
    platform.bind("ann-w1", "workspace-admin", "workspace", "w1", users=("ann",))
    return platform


def test_review_answers_with_the_binding_that_granted(site, api):
    ann = api(type(site.user("carl")).objects.get(name="ann"))
    response = ann.post(SAR, review("ann", "delete", "pods", "namespace", "n1", "c1"))
    assert response.status_code == 201
    status = response.json()["status"]
    assert status["allowed"] is True
    assert '"ann-w1"' in status["reason"] and "clusters/c1/workspaces/w1" in status["reason"]
    # a grant in w1 does not cascade up to the cluster
    denied = ann.post(SAR, review("ann", "delete", "pods", "cluster", "c1")).json()["status"]
    assert denied["allowed"] is False and "denied" in denied["reason"]


def test_reviews_about_others_need_the_right_to_read_bindings(site, api):
    bob = api(type(site.user("carl")).objects.get(name="bob"))
    # bob holds nothing in w1: to him it is answered as a missing scope
    assert bob.post(SAR, review("ann", "get", "pods", "workspace", "w1")).status_code == 422
    ann = api(type(site.user("dora")).objects.get(name="ann"))
    # ann administers w1, so she may ask about bob there, but not at the platform
    assert ann.post(SAR, review("bob", "get", "pods", "workspace", "w1")).json()["status"]["allowed"] is False
    assert ann.post(SAR, review("bob", "get", "pods")).status_code == 403


def test_reviews_about_others_do_not_name_bindings_the_asker_may_not_read(site, api):
    from iam.models import User

    site.user("eve")
    site.bind("secret-platform-binding", "platform-admin", "platform", "global", users=("eve",))
    site.bind("bob-w1", "workspace-viewer", "workspace", "w1", users=("bob",))
    ann = api(User.objects.get(name="ann"))
    about_eve = ann.post(SAR, review("eve", "get", "pods", "workspace", "w1")).json()["status"]
    assert about_eve["allowed"] is True and "secret-platform-binding" not in about_eve["reason"]
    assert "platform-admin" not in about_eve["reason"]
    about_bob = ann.post(SAR, review("bob", "get", "pods", "workspace", "w1")).json()["status"]
    assert '"bob-w1"' in about_bob["reason"]  # a binding in her own workspace she may read


def test_review_validation_names_the_field(site, api):
    ann = api(type(site.user("carl")).objects.get(name="ann"))
    bad = ann.post(SAR, {"spec": {"user": "ann", "resourceAttributes": {"resource": "pods"}}})
    assert bad.status_code == 422
    assert bad.json()["details"]["causes"][0]["field"] == "spec.resourceAttributes.verb"
    missing = ann.post(SAR, review("ann", "get", "pods", "workspace", "nope"))
    assert missing.status_code == 422 and missing.json()["details"]["causes"][0]["field"] == "spec.scope"
