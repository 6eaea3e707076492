"""Personal API tokens: ``/oapis/iam.theriseunion.io/v1alpha1/users/<name>/tokens`` and the service functions."""
import time
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from iam import tokens

USERS = "/oapis/iam.theriseunion.io/v1alpha1/users"


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def whoami(token, name="ann"):
    return Client().get(f"{USERS}/{name}", **bearer(token)).status_code


def test_a_user_creates_lists_and_revokes_their_own_token(platform, api):
    ann = api(platform.user("ann"))

    created = ann.post(f"{USERS}/ann/tokens", {"name": "laptop"})

    assert created.status_code == 201 and created["Cache-Control"] == "no-store"
    body = created.json()
    raw = body["token"]
    assert body["name"] == "laptop" and body["type"] == "personal" and body["expires"] is None
    assert whoami(raw) == 200
    listed = ann.get(f"{USERS}/ann/tokens")
    assert listed.status_code == 200 and listed.json()["kind"] == "UserTokenList"
    assert {"id": body["id"], "name": "laptop", "type": "personal"}.items() <= next(
        item for item in listed.json()["items"] if item["id"] == body["id"]).items()
    assert raw not in listed.content.decode() and "token" not in listed.json()["items"][0]

    revoked = ann.delete(f"{USERS}/ann/tokens/{body['id']}")

    assert revoked.status_code == 200 and revoked.json()["status"] == "Success"
    assert whoami(raw) == 401
    assert body["id"] not in [item["id"] for item in ann.get(f"{USERS}/ann/tokens").json()["items"]]
    assert ann.delete(f"{USERS}/ann/tokens/{body['id']}").status_code == 404


def test_a_token_stops_working_when_it_expires(platform, api):
    ann = api(platform.user("ann"))
    # two seconds ahead: the request that creates it must still find the time in the future on a busy machine
    expires = timezone.now() + timedelta(seconds=2)
    raw = ann.post(f"{USERS}/ann/tokens", {"name": "short", "expires": expires.isoformat()}).json()["token"]
    assert whoami(raw) == 200
    time.sleep(max(0.0, (expires - timezone.now()).total_seconds()) + 0.2)
    assert whoami(raw) == 401


def test_others_tokens_are_for_admins_only(platform, api):
    ann = api(platform.user("ann"))
    bob = api(platform.user("bob"))
    root = api(platform.user("root", superuser=True))
    raw = ann.post(f"{USERS}/ann/tokens", {"name": "laptop"}).json()["token"]
    token_id = tokens.list_tokens(type(platform.user("carl")).objects.get(name="ann")).filter(
        grant_type="personal").get().pk

    assert bob.get(f"{USERS}/ann/tokens").status_code == 403
    assert bob.post(f"{USERS}/ann/tokens", {"name": "mine-now"}).status_code == 403
    assert bob.delete(f"{USERS}/ann/tokens/{token_id}").status_code == 403
    assert bob.delete(f"{USERS}/bob/tokens/{token_id}").status_code == 404  # not bob's token
    assert whoami(raw) == 200

    assert root.get(f"{USERS}/ann/tokens").status_code == 200
    assert root.delete(f"{USERS}/ann/tokens/{token_id}").status_code == 200
    assert whoami(raw) == 401
    assert root.get(f"{USERS}/nobody/tokens").status_code == 404
    assert api(None).get(f"{USERS}/ann/tokens").status_code == 401


def test_bad_input_names_the_field(platform, api, settings):
    ann = api(platform.user("ann"))
    past = (timezone.now() - timedelta(hours=1)).isoformat()

    for body, field in (({}, "name"), ({"name": ""}, "name"), ({"name": "x" * 129}, "name"),
                        ({"name": "t", "expires": past}, "expires"), ({"name": "t", "expires": "soon"}, "expires")):
        response = ann.post(f"{USERS}/ann/tokens", body)
        assert response.status_code == 422, body
        assert response.json()["kind"] == "Status"
        assert [c["field"] for c in response.json()["details"]["causes"]] == [field], body

    settings.EDGE_PERSONAL_TOKEN_MAX_TTL = 3600
    response = ann.post(f"{USERS}/ann/tokens", {"name": "forever"})
    assert response.status_code == 422 and response.json()["details"]["causes"][0]["field"] == "expires"
    assert [i["type"] for i in ann.get(f"{USERS}/ann/tokens").json()["items"]] == ["password"]  # nothing made


def test_service_functions_for_the_console(platform):
    ann = platform.user("ann")
    raw, row = tokens.create_personal_token(ann, "ci", timezone.now() + timedelta(days=1))
    assert whoami(raw) == 200
    assert [t.name for t in tokens.list_tokens(ann)] == ["ci"]

    assert tokens.revoke_token(platform.user("bob"), row.pk) is False  # not bob's
    assert tokens.revoke_token(ann, row.pk) is True
    assert whoami(raw) == 401 and list(tokens.list_tokens(ann)) == []


def test_disabling_the_user_revokes_personal_tokens(platform, api):
    ann_user = platform.user("ann")
    raw, _ = tokens.create_personal_token(ann_user, "ci")
    ann_user.is_active = False
    ann_user.save()  # as the console or the Django admin would

    ann_user.is_active = True
    ann_user.save()
    assert whoami(raw) == 401  # revoked when disabled, not merely refused while disabled


def test_a_password_change_revokes_tokens_in_one_event_with_the_reason(platform, api):
    """GIVEN ann with a personal token WHEN an admin sets her password THEN her tokens are revoked, recorded once
    with the count and the reason, beside the user's own update event."""
    from iam.audit.models import AuditEvent

    root = api(platform.user("root", superuser=True))
    ann = platform.user("ann")
    raw, _ = tokens.create_personal_token(ann, "ci")
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    current = root.get(f"{USERS}/ann").json()
    current["spec"]["password"] = "An0ther-Secret-Pw!"

    assert root.put(f"{USERS}/ann", current).status_code == 200

    events = list(AuditEvent.objects.filter(id__gt=start).order_by("id").values_list("verb", "name", "message"))
    assert events == [("token_revoke", "ann", "1 token revoked (1 access, 0 refresh): password changed"),
                      ("update", "ann", "")]
    assert whoami(raw) == 401
