"""Label and field selectors in kube-apiserver's syntax.

Labels: ``a=b``, ``a==b``, ``a!=b``, ``a in (x,y)``, ``a notin (x)``, ``a`` (exists), ``!a`` (does not exist),
comma-separated and all required. Fields: ``metadata.name`` and ``metadata.namespace`` with ``=``, ``==``, ``!=``,
and ``spec.nodeName`` (what the real server offers on pods, and ``kubectl drain`` asks for).
"""
from __future__ import annotations

import re
from collections.abc import Callable

from edgeplatform.resources.labels import split_terms

_SET = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*$")

FIELDS = {"metadata.name": ("metadata", "name"), "metadata.namespace": ("metadata", "namespace"),
          "spec.nodeName": ("spec", "nodeName")}


class SelectorError(ValueError):
    """A selector that does not parse (the API answers 400 BadRequest)."""


def label_matcher(text: str | None) -> Callable[[dict], bool]:
    """A predicate on an object's labels for ``labelSelector``."""
    if not text:
        return lambda labels: True
    tests = []
    for term in split_terms(text):
        if match := _SET.match(term):
            key, op, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",")}
            if op == "in":
                tests.append(lambda lb, k=key, vs=values: lb.get(k) in vs)
            else:
                tests.append(lambda lb, k=key, vs=values: lb.get(k) not in vs)
        elif match := _EQ.match(term):
            key, op, value = match.groups()
            if op == "!=":
                tests.append(lambda lb, k=key, v=value: lb.get(k) != v)
            else:
                tests.append(lambda lb, k=key, v=value: k in lb and lb[k] == v)
        elif match := _EXISTS.match(term):
            negate, key = match.groups()
            if negate:
                tests.append(lambda lb, k=key: k not in lb)
            else:
                tests.append(lambda lb, k=key: k in lb)
        else:
            raise SelectorError(f"unable to parse requirement: {term!r}")
    return lambda labels: all(test(labels or {}) for test in tests)


def field_matcher(text: str | None) -> Callable[[dict], bool]:
    """A predicate on a whole object for ``fieldSelector`` (name, namespace and a pod's node)."""
    if not text:
        return lambda obj: True
    tests = []
    for term in split_terms(text):
        match = _EQ.match(term)
        if not match or match.group(1) not in FIELDS:
            raise SelectorError(f'field label not supported: "{term.strip()}"')
        path, op, value = FIELDS[match.group(1)], match.group(2), match.group(3)

        def get(obj, p=path):
            return (obj.get(p[0]) or {}).get(p[1], "")

        if op == "!=":
            tests.append(lambda obj, g=get, v=value: g(obj) != v)
        else:
            tests.append(lambda obj, g=get, v=value: g(obj) == v)
    return lambda obj: all(test(obj) for test in tests)


def selector_matches(selector: dict | None, labels: dict | None) -> bool:
    """Whether a ``metav1.LabelSelector`` (``matchLabels`` and ``matchExpressions``) selects these labels.

    An empty selector selects everything, as ``LabelSelectorAsSelector`` makes it; callers for which it selects
    nothing (a PodDisruptionBudget) check for emptiness first.
    """
    labels = labels or {}
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def selector_is_empty(selector: dict | None) -> bool:
    """No ``matchLabels`` and no ``matchExpressions``."""
    return not (selector or {}).get("matchLabels") and not (selector or {}).get("matchExpressions")
