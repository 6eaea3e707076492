"""Leases in the database: a lock that survives worker death, on SQLite as on PostgreSQL.

Taking a lease is one conditional UPDATE (free, expired, or already ours) or, when no row exists, one INSERT that
the unique key lets only one worker win; no lock is held between statements, so nothing waits on a dead worker
longer than the lease's term.
"""
from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q

from edgeplatform.controllers import clock
from edgeplatform.controllers.models import Lease

__all__ = ["acquire", "held", "holder", "release", "renew"]


def acquire(key: str, owner: str, seconds: float) -> bool:
    """Take (or extend) the lease ``key`` for ``owner`` for ``seconds``; False when someone else holds it."""
    now = clock.now()
    expires = now + timedelta(seconds=seconds)
    if Lease.objects.filter(Q(expires__lte=now) | Q(owner=owner), key=key).update(owner=owner, expires=expires):
        return True
    try:
        with transaction.atomic():
            Lease.objects.create(key=key, owner=owner, expires=expires)
    except IntegrityError:  # the row exists (held by another) or another worker inserted it first
        return False
    return True


def renew(key: str, owner: str, seconds: float) -> bool:
    """Extend a lease ``owner`` holds; False when it was lost (expired and taken over)."""
    expires = clock.now() + timedelta(seconds=seconds)
    return bool(Lease.objects.filter(key=key, owner=owner).update(expires=expires))


def release(key: str, owner: str) -> None:
    """Give a lease back (only its holder can). The row stays, expired, so that the next taker needs one UPDATE."""
    Lease.objects.filter(key=key, owner=owner).update(owner="", expires=clock.now())


def holder(key: str) -> str | None:
    """Who holds ``key`` now (None: free or expired)."""
    return Lease.objects.filter(key=key, expires__gt=clock.now()).values_list("owner", flat=True).first()


def held(prefix: str) -> set[str]:
    """The keys starting with ``prefix`` that are held now."""
    return set(Lease.objects.filter(key__startswith=prefix, expires__gt=clock.now()).values_list("key", flat=True))
