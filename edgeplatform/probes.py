"""Kubernetes-style probes: ``/healthz`` (the process answers) and ``/readyz`` (it can do its work).

``/readyz`` runs the checks of :mod:`edgeplatform.health` (database, cache, broker) and answers
503 naming what failed, so a load balancer stops sending traffic to a replica that cannot serve.
Neither needs a login: they say nothing beyond reachability.
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
    body = {"status": "ok" if health.healthy(results) else "unavailable",
            "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in results.items()}}
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
