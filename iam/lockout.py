"""Brute-force lockout of password logins, on django-axes.

Policy: ``EDGE_LOCKOUT_FAILURES`` failed logins for one user name, each within ``EDGE_LOCKOUT_WINDOW``
seconds of the one before, lock that user name for ``EDGE_LOCKOUT_DURATION`` seconds. While locked, every
password login of that name is refused — the right password too — on the console/session login
(Django's ``LoginView``) and on ``POST /oauth/token`` alike, because both go through
``django.contrib.auth.authenticate`` and axes' backend sits first in ``AUTHENTICATION_BACKENDS``.

The key is the user name alone (not the client address): an attacker spreading guesses over many addresses
must not get around the limit, and behind a proxy every client would share one address anyway. The price is
that anyone can lock a known name for a while; admins see and lift locks (``locked_accounts``, ``unlock``).
``EDGE_LOCKOUT_BY_IP`` switches to the user name + address pair.

How the window and the duration map onto axes: every attempt row has an expiry
(``AXES_USE_ATTEMPT_EXPIRATION``); a failure pushes it to now + window, and the failure that locks pushes the
expiry of every row it counted to now + duration. Only unexpired rows count.

Audit hooks: :data:`account_locked` is sent once when a lock starts, :data:`account_unlocked` when an admin
lifts one. Receivers get keyword arguments only (see each signal).
"""
from __future__ import annotations

from datetime import timedelta

from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_failure_limit
from axes.models import AccessAttempt, AccessAttemptExpiration
from django.conf import settings
from django.db.models import Max, Sum
from django.dispatch import Signal
from django.http import HttpResponse, JsonResponse
from django.template.loader import select_template
from django.utils import timezone

__all__ = ["LockoutHandler", "account_locked", "account_unlocked", "cool_off", "failure_limit", "is_locked",
           "locked_accounts", "lockout_response", "record_success", "unlock"]

#: A user name was just locked. kwargs: ``username``, ``ip_address``, ``failures``, ``locked_until``,
#: ``request`` (the HttpRequest of the failing login).
account_locked = Signal()
#: An admin lifted a lock. kwargs: ``username``, ``actor`` (the User who unlocked, or None for the system),
#: ``was_locked`` (False when the name only had failures counting toward a lock).
account_unlocked = Signal()

TOKEN_PATH = "/oauth/token"


def window() -> timedelta:
    """How long a failure keeps counting toward a lock."""
    return timedelta(seconds=settings.EDGE_LOCKOUT_WINDOW)


def duration() -> timedelta:
    """How long a lock lasts."""
    return timedelta(seconds=settings.EDGE_LOCKOUT_DURATION)


def failure_limit(request=None, credentials=None) -> int:
    """``AXES_FAILURE_LIMIT``: failures that lock."""
    return settings.EDGE_LOCKOUT_FAILURES


def cool_off(request=None) -> timedelta:
    """``AXES_COOLOFF_TIME``: axes extends an attempt row's expiry by this much on every failure."""
    return window()


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler with separate counting window and lock duration (``AXES_HANDLER``)."""

    def get_user_attempts(self, request, credentials=None):
        """The attempt rows that still count: those not yet expired."""
        now = timezone.now()
        return [rows.filter(expiration__expires_at__gt=now) for rows in self.filter_user_attempts(request,
                                                                                               credentials)]

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        """Record the failure; when it is the one that locks, hold the lock for the full duration and announce it."""
        super().user_login_failed(sender, credentials, request, **kwargs)
        failures = getattr(request, "axes_failures_since_start", None)
        if request is None or failures is None or failures < get_failure_limit(request, credentials):
            return
        until = timezone.now() + duration()
        counted = [row.pk for rows in self.get_user_attempts(request, credentials) for row in rows]
        AccessAttemptExpiration.objects.filter(access_attempt_id__in=counted).update(expires_at=until)
        account_locked.send(sender=LockoutHandler, username=get_client_username(request, credentials),
                            ip_address=request.axes_ip_address, failures=failures, locked_until=until,
                            request=request)


def _retry_after(username: str | None) -> int:
    until = AccessAttempt.objects.filter(username=username).aggregate(until=Max("expiration__expires_at"))["until"]
    return max(1, int((until - timezone.now()).total_seconds())) if until else int(duration().total_seconds())


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: what a locked-out login gets, with HTTP 429 and ``Retry-After``.

    ``POST /oauth/token`` answers with an RFC 6749 error body (``invalid_grant``: the credentials cannot be
    used now); other logins get the page ``registration/locked_out.html`` (or the plain one of this app).
    """
    username = get_client_username(request, credentials) if credentials or request.method == "POST" else None
    retry = _retry_after(username)
    minutes = max(1, round(retry / 60))
    message = (f"the account is locked after {settings.EDGE_LOCKOUT_FAILURES} failed logins; try again in "
               f"{minutes} minute{'s' if minutes != 1 else ''} or ask an administrator to unlock it")
    if request.path == TOKEN_PATH or "json" in request.headers.get("Accept", ""):
        response = JsonResponse({"error": "invalid_grant", "error_description": message}, status=429)
        response["Cache-Control"] = "no-store"
    else:
        template = select_template(["registration/locked_out.html", "iam/locked_out.html"])
        response = HttpResponse(template.render({"message": message, "username": username or "",
                                                 "retry_after": retry}, request), status=429)
    response["Retry-After"] = str(retry)
    return response


def locked_accounts() -> list[dict]:
    """Every lock in force: user name, failures, when it ends, the addresses the failures came from.

    With ``EDGE_LOCKOUT_BY_IP`` a user name may appear once per address.
    """
    now = timezone.now()
    by_ip = settings.EDGE_LOCKOUT_BY_IP
    keys = ["username", "ip_address"] if by_ip else ["username"]
    rows = (AccessAttempt.objects.filter(expiration__expires_at__gt=now, username__isnull=False)
            .values(*keys).annotate(failures=Sum("failures_since_start"), until=Max("expiration__expires_at"),
                                    last=Max("attempt_time"))
            .filter(failures__gte=settings.EDGE_LOCKOUT_FAILURES).order_by("username"))
    out = []
    for row in rows:
        addresses = [row["ip_address"]] if by_ip else sorted(
            {ip for ip in AccessAttempt.objects.filter(username=row["username"], expiration__expires_at__gt=now)
             .values_list("ip_address", flat=True) if ip})
        out.append({"username": row["username"], "failures": row["failures"], "lastFailure": row["last"],
                    "lockedUntil": row["until"], "addresses": addresses})
    return out


def is_locked(username: str) -> bool:
    """Is any lock on ``username`` in force?"""
    return any(row["username"] == username for row in locked_accounts())


def unlock(username: str, actor=None) -> bool:
    """Lift the lock on ``username`` and forget its failures; True if a lock was in force.

    Sends :data:`account_unlocked` whenever there was anything to forget.
    """
    was_locked = is_locked(username)
    cleared = AxesProxyHandler.reset_attempts(username=username)
    if cleared:
        account_unlocked.send(sender=LockoutHandler, username=username, actor=actor, was_locked=was_locked)
    return was_locked


def record_success(request, username: str) -> None:
    """A password login outside the session flow (the token endpoint) succeeded: forget earlier failures.

    The session login does this through axes' ``user_logged_in`` handler (``AXES_RESET_ON_SUCCESS``).
    """
    if settings.AXES_ENABLED and settings.AXES_RESET_ON_SUCCESS:
        AxesProxyHandler.update_request(request)
        AxesProxyHandler.get_implementation().reset_user_attempts(request, {"username": username})
