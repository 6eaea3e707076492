"""Run a command (the test suite) against PostgreSQL and Redis when they are reachable.

``make test`` runs ``python -m edgeplatform.testenv -- pytest …``. Where ``DATABASE_URL`` /
``REDIS_URL`` are unset and the local servers answer, they are used; where they do not,
the suite runs on SQLite and the in-process cache. ``EDGE_TEST_DB=sqlite`` and
``EDGE_TEST_CACHE=local`` force the embedded defaults.
"""
from __future__ import annotations

import os
import socket
import sys


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _postgres_ok(url: str) -> bool:
    try:
        import psycopg

        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=2) as conn:
            conn.execute("select 1")
        return True
    except Exception:
        return False


def configure(env: dict) -> list[str]:
    """Fill ``env`` with the backends to use; return a description of each choice."""
    chosen = []
    if not env.get("DATABASE_URL") and env.get("EDGE_TEST_DB", "auto") != "sqlite":
        url = env.get("EDGE_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/edgeplatform")
        if _reachable("127.0.0.1", 5432) and _postgres_ok(url):
            # a name of its own per run, so that runs side by side never share a test database
            env["DATABASE_URL"] = f"{url}_{os.getpid()}"
    if not env.get("DATABASE_URL"):
        env.setdefault("EDGE_TEST_SQLITE", f"var/test-{os.getpid()}.sqlite3")
    chosen.append("database: " + ("PostgreSQL" if env.get("DATABASE_URL", "").startswith("postgres") else "SQLite"))
    if not env.get("REDIS_URL") and env.get("EDGE_TEST_CACHE", "auto") != "local" and _reachable("127.0.0.1", 6379):
        env["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    if env.get("REDIS_URL"):
        env.setdefault("EDGE_CACHE_PREFIX", f"edge-test-{os.getpid()}")
    chosen.append("cache: " + ("Redis" if env.get("REDIS_URL") else "in-process"))
    env.setdefault("CELERY_BROKER_URL", "memory://")
    return chosen


def main(argv: list[str]) -> None:
    """Configure the environment, then exec the command after ``--``."""
    command = argv[argv.index("--") + 1:] if "--" in argv else argv
    env = dict(os.environ)
    print("test backends:", ", ".join(configure(env)), flush=True)
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
