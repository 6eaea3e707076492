"""Benchmark of the permission engine (``iam.engine``) on a large synthetic fleet.

Run from the repository root::

    .venv/bin/python bench/permissions.py [--quick] [--postgres] [--redis]

What it does, all in one process:

1. Points Django at a database of its own, never the dev database: ``--postgres`` drops and
   re-creates ``edge_bench`` on 127.0.0.1:5432; otherwise ``$DATABASE_URL`` when set (it must
   name an empty database); otherwise a fresh SQLite file ``var/bench/permissions.sqlite3``.
   ``--redis`` (or ``$REDIS_URL``) makes the shared grant cache (L2) Redis (db 14, key prefix
   ``edge-bench``); without it L2 is Django's in-process local-memory cache. It then migrates,
   which installs the built-in roles, and empties the bench's L2 keys.
2. Builds the fleet with bulk inserts (not the API): users, clusters, workspaces, node groups,
   namespaces, nodes and role bindings, plus the ``BindingSubject`` index rows that
   ``IAMRoleBinding.save()`` would write (``bulk_create`` does not call ``save()``).
   Default size: 10,000 users, 500 clusters, 5,000 workspaces, 5,000 node groups, 50,000
   namespaces, 50,000 nodes, 100,000 bindings; ``--quick`` divides every count by 20.
3. Draws a check workload with a fixed seed: (user, verb, group, resource, scope path) where the
   path is a namespace or a node; about half the checks aim under one of the user's bound scopes,
   the rest anywhere, so both the allow and the deny path run. Namespace paths ask pod and
   deployment verbs, node paths node verbs.
4. Times every call with ``time.perf_counter_ns``:

   ========  ====================================================================================
   warm      grants in the in-process cache (L1), the steady state of a server: P50/P99, and
             checks per second over a tight loop without the per-call timer
   has_perm  the same checks through Django's ``user.has_perm("get:/pods", namespace)``, i.e.
             through every authentication backend (ModelBackend runs first)
   django    the Django spelling ``user.has_perm("clusters.view_namespace", namespace)`` on the same
             namespaces: a denial falls through to the object-permission (guardian) backend, so the
             denied checks are timed on their own and the database queries of the loop are counted
   objgrant  the Django spelling again after the guardian baseline below, for users who hold object
             permissions, on the baseline's (user, namespace) pairs
   redis     L1 empty, grants in L2 (after an eviction, or in a fresh process); named "redis"
             even when L2 is the local-memory cache (the output says which)
   db        L1 and L2 empty: the grants are computed from the database (then stored in L2)
   poll      the change-log poll on its own; redis and db run it just before each timed call so
             it is not charged to them (it runs inside whichever check finds it due, every
             ``EDGE_AUTHZ_POLL_INTERVAL``; the warm loop keeps it and counts how often it ran)
   guardian  baseline: the sampled users' namespace grants mirrored as django-guardian object
             permissions, a fresh ``ObjectPermissionChecker`` per check (no prefetch)
   uncached  baseline: for every check, query the user's bindings on the scope chain and match
             their rules (what the engine would cost without its caches)
   ========  ====================================================================================

   The warm answers are checked against the uncached walk (the ``has_perm`` answers against the warm
   ones, the Django-spelled ones against the engine's cascade and guardian); any mismatch makes the
   exit status 1.
5. Prints a table against the targets (warm P99 <= 50 us, warm >= 50,000 checks/s, db P99 <= 5 ms)
   and, as the very last line, one JSON object with every figure.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import sys
import time
from collections import namedtuple
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from bench/: make the project importable

STARTED = time.perf_counter()
SEED = 20240611
BATCH = 5000
FULL_SIZE = {"users": 10_000, "clusters": 500, "workspaces": 5_000, "nodegroups": 5_000,
             "namespaces": 50_000, "nodes": 50_000, "bindings": 100_000}
QUICK_DIVISOR = 20
#: how many timed calls each measurement makes (capped by the fleet's users where it samples users);
#: the uncached walk doubles as the verification sample, so it keeps its size with --quick
SAMPLES = {"warm": 200_000, "has_perm": 5_000, "redis": 2_000, "db": 1_000, "guardian_users": 1_000,
           "guardian": 2_000, "uncached": 2_000}
QUICK_SAMPLES = {"warm": 50_000, "has_perm": 2_000, "redis": 500, "db": 500, "guardian_users": 250,
                 "guardian": 500, "uncached": 2_000}
GUARDIAN_CAP = 200  # object permissions per user at most

#: binding level → weight (percent of the bindings)
LEVEL_MIX = {"cluster": 5, "workspace": 35, "nodegroup": 20, "namespace": 30, "node": 10}
#: the built-in roles each level's bindings choose from
ROLES = {
    "cluster": ("cluster-viewer", "cluster-admin"),
    "workspace": ("workspace-admin", "workspace-viewer"),
    "nodegroup": ("nodegroup-admin", "nodegroup-viewer"),
    "namespace": ("namespace-operator", "namespace-viewer"),
    "node": ("node-viewer",),
}
NAMESPACE_CHECKS = (("get", "", "pods"), ("list", "", "pods"), ("create", "apps", "deployments"))
NODE_CHECKS = (("get", "", "nodes"), ("update", "", "nodes"))

POSTGRES_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/edge_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
SQLITE_FILE = ROOT / "var" / "bench" / "permissions.sqlite3"

TARGETS = {"warm_p99_us": ("<=", 50.0), "warm_checks_per_s": (">=", 50_000.0), "db_p99_ms": ("<=", 5.0)}

#: one scope object: name, path, cluster name, index of its cluster, primary key
Scope = namedtuple("Scope", "name path cluster cluster_idx pk")
#: one check of the workload: user index, verb, group, resource, path, namespace index (-1 for a node)
Check = namedtuple("Check", "user verb group resource path ns")


# --- configuration --------------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    """Command line: --quick, --postgres, --redis."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"divide every fleet count by {QUICK_DIVISOR}")
    parser.add_argument("--postgres", action="store_true", help="use a fresh edge_bench database on 127.0.0.1")
    parser.add_argument("--redis", action="store_true", help=f"L2 in Redis ({REDIS_URL}, prefix edge-bench)")
    return parser.parse_args(argv)


