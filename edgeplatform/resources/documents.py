"""Decoding request bodies safely, before anything else looks at them.

Every body the API accepts (JSON, YAML, merge, strategic-merge and apply patches) is decoded here, and what comes
out is plain JSON data — objects with string keys, lists, strings, finite numbers, booleans and null — bounded in
size, nesting depth and YAML alias expansion. What would make trouble later (a "billion laughs" YAML, nesting
that exhausts the stack, a duplicate key that silently drops a value, a lone surrogate the audit chain cannot
encode, a NUL that PostgreSQL cannot store, a date YAML turns into an object) is refused here with a 400 Status
naming the field, in time proportional to the bytes sent.
"""
from __future__ import annotations

import json
import math

import yaml
from django.conf import settings

from edgeplatform.resources.errors import StatusError, cause

__all__ = ["DocumentError", "check", "decode_json", "decode_yaml", "field_path", "load_yaml", "problems"]

#: a YAML document may expand its aliases to at most this many nodes, or this many times the nodes it spells out,
#: whichever is larger (the ratio rule of Go's YAML decoder, which kube-apiserver uses)
ALIAS_FLOOR = 10_000
ALIAS_RATIO = 10
INT64 = 2 ** 63


class DocumentError(StatusError):
    """A body that cannot be accepted as a document: 400 BadRequest naming the field."""

    def __init__(self, message: str, field: str = "body"):
        self.problem = message
        super().__init__(400, f"the request body could not be decoded: {message}", "BadRequest",
                         causes=[cause(field, message)])


def field_path(parts: tuple) -> str:
    """``("spec", "rules", 0, "verbs")`` → ``spec.rules[0].verbs``; map keys (of labels, annotations, or not plain
    words) in brackets: ``metadata.labels[app.kubernetes.io/name]``."""
    out, parent = "", None
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out and (parent in ("labels", "annotations") or not part.replace("-", "").replace("_", "").isalnum()):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
        parent = part
    return out or "body"


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "NUL characters are not allowed"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "not valid Unicode (a lone surrogate)"
    return None


def _path(link) -> str:
    parts = []
    while link is not None:
        link, key = link
        parts.append(key)
    return field_path(tuple(reversed(parts)))


