"""Generated API test cases: a kind declares a few attributes and is tried by every kind of user with every verb,
after NetBox's ``APIViewTestCases``.

A declaration (a subclass of :class:`KindAPICase` in ``tests/<app>/test_api_kinds.py``) names the kind's factory,
the level its objects live at, where its three objects sit in the shared fleet (``places``), the factory arguments of
a new one (``new``), and a replace and a merge patch that change it. It then holds one test per verb and user:

- the users: ``anonymous`` (no token), ``unprivileged`` (logged in, no binding), ``permitted`` (every verb on the
  kind at the scope above the objects of cluster c1, the platform for platform objects and clusters), ``viewer``
  (reading the kind there), ``limited`` (every verb in one workspace, node group or cluster: the ``inside``
  object's, not the one ``beside`` it) and ``foreign`` (every verb in the other cluster, c2, only: the ``abroad``
  object's), with ``GRANTS`` saying where by the kind's level;
- the verbs: list, get, create, update (PUT), patch (merge patch) and delete, through ``/oapis/`` with bearer
  tokens from ``/oauth/token``.

What each answers follows README's API rules: 401 without a token; an object the user may not see is 404, read
exactly as one that does not exist (a kind served under ``clusters/<cluster>/`` answers for the cluster itself
when the cluster is hidden); one they may see but not change is 403; a create in a scope they may not learn of is
answered as in a missing scope (422 naming the label); a create they may not make where the scope is known is 403.
Every refusal is a Kubernetes ``Status`` with the reason, and changes nothing; every allowed write changes the row
and writes exactly one audit event. Lists are guarded against a query per row: listing 13 objects asks as many
queries as listing 3, for every user who may list. Each kind also checks that a replace with a stale
``resourceVersion`` is a 409 that changes nothing, and that a user's own audit events tell a hidden object from a
missing one no more than the 404 does.

The fleet, the places, the users, their bindings and tokens are made once per class (``setUpTestData``); each
test runs in a transaction rolled back after it. A case that finds a bug is declared in ``known_bugs`` and runs
as ``xfail(strict=True)``, so it fails once the bug is fixed.
"""
from __future__ import annotations

import pytest
from django.db import connection
from django.test import TestCase, override_settings
from django.test.utils import CaptureQueriesContext

from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.names import CLUSTER_LABEL
from edgeplatform.resources.services import merge_patch
from iam.audit.models import AuditEvent
from tests import fleet
from tests.factories import IAMRoleBindingFactory, IAMRoleFactory, UserFactory, rule
from tests.support import ApiClient, Platform

__all__ = ["DECLARED", "FORBIDDEN", "INVALID", "NOT_FOUND", "USERS", "VERBS", "KindAPICase"]

USERS = ("anonymous", "unprivileged", "viewer", "permitted", "limited", "foreign")
VERBS = ("list", "get", "create", "update", "patch", "delete")
PLACES = ("inside", "beside", "abroad")
AUTHENTICATED = USERS[1:]
CREATED = (201, "")
FORBIDDEN = (403, "Forbidden")
NOT_FOUND = (404, "NotFound")
INVALID = (422, "Invalid")
UNAUTHORIZED = (401, "Unauthorized")
MUTATIONS = ("create", "update", "patch", "delete")
MISSING = "missing-object"
READ = ("get", "list", "watch")

#: where each user holds the kind, by the level the kind's objects live at: (level, value, cluster of the scope)
GRANTS = {
    "platform": {"permitted": ("platform", "global", ""), "limited": ("cluster", "c1", "c1"),
                 "foreign": ("cluster", "c2", "c2")},
    "cluster": {"permitted": ("platform", "global", ""), "limited": ("cluster", "c1", "c1"),
                "foreign": ("cluster", "c2", "c2")},
    "workspace": {"permitted": ("cluster", "c1", "c1"), "limited": ("workspace", "w1", "c1"),
                  "foreign": ("cluster", "c2", "c2")},
    "nodegroup": {"permitted": ("cluster", "c1", "c1"), "limited": ("nodegroup", "g1", "c1"),
                  "foreign": ("cluster", "c2", "c2")},
}

