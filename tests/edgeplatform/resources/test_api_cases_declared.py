"""Every kind the API serves has a generated API case (``tests/api_cases.py``): a kind added without one fails here."""
import importlib

from django.urls import resolve

from edgeplatform.resources.api import unknown_resource
from edgeplatform.resources.converters import registered
from tests import api_cases
from tests.paths import ROOT

CASE_MODULES = sorted(ROOT.glob("tests/**/test_api_kinds.py"))


def _served(converter) -> bool:
    """Does a URL of the API serve the kind's collection?"""
    if converter.cluster_child:
        url = f"/oapis/scope.theriseunion.io/v1alpha1/clusters/c1/{converter.plural}"
    else:
        url = f"/oapis/{converter.group}/{converter.version}/{converter.plural}"
    return resolve(url).func is not unknown_resource


def test_every_kind_the_api_serves_has_a_declared_case():
    for path in CASE_MODULES:
        importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    served = {(converter.group, converter.plural) for converter in registered() if _served(converter)}
    assert len(served) >= 11, served  # the kinds of iam and clusters at least
    assert sorted(served - set(api_cases.DECLARED)) == []


def test_a_kind_the_api_does_not_serve_is_told_apart():
    class Gadgets:
        cluster_child, group, version, plural = False, "scope.theriseunion.io", "v1alpha1", "gadgets"

    assert not _served(Gadgets)
