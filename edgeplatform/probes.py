"""Kubernetes-style probes: ``/healthz`` (the process answers) and ``/readyz`` (it can do its work).

``/readyz`` runs the checks of :mod:`edgeplatform.health` (database, cache, broker) and answers
503 naming what failed, so a load balancer stops sending traffic to a replica that cannot serve.
Neither needs a login. Anonymous callers learn only which check failed; the reason (an exception's text,
which may name hosts and ports) is shown to platform administrators alone, as on the console's dashboard.
"""
from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from edgeplatform import health


@never_cache
@require_GET
def healthz(request):
    """200 while the process serves requests."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """200 when the database, the cache and the broker answer; 503 with the failed checks otherwise."""
    results = health.checks()
    admin = getattr(request.user, "is_superuser", False)
    body = {"status": "ok" if health.healthy(results) else "unavailable",
            "checks": {name: {"ok": ok, **({"detail": detail} if admin or ok else {})}
                       for name, (ok, detail) in results.items()}}
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