def recreate_postgres() -> str:
    """Drop and create the ``edge_bench`` database; return its URL."""
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS edge_bench")
        conn.execute("CREATE DATABASE edge_bench")
    return POSTGRES_URL


def fresh_sqlite() -> str:
    """Delete the bench's SQLite file (and its WAL) and return a URL for a new one."""
    SQLITE_FILE.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{SQLITE_FILE}"


def configure(args: argparse.Namespace) -> None:
    """Set the environment Django reads (before ``django.setup()``): settings, database, cache."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "edgeplatform.settings"
    if args.redis:
        os.environ["REDIS_URL"] = REDIS_URL
        os.environ["EDGE_CACHE_PREFIX"] = "edge-bench"
    if args.postgres:
        os.environ["DATABASE_URL"] = recreate_postgres()
    elif not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = fresh_sqlite()


def setup_django() -> None:
    """django.setup(), migrate (installs the built-in roles) and empty the bench's L2 entries."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    clear_l2()


def clear_l2() -> None:
    """Forget grants a previous run left in L2 (user ids repeat from run to run)."""
    from django.core.cache import caches

    from iam.engine.cache import L2_PREFIX

    cache = caches["default"]
    if hasattr(cache, "delete_pattern"):  # django-redis: only our keys, under our prefix
        cache.delete_pattern(f"{L2_PREFIX}*")
    else:
        cache.clear()


def l2_backend() -> str:
    """``redis`` or ``locmem`` (the L2 the engine uses)."""
    from django.conf import settings

    backend = settings.CACHES["default"]["BACKEND"]
    return "redis" if "redis" in backend.lower() else backend.rsplit(".", 2)[-2]


