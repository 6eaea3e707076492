"""What the audit log costs a write: N workspace creates through the API, with and without it.

Run from the repository root::

    .venv/bin/python bench/audit_overhead.py [--quick] [--postgres] [-n 200]

Uses a database of its own (``--postgres``: drops and re-creates ``edge_bench_audit`` on 127.0.0.1:5432;
otherwise a fresh SQLite file ``var/bench/audit.sqlite3``), migrates, and makes a platform admin with a
bearer token. Then it alternates rounds of N ``POST /oapis/scope.theriseunion.io/v1alpha1/workspaces``
with the audit log's write-path receivers connected (``audit``) and disconnected (``off``), and reports
the median time per create of each and their ratio. The audited rounds' chain is verified at the end.
The last line is one JSON object with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SQLITE_FILE = ROOT / "var" / "bench" / "audit.sqlite3"
POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/edge_bench_audit"


def configure(args) -> str:
    """Point Django at the bench's own database; return its description."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "edgeplatform.settings"
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    if args.postgres:
        import psycopg

        with psycopg.connect(POSTGRES_ADMIN_DSN, autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS edge_bench_audit")
            conn.execute("CREATE DATABASE edge_bench_audit")
        os.environ["DATABASE_URL"] = POSTGRES_URL
        return "PostgreSQL"
    SQLITE_FILE.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{SQLITE_FILE}"
    return "SQLite"


def main() -> int:
    """Run the rounds and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 creates per round, 2 rounds each")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("-n", type=int, default=200, help="creates per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n, rounds = (50, 2) if args.quick else (args.n, args.rounds)
    database = configure(args)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from iam.audit import receivers
    from iam.audit.chain import verify
    from iam.audit.models import AuditEvent
    from tests.support import ApiClient, Platform

    platform = Platform()
    platform.cluster("c1")
    client = ApiClient.for_user(platform.user("bench-admin", superuser=True))
    url = "/oapis/scope.theriseunion.io/v1alpha1/workspaces"
    times = {"audit": [], "off": []}
    for r in range(rounds):
        for mode in ("audit", "off"):
            (receivers.connect if mode == "audit" else receivers.disconnect)()
            before = AuditEvent.objects.count()
            started = time.perf_counter()
            for i in range(n):
                body = {"metadata": {"name": f"{mode}-{r}-{i}", "labels": {"scope.theriseunion.io/cluster": "c1"}},
                        "spec": {"displayName": f"bench {i}"}}
                response = client.post(url, body)
                assert response.status_code == 201, response.content
            times[mode].append((time.perf_counter() - started) / n)
            written = AuditEvent.objects.count() - before
            assert written == (n if mode == "audit" else 0), (mode, written)
    receivers.connect()
    check = verify()
    audit_ms = statistics.median(times["audit"]) * 1000
    off_ms = statistics.median(times["off"]) * 1000
    result = {"database": database, "creates_per_round": n, "rounds": rounds, "audit_ms_per_create": round(audit_ms, 3),
              "off_ms_per_create": round(off_ms, 3), "ratio": round(audit_ms / off_ms, 3),
              "added_ms_per_create": round(audit_ms - off_ms, 3), "chain_ok": check.ok, "events": check.checked}
    print(f"database {database}, {n} creates x {rounds} rounds each")
    print(f"{'mode':<8}{'median ms/create':>18}")
    print(f"{'audit':<8}{audit_ms:>18.3f}")
    print(f"{'off':<8}{off_ms:>18.3f}")
    print(f"ratio {result['ratio']:.3f} (+{result['added_ms_per_create']:.3f} ms per create); "
          f"chain verified: {check.ok}")
    print(json.dumps(result))
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
