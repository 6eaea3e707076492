"""Kubernetes label selectors: the query-string form and the LabelSelector object.

One requirement is ``(key, operator, values)`` with operator In, NotIn, Exists or
DoesNotExist, exactly as in ``metav1.LabelSelectorRequirement``; both forms compile to a
list of them, which then match a label map in Python or filter a JSON column in SQL.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import BooleanField, CharField, F, Func, Q
from django.db.models.lookups import In

from edgeplatform.resources.names import DNS1123_SUBDOMAIN, DNS1123_SUBDOMAIN_MAX

_KEY = r"(?:[a-z0-9A-Z.\-]+/)?[a-zA-Z0-9](?:[-a-zA-Z0-9_.]*[a-zA-Z0-9])?"
_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SET_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s+(in|notin)\s*\((.*)\)\s*$")
_EQ_RE = re.compile(rf"^\s*({_KEY})\s*(==|=|!=)\s*(\S*)\s*$")
_EXISTS_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")


#: the most requirements, and values in all, one selector may hold (SQL has a depth limit; kube-apiserver's
#: selectors are bounded by its URL length, ours explicitly)
MAX_REQUIREMENTS = 100
MAX_VALUES = 1000
_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


class SelectorError(ValueError):
    """A selector that cannot be parsed; the message says which part."""


@dataclass(frozen=True)
class Requirement:
    """One selector requirement (key, operator, values)."""

    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: tuple[str, ...] = ()

    def matches(self, labels: dict) -> bool:
        """True when a label map satisfies this requirement."""
        present = self.key in labels
        if self.operator == "Exists":
            return present
        if self.operator == "DoesNotExist":
            return not present
        if self.operator == "In":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values  # NotIn

    def q(self, field: str) -> Q:
        """A filter on the JSON label column ``field`` equivalent to this requirement.

        The key is a bound parameter of a JSON path, never part of a Django lookup name: ``a__gt`` is a label
        key like any other, and ``1`` names a key, not an array index.
        """
        has = Q(LabelExists(field, self.key))
        if self.operator == "Exists":
            return has
        if self.operator == "DoesNotExist":
            return ~has
        any_of = Q(In(LabelValue(field, self.key), list(self.values)))
        return (has & any_of) if self.operator == "In" else ~(has & any_of)


class _LabelKey(Func):
    """Shared by the label expressions: ``key`` of the JSON object column ``field`` as a bound parameter."""

    def __init__(self, field: str, key: str):
        super().__init__(F(field))
        self.key = key

    def _json_path(self) -> str:
        # keys passed the label-key grammar (no quote or backslash), so quoting them is enough
        return f'$."{self.key}"'


class LabelValue(_LabelKey):
    """The string value of one label, NULL when the row lacks it."""

    output_field = CharField()

    def as_sql(self, compiler, connection, **extra):  # SQLite and other JSON1-style backends
        """``json_extract(labels, '$."key"')``."""
        column, params = compiler.compile(self.source_expressions[0])
        return f"JSON_EXTRACT({column}, %s)", (*params, self._json_path())

    def as_postgresql(self, compiler, connection, **extra):
        """``labels ->> 'key'``."""
        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} ->> %s)", (*params, self.key)


class LabelExists(_LabelKey):
    """True when the row's label map holds the key."""

    output_field = BooleanField()
    conditional = True

    def as_sql(self, compiler, connection, **extra):
        """``json_type(labels, '$."key"') IS NOT NULL``."""
        column, params = compiler.compile(self.source_expressions[0])
        return f"(JSON_TYPE({column}, %s) IS NOT NULL)", (*params, self._json_path())

    def as_postgresql(self, compiler, connection, **extra):
        """``labels ? 'key'``."""
        column, params = compiler.compile(self.source_expressions[0])
        return f"({column} ? %s)", (*params, self.key)


