"""``manage.py audit verify [--expect-head SEQ:HASH]|prune``: check the hash chain, apply retention by hand."""
from __future__ import annotations

import argparse
import re

from django.core.management.base import BaseCommand, CommandError

_HEAD = re.compile(r"(\d+):([0-9a-f]{64})")


def expected_head(value: str) -> tuple[int, str]:
    """Parse ``SEQ:HASH``, a head as ``audit verify`` prints it."""
    match = _HEAD.fullmatch(value.strip())
    if match is None:
        raise argparse.ArgumentTypeError("expected SEQ:HASH, as `audit verify` prints the head")
    return int(match[1]), match[2]


class Command(BaseCommand):
    """Audit log maintenance."""

    help = "Verify the audit log's hash chain (verify) or prune events past retention (prune)."

    def add_arguments(self, parser):
        """``verify [--expect-head SEQ:HASH]`` or ``prune [--days N]``."""
        sub = parser.add_subparsers(dest="action", required=True)
        verify = sub.add_parser("verify", help="walk the hash chain; exit 1 naming the first bad event")
        verify.add_argument("--expect-head", type=expected_head, default=None, metavar="SEQ:HASH",
                            help="a head printed by an earlier verify and kept outside the database: "
                                 "exit 1 unless that event is still in the chain (finds a cut-off tail)")
        prune = sub.add_parser("prune", help="delete events older than the retention period")
        prune.add_argument("--days", type=int, default=None, help="override EDGE_AUDIT_RETENTION_DAYS")

    def handle(self, *args, action=None, days=None, expect_head=None, **options):
        """Run the chosen action."""
        if action == "verify":
            from iam.audit.chain import verify

            result = verify(expect_head=expect_head)
            if not result.ok:
                at = (f" at event id {result.bad_id}" if result.bad_id
                      else f" at event #{result.bad_sequence}" if result.bad_sequence else "")
                raise CommandError(f"audit chain broken{at}: {result.message}")
            span = f" (#{result.first}–#{result.last})" if result.checked else ""
            self.stdout.write(f"audit chain OK: {result.checked} events{span}")
            self.stdout.write(f"head {result.head}")
            if expect_head is not None:
                self.stdout.write(f"expected head {expect_head[0]}:{expect_head[1]} is in the chain")
        elif action == "prune":
            from iam.audit.context import actor
            from iam.audit.tasks import prune

            with actor("system:manage.py audit prune"):
                deleted = prune(days)
            self.stdout.write(f"pruned {deleted} events")
