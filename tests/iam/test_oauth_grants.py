"""``POST /oauth/token`` beside the password grant: refresh (rotating) and client credentials (API clients)."""
import base64

import pytest
from django.test import Client

from iam.clients import register_client
from iam.models import AccessToken, RefreshToken
from tests.support import PASSWORD

USERS = "/oapis/iam.theriseunion.io/v1alpha1/users"
WORKSPACES = "/oapis/scope.theriseunion.io/v1alpha1/workspaces"


def grant(**form):
    return Client().post("/oauth/token", form)


def login(name="ann"):
    response = grant(grant_type="password", username=name, password=PASSWORD)
    assert response.status_code == 200, response.content
    return response.json()


def refresh(raw, **extra):
    return grant(grant_type="refresh_token", refresh_token=raw, **extra)


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_password_grant_returns_a_refresh_token_that_rotates(platform):
    platform.user("ann")
    first = login()
    assert first["refresh_token"] and first["refresh_token"] != first["access_token"]

    second = refresh(first["refresh_token"])

    assert second.status_code == 200 and second["Cache-Control"] == "no-store"
    body = second.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 24 * 3600
    assert body["refresh_token"] != first["refresh_token"]
    assert Client().get(f"{USERS}/ann", **bearer(body["access_token"])).status_code == 200
    reused = refresh(first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_replaying_a_used_refresh_token_revokes_its_whole_family(platform):
    platform.user("ann")
    stolen = login()["refresh_token"]
    current = refresh(stolen).json()

    assert refresh(stolen).json()["error"] == "invalid_grant"  # the replay is detected ...

    assert refresh(current["refresh_token"]).json()["error"] == "invalid_grant"  # ... and ends the family
    assert Client().get(f"{USERS}/ann", **bearer(current["access_token"])).status_code == 401


def test_revoked_and_expired_refresh_tokens_fail(platform, settings):
    platform.user("ann")
    revoked = login()["refresh_token"]
    assert Client().post("/oauth/revoke", {"token": revoked}).status_code == 200
    settings.EDGE_REFRESH_TOKEN_TTL = 0
    expired = login()["refresh_token"]

    for raw, why in ((revoked, "revoked"), (expired, "expired"), ("edgr_made-up", "invalid")):
        response = refresh(raw)
        assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
        assert why in response.json()["error_description"]


def test_refresh_needs_the_refresh_token_field(platform):
    response = grant(grant_type="refresh_token")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": "refresh_token is required"}


def test_disabling_a_user_kills_access_and_refresh_tokens(platform, api):
    admin = api(platform.user("root", superuser=True))
    platform.user("ann")
    tokens = login()

    disabled = admin.patch(f"{USERS}/ann", {"status": {"state": "Disabled"}})

    assert disabled.status_code == 200
    assert Client().get(f"{USERS}/ann", **bearer(tokens["access_token"])).status_code == 401
    assert refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert not AccessToken.objects.filter(user__name="ann", revoked=None).exists()
    assert not RefreshToken.objects.filter(user__name="ann", revoked=None).exists()
    # enabling again does not bring old tokens back
    assert admin.patch(f"{USERS}/ann", {"status": {"state": "Active"}}).status_code == 200
    assert Client().get(f"{USERS}/ann", **bearer(tokens["access_token"])).status_code == 401


@pytest.fixture
def site(platform):
    platform.cluster("c1")
    platform.workspace("w1", "c1")
    platform.workspace("w2", "c1")
    client, secret = register_client("ci-bot", description="the CI pipeline")
    platform.bind("ci-view-w1", "workspace-viewer", "workspace", "w1", users=("ci-bot",))
    return client, secret


def test_client_credentials_act_as_the_clients_service_account(site):
    client, secret = site

    response = grant(grant_type="client_credentials", client_id="ci-bot", client_secret=secret)

    assert response.status_code == 200
    body = response.json()
    assert "refresh_token" not in body and body["token_type"] == "Bearer"
    assert Client().get(f"{WORKSPACES}/w1", **bearer(body["access_token"])).status_code == 200
    assert Client().get(f"{WORKSPACES}/w2", **bearer(body["access_token"])).status_code in (403, 404)
    row = AccessToken.objects.get(client=client)
    assert row.user.name == "ci-bot" and row.grant_type == "client_credentials"


def test_client_credentials_in_http_basic(site):
    _, secret = site
    basic = base64.b64encode(f"ci-bot:{secret}".encode()).decode()

    response = Client().post("/oauth/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=f"Basic {basic}")

    assert response.status_code == 200 and response.json()["access_token"]


@pytest.mark.parametrize("form", [
    {"client_id": "ci-bot", "client_secret": "edgc_wrong"},
    {"client_id": "nobody", "client_secret": "edgc_wrong"},
    {"client_id": "ci-bot"},
    {},
])
def test_bad_client_credentials_are_refused(site, form):
    response = grant(grant_type="client_credentials", **form)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response["WWW-Authenticate"].startswith("Basic")


def test_a_disabled_service_account_stops_its_client(site):
    client, secret = site
    token = grant(grant_type="client_credentials", client_id="ci-bot", client_secret=secret).json()["access_token"]
    client.user.is_active = False
    client.user.save()

    assert grant(grant_type="client_credentials", client_id="ci-bot", client_secret=secret).status_code == 401
    assert Client().get(f"{WORKSPACES}/w1", **bearer(token)).status_code == 401


def test_unknown_grant_types_name_the_supported_ones(platform):
    response = grant(grant_type="implicit")
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"
    assert "client_credentials" in response.json()["error_description"]


def test_token_grants_and_revocations_are_audited_once_each(platform):
    from iam.audit.models import AuditEvent

    platform.user("ann")
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    tokens = login()
    assert refresh(tokens["refresh_token"]).status_code == 200
    assert Client().post("/oauth/revoke", {"token": tokens["access_token"]}).status_code == 200
    events = list(AuditEvent.objects.filter(id__gt=start).order_by("id")
                  .values_list("verb", "actor", "resource", "message"))
    assert events == [("token_issue", "ann", "accesstokens", "password token issued"),
                      ("token_issue", "ann", "accesstokens", "refresh_token token issued"),
                      ("token_revoke", "ann", "accesstokens", "AccessToken revoked")]
    raw_values = {tokens["access_token"], tokens["refresh_token"]}
    for event in AuditEvent.objects.filter(id__gt=start):
        assert not any(raw in json_text for raw in raw_values for json_text in (event.name, event.message,
                                                                               str(event.after)))


def test_api_clients_are_managed_with_a_command_and_audited(db, capsys):
    from django.core.management import CommandError, call_command

    from iam.audit.models import AuditEvent

    call_command("apiclient", "create", "ci-deployer")
    out = capsys.readouterr().out
    secret = out.split("client_secret:")[1].split()[0]
    assert grant(grant_type="client_credentials", client_id="ci-deployer", client_secret=secret).status_code == 200
    call_command("apiclient", "rotate", "ci-deployer")
    new_secret = capsys.readouterr().out.split("client_secret:")[1].split()[0]
    assert grant(grant_type="client_credentials", client_id="ci-deployer", client_secret=secret).status_code == 401
    assert grant(grant_type="client_credentials", client_id="ci-deployer",
                 client_secret=new_secret).status_code == 200
    with pytest.raises(CommandError, match="already exists"):
        call_command("apiclient", "create", "ci-deployer")
    with pytest.raises(CommandError, match=r"metadata\.name"):
        call_command("apiclient", "create", "Not_A_Name")
    call_command("apiclient", "delete", "ci-deployer")
    assert grant(grant_type="client_credentials", client_id="ci-deployer",
                 client_secret=new_secret).status_code == 401
    events = list(AuditEvent.objects.filter(resource__in=["apiclients", "users"], actor="system:apiclient")
                  .order_by("id").values_list("verb", "resource", "name"))
    assert events == [("create", "users", "ci-deployer"), ("create", "apiclients", "ci-deployer"),
                      ("update", "apiclients", "ci-deployer"), ("delete", "apiclients", "ci-deployer")]
    assert secret not in str(list(AuditEvent.objects.values_list("message", "after")))


def _events_since(start: int):
    from iam.audit.models import AuditEvent

    return list(AuditEvent.objects.filter(id__gt=start).order_by("id"))


def _mark() -> int:
    from iam.audit.models import AuditEvent

    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_a_replayed_refresh_token_revokes_its_family_in_one_event(platform):
    """GIVEN a refresh token used once WHEN it is replayed THEN the family's live tokens (both access tokens and
    the current refresh token) are revoked, and that is one token_revoke event saying so."""
    platform.user("ann")
    stolen = login()["refresh_token"]
    assert refresh(stolen).status_code == 200
    start = _mark()

    assert refresh(stolen).json()["error"] == "invalid_grant"

    [event] = _events_since(start)
    assert (event.verb, event.actor, event.resource, event.name) == ("token_revoke", "ann", "accesstokens", "ann")
    assert event.message == "3 tokens revoked (2 access, 1 refresh): a used refresh token was replayed"
    assert refresh(stolen).json()["error"] == "invalid_grant"  # a second replay finds nothing live: no event
    assert len(_events_since(start)) == 1


def test_disabling_a_user_records_the_revocation_of_their_tokens_once(platform, api):
    admin = api(platform.user("root", superuser=True))
    platform.user("ann")
    login()
    login()
    start = _mark()

    assert admin.patch(f"{USERS}/ann", {"status": {"state": "Disabled"}}).status_code == 200

    events = [(e.verb, e.kind, e.name, e.actor) for e in _events_since(start)]
    assert events == [("token_revoke", "AccessToken", "ann", "root"), ("patch", "User", "ann", "root")]
    assert _events_since(start)[0].message == "4 tokens revoked (2 access, 2 refresh): user disabled"
    start = _mark()
    assert admin.patch(f"{USERS}/ann", {"status": {"state": "Active"}}).status_code == 200
    assert admin.patch(f"{USERS}/ann", {"status": {"state": "Disabled"}}).status_code == 200
    assert [e.verb for e in _events_since(start)] == ["patch", "patch"]  # nothing left to revoke: no event


def test_deleting_an_api_client_records_the_revocation_of_its_tokens(site):
    from iam.clients import remove_client

    client, secret = site
    for _ in range(2):
        assert grant(grant_type="client_credentials", client_id="ci-bot", client_secret=secret).status_code == 200
    start = _mark()

    remove_client(client)

    events = _events_since(start)
    assert [(e.verb, e.resource, e.name) for e in events] == [("token_revoke", "accesstokens", "ci-bot"),
                                                              ("delete", "apiclients", "ci-bot")]
    assert events[0].message == "2 tokens revoked (2 access, 0 refresh): API client ci-bot deleted"
    assert not AccessToken.objects.filter(user__name="ci-bot", revoked=None).exists()


# --- malformed requests: RFC 6749 §5.2 error objects, never a 5xx ----------------------------------------------
NOT_AN_OBJECT = "the request body must be a form or a JSON object"


def post_json(url, text, **headers):
    return Client().post(url, text, content_type="application/json", **headers)


def assert_oauth_error(response, status, error, description):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {"error": error, "error_description": description}


@pytest.mark.parametrize("url, text, description", [
    ("/oauth/token", "[null,null]", NOT_AN_OBJECT),
    ("/oauth/token", '"password"', NOT_AN_OBJECT),
    ("/oauth/token", "null", NOT_AN_OBJECT),
    ("/oauth/token", '{"grant_type": ["password"]}', "grant_type must be a string"),
    ("/oauth/token", '{"grant_type": "refresh_token", "refresh_token": 123}', "refresh_token must be a string"),
    ("/oauth/token", '{"grant_type": "password", "username": {"a": 1}, "password": "x"}',
     "username must be a string"),
    ("/oauth/token", '{"grant_type": "password", "username": "ann", "password": false}',
     "password must be a string"),
    ("/oauth/token", '{"grant_type": "client_credentials", "client_id": 1, "client_secret": "s"}',
     "client_id must be a string"),
    ("/oauth/token", '{"grant_type": "password", "username": "ann\\u0000", "password": "x"}',
     "the request body could not be decoded: NUL characters are not allowed"),
    ("/oauth/token", '{"grant_type": "password", "username": "ann\\n", "password": "x"}',
     "username holds characters RFC 6749 does not allow"),
    ("/oauth/token", '{"grant_type": "refresh_token", "refresh_token": "edgr_\\u00e9"}',
     "refresh_token holds characters RFC 6749 does not allow"),
    ("/oauth/token", "{}", "grant_type is required; use one of password, client_credentials, refresh_token"),
    ("/oauth/token", '{"grant_type": null}',
     "grant_type is required; use one of password, client_credentials, refresh_token"),
    ("/oauth/revoke", "[null,null]", NOT_AN_OBJECT),
    ("/oauth/revoke", '{"token": ["x"]}', "token must be a string"),
    ("/oauth/revoke", '{"token": 7}', "token must be a string"),
    ("/oauth/revoke", '{"token": "edge_\\t"}', "token holds characters RFC 6749 does not allow"),
    ("/oauth/revoke", "{}", "token is required"),
])
def test_a_json_body_of_the_wrong_shape_is_an_invalid_request(platform, url, text, description):
    """GIVEN a JSON body that is not an object of strings WHEN it is posted THEN the answer is a 400
    invalid_request naming the parameter, not a server error."""
    platform.user("ann")

    assert_oauth_error(post_json(url, text), 400, "invalid_request", description)


@pytest.mark.parametrize("url, form, description", [
    ("/oauth/token", "grant_type=password&grant_type=refresh_token", "grant_type must not be given more than once"),
    ("/oauth/token", "grant_type=password&username=ann%00&password=x",
     "username holds characters RFC 6749 does not allow"),
    ("/oauth/revoke", "token=a&token=b", "token must not be given more than once"),
])
def test_a_form_parameter_repeated_or_with_forbidden_characters_is_an_invalid_request(platform, url, form,
                                                                                        description):
    platform.user("ann")
    response = Client().post(url, form, content_type="application/x-www-form-urlencoded")

    assert_oauth_error(response, 400, "invalid_request", description)


def test_a_body_that_does_not_decode_or_of_another_media_type_is_an_oauth_error(platform):
    broken = post_json("/oauth/token", '{"grant_type": ')
    assert broken.status_code == 400 and broken.json()["error"] == "invalid_request"
    assert broken.json()["error_description"].startswith("the request body could not be decoded: invalid JSON")

    text = Client().post("/oauth/token", "grant_type=password", content_type="text/plain")
    assert_oauth_error(text, 415, "invalid_request", "Unsupported media type 'text/plain' in request.")

    wrong_method = Client().get("/oauth/token", HTTP_ACCEPT="text/html")
    assert_oauth_error(wrong_method, 405, "invalid_request", "Method 'GET' not allowed.")
    assert "POST" in wrong_method["Allow"]


@pytest.mark.parametrize("header", ["Basic ÿÿÿÿ", "Basic not-base64!", "Basic " + base64.b64encode(b"\xff:x").decode()])
def test_basic_credentials_that_do_not_decode_are_an_invalid_client(platform, header):
    response = Client().post("/oauth/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=header)

    assert_oauth_error(response, 401, "invalid_client",
                       "the Basic credentials are not base64 of client_id:client_secret")
    assert response["WWW-Authenticate"].startswith("Basic")


def test_json_bodies_of_strings_still_grant_refresh_and_revoke(platform):
    """GIVEN the same grants as JSON objects THEN they work as the form ones do."""
    import json

    platform.user("ann")
    first = post_json("/oauth/token", json.dumps({"grant_type": "password", "username": "ann",
                                                  "password": PASSWORD}))
    assert first.status_code == 200, first.content
    second = post_json("/oauth/token", json.dumps({"grant_type": "refresh_token",
                                                   "refresh_token": first.json()["refresh_token"]}))
    assert second.status_code == 200, second.content
    access = second.json()["access_token"]
    assert Client().get(f"{USERS}/ann", **bearer(access)).status_code == 200

    assert post_json("/oauth/revoke", json.dumps({"token": access})).status_code == 200

    assert Client().get(f"{USERS}/ann", **bearer(access)).status_code == 401
