"""``manage.py audit verify|prune``: check the hash chain, apply retention by hand."""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    """Audit log maintenance."""

    help = "Verify the audit log's hash chain (verify) or prune events past retention (prune)."

    def add_arguments(self, parser):
        """``verify`` or ``prune [--days N]``."""
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="walk the hash chain; exit 1 naming the first bad event")
        prune = sub.add_parser("prune", help="delete events older than the retention period")
        prune.add_argument("--days", type=int, default=None, help="override EDGE_AUDIT_RETENTION_DAYS")

    def handle(self, *args, action=None, days=None, **options):
        """Run the chosen action."""
        if action == "verify":
            from iam.audit.chain import verify

            result = verify()
            if not result.ok:
                raise CommandError(f"audit chain broken at event #{result.bad_sequence}: {result.message}"
                                   if result.bad_sequence else f"audit chain broken: {result.message}")
            span = f" (#{result.first}–#{result.last})" if result.checked else ""
            self.stdout.write(f"audit chain OK: {result.checked} events{span}")
        elif action == "prune":
            from iam.audit.context import actor
            from iam.audit.tasks import prune

            with actor("system:manage.py audit prune"):
                deleted = prune(days)
            self.stdout.write(f"pruned {deleted} events")
