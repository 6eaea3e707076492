"""Bring changes made to the platform's custom resources (kubectl, GitOps) into the database."""
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from edgeplatform.kube import KubeNotConfigured, host_client
from edgeplatform.kube.crds import crd_kinds
from edgeplatform.kube.sync import enabled
from edgeplatform.kube.watch import Watcher


class Command(BaseCommand):
    """List-watch every kind with a CRD on the host cluster until stopped (SIGTERM/SIGINT)."""

    help = "Watch the platform's custom resources on the host cluster and sync changes into the database."

    def add_arguments(self, parser):
        """``--once`` for one round; ``--kind`` to watch only some kinds; ``--wait-when-off`` for process
        managers that stop everything when one process exits."""
        parser.add_argument("--once", action="store_true", help="list and watch each kind once, then exit")
        parser.add_argument("--kind", action="append", dest="kinds", metavar="KIND",
                            help="watch only this kind (repeatable)")
        parser.add_argument("--timeout", type=float, default=None,
                            help="seconds one watch request stays open (default EDGE_KUBEWATCH_TIMEOUT)")
        parser.add_argument("--wait-when-off", action="store_true",
                            help="when sync is off, wait for a signal instead of exiting")

    def handle(self, *args, once=False, kinds=None, timeout=None, wait_when_off=False, **options):
        """Run the watcher, or say why there is nothing to do."""
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        if not enabled():
            self.stdout.write("kubewatch: CRD sync is off (no host cluster configured: set EDGE_KUBECONFIG, or "
                              "EDGE_CRD_SYNC is false); the database is the only store.")
            if wait_when_off:
                stop.wait()
            return
        converters = crd_kinds()
        if kinds:
            unknown = set(kinds) - {c.kind for c in converters}
            if unknown:
                raise CommandError(f"no CRD for kind(s): {', '.join(sorted(unknown))}")
            converters = [c for c in converters if c.kind in kinds]
        try:
            client = host_client()
        except KubeNotConfigured as error:
            raise CommandError(str(error))
        watcher = Watcher(client, converters, timeout_seconds=timeout or settings.EDGE_KUBEWATCH_TIMEOUT,
                          backoff=settings.EDGE_KUBE_BACKOFF, backoff_max=settings.EDGE_KUBE_BACKOFF_MAX)
        self.stdout.write(f"kubewatch: watching {', '.join(watcher.kinds)} on {client.host}")
        if once:
            watcher.run_once()
        else:
            watcher.run(stop)
        self.stdout.write(f"kubewatch: stopped ({watcher.stats})")
