"""Helpers for the emulator's own tests: raw requests through the client's transport, waits, manifests."""
from __future__ import annotations

import json
import time

from kubernetes.client.exceptions import ApiException

__all__ = ["deployment", "error_of", "raw", "wait_for"]


def raw(api_client, method, path, body=None, content_type=None, query=None):
    """(status, decoded body) for one request through the client's transport."""
    headers = {"Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    request = api_client.param_serialize(method, path, query_params=list((query or {}).items()),
                                         header_params=headers, body=body, auth_settings=["BearerToken"])
    response = api_client.call_api(*request)
    data = response.read()
    return response.status, json.loads(data) if data else None


def wait_for(predicate, timeout=5.0, interval=0.02):
    """Poll ``predicate`` until it is truthy (returns it) or ``timeout`` passes (returns False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return False


def error_of(call, *args, **kwargs) -> tuple[int, dict]:
    """(HTTP status, Status body) of a call that must fail."""
    try:
        call(*args, **kwargs)
    except ApiException as error:
        return error.status, json.loads(error.body)
    raise AssertionError("the call succeeded")


def deployment(name: str, replicas: int | None = None, labels: dict | None = None, image: str = "nginx:1.27",
               **spec) -> dict:
    """A Deployment manifest with one container, selecting its template's labels."""
    labels = labels or {"app": name}
    body = {"metadata": {"name": name}, "spec": {
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels},
                     "spec": {"containers": [{"name": "main", "image": image}]}}, **spec}}
    if replicas is not None:
        body["spec"]["replicas"] = replicas
    return body
