"""``manage.py apiclient create|list|rotate|delete``: API clients for the OAuth client-credentials grant.

    manage.py apiclient create ci-deployer            # makes service-account user "ci-deployer", prints the secret
    manage.py apiclient create gitops --user alice    # a client acting as an existing user
    manage.py apiclient list
    manage.py apiclient rotate ci-deployer            # a new secret; the old one stops working
    manage.py apiclient delete ci-deployer            # its tokens are revoked; the user stays

The secret is printed once and stored only as a SHA-256. Bind roles to the client's user to let it act.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from edgeplatform.resources.errors import StatusError
from iam import audit, clients
from iam.models import APIClient, User


class Command(BaseCommand):
    """Register, list, rotate and delete API clients."""

    help = __doc__.splitlines()[0]

    def add_arguments(self, parser):
        """Sub-commands and their arguments."""
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="register a client and print its secret once")
        create.add_argument("client_id")
        create.add_argument("--user", help="act as this existing user (default: a new service-account user)")
        create.add_argument("--description", default="")
        sub.add_parser("list", help="the registered clients")
        for name in ("rotate", "delete"):
            sub.add_parser(name).add_argument("client_id")

    def handle(self, *args, action, **options):
        """Run the sub-command as the system actor ``system:apiclient``."""
        with audit.actor("system:apiclient"):
            getattr(self, f"_{action}")(**options)

    def _create(self, client_id, user=None, description="", **_):
        if APIClient.objects.filter(client_id=client_id).exists():
            raise CommandError(f'API client "{client_id}" already exists')
        owner = None
        if user:
            owner = User.objects.filter(name=user).first()
            if owner is None:
                raise CommandError(f'user "{user}" does not exist')
        try:
            client, secret = clients.register_client(client_id, owner, description)
        except StatusError as exc:
            causes = "; ".join(f'{c.get("field")}: {c.get("message")}' for c in exc.details.get("causes", []))
            raise CommandError(f"{exc.message}{': ' + causes if causes else ''}") from exc
        self.stdout.write(f"client_id:     {client.client_id}\nclient_secret: {secret}\n"
                          f"acts as user:  {client.user.get_username()}\n(the secret is shown only now)")

    def _list(self, **_):
        for client in APIClient.objects.select_related("user").order_by("client_id"):
            used = client.last_used.isoformat(timespec="seconds") if client.last_used else "never"
            self.stdout.write(f"{client.client_id}\tuser={client.user.get_username()}\tlast used {used}")

    def _rotate(self, client_id, **_):
        self.stdout.write(f"client_secret: {clients.rotate_secret(self._client(client_id))}")

    def _delete(self, client_id, **_):
        clients.remove_client(self._client(client_id))
        self.stdout.write(f'API client "{client_id}" deleted')

    @staticmethod
    def _client(client_id: str) -> APIClient:
        client = APIClient.objects.filter(client_id=client_id).first()
        if client is None:
            raise CommandError(f'API client "{client_id}" does not exist')
        return client
