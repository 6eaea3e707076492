"""Kubernetes label selectors: the query-string form and the LabelSelector object.

One requirement is ``(key, operator, values)`` with operator In, NotIn, Exists or
DoesNotExist, exactly as in ``metav1.LabelSelectorRequirement``; both forms compile to a
list of them, which then match a label map in Python or filter a JSON column in SQL.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.db.models import Q

_KEY = r"(?:[a-z0-9A-Z.\-]+/)?[a-zA-Z0-9](?:[-a-zA-Z0-9_.]*[a-zA-Z0-9])?"
_KEY_RE = re.compile(rf"^{_KEY}$")
_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SET_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s+(in|notin)\s*\((.*)\)\s*$")
_EQ_RE = re.compile(rf"^\s*({_KEY})\s*(==|=|!=)\s*(\S*)\s*$")
_EXISTS_RE = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")


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
        """A filter on the JSON label column ``field`` equivalent to this requirement."""
        has = Q(**{f"{field}__has_key": self.key})
        if self.operator == "Exists":
            return has
        if self.operator == "DoesNotExist":
            return ~has
        any_of = Q()
        for value in self.values:
            any_of |= Q(**{f"{field}__{self.key}": value})
        return (has & any_of) if self.operator == "In" else ~(has & any_of)


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


def parse(selector: str) -> list[Requirement]:
    """Parse ``a=b,c!=d,e in (x,y),!f,g`` into requirements."""
    requirements = []
    for term in split_terms(selector or ""):
        if match := _SET_RE.match(term):
            if match.group(1):
                raise SelectorError(f"unexpected '!' in {term!r}")
            values = tuple(_check_value(v.strip()) for v in match.group(4).split(",") if v.strip())
            operator = "In" if match.group(3) == "in" else "NotIn"
            requirements.append(Requirement(match.group(2), operator, values))
        elif match := _EQ_RE.match(term):
            operator = "NotIn" if match.group(2) == "!=" else "In"
            requirements.append(Requirement(match.group(1), operator, (_check_value(match.group(3)),)))
        elif match := _EXISTS_RE.match(term):
            requirements.append(Requirement(match.group(2), "DoesNotExist" if match.group(1) else "Exists"))
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")
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
    """Problems of a LabelSelector object as (field path, message) pairs."""
    problems = []
    for key, value in (selector.get("matchLabels") or {}).items():
        if not _KEY_RE.fullmatch(key):
            problems.append((f"{field}.matchLabels", f"invalid label key {key!r}"))
        if not isinstance(value, str) or not _VALUE_RE.fullmatch(value):
            problems.append((f"{field}.matchLabels[{key}]", f"invalid label value {value!r}"))
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        where = f"{field}.matchExpressions[{i}]"
        if not isinstance(expr, dict) or not _KEY_RE.fullmatch(str(expr.get("key", ""))):
            problems.append((f"{where}.key", "a valid label key is required"))
            continue
        operator, values = expr.get("operator"), expr.get("values") or []
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            problems.append((f"{where}.operator", f"unsupported operator {operator!r}"))
        elif operator in ("In", "NotIn") and not values:
            problems.append((f"{where}.values", "must be non-empty for In and NotIn"))
        elif operator in ("Exists", "DoesNotExist") and values:
            problems.append((f"{where}.values", "must be empty for Exists and DoesNotExist"))
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


def valid_key(key: str) -> bool:
    """True for a syntactically valid label key."""
    return bool(_KEY_RE.fullmatch(key))


def valid_value(value: str) -> bool:
    """True for a syntactically valid label value."""
    return isinstance(value, str) and len(value) <= 63 and bool(_VALUE_RE.fullmatch(value))
