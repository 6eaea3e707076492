"""``KubeClient``: one cluster's ``kubernetes.client.ApiClient`` with timeouts, retries and kind discovery.

The gateway speaks raw JSON over the official client's transport (``param_serialize``/``call_api``): the same
code path for built-in kinds and custom resources, no model (de)serialization, and the request counted once.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from kubernetes.client import ApiClient, Configuration

from .errors import KubeError
from .retry import RetryPolicy, call_with_retries

__all__ = ["KubeClient", "ResourceInfo"]


@dataclass(frozen=True)
class ResourceInfo:
    """What discovery says about a kind: its plural and whether it is namespaced."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, name: str | None = None, namespace: str | None = None, subresource: str | None = None) -> str:
        """The REST path of the collection, or of one object (and a subresource of it)."""
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        path = f"{base}/{self.plural}"
        if name:
            path += f"/{quote(name, safe='')}"
        if subresource:
            path += f"/{subresource}"
        return path


class KubeClient:
    """A connection to one cluster. Build it through ``host_client()``/``member_client()``, not directly."""

    def __init__(self, name: str, configuration: Configuration, policy: RetryPolicy,
                 timeout: tuple[float, float]):
        configuration.retries = False  # our loop retries, with backoff; urllib3's own would retry blind
        self.name = name
        self.api = ApiClient(configuration)
        self.policy = policy
        self.timeout = timeout
        self._kinds: dict[str, dict[str, ResourceInfo]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<KubeClient {self.name}>"

    @property
    def host(self) -> str:
        """The API server URL."""
        return self.api.configuration.host

    def close(self) -> None:
        """Close pooled connections."""
        self.api.close()

    # ----- requests -----

    def _send(self, method: str, path: str, query: dict | None, body, content_type: str | None,
              timeout, preload: bool = True):
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        request = self.api.param_serialize(method, path, query_params=params, header_params=headers, body=body,
                                           auth_settings=["BearerToken"])
        response = self.api.call_api(*request, _request_timeout=timeout or self.timeout)
        if not preload:
            return response
        data = response.read()
        if not 200 <= response.status < 300:
            raise KubeError.from_response(response.status, data, response.headers)
        return json.loads(data) if data else None

    def request(self, method: str, path: str, query: dict | None = None, body=None,
                content_type: str | None = None, timeout: float | tuple[float, float] | None = None):
        """One API call with the client's timeout and retry policy; the decoded JSON answer or ``KubeError``."""
        return call_with_retries(lambda: self._send(method, path, query, body, content_type, timeout),
                                 self.policy, f"{method} {path} on {self.name}")

    def stream(self, path: str, query: dict | None = None, timeout: tuple[float, float] | None = None
               ) -> Iterator[dict]:
        """Open a watch and yield its decoded events; the caller handles reconnects (``watch_events`` does)."""

        def open_stream():
            response = self._send("GET", path, query, None, None, timeout, preload=False)
            if not 200 <= response.status < 300:
                data = response.read()
                raise KubeError.from_response(response.status, data, response.headers)
            return response

        response = call_with_retries(open_stream, self.policy, f"WATCH {path} on {self.name}")
        raw = response.response
        try:
            buffer = b""
            for chunk in raw.stream(amt=None, decode_content=False):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if line.strip():
                        yield json.loads(line)
        finally:
            raw.release_conn()

    # ----- discovery -----

    def resource(self, api_version: str, kind: str) -> ResourceInfo:
        """Plural and scope of ``kind`` from discovery (cached; looked up again once when a kind is new)."""
        with self._lock:
            known = self._kinds.get(api_version)
        if known is not None and kind in known:
            return known[kind]
        path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            doc = self.request("GET", path)
        except KubeError as error:
            if error.not_found:
                raise KubeError(404, "NotFound", f'the server does not serve {api_version} (looking up kind "{kind}")',
                                details={"group": api_version.rpartition("/")[0], "kind": kind})
            raise
        kinds = {r["kind"]: ResourceInfo(api_version, r["kind"], r["name"], bool(r.get("namespaced")))
                 for r in doc.get("resources") or [] if "/" not in r["name"]}
        with self._lock:
            self._kinds[api_version] = kinds
        if kind not in kinds:
            raise KubeError(404, "NotFound", f'no kind "{kind}" is registered for version "{api_version}"',
                            details={"group": api_version.rpartition("/")[0], "kind": kind})
        return kinds[kind]

    def forget_discovery(self) -> None:
        """Drop cached discovery (after installing or removing CRDs)."""
        with self._lock:
            self._kinds.clear()
