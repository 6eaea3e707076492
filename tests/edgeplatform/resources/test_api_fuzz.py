"""Schemathesis over every operation of the OpenAPI schema the platform serves at ``/oapis/schema/``.

Each operation is fuzzed twice, in-process against the Django WSGI application and inside the test's database
transaction: as an administrator (a superuser) and as an unprivileged workspace member (``workspace-viewer`` of
w1 in c1, nothing else). Every answer must pass the four checks of :data:`CHECKS`: no 5xx, a status code the
schema documents for the operation, a documented content type, and a body that validates against the documented
schema. Every case of an operation runs even after one fails, and the test then fails listing each distinct
failure (check and status) with the shortest request that shows it, as a curl command: one run gives the whole
list, where Hypothesis would stop at the first.

Bounded and reproducible: a fixed seed and derandomized generation (the same cases on every run), no example
database, no deadline (timings vary between machines, results must not); about 4,600 requests. The coverage
phase is limited as :data:`BUDGET` says. ``EDGE_FUZZ_EXAMPLES`` sets the fuzzing examples per operation and user
(default :data:`DEFAULT_EXAMPLES`), ``EDGE_FUZZ_FULL=1`` runs the coverage phase everywhere, ``EDGE_FUZZ_SEED``
picks other cases. No operation and no check is left out.

Every test starts from the same small fleet (:func:`fleet`). Path parameters name objects of it: the schema's
examples (:func:`before_load_schema`) and half of the fuzzing cases (:func:`before_generate_path_parameters`), so
reads, replaces, patches and deletes by name reach real objects, visible ones and hidden ones. The figures of a
run (operations, requests by method and status, failures by check, seconds) are written to
``test-output/api-fuzz.json``.
"""
from __future__ import annotations

import json
import os
import time
from collections import Counter

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup

from tests.paths import TEST_OUTPUT
from tests.support import binding_manifest, issue_token

SCHEMA_URL = "/oapis/schema/?format=json"
DEFAULT_EXAMPLES = 20
EXAMPLES = int(os.environ.get("EDGE_FUZZ_EXAMPLES") or DEFAULT_EXAMPLES)
FULL = os.environ.get("EDGE_FUZZ_FULL", "") not in ("", "0")
SEED = int(os.environ.get("EDGE_FUZZ_SEED") or 8)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SUMMARY = TEST_OUTPUT / "api-fuzz.json"

#: Schemathesis' coverage phase enumerates boundary and wrong-type values of every parameter and body field: about
#: 25,000 cases per user over the kinds' manifests, a quarter of an hour for both users. Within the suite's budget
#: it runs where it is small and finds the most (query and path parameters, the OAuth forms); writes of manifests
#: under /oapis/ get the fuzzing phase's examples. EDGE_FUZZ_FULL=1 runs it on every operation.
BUDGET = [] if FULL else [{"include-name-regex": "^(POST|PUT|PATCH) /oapis/",
                           "phases": {"coverage": {"enabled": False}}}]

APP = WSGIHandler()
CONFIG = SchemathesisConfig.from_dict({
    "seed": SEED,
    "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True},
               "stateful": {"enabled": False}},
    "operations": BUDGET,
})
#: an object of :func:`fleet` for each kind's path parameter, given to the schema as the parameter's example: the
#: examples phase and the coverage phase's valid values then name it (the fuzzing phase draws from all of them)
EXAMPLE_NAMES = {"clusters": "c1", "workspaces": "w1", "nodegroups": "g1", "namespaces": "n1", "nodes": "x1",
                 "users": "member", "groups": "viewers", "categories": "tools", "iamroles": "workspace-viewer",
                 "iamrolebindings": "member-w1", "roletemplates": "platform-view-audit", "lockouts": "intruder",
                 "components": "agent"}
#: the pool (in SEEDED) and the example of a namespaced kind's ``{namespace}`` path parameter: the namespaces its
#: objects live in (a Component's names its cluster), not the member clusters' Namespace objects
NAMESPACE_POOL, NAMESPACE_EXAMPLE = "@namespace", "c1"


