"""/healthz and /readyz answer without a login and tell which dependency is down."""
from django.test import Client, override_settings


def test_healthz_answers_while_the_process_runs(db):
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_reports_database_cache_and_broker(db):
    response = Client().get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_is_503_naming_the_cache_when_it_is_unreachable(db):
    down = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": "redis://127.0.0.1:1/0",
                        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}
    with override_settings(CACHES=down):  # Django re-reads CACHES on this change
        response = Client().get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "unavailable"
    assert not body["checks"]["cache"]["ok"] and body["checks"]["database"]["ok"]
    assert "detail" not in body["checks"]["cache"]  # no exception text (hosts, ports) for anonymous callers


def test_readyz_tells_an_administrator_why(platform):
    down = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                        "LOCATION": "redis://127.0.0.1:1/0",
                        "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}
    client = Client()
    client.force_login(platform.user("root", superuser=True))
    with override_settings(CACHES=down):
        body = client.get("/readyz").json()
    assert "127.0.0.1" in body["checks"]["cache"]["detail"] or "Connection" in body["checks"]["cache"]["detail"]
