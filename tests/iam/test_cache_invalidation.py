"""Grants are cached per process (L1) and shared (L2); a change is seen at once by the process that made it
and within one second by any other process (DESIGN §3)."""
import os
import subprocess
import sys
import time
from urllib.parse import quote

import pytest
from django.db import connection

from iam.engine import engine
from tests.paths import ROOT
from tests.support import binding_manifest

pytestmark = [pytest.mark.multiprocess, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def database_url(settings: dict) -> str:
    """A DATABASE_URL naming the test database with every setting of this connection (user, password, host, port)."""
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user, password = quote(settings.get("USER") or "", safe=""), quote(settings.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host, port, name = settings.get("HOST") or "127.0.0.1", settings.get("PORT") or 5432, quote(settings["NAME"])
    if host.startswith("/"):  # a socket directory goes in the path (django-environ's spelling)
        return f"postgres://{credentials}:{port}/{quote(host, safe='')}/{name}"
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    return f"postgres://{credentials}{host}:{port}/{name}"


class Probe:
    """A second platform process, on the same database and shared cache."""

    def __init__(self):
        env = dict(os.environ)
        env["DATABASE_URL"] = database_url(connection.settings_dict)
        env["PYTHONPATH"] = str(ROOT)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.probe"], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def allowed(self, user: str, verb: str, group: str, resource: str, path: str) -> bool:
        """One check in the other process."""
        self.proc.stdin.write(f"{user} {verb} {group or '-'} {resource} {path}\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip() == "1"

    def seconds_until(self, expected: bool, *check, limit: float = 3.0) -> float:
        """How long until the other process answers ``expected`` (checked every 20 ms)."""
        started = time.monotonic()
        while self.allowed(*check) != expected:
            if time.monotonic() - started > limit:
                return float("inf")
            time.sleep(0.02)
        return time.monotonic() - started

    def close(self):
        """Stop the process."""
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


@pytest.fixture
def site(platform):
    platform.cluster("c1")
    platform.workspace("w1", "c1")
    platform.namespace("n1", "c1", "w1")
    return platform


NS = "clusters/c1/workspaces/w1/namespaces/n1"
CHECK = ("ann", "get", "", "pods", NS)


def test_binding_and_revocation_reach_another_process_within_a_second(site, probe):
    user = site.user("ann")
    assert not probe.allowed(*CHECK)  # cached as "no grants" in the other process
    assert not engine.allowed(user, "get", "", "pods", NS)
    binding = site.bind("ann-w1", "workspace-viewer", "workspace", "w1", users=("ann",))
    assert engine.allowed(user, "get", "", "pods", NS)  # at once here
    assert probe.seconds_until(True, *CHECK) <= 1.0
    binding.delete()
    assert not engine.allowed(user, "get", "", "pods", NS)
    assert probe.seconds_until(False, *CHECK) <= 1.0


def test_group_membership_and_role_changes_reach_another_process(site, probe):
    user = site.user("ann", groups=("ops",))
    site.apply(binding_manifest("ops-w1", "workspace-viewer", "workspace", "w1", groups=("ops",)))
    assert probe.seconds_until(True, *CHECK) <= 1.0
    user.groups.clear()
    assert probe.seconds_until(False, *CHECK) <= 1.0
    user.groups.add(*__import__("django.contrib.auth.models", fromlist=["Group"]).Group.objects.filter(name="ops"))
    assert probe.seconds_until(True, *CHECK) <= 1.0
    # a template change re-aggregates the role: drop pods from what viewers aggregate
    from iam.models import RoleTemplate

    for template in RoleTemplate.objects.all():
        if template.level != "workspace":
            continue
        spec = dict(template.spec)
        spec["rules"] = [r for r in spec["rules"] if "pods" not in r.get("resources", [])]
        template.spec = spec
        template.save()
    assert not engine.allowed(user, "get", "", "pods", NS)
    assert probe.seconds_until(False, *CHECK) <= 1.0


def test_the_shared_cache_serves_a_fresh_process(site):
    user = site.user("ann")
    site.bind("ann-w1", "workspace-viewer", "workspace", "w1", users=("ann",))
    engine.allowed(user, "get", "", "pods", NS)  # computed here, stored in L2
    engine.cache.drop_l1()
    before = dict(engine.cache.stats)
    assert engine.allowed(user, "get", "", "pods", NS)
    assert engine.cache.stats["l2_hits"] == before["l2_hits"] + 1
    assert engine.cache.stats["db_loads"] == before["db_loads"]


def test_the_other_process_gets_every_database_setting():
    """A PostgreSQL that needs a password (or listens on a socket) is reached by the other process too."""
    import environ

    settings = {"ENGINE": "django.db.backends.postgresql", "NAME": "test_edge", "USER": "edge",
                "PASSWORD": "p@ss:w/rd", "HOST": "db.internal", "PORT": "6432"}
    parsed = environ.Env.db_url_config(database_url(settings))
    assert {key: str(parsed[key]) for key in ("NAME", "USER", "PASSWORD", "HOST", "PORT")} == \
        {"NAME": "test_edge", "USER": "edge", "PASSWORD": "p@ss:w/rd", "HOST": "db.internal", "PORT": "6432"}
    socket = environ.Env.db_url_config(database_url({**settings, "HOST": "/var/run/postgresql", "PASSWORD": ""}))
    assert (socket["HOST"], socket["USER"], socket["NAME"]) == ("/var/run/postgresql", "edge", "test_edge")