def fleet_size(quick: bool) -> dict:
    """The fleet counts (divided by 20 with --quick)."""
    return {key: value // QUICK_DIVISOR for key, value in FULL_SIZE.items()} if quick else dict(FULL_SIZE)


def log(message: str) -> None:
    """A progress line, with the seconds since the start."""
    print(f"# [{time.perf_counter() - STARTED:6.1f} s] {message}", flush=True)


# --- the fleet ------------------------------------------------------------------------------------

@dataclass
class Fleet:
    """What was inserted, kept in memory so the workload can aim at real scopes."""

    counts: dict
    user_ids: list = field(default_factory=list)
    user_names: list = field(default_factory=list)
    scopes: dict = field(default_factory=dict)  # level → [Scope]
    ns_by_cluster: list = field(default_factory=list)  # cluster index → namespace indexes
    ns_by_workspace: list = field(default_factory=list)
    nodes_by_cluster: list = field(default_factory=list)
    nodes_by_nodegroup: list = field(default_factory=list)
    bindings_by_user: list = field(default_factory=list)  # user index → [(level, scope index)]

    def namespaces_under(self, level: str, idx: int) -> list:
        """Indexes of the namespaces at or below the scope ``idx`` of ``level``."""
        if level == "cluster":
            return self.ns_by_cluster[idx]
        if level == "workspace":
            return self.ns_by_workspace[idx]
        return [idx] if level == "namespace" else []

    def nodes_under(self, level: str, idx: int) -> list:
        """Indexes of the nodes at or below the scope ``idx`` of ``level``."""
        if level == "cluster":
            return self.nodes_by_cluster[idx]
        if level == "nodegroup":
            return self.nodes_by_nodegroup[idx]
        return [idx] if level == "node" else []


def insert(model, rows: list) -> list:
    """``bulk_create`` ``rows`` in batches; return their primary keys in order."""
    model.objects.bulk_create(rows, batch_size=BATCH)
    if rows and rows[0].pk is None:  # a backend that cannot return ids from a bulk insert
        by_name = dict(model.objects.values_list("name", "pk"))
        return [by_name[row.name] for row in rows]
    return [row.pk for row in rows]


def insert_users(fleet: Fleet) -> None:
    """Users ``u1``… with an unusable password."""
    from iam.models import User

    rows = [User(name=f"u{i + 1}", password="!") for i in range(fleet.counts["users"])]
    fleet.user_ids = insert(User, rows)
    fleet.user_names = [row.name for row in rows]
    fleet.bindings_by_user = [[] for _ in rows]


def insert_clusters(fleet: Fleet) -> None:
    """Clusters ``c1``… at ``clusters/c<i>``."""
    from clusters.models import Cluster

    rows = [Cluster(name=f"c{i + 1}", scope_path=f"clusters/c{i + 1}", spec={"type": "physical"})
            for i in range(fleet.counts["clusters"])]
    pks = insert(Cluster, rows)
    fleet.scopes["cluster"] = [Scope(row.name, row.scope_path, row.name, i, pk)
                               for i, (row, pk) in enumerate(zip(rows, pks, strict=True))]


def insert_in_cluster(fleet: Fleet, model, level: str, prefix: str, segment: str) -> None:
    """Workspaces or node groups, spread evenly over the clusters."""
    from clusters.models import CLUSTER_LABEL

    clusters = fleet.scopes["cluster"]
    parents = [clusters[i % len(clusters)] for i in range(fleet.counts[f"{level}s"])]
    rows = [model(name=f"{prefix}{i + 1}", cluster_id=parent.pk, labels={CLUSTER_LABEL: parent.name},
                  scope_path=f"{parent.path}/{segment}/{prefix}{i + 1}") for i, parent in enumerate(parents)]
    pks = insert(model, rows)
    fleet.scopes[level] = [Scope(row.name, row.scope_path, parent.name, parent.cluster_idx, pk)
                           for row, parent, pk in zip(rows, parents, pks, strict=True)]


def insert_leaves(fleet: Fleet, model, level: str, parent_level: str, prefix: str, segment: str) -> None:
    """Namespaces (over workspaces) or nodes (over node groups), spread evenly; fills the child indexes."""
    from clusters.models import NODEGROUP_LABEL, WORKSPACE_LABEL

    label, parent_field = (WORKSPACE_LABEL, "workspace_id") if level == "namespace" else \
        (NODEGROUP_LABEL, "nodegroup_id")
    parents = fleet.scopes[parent_level]
    clusters = fleet.scopes["cluster"]
    by_parent = [[] for _ in parents]
    by_cluster = [[] for _ in clusters]
    rows = []
    for i in range(fleet.counts[f"{level}s"]):
        p = i % len(parents)
        parent = parents[p]
        by_parent[p].append(i)
        by_cluster[parent.cluster_idx].append(i)
        rows.append(model(name=f"{prefix}{i + 1}", cluster_id=clusters[parent.cluster_idx].pk,
                          labels={label: parent.name}, scope_path=f"{parent.path}/{segment}/{prefix}{i + 1}",
                          **{parent_field: parent.pk}))
    pks = insert(model, rows)
    fleet.scopes[level] = [Scope(row.name, row.scope_path, parents[i % len(parents)].cluster,
                                 parents[i % len(parents)].cluster_idx, pk)
                           for i, (row, pk) in enumerate(zip(rows, pks, strict=True))]
    if level == "namespace":
        fleet.ns_by_workspace, fleet.ns_by_cluster = by_parent, by_cluster
    else:
        fleet.nodes_by_nodegroup, fleet.nodes_by_cluster = by_parent, by_cluster


def role_pks() -> dict:
    """Primary keys of the built-in roles the bindings use (installed by the migration)."""
    from iam.models import IAMRole

    wanted = [name for names in ROLES.values() for name in names]
    found = dict(IAMRole.objects.filter(name__in=wanted).values_list("name", "pk"))
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise SystemExit(f"built-in roles missing after migrate: {', '.join(missing)}")
    return found


def binding_row(number: int, role: str, role_pk: int, level: str, scope: Scope, username: str):
    """An IAMRoleBinding as the API would store it (labels, spec, scope columns and path)."""
    from iam.models import CLUSTER_LABEL, SCOPE_LABEL, SCOPE_VALUE_LABEL, IAMRoleBinding

    qualified = level in ("namespace", "node")
    labels = {SCOPE_LABEL: level, SCOPE_VALUE_LABEL: scope.name}
    if qualified:
        labels[CLUSTER_LABEL] = scope.cluster
    spec = {"roleRef": {"apiGroup": "iam.theriseunion.io", "kind": "IAMRole", "name": role},
            "subjects": [{"kind": "User", "name": username, "apiGroup": "iam.theriseunion.io"}]}
    return IAMRoleBinding(name=f"rb{number}", role_id=role_pk, scope_level=level, scope_value=scope.name,
                          scope_cluster=scope.cluster if qualified else "", scope_path=scope.path,
                          labels=labels, spec=spec)


def insert_bindings(fleet: Fleet, rng: random.Random) -> None:
    """Bindings of random users to random roles at random scopes (LEVEL_MIX), and their subject rows."""
    from iam.models import BindingSubject, IAMRoleBinding

    pks_by_role = role_pks()
    total = fleet.counts["bindings"]
    levels = rng.choices(list(LEVEL_MIX), weights=list(LEVEL_MIX.values()), k=total)
    rows, owners = [], []
    for number, level in enumerate(levels, start=1):
        user = rng.randrange(len(fleet.user_ids))
        idx = rng.randrange(len(fleet.scopes[level]))
        role = rng.choice(ROLES[level])
        rows.append(binding_row(number, role, pks_by_role[role], level, fleet.scopes[level][idx],
                                fleet.user_names[user]))
        owners.append(user)
        fleet.bindings_by_user[user].append((level, idx))
    pks = insert(IAMRoleBinding, rows)
    BindingSubject.objects.bulk_create(
        [BindingSubject(binding_id=pk, kind="User", name=fleet.user_names[user])
         for pk, user in zip(pks, owners, strict=True)], batch_size=BATCH)


def build_fleet(counts: dict, rng: random.Random) -> tuple[Fleet, float]:
    """Insert the whole fleet in one transaction; return it and the seconds it took."""
    from django.db import transaction

    from clusters.models import Namespace, Node, NodeGroup, Workspace

    started = time.perf_counter()
    fleet = Fleet(counts)
    with transaction.atomic():
        insert_users(fleet)
        insert_clusters(fleet)
        insert_in_cluster(fleet, Workspace, "workspace", "w", "workspaces")
        insert_in_cluster(fleet, NodeGroup, "nodegroup", "g", "nodegroups")
        insert_leaves(fleet, Namespace, "namespace", "workspace", "n", "namespaces")
        insert_leaves(fleet, Node, "node", "nodegroup", "x", "nodes")
        insert_bindings(fleet, rng)
    return fleet, time.perf_counter() - started


# --- the workload ---------------------------------------------------------------------------------

def aim_under_binding(fleet: Fleet, user: int, rng: random.Random) -> tuple[str, int] | None:
    """A (kind, index) namespace or node below one of ``user``'s bound scopes, or None."""
    bound = fleet.bindings_by_user[user]
    if not bound:
        return None
    level, idx = rng.choice(bound)
    options = [(kind, found) for kind, found in (("namespace", fleet.namespaces_under(level, idx)),
                                                  ("node", fleet.nodes_under(level, idx))) if found]
    if not options:
        return None
    kind, found = rng.choice(options)
    return kind, rng.choice(found)


def build_workload(fleet: Fleet, size: int, rng: random.Random) -> list[Check]:
    """``size`` checks: half aimed below a binding of the user, half at a random namespace or node."""
    checks = []
    for _ in range(size):
        user = rng.randrange(len(fleet.user_ids))
        target = aim_under_binding(fleet, user, rng) if rng.random() < 0.5 else None
        if target is None:
            kind = rng.choice(("namespace", "node"))
            target = (kind, rng.randrange(len(fleet.scopes[kind])))
        kind, idx = target
        verb, group, resource = rng.choice(NAMESPACE_CHECKS if kind == "namespace" else NODE_CHECKS)
        checks.append(Check(user, verb, group, resource, fleet.scopes[kind][idx].path,
                            idx if kind == "namespace" else -1))
    return checks


def load_users(fleet: Fleet) -> list:
    """The User rows, by user index (what ``request.user`` would be)."""
    from iam.models import User

    by_pk = User.objects.in_bulk(fleet.user_ids)
    return [by_pk[pk] for pk in fleet.user_ids]


def load_namespaces(fleet: Fleet, indexes) -> dict:
    """Namespace rows by namespace index."""
    from clusters.models import Namespace

    pks = {idx: fleet.scopes["namespace"][idx].pk for idx in set(indexes)}
    rows = Namespace.objects.in_bulk(list(pks.values()))
    return {idx: rows[pk] for idx, pk in pks.items()}


# --- measuring ------------------------------------------------------------------------------------

def percentile(sorted_values: list, q: float) -> float:
    """The nearest-rank percentile ``q`` (0..1) of already sorted values."""
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def p50_p99(durations_ns: list, unit_ns: float) -> tuple[float, float]:
    """P50 and P99 of durations in nanoseconds, in units of ``unit_ns`` (1e3: µs, 1e6: ms)."""
    values = sorted(durations_ns)
    return percentile(values, 0.50) / unit_ns, percentile(values, 0.99) / unit_ns


def level_deltas(stats: dict, before: dict) -> dict:
    """How many lookups each cache level served since ``before``."""
    return {key: stats[key] - before[key] for key in ("l1_hits", "l2_hits", "db_loads")}


def measure_warm(engine, users: list, checks: list[Check]) -> dict:
    """Fill L1 with every user of the workload, then time each check and a tight loop of all of them."""
    allowed, clock = engine.allowed, time.perf_counter_ns
    for user_idx in dict.fromkeys(check.user for check in checks):
        allowed(users[user_idx], "get", "", "pods", "platform")
    calls = [(users[c.user], c.verb, c.group, c.resource, c.path) for c in checks]
    before = dict(engine.cache.stats)
    durations, answers = [], []
    for user, verb, group, resource, path in calls:
        started = clock()
        answer = allowed(user, verb, group, resource, path)
        durations.append(clock() - started)
        answers.append(answer)
    started = clock()
    for user, verb, group, resource, path in calls:
        allowed(user, verb, group, resource, path)
    loop_ns = clock() - started
    misses = level_deltas(engine.cache.stats, before)
    p50, p99 = p50_p99(durations, 1e3)
    return {"warm_p50_us": p50, "warm_p99_us": p99, "warm_checks_per_s": len(calls) / (loop_ns / 1e9),
            "warm_checks": len(calls), "warm_l1_misses": misses["l2_hits"] + misses["db_loads"],
            "warm_polls": engine.cache.stats["polls"] - before["polls"],
            "allow_ratio": sum(answers) / len(answers), "_answers": answers}


def measure_poll(engine, size: int = 500) -> dict:
    """The change-log poll alone (it runs inside whichever check finds it due, every poll interval)."""
    clock, durations = time.perf_counter_ns, []
    for _ in range(size):
        started = clock()
        engine.cache.poll()
        durations.append(clock() - started)
    p50, p99 = p50_p99(durations, 1e3)
    return {"poll_p50_us": p50, "poll_p99_us": p99}


def measure_has_perm(fleet: Fleet, users: list, checks: list[Check], answers: list, size: int) -> dict:
    """Time ``user.has_perm("<verb>:<group>/<resource>", namespace)`` (warm L1) on namespace checks."""
    picked = [i for i, check in enumerate(checks) if check.ns >= 0][:size]
    objects = load_namespaces(fleet, (checks[i].ns for i in picked))
    calls = [(i, users[checks[i].user], f"{checks[i].verb}:{checks[i].group}/{checks[i].resource}",
              objects[checks[i].ns]) for i in picked]
    clock, durations, mismatches = time.perf_counter_ns, [], 0
    for i, user, perm, obj in calls:
        started = clock()
        answer = user.has_perm(perm, obj)
        durations.append(clock() - started)
        mismatches += answer != answers[i]
    p50, p99 = p50_p99(durations, 1e3)
    return {"has_perm_p50_us": p50, "has_perm_p99_us": p99, "has_perm_checks": len(calls),
            "has_perm_mismatches": mismatches}


class QueryCounter:
    """Counts the SQL statements run on the default connection while installed (``execute_wrapper``)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def time_django_spelling(engine, calls: list, expected: list) -> tuple[list, list, int, int]:
    """Time ``user.has_perm("clusters.view_namespace", obj)`` for (user, obj) ``calls``.

    Returns (durations, denied durations, mismatches against ``expected``, SQL statements run other
    than the change-log polls).
    """
    from django.db import connection

    clock, durations, denied, mismatches = time.perf_counter_ns, [], [], 0
    counter, polls = QueryCounter(), engine.cache.stats["polls"]
    with connection.execute_wrapper(counter):
        for (user, obj), want in zip(calls, expected, strict=True):
            started = clock()
            answer = user.has_perm("clusters.view_namespace", obj)
            elapsed = clock() - started
            durations.append(elapsed)
            if not answer:
                denied.append(elapsed)
            mismatches += answer != want
    return durations, denied, mismatches, counter.count - (engine.cache.stats["polls"] - polls)


def measure_has_perm_django(engine, fleet: Fleet, users: list, checks: list[Check], size: int) -> dict:
    """Time the Django spelling ``user.has_perm("clusters.view_namespace", namespace)`` (warm L1).

    Same users and namespaces as ``measure_has_perm``; no object permissions exist yet, so the answer
    must be the cascade's for ``get`` on namespaces.
    """
    picked = [check for check in checks if check.ns >= 0][:size]
    objects = load_namespaces(fleet, (check.ns for check in picked))
    calls = [(users[check.user], objects[check.ns]) for check in picked]
    expected = [engine.allowed(user, "get", "", "namespaces", obj.scope_path) for user, obj in calls]
    durations, denied, mismatches, queries = time_django_spelling(engine, calls, expected)
    p50, p99 = p50_p99(durations, 1e3)
    deny_p50, deny_p99 = p50_p99(denied, 1e3)
    return {"has_perm_django_p50_us": p50, "has_perm_django_p99_us": p99, "has_perm_django_deny_p50_us": deny_p50,
            "has_perm_django_deny_p99_us": deny_p99, "has_perm_django_checks": len(calls),
            "has_perm_django_denied": len(denied), "has_perm_django_queries": queries,
            "has_perm_django_mismatches": mismatches}


def measure_has_perm_object_grants(engine, calls: list, granted: list) -> dict:
    """The Django spelling for users who hold guardian object permissions (after the guardian baseline).

    The answer must be the cascade's or guardian's: allowed when either allows.
    """
    for user, _obj in calls:  # warm L1 (the grants were just recomputed: the rows changed)
        engine.allowed(user, "get", "", "pods", "platform")
    expected = [bool(grant) or engine.allowed(user, "get", "", "namespaces", obj.scope_path)
                for (user, obj), grant in zip(calls, granted, strict=True)]
    durations, denied, mismatches, queries = time_django_spelling(engine, calls, expected)
    p50, p99 = p50_p99(durations, 1e3)
    deny_p50, deny_p99 = p50_p99(denied, 1e3)
    return {"has_perm_objgrant_p50_us": p50, "has_perm_objgrant_p99_us": p99,
            "has_perm_objgrant_deny_p50_us": deny_p50, "has_perm_objgrant_deny_p99_us": deny_p99,
            "has_perm_objgrant_checks": len(calls),
            "has_perm_objgrant_queries": queries, "has_perm_objgrant_mismatches": mismatches}


def first_check_per_user(checks: list[Check], users: list, size: int, rng: random.Random) -> list:
    """``size`` random (user, check) pairs, one per user, each with a check of that user's."""
    firsts = {}
    for check in checks:
        firsts.setdefault(check.user, check)
    picked = rng.sample(sorted(firsts), min(size, len(firsts)))
    return [(users[u], firsts[u]) for u in picked]


def measure_l2(engine, pairs: list) -> dict:
    """Cold L1, L2 hit: put each user's grants in L2, empty L1, time one check."""
    stats, clock, durations, hits = engine.cache.stats, time.perf_counter_ns, [], 0
    for user, check in pairs:
        engine.cache.drop_l1()
        engine.allowed(user, check.verb, check.group, check.resource, check.path)  # now in L2 for sure
        engine.cache.drop_l1()
        engine.cache.poll()  # not due during the timed call (the poll is measured on its own)
        before = dict(stats)
        started = clock()
        engine.allowed(user, check.verb, check.group, check.resource, check.path)
        durations.append(clock() - started)
        hits += level_deltas(stats, before)["l2_hits"]
    p50, p99 = p50_p99(durations, 1e3)
    return {"redis_p50_us": p50, "redis_p99_us": p99, "redis_checks": len(pairs), "redis_l2_hits": hits}


def measure_db(engine, pairs: list) -> dict:
    """Cold L1 and L2: delete each user's L2 entry, empty L1, time one check (grants from the database)."""
    from django.core.cache import caches

    from iam.engine.cache import L2_PREFIX

    cache, stats, clock, durations, loads = caches["default"], engine.cache.stats, time.perf_counter_ns, [], 0
    for user, check in pairs:
        cache.delete(f"{L2_PREFIX}{user.pk}")
        engine.cache.drop_l1()
        engine.cache.poll()
        before = dict(stats)
        started = clock()
        engine.allowed(user, check.verb, check.group, check.resource, check.path)
        durations.append(clock() - started)
        loads += level_deltas(stats, before)["db_loads"]
    p50, p99 = p50_p99(durations, 1e6)
    return {"db_p50_ms": p50, "db_p99_ms": p99, "db_checks": len(pairs), "db_loads": loads}


def grant_guardian(fleet: Fleet, user_indexes: list, rng: random.Random) -> dict:
    """Mirror the users' namespace grants as guardian ``view_namespace`` rows; return user → namespaces."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db import transaction
    from guardian.models import UserObjectPermission

    from clusters.models import Namespace
    from iam.signals import record_change

    ctype = ContentType.objects.get_for_model(Namespace)
    permission = Permission.objects.get(content_type=ctype, codename="view_namespace")
    covered, rows = {}, []
    for u in user_indexes:
        found = sorted({ns for level, idx in fleet.bindings_by_user[u] for ns in fleet.namespaces_under(level, idx)})
        covered[u] = rng.sample(found, GUARDIAN_CAP) if len(found) > GUARDIAN_CAP else found
        rows += [UserObjectPermission(user_id=fleet.user_ids[u], permission=permission, content_type=ctype,
                                      object_pk=str(fleet.scopes["namespace"][ns].pk)) for ns in covered[u]]
    with transaction.atomic():
        UserObjectPermission.objects.bulk_create(rows, batch_size=BATCH)
        # bulk_create sends no signals: announce the new object permissions as any bulk writer must
        record_change([fleet.user_ids[u] for u in user_indexes])
    return covered


def measure_guardian(fleet: Fleet, users: list, n_users: int, size: int, rng: random.Random) -> dict:
    """django-guardian baseline: a fresh ObjectPermissionChecker per (user, namespace) check."""
    from guardian.core import ObjectPermissionChecker

    user_indexes = rng.sample(range(len(users)), min(n_users, len(users)))
    covered = grant_guardian(fleet, user_indexes, rng)
    pairs = []
    for k in range(size):
        u = rng.choice(user_indexes)
        granted = covered[u] and k % 2 == 0  # half on a granted namespace, half anywhere
        pairs.append((u, rng.choice(covered[u]) if granted else rng.randrange(len(fleet.scopes["namespace"]))))
    objects = load_namespaces(fleet, (ns for _, ns in pairs))
    calls = [(users[u], objects[ns]) for u, ns in pairs]
    clock, durations, answers = time.perf_counter_ns, [], []
    for user, obj in calls:
        started = clock()
        answers.append(ObjectPermissionChecker(user).has_perm("view_namespace", obj))
        durations.append(clock() - started)
    p50, p99 = p50_p99(durations, 1e3)
    return {"guardian_p50_us": p50, "guardian_p99_us": p99, "guardian_checks": len(calls),
            "guardian_rows": sum(len(v) for v in covered.values()), "guardian_allow_ratio": sum(answers) / len(calls),
            "_guardian_calls": calls, "_guardian_answers": answers}


def uncached_allowed(username: str, verb: str, group: str, resource: str, path: str) -> bool:
    """The cascade without caches: the user's bindings on the chain of ``path``, their rules matched."""
    from edgeplatform.resources.scopes import chain
    from iam.engine.rules import compile_rules
    from iam.models import IAMRoleBinding

    rules = []
    for role_rules in (IAMRoleBinding.objects
                       .filter(subject_rows__kind="User", subject_rows__name=username, scope_path__in=chain(path))
                       .values_list("role__effective_rules", flat=True)):
        rules.extend(role_rules or [])
    return compile_rules(rules).allows(verb, group, resource)


def measure_uncached(fleet: Fleet, checks: list[Check], answers: list, size: int) -> dict:
    """Time the uncached walk on the first ``size`` checks and compare it with the warm answers."""
    from iam.models import BindingSubject

    if BindingSubject.objects.exclude(kind="User").exists():
        raise SystemExit("the fleet has group subjects: the uncached walk (users only) would not be equivalent")
    clock, durations, mismatches = time.perf_counter_ns, [], []
    for i, check in enumerate(checks[:size]):
        started = clock()
        answer = uncached_allowed(fleet.user_names[check.user], check.verb, check.group, check.resource, check.path)
        durations.append(clock() - started)
        if answer != answers[i]:
            mismatches.append((fleet.user_names[check.user], *check[1:5], answers[i], answer))
    p50, p99 = p50_p99(durations, 1e3)
    return {"uncached_p50_us": p50, "uncached_p99_us": p99, "uncached_checks": min(size, len(checks)),
            "mismatches": len(mismatches), "_mismatch_examples": mismatches[:5]}


# --- reporting ------------------------------------------------------------------------------------

def verdict(key: str, value: float) -> tuple[str, str]:
    """(target text, ok/MISS) for a figure with a target, ("", "") otherwise."""
    if key not in TARGETS:
        return "", ""
    op, bound = TARGETS[key]
    ok = value <= bound if op == "<=" else value >= bound
    return f"{op} {bound:,.0f}", "ok" if ok else "MISS"


def table_rows(r: dict) -> list[tuple[str, str, str]]:
    """(figure, key, formatted value) rows of the table."""
    return [
        ("warm P50 (L1)", "warm_p50_us", f"{r['warm_p50_us']:.2f} µs"),
        ("warm P99 (L1)", "warm_p99_us", f"{r['warm_p99_us']:.2f} µs"),
        ("warm throughput", "warm_checks_per_s", f"{r['warm_checks_per_s']:,.0f} checks/s"),
        ("user.has_perm P50 (warm)", "has_perm_p50_us", f"{r['has_perm_p50_us']:.2f} µs"),
        ("user.has_perm P99 (warm)", "has_perm_p99_us", f"{r['has_perm_p99_us']:.2f} µs"),
        ("has_perm Django spelling P50", "has_perm_django_p50_us", f"{r['has_perm_django_p50_us']:.2f} µs"),
        ("has_perm Django spelling P99", "has_perm_django_p99_us", f"{r['has_perm_django_p99_us']:.2f} µs"),
        ("… denied only P50 / P99", "has_perm_django_deny_p99_us",
         f"{r['has_perm_django_deny_p50_us']:.2f} / {r['has_perm_django_deny_p99_us']:.2f} µs"),
        ("… SQL statements in the loop", "has_perm_django_queries",
         f"{r['has_perm_django_queries']} / {r['has_perm_django_checks']} checks"),
        ("… with object grants P50 / P99", "has_perm_objgrant_p99_us",
         f"{r['has_perm_objgrant_p50_us']:.2f} / {r['has_perm_objgrant_p99_us']:.2f} µs"),
        ("… with object grants, SQL statements", "has_perm_objgrant_queries",
         f"{r['has_perm_objgrant_queries']} / {r['has_perm_objgrant_checks']} checks"),
        (f"L2 hit P50 ({r['l2_backend']})", "redis_p50_us", f"{r['redis_p50_us']:.2f} µs"),
        (f"L2 hit P99 ({r['l2_backend']})", "redis_p99_us", f"{r['redis_p99_us']:.2f} µs"),
        ("db load P50 (cold L1+L2)", "db_p50_ms", f"{r['db_p50_ms']:.2f} ms"),
        ("db load P99 (cold L1+L2)", "db_p99_ms", f"{r['db_p99_ms']:.2f} ms"),
        ("change-log poll P50", "poll_p50_us", f"{r['poll_p50_us']:.2f} µs"),
        ("change-log poll P99", "poll_p99_us", f"{r['poll_p99_us']:.2f} µs"),
        ("guardian P50 (fresh checker)", "guardian_p50_us", f"{r['guardian_p50_us']:.2f} µs"),
        ("guardian P99 (fresh checker)", "guardian_p99_us", f"{r['guardian_p99_us']:.2f} µs"),
        ("uncached walk P50", "uncached_p50_us", f"{r['uncached_p50_us']:.2f} µs"),
        ("uncached walk P99", "uncached_p99_us", f"{r['uncached_p99_us']:.2f} µs"),
        ("uncached / warm (P50)", "uncached_over_warm_p50", f"{r['uncached_over_warm_p50']:,.1f}x"),
        ("guardian / warm (P50)", "guardian_over_warm_p50", f"{r['guardian_over_warm_p50']:,.1f}x"),
        ("allow ratio (workload)", "allow_ratio", f"{r['allow_ratio']:.2f}"),
        ("mismatches warm vs uncached", "mismatches", f"{r['mismatches']}"),
        ("mismatches has_perm vs warm", "has_perm_mismatches", f"{r['has_perm_mismatches']}"),
        ("mismatches Django spelling", "has_perm_django_mismatches", f"{r['has_perm_django_mismatches']}"),
        ("mismatches Django spelling, object grants", "has_perm_objgrant_mismatches",
         f"{r['has_perm_objgrant_mismatches']}"),
    ]


def print_table(r: dict) -> None:
    """The readable table: figure, value, target, ok/MISS."""
    header = ("figure", "value", "target", "")
    lines = []
    for figure, key, text in table_rows(r):
        target, status = verdict(key, r[key])
        if key.endswith("mismatches"):
            target, status = "= 0", "ok" if r[key] == 0 else "MISS"
        lines.append((figure, text, target, status))
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(4)]
    rule = "  ".join("-" * w for w in widths)
    print(rule)
    for row in [header, *lines]:
        print("  ".join(cell.ljust(w) if i != 1 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths,
                                                                                                        strict=True))))
    print(rule)


