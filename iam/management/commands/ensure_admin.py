"""Make sure a platform admin exists; print where and how to log in."""
import secrets

from django.core.management.base import BaseCommand

from iam.models import User


class Command(BaseCommand):
    """Create the first admin with ``EDGE_ADMIN_PASSWORD`` or a generated password, printed once."""

    help = "Create the first platform admin if there is none and print where to log in."

    def add_arguments(self, parser):
        """Options: the admin's name and the URL to print."""
        parser.add_argument("--name", default="admin")
        parser.add_argument("--url", default=None)

    def handle(self, *args, name, url, **options):
        """Create the admin only when no superuser exists yet."""
        import os

        url = url or f"http://{os.environ.get('EDGE_BIND', '127.0.0.1')}:{os.environ.get('EDGE_PORT', '8000')}"
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(f"Edge Platform: log in at {url}/console/ (API docs: {url}/oapis/docs/)")
            return
        password = os.environ.get("EDGE_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        User.objects.create_superuser(name, password=password)
        shown = "(from EDGE_ADMIN_PASSWORD)" if os.environ.get("EDGE_ADMIN_PASSWORD") else password
        self.stdout.write(self.style.SUCCESS(
            f"Created platform admin '{name}' with password {shown} — it is shown only this once.\n"
            f"Edge Platform: log in at {url}/console/ (API docs: {url}/oapis/docs/)"))