@schemathesis.hook
def before_load_schema(context, raw_schema):
    """Give each path parameter without an example the name of an object of the fleet, by the URL segment before
    it (``workspaces/{name}`` → w1)."""
    for path, item in raw_schema.get("paths", {}).items():
        segments = path.strip("/").split("/")
        before = {segment[1:-1]: segments[index - 1] for index, segment in enumerate(segments)
                  if segment.startswith("{") and index}
        operations = [item, *(operation for operation in item.values() if isinstance(operation, dict))]
        for parameter in (p for operation in operations for p in operation.get("parameters", [])):
            name = NAMESPACE_EXAMPLE if parameter.get("name") == "namespace" \
                else EXAMPLE_NAMES.get(before.get(parameter.get("name"), ""))
            if parameter.get("in") == "path" and name and "example" not in parameter:
                parameter["example"] = name


schema = schemathesis.openapi.from_wsgi(SCHEMA_URL, APP, config=CONFIG)

#: names of the objects each test's fleet holds, by the URL segment before the path parameter ("workspaces",
#: "tokens", …); filled by :func:`fleet`, read when a case is drawn
SEEDED: dict[str, list[str]] = {}
FIGURES = {"operations": len(list(schema.get_all_operations())), "tests": 0, "requests": 0,
           "statuses": Counter(), "failures": Counter(), "seconds": 0.0}


# --- the fleet ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fleet(django_db_setup, django_db_blocker):
    """c1 (w1{n1}, w2{n2}, g1{x1}) and c2 (w3{n3}); root, a superuser; member, a viewer of w1 only, in the group
    viewers, with a token; a category; a locked-out user name. Returns the bearer tokens by user.

    Built once, in a transaction around the module that is rolled back at its end (as Django's
    ``TestCase.setUpTestData``): each test's own transaction is a savepoint inside it, so every test starts
    from this fleet, whatever the tests before it created or deleted.
    """
    from django.db import transaction

    from tests.support import Platform

    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            tokens = _build(Platform())
            SEEDED.clear()
            SEEDED.update(_names())
            yield tokens
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _build(platform) -> dict[str, str]:
    for cluster in ("c1", "c2"):
        platform.cluster(cluster)
    for ws, cluster in (("w1", "c1"), ("w2", "c1"), ("w3", "c2")):
        platform.workspace(ws, cluster)
    platform.nodegroup("g1", "c1")
    for ns, cluster, ws in (("n1", "c1", "w1"), ("n2", "c1", "w2"), ("n3", "c2", "w3")):
        platform.namespace(ns, cluster, ws)
    platform.node("x1", "c1", "g1")
    root = platform.user("root", superuser=True)
    member = platform.user("member", groups=("viewers",))
    platform.apply(binding_manifest("member-w1", "workspace-viewer", "workspace", "w1", users=("member",)),
                   {"apiVersion": "iam.theriseunion.io/v1alpha1", "kind": "Category", "metadata": {"name": "tools"}},
                   {"apiVersion": "ext.theriseunion.io/v1alpha1", "kind": "Component",
                    "metadata": {"name": "agent", "namespace": "c1"}, "spec": {"version": "1.0.0"}})
    _lock_out("intruder")
    return {"root": issue_token(root), "member": issue_token(member)}


def _lock_out(name: str) -> None:
    from django.conf import settings as django_settings
    from django.test import Client

    for _ in range(django_settings.EDGE_LOCKOUT_FAILURES):
        Client().post("/oauth/token", {"grant_type": "password", "username": name, "password": "wrong"})


def _names() -> dict[str, list[str]]:
    """Names of the stored objects of every kind (a few each), plus audit event ids, locks and token ids."""
    from edgeplatform.resources.converters import registered
    from iam import lockout
    from iam.audit.models import AuditEvent
    from iam.models import AccessToken

    names: dict[str, list[str]] = {}
    for converter in registered():
        found = converter.model.objects.exclude(name="root").order_by("pk").values_list("name", flat=True)[:6]
        names.setdefault(converter.plural, []).extend(found)
        if converter.namespaced:
            names.setdefault(NAMESPACE_POOL, []).extend(converter.model.objects.values_list("namespace", flat=True)[:6])
    names["auditevents"] = [str(pk) for pk in AuditEvent.objects.order_by("-pk").values_list("pk", flat=True)[:3]]
    names["lockouts"] = [row["username"] for row in lockout.locked_accounts()] + ["member"]
    names["tokens"] = [str(pk) for pk in AccessToken.objects.filter(user__name="member").values_list("pk", flat=True)]
    names["clusters"] = ["c1", "c2"]
    return {plural: sorted(set(values)) for plural, values in names.items() if values}