def summary(r: dict) -> dict:
    """The JSON line: public figures only, floats rounded to 2 decimals."""
    return {key: round(value, 2) if isinstance(value, float) else value
            for key, value in r.items() if not key.startswith("_")}


# --- main -----------------------------------------------------------------------------------------

def phase(message: str) -> None:
    """Announce a measurement and start it with a clean heap (a collection is not charged to it)."""
    log(message)
    gc.collect()


def run(args: argparse.Namespace) -> dict:
    """Build, measure, and return every figure."""
    from django.db import connection

    from iam.engine import engine

    counts = fleet_size(args.quick)
    samples = QUICK_SAMPLES if args.quick else SAMPLES
    rng = random.Random(SEED)
    results = {"fleet": counts, "database": connection.vendor, "l2_backend": l2_backend()}
    log(f"database {connection.vendor} ({connection.settings_dict['NAME']}), L2 {results['l2_backend']}; "
        f"building fleet {counts}")
    fleet, results["build_s"] = build_fleet(counts, rng)
    log(f"fleet built in {results['build_s']:.1f} s")
    checks = build_workload(fleet, samples["warm"], rng)
    users = load_users(fleet)
    engine.cache.reset()
    phase(f"warm: filling L1 for {len({c.user for c in checks})} users, then {len(checks)} checks")
    results.update(measure_warm(engine, users, checks))
    answers = results["_answers"]
    phase("has_perm")
    results.update(measure_has_perm(fleet, users, checks, answers, samples["has_perm"]))
    phase("has_perm, Django spelling")
    results.update(measure_has_perm_django(engine, fleet, users, checks, samples["has_perm"]))
    phase("uncached walk (and verification of the warm answers)")
    results.update(measure_uncached(fleet, checks, answers, samples["uncached"]))
    phase("change-log poll")
    results.update(measure_poll(engine))
    phase("L2 hits")
    results.update(measure_l2(engine, first_check_per_user(checks, users, samples["redis"], rng)))
    phase("database loads")
    results.update(measure_db(engine, first_check_per_user(checks, users, samples["db"], rng)))
    phase("guardian baseline")
    results.update(measure_guardian(fleet, users, samples["guardian_users"], samples["guardian"], rng))
    phase("has_perm, Django spelling, users with object grants")
    results.update(measure_has_perm_object_grants(engine, results["_guardian_calls"], results["_guardian_answers"]))
    results["uncached_over_warm_p50"] = results["uncached_p50_us"] / results["warm_p50_us"]
    results["guardian_over_warm_p50"] = results["guardian_p50_us"] / results["warm_p50_us"]
    results["l1_size_setting"] = _setting("EDGE_AUTHZ_CACHE_SIZE")
    return results


def _setting(name: str):
    from django.conf import settings

    return getattr(settings, name)


def main(argv=None) -> int:
    """Entry point: exit status 1 when an answer differs between the engine and the uncached walk."""
    args = parse_args(argv)
    configure(args)
    setup_django()
    log("migrated")
    results = run(args)
    results["wall_s"] = time.perf_counter() - STARTED
    for example in results["_mismatch_examples"]:
        log(f"MISMATCH user, verb, group, resource, path, warm, uncached = {example}")
    print_table(results)
    print(json.dumps(summary(results)), flush=True)
    failed = results["mismatches"] or results["has_perm_mismatches"] or results["has_perm_django_mismatches"] \
        or results["has_perm_objgrant_mismatches"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
