"""The audit log and identities: secrets that change show as changed (never their values), and LDAP logins
write users and groups through the write path, one event each. OIDC logins are in test_oidc.py."""
import importlib.util
import json

import pytest

from iam.audit.models import AuditEvent
from iam.audit.redaction import CHANGED, REDACTED, redact
from iam.models import User, UserGroup

USERS = "/oapis/iam.theriseunion.io/v1alpha1/users"
CLUSTERS = "/oapis/scope.theriseunion.io/v1alpha1/clusters"
EVENTS = "/oapis/iam.theriseunion.io/v1alpha1/auditevents"
HAS_LDAP = importlib.util.find_spec("ldap") is not None and importlib.util.find_spec("django_auth_ldap") is not None


def mark() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def since(start: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(id__gt=start).order_by("id"))


@pytest.fixture
def root(platform, api):
    return api(platform.user("root", superuser=True))


# --- secrets in diffs ----------------------------------------------------------------------------------------

def test_redaction_compares_secrets_and_masks_every_kind_of_secret_field():
    before = {"spec": {"password": "old-pw", "connection": {"token": "T1", "kubeconfig": "K1", "endpoint": "e"},
                       "values": {"adminPassword": "same"}}}
    after = {"spec": {"password": "new-pw", "connection": {"token": "T1", "kubeconfig": "K2", "endpoint": "e"},
                      "values": {"adminPassword": "same", "apiKey": "added"}}}

    out_before, out_after = redact(before), redact(after, before)

    assert out_before == {"spec": {"password": REDACTED, "connection": {"token": REDACTED, "kubeconfig": REDACTED,
                                                                        "endpoint": "e"},
                                   "values": {"adminPassword": REDACTED}}}
    assert out_after == {"spec": {"password": CHANGED, "connection": {"token": REDACTED, "kubeconfig": CHANGED,
                                                                      "endpoint": "e"},
                                  "values": {"adminPassword": REDACTED, "apiKey": CHANGED}}}
    assert redact(after) == {"spec": {"password": REDACTED, "connection": {"token": REDACTED, "kubeconfig": REDACTED,
                                                                           "endpoint": "e"},
                                      "values": {"adminPassword": REDACTED, "apiKey": REDACTED}}}
    applied = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                                            json.dumps({"spec": {"token": "T9"}})}}}
    embedded = redact(applied, {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration":
                                                             json.dumps({"spec": {"token": "T8"}})}}})
    assert json.loads(embedded["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]) == \
        {"spec": {"token": CHANGED}}


def test_a_password_reset_shows_in_the_diff_without_the_password_or_its_hash(root, platform):
    """GIVEN a user with a password WHEN an admin sets a new one THEN the update event says spec.password changed
    (before <redacted>, after <redacted: changed>) and holds neither password nor hash; WHEN only the display
    name changes THEN spec.password is not among the changes."""
    user = {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "User", "metadata": {"name": "newbie"},
            "spec": {"email": "n@example.com", "password": "Sup3r-Secret-Pw!"}}
    start = mark()
    assert root.post(USERS, user).status_code == 201
    [created] = since(start)
    assert created.after["spec"]["password"] == REDACTED
    current = root.get(f"{USERS}/newbie").json()
    current["spec"]["password"] = "An0ther-Secret-Pw!"
    start = mark()

    assert root.put(f"{USERS}/newbie", current).status_code == 200

    [event] = [e for e in since(start) if e.verb == "update"]
    assert (event.before["spec"]["password"], event.after["spec"]["password"]) == (REDACTED, CHANGED)
    shown = root.get(f"{EVENTS}/{event.id}").json()
    assert "spec.password" in shown["spec"]["changes"]
    stored_hash = User.objects.get(name="newbie").password
    everything = json.dumps(shown) + json.dumps([created.after, event.before, event.after])
    for secret in ("Sup3r-Secret-Pw!", "An0ther-Secret-Pw!", stored_hash, stored_hash.split("$")[-1]):
        assert secret not in everything

    start = mark()
    assert root.patch(f"{USERS}/newbie", {"spec": {"displayName": "New Bie"}}).status_code == 200
    [event] = since(start)
    assert event.before["spec"]["password"] == event.after["spec"]["password"] == REDACTED
    assert "spec.password" not in root.get(f"{EVENTS}/{event.id}").json()["spec"]["changes"]


def cluster(token: str | None = None, kubeconfig: str | None = None) -> dict:
    connection = {"type": "direct", "kubernetesAPIEndpoint": "https://10.0.0.1:6443"}
    if token:
        connection["token"] = token
    if kubeconfig:
        connection["kubeconfig"] = kubeconfig
    return {"apiVersion": "scope.theriseunion.io/v1alpha1", "kind": "Cluster", "metadata": {"name": "edge-1"},
            "spec": {"type": "physical", "connection": connection}}


def test_a_credential_rotation_shows_in_the_diff_without_the_credential(root):
    """GIVEN a cluster with a token WHEN the token is rotated THEN spec.connection.token changed in the event;
    WHEN the same token is sent again, or the spec is replaced without it THEN it did not change."""
    start = mark()
    assert root.post(CLUSTERS, cluster(token="BEARER-ONE")).status_code == 201
    [created] = since(start)
    assert created.after["spec"]["connection"]["token"] == REDACTED

    def replace(body) -> AuditEvent:
        start = mark()
        current = root.get(f"{CLUSTERS}/edge-1").json()
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        body["spec"]["config"] = {"round": start}  # something else changes each time
        assert root.put(f"{CLUSTERS}/edge-1", body).status_code == 200
        [event] = since(start)
        return event

    rotated = replace(cluster(token="BEARER-TWO"))
    assert (rotated.before["spec"]["connection"]["token"], rotated.after["spec"]["connection"]["token"]) == \
        (REDACTED, CHANGED)
    assert "spec.connection.token" in root.get(f"{EVENTS}/{rotated.id}").json()["spec"]["changes"]

    resent = replace(cluster(token="BEARER-TWO"))
    assert resent.before["spec"]["connection"]["token"] == resent.after["spec"]["connection"]["token"] == REDACTED
    untouched = replace(root.get(f"{CLUSTERS}/edge-1").json())
    for event in (resent, untouched):
        assert "spec.connection.token" not in root.get(f"{EVENTS}/{event.id}").json()["spec"]["changes"]

    swapped = replace(cluster(kubeconfig="apiVersion: v1\nkind: Config\nusers: [{user: {token: KUBE-SECRET}}]"))
    assert swapped.after["spec"]["connection"] == {"type": "direct", "kubernetesAPIEndpoint": "https://10.0.0.1:6443",
                                                   "kubeconfig": CHANGED}
    assert swapped.before["spec"]["connection"]["token"] == REDACTED  # the token went: it is in before only
    everything = json.dumps([e.before for e in since(0)] + [e.after for e in since(0)])
    for secret in ("BEARER-ONE", "BEARER-TWO", "KUBE-SECRET"):
        assert secret not in everything


# --- LDAP ----------------------------------------------------------------------------------------------------

class DirectoryEntry:
    """What django-auth-ldap's _LDAPUser offers once the directory accepted the password."""

    class AuthenticationFailed(Exception):
        pass

    def __init__(self, mail: str | None, groups: set[str]):
        self.attrs = {"mail": [mail]} if mail else {}
        self.group_names = groups
        self.dn = "uid=lee,ou=people,dc=edge,dc=test"


@pytest.fixture
def mirroring(settings):
    settings.AUTH_LDAP_USER_ATTR_MAP = {"email": "mail"}
    settings.EDGE_LDAP_MIRROR_GROUPS = True


def test_ldap_mirroring_writes_users_and_groups_through_the_write_path(platform, mirroring):
    """GIVEN a directory entry with two groups WHEN lee first logs in THEN each new group and the new user is one
    event as system:ldap; WHEN nothing changed THEN nothing is written; WHEN a group went THEN one update."""
    from iam.ldap import mirror_directory_user

    start = mark()
    lee = mirror_directory_user("lee", DirectoryEntry("lee@corp.test", {"Ops", "dev"}))

    events = since(start)
    assert [(e.actor, e.verb, e.kind, e.name) for e in events] == [
        ("system:ldap", "create", "Group", "dev"), ("system:ldap", "create", "Group", "ops"),
        ("system:ldap", "create", "User", "lee")]
    assert events[2].after["spec"]["groups"] == ["dev", "ops"] and events[2].after["spec"]["email"] == "lee@corp.test"
    assert events[2].after["metadata"]["labels"]["iam.theriseunion.io/identity-provider"] == "ldap"
    assert sorted(lee.groups.values_list("name", flat=True)) == ["dev", "ops"] and not lee.has_usable_password()
    assert UserGroup.objects.get(name="ops").labels["iam.theriseunion.io/identity-provider"] == "ldap"

    start = mark()
    mirror_directory_user("lee", DirectoryEntry("lee@corp.test", {"ops", "Dev"}), User.objects.get(name="lee"))
    assert since(start) == []

    mirror_directory_user("lee", DirectoryEntry("lee@corp.test", {"dev"}), User.objects.get(name="lee"))
    [event] = since(start)
    assert (event.actor, event.verb, event.kind, event.name) == ("system:ldap", "update", "User", "lee")
    assert (event.before["spec"]["groups"], event.after["spec"]["groups"]) == (["dev", "ops"], ["dev"])
    assert list(User.objects.get(name="lee").groups.values_list("name", flat=True)) == ["dev"]


def test_ldap_mirroring_refuses_names_the_platform_refuses(platform, mirroring):
    from django.core.exceptions import SuspiciousOperation

    from iam.ldap import mirror_directory_user

    start = mark()
    with pytest.raises(SuspiciousOperation, match="reserved"):
        mirror_directory_user("system", DirectoryEntry("s@corp.test", {"ops"}))
    assert since(start) == [] and not UserGroup.objects.filter(name="ops").exists()  # rolled back together


@pytest.mark.skipif(not HAS_LDAP, reason="python-ldap is not installed (make setup-ldap)")
def test_the_ldap_backend_mirrors_once_the_directory_accepted_the_password(platform, mirroring):
    from iam.ldap import EdgeLDAPBackend

    start = mark()
    user, built = EdgeLDAPBackend().get_or_build_user("lee", DirectoryEntry("lee@corp.test", {"ops"}))

    assert built is False and user.pk is not None and user.email == "lee@corp.test"
    assert [(e.actor, e.kind) for e in since(start)] == [("system:ldap", "Group"), ("system:ldap", "User")]
    with pytest.raises(DirectoryEntry.AuthenticationFailed):
        EdgeLDAPBackend().get_or_build_user("system", DirectoryEntry(None, set()))
