"""Another platform process for cross-process tests: answers permission checks read from stdin.

Each input line is ``<user name> <verb> <group or -> <resource> <scope path>``; each output line is
``1`` or ``0``. It uses the same engine and caches as the web server.
"""
import os
import sys

import django


def main() -> None:
    """Serve checks until stdin closes."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "edgeplatform.settings")
    django.setup()
    from iam.engine import engine
    from iam.models import User

    users = {}
    print("ready", flush=True)
    for line in sys.stdin:
        name, verb, group, resource, path = line.split()
        user = users.get(name) or users.setdefault(name, User.objects.get(name=name))
        allowed = engine.allowed(user, verb, "" if group == "-" else group, resource, path)
        print("1" if allowed else "0", flush=True)


if __name__ == "__main__":
    main()
