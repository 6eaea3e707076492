"""Install the platform's CustomResourceDefinitions on the host cluster (or write them to files)."""
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from edgeplatform.kube import KubeError, KubeNotConfigured, crds, host_client


class Command(BaseCommand):
    """Server-side apply every CRD to the host cluster and wait until each is ``Established``; idempotent."""

    help = "Apply the platform CRDs to the host cluster (EDGE_KUBECONFIG or in-cluster), or --write/--check files."

    def add_arguments(self, parser):
        """``--write DIR`` regenerates the YAML files, ``--check DIR`` fails when they are stale."""
        parser.add_argument("--write", metavar="DIR", help="write the CRDs as YAML files into DIR instead")
        parser.add_argument("--check", metavar="DIR", help="exit 1 when the files in DIR differ from the code")
        parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for Established")

    def handle(self, *args, write=None, check=None, timeout=60.0, **options):
        """Do the one thing asked."""
        if write:
            for path in crds.write_files(Path(write)):
                self.stdout.write(f"wrote {path}")
            return
        if check:
            stale = crds.stale_files(Path(check))
            if stale:
                raise CommandError(f"stale CRD files in {check}: {', '.join(stale)} "
                                   f"(regenerate with `manage.py install_crds --write {check}`)")
            self.stdout.write(f"{check}: up to date")
            return
        try:
            results = crds.install(host_client(), timeout=timeout)
        except KubeNotConfigured as error:
            raise CommandError(f"{error}: nothing to install CRDs into")
        except KubeError as error:
            raise CommandError(f"installing CRDs failed: {error}")
        for result in results:
            state = "established" if result["established"] else "applied"
            change = "changed" if result["changed"] else "unchanged"
            self.stdout.write(f"{result['name']}: {state} ({change})")
