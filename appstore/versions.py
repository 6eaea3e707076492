"""Semantic versions of applications and what a deployment's ``spec.version`` admits (DESIGN §7).

A deployment asks for ``latest`` (the newest approved, non-deprecated version), an exact version (``1.2.3``,
``v1.2.3``), or a range read as npm reads it (``^1.2``: ≥1.2.0 <2.0.0; ``~1.2.3``: ≥1.2.3 <1.3.0;
``semantic_version.NpmSpec``). Pre-releases are admitted only by an exact request or a range that names a
pre-release of the same major.minor.patch, as npm's rule is; ``latest`` never picks one.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import semantic_version

__all__ = ["LATEST", "admits", "newest", "parse", "valid_request"]

LATEST = "latest"
T = TypeVar("T")


def parse(text: str) -> semantic_version.Version | None:
    """The semantic version ``text`` spells (a leading ``v`` tolerated), or None."""
    if not isinstance(text, str):
        return None
    try:
        return semantic_version.Version(text[1:] if text[:1] in "vV" else text)
    except ValueError:
        return None


def _spec(request: str) -> semantic_version.NpmSpec | None:
    request = request.strip()
    if request[:1] in "^~" and request[1:2] in "vV":
        request = request[0] + request[2:]
    try:
        return semantic_version.NpmSpec(request)
    except ValueError:
        return None


def valid_request(request: str) -> bool:
    """True when ``request`` is ``latest``, a version or a range."""
    return request == LATEST or parse(request) is not None or _spec(request) is not None


def admits(request: str, version: str) -> bool:
    """True when a deployment asking for ``request`` may run ``version``."""
    parsed = parse(version)
    if parsed is None:
        return False
    if request == LATEST:
        return not parsed.prerelease
    exact = parse(request)
    if exact is not None:
        return exact == parsed
    spec = _spec(request)
    return spec is not None and spec.match(parsed)


def newest(request: str, candidates: Iterable[T], key=lambda item: item) -> T | None:
    """The highest of ``candidates`` (``key(item)`` is its version text) that ``request`` admits, or None."""
    best, best_version = None, None
    for item in candidates:
        text = key(item)
        if not admits(request, text):
            continue
        parsed = parse(text)
        if best_version is None or parsed > best_version:
            best, best_version = item, parsed
    return best