#: every declared case by (group, plural)
DECLARED: dict[tuple[str, str], type[KindAPICase]] = {}


def _case(verb: str, who: str):
    def test(self):
        getattr(self, f"check_{verb}")(who)
    test.__name__ = f"test_{verb}_as_{who}"
    test.__doc__ = f"The {who} user's {verb}s answer as README's API rules say."
    return test


def _contains(manifest, change) -> bool:
    """Does ``manifest`` hold what the merge patch ``change`` sets (and lack what it removes)?"""
    if not isinstance(change, dict):
        return manifest == change
    if not isinstance(manifest, dict):
        return False
    return all((key not in manifest) if value is None else (key in manifest and _contains(manifest[key], value))
               for key, value in change.items())


def _masked(value, name: str):
    """A decoded body with ``name`` (as a whole string, or quoted inside one) read as ``<name>``."""
    if isinstance(value, dict):
        return {key: _masked(item, name) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, name) for item in value]
    if isinstance(value, str):
        return "<name>" if value == name else value.replace(f'"{name}"', '"<name>"')
    return value


class KindAPICase(TestCase):
    """Every user × every verb for one kind; subclasses declare the kind (see the module's docstring)."""

    __test__ = False

    #: the kind's factory (``tests.factories``); the model and converter follow from it
    factory = None
    #: the level the kind's objects live at: platform, cluster, workspace or nodegroup (``GRANTS``)
    level = ""
    #: a merge patch applied to the stored manifest before it is sent back with PUT
    update: dict = {}
    #: a merge patch sent with PATCH
    patch: dict = {}
    #: the answers that depend on the kind, when the level's defaults do not fit
    limited_create: tuple | None = None   # the limited user creating inside their scope
    beside_create: tuple | None = None    # … in the scope beside theirs
    abroad_create: tuple | None = None    # the foreign user creating in their own cluster
    hidden_create: tuple | None = None    # anyone creating in a cluster they may not learn of
    #: {(verb, user): reason} of cases that find a bug: they run as xfail(strict=True)
    known_bugs: dict = {}
    #: a finalizer holds the kind's deletes: an allowed delete answers 202 with the object, which stays with its
    #: ``metadata.deletionTimestamp`` (the platform removes it later)
    deletes_gracefully = False
    #: how the field at fault starts when a create names a scope the caller may not learn of (a kind whose scope
    #: follows from another object names that object's field: ``spec.applicationRef``)
    scope_field = "metadata.labels["
    #: a namespaced kind whose objects live in any namespace of their cluster, not the host namespace named after it
    in_any_namespace = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.factory is None:
            return
        if cls.level not in GRANTS:
            raise TypeError(f"{cls.__name__}.level must be one of {', '.join(GRANTS)}")
        missing = [hook for hook in ("places", "new") if getattr(cls, hook) is None]
        if missing:
            raise TypeError(f"{cls.__name__} must declare {' and '.join(missing)} (see KindAPICase)")
        cls.__test__ = True
        cls.converter = converter_for(cls.factory._meta.model)
        DECLARED[(cls.converter.group, cls.converter.plural)] = cls
        scoped = cls.level in ("workspace", "nodegroup")
        cls.limited_create = cls.limited_create or (CREATED if scoped else FORBIDDEN)
        cls.beside_create = cls.beside_create or (INVALID if scoped else FORBIDDEN)
        cls.abroad_create = cls.abroad_create or (CREATED if scoped else FORBIDDEN)
        cls.hidden_create = cls.hidden_create or (
            FORBIDDEN if not scoped else NOT_FOUND if cls.converter.cluster_child else INVALID)
        for (verb, who), reason in cls.known_bugs.items():
            setattr(cls, f"test_{verb}_as_{who}", pytest.mark.xfail(strict=True, reason=reason)(_case(verb, who)))

    # --- what a declaration provides (checked when the class is declared) --------------------------
    #: classmethod ``places(objs) -> dict``: the kind's objects ``inside``, ``beside`` and ``abroad`` (``objs``:
    #: the fleet of ``tests.fleet``)
    places = None
    #: classmethod ``new(objs, where) -> dict``: factory arguments of a new object at a place (no name: the
    #: factory makes one)
    new = None

    # --- the shared data --------------------------------------------------------------------------
    @classmethod
    def setUpTestData(cls):
        """The fleet, the kind's three objects, and the users with their bindings and tokens."""
        cls.objs = fleet.build(Platform())
        cls.rows = {place: (type(row), row.pk) for place, row in cls.places(cls.objs).items()}
        cls.tokens = {}
        grants = GRANTS[cls.level]
        held = {"permitted": grants["permitted"], "viewer": grants["permitted"], "limited": grants["limited"],
                "foreign": grants["foreign"]}
        group, plural = cls.converter.group, cls.converter.plural
        for who in AUTHENTICATED:
            user = UserFactory(name=f"{who}-user")
            if who in held:
                level, value, cluster = held[who]
                verbs = READ if who == "viewer" else ()
                role = IAMRoleFactory(name=f"{who}-{plural}-{level}", level=level, rules=[rule(group, plural, *verbs)])
                IAMRoleBindingFactory(name=f"{who}-at-{level}", role=role, level=level, value=value,
                                      users=(user.name,),
                                      cluster=cluster if level in ("namespace", "node") else "")
            cls.tokens[who] = ApiClient.token_for(user)
        cls.tokens["admin"] = ApiClient.token_for(UserFactory(name="admin-user", superuser=True))

    def api(self, who: str) -> ApiClient:
        """A client carrying ``who``'s token (none for the anonymous user)."""
        return ApiClient(self.tokens.get(who))

    def row(self, place: str):
        """The current row of a place (None once deleted)."""
        model, pk = self.rows[place]
        return model.objects.filter(pk=pk).first()

    # --- who sees what ----------------------------------------------------------------------------
    def sees(self, who: str) -> set:
        """The places whose objects ``who`` may see."""
        everywhere = self.level in ("platform", "cluster")
        return {
            "permitted": {"inside", "beside", "abroad"} if everywhere else {"inside", "beside"},
            "viewer": {"inside", "beside", "abroad"} if everywhere else {"inside", "beside"},
            "limited": set() if self.level == "platform" else {"inside"},
            "foreign": set() if self.level == "platform" else {"abroad"},
        }.get(who, set())

    def knows_cluster(self, who: str, cluster: str) -> bool:
        """May ``who`` learn that ``cluster`` exists (they hold a binding in it, or at the platform)?"""
        held = {"permitted", "viewer", "limited", "foreign"}
        if who not in held:
            return False
        level, _, where = GRANTS[self.level]["permitted" if who == "viewer" else who]
        return level == "platform" or where == cluster

    def expected(self, who: str, place: str, success: tuple) -> tuple:
        """The answer to a write of ``who`` on the object at ``place``."""
        if who == "anonymous":
            return UNAUTHORIZED
        if place not in self.sees(who):
            return NOT_FOUND
        return FORBIDDEN if who == "viewer" else success

    # --- URLs -------------------------------------------------------------------------------------
    def collection_url(self, cluster: str | None = None) -> str:
        """The kind's collection (under ``clusters/<cluster>/`` for kinds served there; for a namespaced kind,
        under ``namespaces/<cluster>/``, the host namespace named after the cluster, or across all namespaces)."""
        converter = self.converter
        if converter.cluster_child:
            return f"/oapis/scope.theriseunion.io/v1alpha1/clusters/{cluster}/{converter.plural}"
        if converter.namespaced and cluster is not None:
            return f"/oapis/{converter.group}/{converter.version}/namespaces/{cluster}/{converter.plural}"
        return f"/oapis/{converter.group}/{converter.version}/{converter.plural}"

    def create_url(self, manifest: dict) -> str:
        """Where a new object's manifest is posted: the collection of the cluster its label names (a namespaced
        kind whose objects live in any namespace: the collection of its ``metadata.namespace``)."""
        if self.converter.namespaced and not self.converter.cluster_child and self.in_any_namespace:
            return self.collection_url(manifest["metadata"]["namespace"])
        return self.collection_url((manifest["metadata"].get("labels") or {}).get(CLUSTER_LABEL))

    def item_url(self, row, name: str | None = None) -> str:
        """The URL of a row (or of a missing object of ``name`` beside it)."""
        return f"{self.collection_url(self.cluster_of(row))}/{name or row.name}"

    def cluster_of(self, row) -> str | None:
        """The cluster (or, for a namespaced kind, the namespace) whose URL serves the row."""
        if self.converter.namespaced:
            return row.namespace
        return row.cluster.name if self.converter.cluster_child else None

    # --- assertions -------------------------------------------------------------------------------
    def assertStatus(self, response, expected: tuple):
        """The answer has the status; a refusal is a Kubernetes Status with the reason."""
        code, reason = expected
        self.assertEqual(response.status_code, code, response.content[:2000])
        if code >= 400:
            body = response.json()
            self.assertEqual((body["kind"], body["apiVersion"], body["status"], body["code"], body["reason"]),
                             ("Status", "v1", "Failure", code, reason), body)
            if code == 422:
                self.assertTrue(body["details"]["causes"], body)

    def assertHidden(self, response, row, send) -> None:
        """A 404 that reads exactly as the answer about a missing object of the same kind beside it."""
        self.assertStatus(response, NOT_FOUND)
        missing = send(self.item_url(row, MISSING))
        self.assertStatus(missing, NOT_FOUND)
        self.assertEqual(_masked(response.json(), row.name), _masked(missing.json(), MISSING))

    def written(self, since: int, resource_name: str, scope_path: str | None = None) -> list[str]:
        """The verbs of the mutations audited since event ``since`` on objects of this kind named so."""
        events = AuditEvent.objects.filter(id__gt=since, resource=self.converter.plural, name=resource_name,
                                           result="allowed", verb__in=MUTATIONS)
        if scope_path is not None:
            events = events.filter(scope_path=scope_path)
        return list(events.values_list("verb", flat=True))

    @staticmethod
    def last_event() -> int:
        """The id of the newest audit event."""
        return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    def manifest_of(self, place: str) -> dict | None:
        """The stored manifest of a place's object, as the platform shows it."""
        row = self.row(place)
        return None if row is None else self.converter.to_manifest(row)

    # --- list and get -----------------------------------------------------------------------------
    def list_urls(self) -> list[tuple[str, str | None, list[str]]]:
        """(URL, cluster, places listed there) of every collection the places are listed in."""
        if not self.converter.cluster_child:
            return [(self.collection_url(), None, list(PLACES))]
        by_cluster: dict[str, list[str]] = {}
        for place in PLACES:
            by_cluster.setdefault(self.cluster_of(self.row(place)), []).append(place)
        return [(self.collection_url(cluster), cluster, places) for cluster, places in sorted(by_cluster.items())]

    def check_list(self, who: str) -> None:
        """Lists hold exactly the places the user may see; a hidden cluster's collection is 404."""
        client = self.api(who)
        for url, cluster, places in self.list_urls():
            response = client.get(url)
            if who == "anonymous":
                self.assertStatus(response, UNAUTHORIZED)
            elif cluster is not None and not self.knows_cluster(who, cluster):
                self.assertStatus(response, NOT_FOUND)
                missing = client.get(self.collection_url(MISSING))
                self.assertEqual(_masked(response.json(), cluster), _masked(missing.json(), MISSING))
            else:
                self.assertStatus(response, (200, ""))
                body = response.json()
                self.assertEqual(body["kind"], f"{self.converter.kind}List")
                names = {item["metadata"]["name"] for item in body["items"]}
                listed = {place for place in places if self.row(place).name in names}
                self.assertEqual(listed, self.sees(who) & set(places), url)

    def check_get(self, who: str) -> None:
        """Each place's object reads as its manifest, or as a missing one when the user may not see it."""
        client = self.api(who)
        for place in PLACES:
            row = self.row(place)
            response = client.get(self.item_url(row))
            if who == "anonymous":
                self.assertStatus(response, UNAUTHORIZED)
            elif place in self.sees(who):
                self.assertStatus(response, (200, ""))
                self.assertEqual(response.json(), self.converter.to_manifest(row))
            else:
                self.assertHidden(response, row, client.get)

    # --- writes -----------------------------------------------------------------------------------
    def attempts(self, who: str) -> list[str]:
        """The places where ``who``'s writes are tried: refusals first, then what they may do."""
        return {"limited": ["beside", "inside"], "foreign": ["inside", "abroad"]}.get(who, ["inside"])

    def create_attempts(self, who: str) -> list[tuple[str, tuple]]:
        """(place, expected answer) of ``who``'s creates."""
        return {
            "anonymous": [("inside", UNAUTHORIZED)],
            "unprivileged": [("inside", self.hidden_create)],
            "viewer": [("inside", FORBIDDEN)],
            "permitted": [("inside", CREATED)],
            "limited": [("beside", self.beside_create), ("inside", self.limited_create)],
            "foreign": [("inside", self.hidden_create), ("abroad", self.abroad_create)],
        }[who]

    def check_create(self, who: str) -> None:
        """A create stores the manifest and audits it once, or is refused and stores nothing."""
        client = self.api(who)
        model = self.converter.model
        for place, expected in self.create_attempts(who):
            manifest = self.factory.build(**self.new(self.objs, place))
            name = manifest["metadata"]["name"]
            cluster = (manifest["metadata"].get("labels") or {}).get(CLUSTER_LABEL)
            url = self.create_url(manifest)
            start = self.last_event()
            response = client.post(url, manifest)
            self.assertStatus(response, expected)
            if expected == INVALID:  # a scope the caller may not learn of: the label naming it is the field at fault
                self.assertTrue(response.json()["details"]["causes"][0]["field"].startswith(self.scope_field),
                                response.json())
            rows = model.objects.filter(name=name)
            if self.converter.cluster_child:
                rows = rows.filter(cluster__name=cluster)
            if expected == CREATED:
                row = rows.get()
                stored = self.converter.to_manifest(row)
                self.assertEqual(response.json(), stored)
                sent = {"metadata": {key: manifest["metadata"][key] for key in ("labels", "annotations")
                                     if manifest["metadata"].get(key)}, "spec": self.without_secrets(manifest["spec"])}
                self.assertTrue(_contains(stored, sent), stored)
                self.assertEqual(self.written(start, name, row.scope_path), ["create"])
            else:
                self.assertFalse(rows.exists(), f"{who} created {name} at {place}")
                self.assertEqual(self.written(start, name), [])

    @staticmethod
    def without_secrets(spec: dict) -> dict:
        """The spec a manifest shows back: write-only fields (passwords) are never shown."""
        return {key: value for key, value in spec.items() if key not in ("password", "encryptedPassword")}

    def check_write(self, who: str, verb: str, send, body_for, success: tuple, check_done) -> None:
        """Try a write at each of ``who``'s places; refused ones change nothing and audit no change."""
        for place in self.attempts(who):
            row = self.row(place)
            before = self.converter.to_manifest(row)
            expected = self.expected(who, place, success)
            start = self.last_event()
            body = body_for(before)
            response = send(self.item_url(row), body)
            if expected == NOT_FOUND:
                self.assertHidden(response, row, lambda url, sent=body: send(url, sent))
            else:
                self.assertStatus(response, expected)
            if expected == success:
                check_done(place, before, response)
                self.assertEqual(self.written(start, row.name, row.scope_path), [verb])
            else:
                self.assertEqual(self.manifest_of(place), before, f"{who}'s refused {verb} changed {place}")
                self.assertEqual(self.written(start, row.name), [])

    def check_changed(self, change: dict):
        """The check of an allowed replace or patch: the row holds the change, one resourceVersion later."""
        def check(place, before, response):
            after = self.manifest_of(place)
            self.assertEqual(response.json(), after)
            self.assertTrue(_contains(after, change), after)
            self.assertEqual(int(after["metadata"]["resourceVersion"]),
                             int(before["metadata"]["resourceVersion"]) + 1)
        return check

    def check_update(self, who: str) -> None:
        """PUT of the stored manifest with ``update`` applied."""
        self.check_write(who, "update", self.api(who).put, lambda before: merge_patch(before, self.update),
                         (200, ""), self.check_changed(self.update))

    def check_patch(self, who: str) -> None:
        """PATCH with the merge patch ``patch``."""
        self.check_write(who, "patch", self.api(who).patch, lambda before: self.patch, (200, ""),
                         self.check_changed(self.patch))

    def check_delete(self, who: str) -> None:
        """DELETE: a Success Status, and the row is gone (held by a finalizer: 202 with the object, which stays
        with its deletionTimestamp)."""
        def done(place, before, response):
            self.assertEqual(response.json()["status"], "Success")
            self.assertIsNone(self.row(place))

        def held(place, before, response):
            after = self.manifest_of(place)
            self.assertEqual(response.json(), after)
            self.assertIn("deletionTimestamp", after["metadata"])
            self.assertEqual(after["spec"], before["spec"])

        self.check_write(who, "delete", lambda url, body: self.api(who).delete(url), lambda before: None,
                         (202, "") if self.deletes_gracefully else (200, ""),
                         held if self.deletes_gracefully else done)

    def test_a_replace_with_a_stale_resource_version_is_a_conflict(self):
        """The permitted user's PUT of a manifest read before a patch is 409 Conflict and changes nothing."""
        client = self.api("permitted")
        read = self.manifest_of("inside")
        self.assertStatus(client.patch(self.item_url(self.row("inside")), self.patch), (200, ""))
        patched, start = self.manifest_of("inside"), self.last_event()
        response = client.put(self.item_url(self.row("inside")), merge_patch(read, self.update))
        self.assertStatus(response, (409, "Conflict"))
        self.assertEqual(self.manifest_of("inside"), patched)
        self.assertEqual(self.written(start, read["metadata"]["name"]), [])

    # --- the caller's own audit log --------------------------------------------------------------------
    def test_own_audit_events_tell_a_hidden_object_from_a_missing_one_no_more_than_the_api(self):
        """The foreign user reads their own events (everyone may): a visit to a hidden object and one to a missing
        object leave the same trace there, as the 404s they got read alike."""
        client, row = self.api("foreign"), self.row("inside")
        traces = []
        for name in (row.name, MISSING):
            self.assertStatus(client.get(self.item_url(row, name)), NOT_FOUND)
            events = client.get(f"/oapis/iam.theriseunion.io/v1alpha1/auditevents?resource={self.converter.plural}/"
                                f"{name}")
            self.assertStatus(events, (200, ""))
            traces.append(_masked([(item["spec"]["verb"], item["spec"]["result"], item["spec"]["objectRef"]["name"])
                                   for item in events.json()["items"]], name))
        self.assertEqual(traces[0], traces[1])

    # --- N+1 ----------------------------------------------------------------------------------------
    def test_list_queries_do_not_grow_with_rows(self):
        """Every user who may list asks as many queries for 13 objects as for 3 (the permitted user's count: the
        two places they see and one new object; both counts are taken after a write in the test's transaction,
        since grants read in a transaction that changed IAM data are not cached)."""
        url, cluster, _ = self.list_urls()[0]
        listers = [who for who in (*AUTHENTICATED, "admin")
                   if cluster is None or who == "admin" or self.knows_cluster(who, cluster)]
        self.factory.create_batch(1, **self.new(self.objs, "inside"))
        small = {who: self.list_queries(who, url) for who in listers}
        self.factory.create_batch(10, **self.new(self.objs, "inside"))
        large = {who: self.list_queries(who, url) for who in listers}
        grown = {who: [sql for sql in large[who] if sql not in small[who]] for who in listers
                 if len(large[who]) != len(small[who])}
        self.assertEqual(grown, {}, f"{url}: queries differ for 3 and 13 objects")

    def list_queries(self, who: str, url: str) -> list[str]:
        """The queries of one list, after one that fills the caches a first request fills (and reads the grant
        change log, which the measured one then has no time to read again)."""
        client = self.api(who)
        with override_settings(EDGE_AUTHZ_POLL_INTERVAL=3600):
            client.get(url)
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url)
        self.assertEqual(response.status_code, 200, response.content[:2000])
        return [query["sql"] for query in queries.captured_queries]


for _verb in VERBS:
    for _who in USERS:
        setattr(KindAPICase, f"test_{_verb}_as_{_who}", _case(_verb, _who))