@pytest.fixture
def in_process(fleet, db):
    """Requests through the WSGI handler stay in the test's transaction: Django must not close the connection
    at the start and end of each one (the test client detaches the same receivers)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield fleet
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _existing(segment: str) -> st.SearchStrategy[str]:
    # drawn from SEEDED when the case is drawn, not when the strategy is built (at collection)
    return st.integers(min_value=0, max_value=63).map(lambda i: _pick(segment, i))


def _pick(segment: str, index: int) -> str:
    pool = SEEDED.get(segment) or sorted({name for names in SEEDED.values() for name in names}) or ["c1"]
    return pool[index % len(pool)]


@schema.hook
def before_generate_path_parameters(context, strategy):
    """Half of the cases name objects that exist: each path parameter gets a stored name of the kind the URL
    segment before it names (``clusters/{cluster}``, ``workspaces/{name}``, ``tokens/{token_id}``)."""
    segments = context.operation.path.strip("/").split("/")
    before = {segment.strip("{}"): segments[index - 1] for index, segment in enumerate(segments)
              if segment.startswith("{") and index}
    real = st.fixed_dictionaries({param: _existing(NAMESPACE_POOL if param == "namespace" else segment)
                                  for param, segment in before.items()})
    return st.one_of(strategy, real) if before else strategy


# --- the tests ---------------------------------------------------------------------------------------------------
class Findings:
    """The distinct failures of one operation for one user: per check and status code, the shortest request that
    shows it. Every case runs, so one run lists all of them (Hypothesis would stop at the first)."""

    def __init__(self):
        self.found: dict[tuple[str, int], tuple[str, str, str]] = {}
        self.operation = ""

    def add(self, case, response, group: FailureGroup) -> None:
        """Keep each failure of ``group`` unless a shorter request already showed it."""
        self.operation = case.operation.label
        curl = case.as_curl_command(headers=dict(response.request.headers))
        for failure in group.exceptions:
            check = failure.checks[0] if failure.checks else failure.title
            FIGURES["failures"][check] += 1
            key = (check, response.status_code)
            if key not in self.found or len(curl) < len(self.found[key][2]):
                body = response.text[:300] if response.text else ""
                self.found[key] = (failure.message.strip().replace("\n\n", "\n"), body, curl)

    def report(self) -> str:
        """Every distinct failure: check, status, what the check said, the answer's start, a curl command."""
        parts = [f"{self.operation}: {len(self.found)} distinct failure(s):"]
        for (check, status), (message, body, curl) in sorted(self.found.items()):
            parts.append(f"\n[{check}] HTTP {status}\n{message}\nanswer: {body}\nreproduce: {curl}")
        return "\n".join(parts)


@pytest.fixture
def findings():
    """What the test's cases found; the test fails at its end when there is anything."""
    found = Findings()
    yield found
    if found.found:
        pytest.fail(found.report(), pytrace=False)


def exercise(case, token: str, found: Findings) -> None:
    """Send ``case`` with the user's bearer token and run :data:`CHECKS` on the answer."""
    FIGURES["requests"] += 1
    headers = {"Authorization": f"Bearer {token}"}
    response = case.call(headers=headers)
    FIGURES["statuses"][f"{case.method} {response.status_code}"] += 1
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as group:
        found.add(case, response, group)


FUZZ_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                               HealthCheck.too_slow, HealthCheck.filter_too_much])


@schema.parametrize()
@FUZZ_SETTINGS
def test_as_administrator(case, in_process, findings):
    """A superuser: every operation is allowed, so the cases reach validation and the write path."""
    exercise(case, in_process["root"], findings)


@schema.parametrize()
@FUZZ_SETTINGS
def test_as_workspace_member(case, in_process, findings):
    """A viewer of one workspace: most operations are refused or hide objects, and must say so as documented."""
    exercise(case, in_process["member"], findings)


@pytest.fixture(autouse=True, scope="module")
def _figures():
    """Write the run's figures once the module is done."""
    started = time.monotonic()
    yield
    FIGURES["seconds"] = round(time.monotonic() - started, 1)
    SUMMARY.parent.mkdir(exist_ok=True)
    SUMMARY.write_text(json.dumps({**FIGURES, "examples": EXAMPLES, "full": FULL, "seed": SEED,
                                   "statuses": dict(sorted(FIGURES["statuses"].items())),
                                   "failures": dict(FIGURES["failures"].most_common())}, indent=1) + "\n")


@pytest.fixture(autouse=True)
def _count_test():
    FIGURES["tests"] += 1
