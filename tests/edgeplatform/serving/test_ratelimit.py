"""The API's rate limit per user: a burst passes, the next request is answered 429 with Retry-After and a
Kubernetes Status, other users keep their own bucket, the bucket refills at the configured rate."""
from __future__ import annotations

import time

import pytest
from django.core.cache import caches

from edgeplatform.serving import ratelimit
from tests.support import ApiClient, issue_token

URL = "/oapis/scope.theriseunion.io/v1alpha1/workspaces"


@pytest.fixture
def limited(settings):
    """4 requests a second per user, bursts of 3; buckets of earlier tests forgotten."""
    settings.EDGE_API_RATE_LIMIT_QPS = 4
    settings.EDGE_API_RATE_LIMIT_BURST = 3
    cache = caches["default"]
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern(ratelimit.KEY + "*")
    else:
        cache.clear()


def test_a_burst_passes_and_the_next_request_is_refused_with_429_and_retry_after(platform, limited):
    # GIVEN a user who sent a whole burst
    client = ApiClient(issue_token(platform.user("alice", superuser=True)))
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    # WHEN they send one more at once
    refused = client.get(URL)
    # THEN it is refused as kube-apiserver refuses: 429, Retry-After, a Status naming the reason
    assert refused.status_code == 429
    assert refused["Retry-After"] == "1"
    body = refused.json()
    assert body["kind"] == "Status" and body["reason"] == "TooManyRequests" and body["code"] == 429
    assert body["details"]["retryAfterSeconds"] == 1
    # AND another user has a bucket of their own
    assert ApiClient(issue_token(platform.user("bob", superuser=True))).get(URL).status_code == 200
    # AND a quarter of a second later (4 a second) one more request passes, and only one
    time.sleep(0.3)
    assert [client.get(URL).status_code for _ in range(2)] == [200, 429]


def test_anonymous_callers_are_limited_by_address(db, client, limited):
    """What anonymous callers may reach (the token endpoint) is limited per address."""
    def login(address: str, n: int):
        return client.post("/oauth/token", {"grant_type": "password", "username": f"nobody{n}", "password": "x"},
                           REMOTE_ADDR=address)

    answers = [login("10.0.0.9", n) for n in range(4)]
    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    assert answers[-1]["Retry-After"] == "1" and "error" in answers[-1].json()  # /oauth/ speaks RFC 6749
    assert login("10.0.0.10", 9).status_code == 400


def test_off_when_qps_is_zero(platform, settings):
    settings.EDGE_API_RATE_LIMIT_QPS = 0
    client = ApiClient(issue_token(platform.user("carol", superuser=True)))
    assert {client.get(URL).status_code for _ in range(30)} == {200}


def test_the_bucket_is_the_caches_one_step(settings, limited):
    """``take`` against the configured cache (Redis under make test where it answers: the Lua script)."""
    results = [ratelimit.take("test:bucket", 10, 5) for _ in range(6)]
    assert [allowed for allowed, _ in results] == [True] * 5 + [False]
    assert 0.05 < results[-1][1] <= 0.1  # the next token comes in 1/10 s
    time.sleep(0.11)
    assert ratelimit.take("test:bucket", 10, 5)[0]