def problems(data, duplicates: dict[int, str] | None = None):
    """Yield ``(field, message)`` for every place where ``data`` is not plain JSON data within the nesting limit:
    a key that is not a string, a value of another type (a date, bytes), a number that is not finite or does not
    fit in 64 bits, a string holding NUL or a lone surrogate, nesting deeper than ``EDGE_API_MAX_DEPTH``.

    ``duplicates`` maps ``id()`` of a decoded object to a key the body gave it twice, so that the refusal can
    name the field (``metadata.labels[a]``), as kube-apiserver's strict decoding does. Each value on the walk
    keeps a link to its parent's (``(parent_link, key)``); a path is spelled out only for a problem.
    """
    max_depth = settings.EDGE_API_MAX_DEPTH
    duplicates = duplicates or {}
    stack = [(data, 0, None)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth, link = pop()
        if depth > max_depth:
            yield _path(link), f"nested deeper than {max_depth} levels"
            continue
        kind = type(value)
        if kind is dict:
            if duplicates and id(value) in duplicates:
                yield _path((link, duplicates[id(value)])), "duplicate field"
            for key, item in value.items():
                if type(key) is not str:
                    yield _path(link), f"keys must be strings, not {type(key).__name__} ({key!r})"
                    continue
                problem = _string_problem(key)
                if problem:
                    yield _path(link), f"a key is {problem}"
                    continue
                push((item, depth + 1, (link, key)))
        elif kind is list:
            for index, item in enumerate(value):
                push((item, depth + 1, (link, index)))
        elif kind is str:
            problem = _string_problem(value)
            if problem:
                yield _path(link), problem
        elif kind is bool or value is None:
            continue
        elif kind is int:
            if not -INT64 <= value < INT64:
                yield _path(link), "integers must fit in 64 bits"
        elif kind is float:
            if not math.isfinite(value):
                yield _path(link), "numbers must be finite"
        else:
            yield _path(link), f"{kind.__name__} is not a JSON value"


def check(data, duplicates: dict[int, str] | None = None):
    """Raise ``DocumentError`` for the first of ``problems(data, duplicates)``; return ``data`` when none."""
    for field, message in problems(data, duplicates):
        raise DocumentError(message, field)
    return data


def _read(stream) -> bytes:
    limit = settings.EDGE_API_MAX_BODY
    raw = stream.read(limit + 1) if stream is not None else b""
    if len(raw) > limit:
        raise StatusError(413, f"the request body is larger than {limit} bytes", "RequestEntityTooLarge")
    return raw


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not valid UTF-8 at byte {exc.start}") from exc


def _no_constant(name: str):
    raise DocumentError(f"{name} is not a JSON number")


def decode_json(stream):
    """A JSON body, strictly: UTF-8, no duplicate keys, no NaN/Infinity, bounded (see ``check``)."""
    text = _text(_read(stream))
    duplicates: dict[int, str] = {}

    def unique_pairs(pairs: list) -> dict:
        obj = dict(pairs)
        if len(obj) < len(pairs):
            seen = set()
            duplicates[id(obj)] = next(key for key, _ in pairs if key in seen or seen.add(key))
        return obj

    try:
        data = json.loads(text, object_pairs_hook=unique_pairs, parse_constant=_no_constant)
    except RecursionError as exc:
        raise DocumentError(f"nested deeper than {settings.EDGE_API_MAX_DEPTH} levels") from exc
    except ValueError as exc:  # JSONDecodeError, and integers with more digits than Python converts
        raise DocumentError(f"invalid JSON: {exc}") from exc
    return check(data, duplicates)


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, bounded: nesting depth, alias expansion, duplicate keys; dates stay strings.

    Node sizes are counted as the document is composed, an alias counting as the whole subtree it stands for,
    so a body of a few hundred bytes that would expand to millions of nodes is refused after composing a few
    dozen — before anything is constructed.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._sizes: dict[int, int] = {}
        self.duplicates: dict[int, str] = {}  # id() of a constructed dict → a key it was given twice
        self._duplicate_in: dict[int, str] = {}  # the same, by id() of the mapping node
        self._depth = 0
        self._spelled = 0
        self._max_depth = settings.EDGE_API_MAX_DEPTH

    def compose_node(self, parent, index):
        """Compose one node, keeping its path, and refuse the document when it nests or expands too far."""
        self._depth += 1
        if self._depth > self._max_depth:
            raise DocumentError(f"nested deeper than {self._max_depth} levels")
        try:
            if not self.check_event(yaml.AliasEvent):
                self._spelled += 1
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if id(node) not in self._sizes:
            self._size(node, parent, index)
        return node

    def _size(self, node, parent, index) -> None:
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = ()
        size = 1 + sum(self._sizes.get(id(child), 1) for child in children)
        self._sizes[id(node)] = size
        if size > max(ALIAS_FLOOR, ALIAS_RATIO * self._spelled):
            raise DocumentError(f"YAML aliases expand to more than {max(ALIAS_FLOOR, ALIAS_RATIO * self._spelled)} "
                                "nodes")

    def construct_mapping(self, node, deep=False):
        """A mapping whose keys are strings (scalar keys as written) and appear once."""
        if not isinstance(node, yaml.MappingNode):
            return super().construct_mapping(node, deep)
        self.flatten_mapping(node)
        mapping = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise DocumentError(f"line {key_node.start_mark.line + 1}: a mapping key must be a string")
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):  # `1:` or `~:` — YAML-to-JSON conversion takes the key as written
                key = key_node.value
            if key in mapping:
                self._duplicate_in.setdefault(id(node), key)
            mapping[key] = self.construct_object(value_node, deep=deep)
        return mapping

    def construct_yaml_map(self, node):
        """A ``dict`` (built in two steps, so that aliases to it resolve), its duplicates remembered."""
        data = {}
        yield data
        data.update(self.construct_mapping(node))
        if id(node) in self._duplicate_in:
            self.duplicates[id(data)] = self._duplicate_in[id(node)]


def _timestamp_as_written(loader, node):
    return loader.construct_scalar(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_written)
_BoundedLoader.add_constructor("tag:yaml.org,2002:map", _BoundedLoader.construct_yaml_map)


def load_yaml(text: str):
    """One YAML document of any shape as plain JSON data, bounded as ``_BoundedLoader`` says (for YAML that
    arrives inside a field or a form: a kubeconfig, Helm values, the console's YAML tab)."""
    try:
        loader = _BoundedLoader(text)  # the reader refuses control characters YAML does not allow at once
    except yaml.YAMLError as exc:
        raise _refusal(exc) from exc
    try:
        data = loader.get_single_data()
    except RecursionError as exc:
        raise DocumentError(f"nested deeper than {settings.EDGE_API_MAX_DEPTH} levels") from exc
    except yaml.YAMLError as exc:
        raise _refusal(exc) from exc
    finally:
        loader.dispose()
    return check(data, loader.duplicates)


def _refusal(exc: yaml.YAMLError) -> DocumentError:
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
    return DocumentError(f"not valid YAML{where}: {getattr(exc, 'problem', None) or exc}")


def decode_yaml(stream):
    """A YAML body (one document; JSON is YAML too) holding one object."""
    data = load_yaml(_text(_read(stream)))
    if not isinstance(data, dict):
        raise DocumentError("the body must be one object")
    return data