def split_terms(text: str) -> list[str]:
    """The terms of a selector: split on commas that are not inside parentheses, stripped, none empty."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part for part in (p.strip() for p in parts) if part]


def _check_value(value: str) -> str:
    if len(value) > 63 or not _VALUE_RE.fullmatch(value):
        raise SelectorError(f"invalid label value: {value!r}")
    return value


def _check_key(key: str) -> str:
    if not valid_key(key):
        raise SelectorError(f"invalid label key {key!r}: a name of at most 63 characters (A-Z, a-z, 0-9, '-', "
                            "'_', '.'), optionally prefixed by a DNS subdomain and '/'")
    return key


def _check_size(requirements: list[Requirement]) -> list[Requirement]:
    if len(requirements) > MAX_REQUIREMENTS:
        raise SelectorError(f"a selector may hold at most {MAX_REQUIREMENTS} requirements")
    if sum(len(r.values) for r in requirements) > MAX_VALUES:
        raise SelectorError(f"a selector may name at most {MAX_VALUES} values")
    return requirements


def parse(selector: str) -> list[Requirement]:
    """Parse ``a=b,c!=d,e in (x,y),!f,g`` into requirements."""
    requirements = []
    for term in split_terms(selector or ""):
        if match := _SET_RE.match(term):
            if match.group(1):
                raise SelectorError(f"unexpected '!' in {term!r}")
            values = tuple(_check_value(v.strip()) for v in match.group(4).split(",") if v.strip())
            if not values:
                raise SelectorError(f"{term!r}: 'in' and 'notin' need at least one value")
            operator = "In" if match.group(3) == "in" else "NotIn"
            requirements.append(Requirement(_check_key(match.group(2)), operator, values))
        elif match := _EQ_RE.match(term):
            operator = "NotIn" if match.group(2) == "!=" else "In"
            requirements.append(Requirement(_check_key(match.group(1)), operator, (_check_value(match.group(3)),)))
        elif match := _EXISTS_RE.match(term):
            requirements.append(Requirement(_check_key(match.group(2)),
                                            "DoesNotExist" if match.group(1) else "Exists"))
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")
        _check_size(requirements)
    return requirements


def from_label_selector(selector: dict | None) -> list[Requirement] | None:
    """Requirements of a LabelSelector object; None for a null selector (which selects nothing)."""
    if selector is None:
        return None
    requirements = [Requirement(k, "In", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        requirements.append(Requirement(expr["key"], expr["operator"], tuple(expr.get("values") or ())))
    return requirements


def validate_label_selector(selector: dict, field: str) -> list[tuple[str, str]]:
    """Problems of a LabelSelector object as (field path, message) pairs: first what has the wrong JSON type, then
    keys, operators and values (any JSON value is checked safely)."""
    shape = _shape_problems(selector, field)
    if shape:
        return shape
    problems = []
    for key, value in (selector.get("matchLabels") or {}).items():
        if not valid_key(key):
            problems.append((f"{field}.matchLabels", f"invalid label key {key!r}"))
        if not valid_value(value):
            problems.append((f"{field}.matchLabels[{key}]", f"invalid label value {value!r}"))
    expressions = selector.get("matchExpressions") or []
    for i, expr in enumerate(expressions):
        where = f"{field}.matchExpressions[{i}]"
        if not valid_key(expr["key"]):
            problems.append((f"{where}.key", "a valid label key is required"))
            continue
        operator, values = expr["operator"], expr.get("values") or []
        if not all(valid_value(v) for v in values):
            problems.append((f"{where}.values", "must be a list of valid label values"))
        elif operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            problems.append((f"{where}.operator", f"unsupported operator {operator!r}"))
        elif operator in ("In", "NotIn") and not values:
            problems.append((f"{where}.values", "must be non-empty for In and NotIn"))
        elif operator in ("Exists", "DoesNotExist") and values:
            problems.append((f"{where}.values", "must be empty for Exists and DoesNotExist"))
    if not problems and len(selector.get("matchLabels") or {}) + len(expressions) > MAX_REQUIREMENTS:
        problems.append((field, f"may hold at most {MAX_REQUIREMENTS} requirements"))
    return problems


def _shape_problems(selector: dict, field: str) -> list[tuple[str, str]]:
    """What is of the wrong JSON type in a LabelSelector."""
    problems = []
    match_labels = selector.get("matchLabels")
    if match_labels is not None and (not isinstance(match_labels, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in match_labels.items())):
        problems.append((f"{field}.matchLabels", "must be a map of strings"))
    expressions = selector.get("matchExpressions")
    if expressions is not None and not isinstance(expressions, list):
        problems.append((f"{field}.matchExpressions", "must be a list of requirements"))
    for i, expr in enumerate(expressions if isinstance(expressions, list) else []):
        where = f"{field}.matchExpressions[{i}]"
        if not isinstance(expr, dict) or set(expr) - {"key", "operator", "values"}:
            problems.append((where, "must be an object of key, operator and values"))
        elif not isinstance(expr.get("key"), str):
            problems.append((f"{where}.key", "must be a string"))
        elif not isinstance(expr.get("operator"), str):
            problems.append((f"{where}.operator", "must be a string"))
        elif expr.get("values") is not None and (not isinstance(expr["values"], list) or not all(
                isinstance(value, str) for value in expr["values"])):
            problems.append((f"{where}.values", "must be a list of strings"))
    return problems


def matches(requirements: list[Requirement] | None, labels: dict) -> bool:
    """True when a label map satisfies every requirement (a null selector matches nothing)."""
    return requirements is not None and all(r.matches(labels or {}) for r in requirements)


def filter_q(requirements: list[Requirement], field: str = "labels") -> Q:
    """A filter selecting rows whose JSON label column satisfies every requirement."""
    q = Q()
    for requirement in requirements:
        q &= requirement.q(field)
    return q


def valid_key(key) -> bool:
    """True for a valid label (or annotation) key: ``[prefix/]name`` as Kubernetes validates it."""
    if not isinstance(key, str):
        return False
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > DNS1123_SUBDOMAIN_MAX or not DNS1123_SUBDOMAIN.fullmatch(prefix)):
        return False
    return len(name) <= 63 and bool(_NAME_RE.fullmatch(name))


def valid_value(value: str) -> bool:
    """True for a syntactically valid label value."""
    return isinstance(value, str) and len(value) <= 63 and bool(_VALUE_RE.fullmatch(value))
