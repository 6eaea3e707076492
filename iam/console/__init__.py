"""Console pages of identity and access, one module per page.

Model pages (``users``, ``groups``, ``roletemplates``, ``roles``, ``bindings``, ``categories``) are
``ManifestAdmin`` subclasses on the console site: rows, buttons and writes decided by the permission engine
and saved through the write path. The other pages (``account``: "My permissions" and API tokens; ``audit``:
the audit log and every user's own activity; ``lockouts``) are registered with ``console.register_page``.
Importing this package registers them all.
"""
from iam.console import (  # each module registers its pages
    account,
    audit,
    bindings,
    categories,
    groups,
    lockouts,
    roles,
    roletemplates,
    users,
)

__all__ = ["account", "audit", "bindings", "categories", "groups", "lockouts", "roles", "roletemplates", "users"]
