"""A repository's ``index.yaml`` (ChartMuseum's), rendered from rows and cached until the repository changes.

    body = index.rendered("library")      # bytes of index.yaml
    index.invalidate("library")           # after an upload or a delete (``store`` does it on commit)

Rendering 5,000 versions takes a good part of a second, so the bytes are kept in the shared cache under a
*generation* token of the repository, and in each process beside the token they were rendered for. A request asks
the shared cache for the (small) token only; while it is the one this process rendered, the bytes are served from
memory. ``invalidate`` replaces the token, so every process re-renders (or fetches the new bytes) at its next request.
"""
from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

import yaml
from django.core.cache import cache

from edgeplatform.helm.repository import version_key

from .models import ChartVersion

__all__ = ["entries", "entry", "invalidate", "invalidate_all", "rendered", "rendered_with_token"]

#: Chart.yaml fields an index entry carries (the others — ``urls``, ``digest``, ``created`` — come from the row)
CHART_FIELDS = ("apiVersion", "name", "version", "kubeVersion", "description", "type", "keywords", "home",
                "sources", "dependencies", "maintainers", "icon", "appVersion", "deprecated", "annotations")
#: how long the shared cache keeps a rendered index that nothing invalidated (seconds)
TIMEOUT = 24 * 3600
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_EPOCH = "charts:index:epoch"
_local: dict[str, tuple[str, bytes]] = {}
_lock = threading.Lock()


def _token_key(repository: str) -> str:
    return f"charts:index:{repository}:generation"


def _body_key(repository: str, token: str) -> str:
    return f"charts:index:{repository}:{token}"


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry(name: str, version: str, digest: str, metadata: dict, created: datetime) -> dict:
    """One index entry, as ChartMuseum writes it: the chart's own fields, its URL, sha256 digest and time."""
    item = {key: metadata[key] for key in CHART_FIELDS if metadata.get(key) not in (None, "", [], {})}
    item.update(name=name, version=version, urls=[f"charts/{name}-{version}.tgz"], digest=digest,
                created=_timestamp(created))
    item.setdefault("apiVersion", "v1")
    return item


def entries(repository: str, name: str | None = None) -> dict[str, list[dict]]:
    """Chart name → its index entries, newest version first (one query, no archive read)."""
    rows = ChartVersion.objects.filter(repository=repository)
    if name is not None:
        rows = rows.filter(name=name)
    found: dict[str, list[dict]] = {}
    for row in rows.order_by("name").values_list("name", "version", "digest", "metadata", "created"):
        found.setdefault(row[0], []).append(entry(*row))
    for versions in found.values():
        versions.sort(key=lambda item: version_key(item["version"]) or (-1,), reverse=True)
    return found


def _render(repository: str) -> bytes:
    document = {"apiVersion": "v1", "entries": entries(repository), "generated": _timestamp(datetime.now(UTC)),
                "serverInfo": {}}
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True).encode()


def _ensure(key: str) -> str:
    token = uuid.uuid4().hex
    # add, not set: two processes racing on a cold cache agree on one token
    if not cache.add(key, token, TIMEOUT):
        token = cache.get(key) or token
    return token


def rendered(repository: str) -> bytes:
    """The repository's ``index.yaml``: from this process's memory while the repository is unchanged, else from
    the shared cache, else rendered from rows (and shared)."""
    return rendered_with_token(repository)[0]


def rendered_with_token(repository: str) -> tuple[bytes, str]:
    """``rendered`` and the generation it belongs to (an ETag: it changes whenever the index does)."""
    key = _token_key(repository)
    found = cache.get_many([_EPOCH, key])  # one round trip to a shared cache
    token = f"{found.get(_EPOCH) or _ensure(_EPOCH)}.{found.get(key) or _ensure(key)}"
    held = _local.get(repository)
    if held is not None and held[0] == token:
        return held[1], token
    body = cache.get(_body_key(repository, token))
    if body is None:
        body = _render(repository)
        cache.set(_body_key(repository, token), body, TIMEOUT)
    with _lock:
        _local[repository] = (token, body)
    return body, token


def invalidate_all() -> None:
    """Every repository's cached index is stale (a database restored, or rows rolled back under a test)."""
    cache.set(_EPOCH, uuid.uuid4().hex, TIMEOUT)
    with _lock:
        _local.clear()


def invalidate(repository: str) -> None:
    """The repository changed: every process renders its index anew at the next request."""
    cache.set(_token_key(repository), uuid.uuid4().hex, TIMEOUT)
    with _lock:
        _local.pop(repository, None)
