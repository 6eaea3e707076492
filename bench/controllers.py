"""Controller base: what running a reconcile through it costs, against calling the same steps directly.

Run from the repository root::

    .venv/bin/python bench/controllers.py [--quick] [-n 1000]

Uses its own SQLite file (``var/bench/controllers.sqlite3``), in one process. N workspaces are created through
the write path, then a controller of two no-op ``ensure_*`` steps reconciles each of them:

- **direct**: the row re-read and the two steps called, nothing else (what a task without the base would do);
- **base, first**: ``engine.reconcile`` on each: lease, state row, steps, status written through the write
  path (``Ready`` appears: one status write and one audit event per object), metrics;
- **base, steady**: the same again with nothing to change (no status write, no audit event): the overhead
  every periodic reconcile pays.

The last line is one JSON object with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WORK = ROOT / "var" / "bench"
SQLITE_FILE = WORK / "controllers.sqlite3"


def configure() -> None:
    """Point Django at the bench's own database."""
    WORK.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    os.environ.update(DJANGO_SETTINGS_MODULE="edgeplatform.settings", CELERY_BROKER_URL="memory://",
                      DATABASE_URL=f"sqlite:///{SQLITE_FILE}")
    os.environ.pop("EDGE_KUBECONFIG", None)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    """Run the phases and print the table and the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 objects instead of 1,000")
    parser.add_argument("-n", type=int, default=1000)
    args = parser.parse_args()
    n = 100 if args.quick else args.n
    configure()

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from clusters.models import Workspace
    from edgeplatform.controllers.base import Controller
    from edgeplatform.controllers.engine import reconcile
    from tests.support import Platform

    class NoOp(Controller):
        """Two steps that find everything in place."""

        name = "bench-noop"
        model = Workspace
        steps = ("ensure_one", "ensure_two")

        def ensure_one(self, obj, run):
            """Nothing to do."""

        def ensure_two(self, obj, run):
            """Nothing to do."""

    platform = Platform()
    platform.cluster("edge")
    for index in range(n):
        platform.workspace(f"w{index}", "edge")
    keys = list(Workspace.objects.order_by("pk").values_list("pk", flat=True))
    controller = NoOp()

    def direct():
        for key in keys:
            obj = controller.load(key)
            for step in controller.steps:
                getattr(controller, step)(obj, None)

    def base():
        for key in keys:
            assert reconcile(controller, key).result == "success"

    results = {"objects": n, "database": "sqlite"}
    rows = [("direct", timed(direct)), ("base, first", timed(base)), ("base, steady", timed(base))]
    print(f"Controller base, {n} workspaces, two no-op steps, one process, SQLite")
    print(f"{'run':14} {'seconds':>8} {'per reconcile':>14} {'reconciles/s':>13} {'overhead':>10}")
    direct_per = rows[0][1] / n
    for label, seconds in rows:
        per = seconds / n
        key = label.replace(", ", "_")
        results[f"{key}_seconds"] = round(seconds, 4)
        results[f"{key}_per_reconcile_ms"] = round(per * 1000, 3)
        results[f"{key}_per_second"] = round(n / seconds, 1)
        overhead = "" if label == "direct" else f"{(per - direct_per) * 1000:8.2f}ms"
        if label != "direct":
            results[f"{key}_overhead_ms"] = round((per - direct_per) * 1000, 3)
        print(f"{label:14} {seconds:8.3f} {per * 1000:12.3f}ms {n / seconds:13.1f} {overhead:>10}")
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
