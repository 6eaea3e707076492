"""The shared name patterns are Kubernetes' DNS-1123 label and subdomain."""
from __future__ import annotations

import re

import pytest

from edgeplatform.resources import names


@pytest.mark.parametrize(("name", "label", "subdomain"), [
    ("edge-bj-01", True, True), ("a", True, True), ("0", True, True), ("edge.bj", False, True),
    ("a.b.c", False, True), ("-edge", False, False), ("edge-", False, False), ("Edge", False, False),
    ("edge_bj", False, False), ("", False, False), ("a..b", False, False), ("a.-b", False, False),
])
def test_the_patterns_are_dns1123(name, label, subdomain):
    assert bool(names.DNS1123_LABEL.fullmatch(name)) is label
    assert bool(names.DNS1123_SUBDOMAIN.fullmatch(name)) is subdomain
    assert bool(re.fullmatch(names.OPTIONAL_DNS1123_LABEL_PATTERN, name)) is (label or name == "")
    assert bool(re.fullmatch(names.OPTIONAL_DNS1123_SUBDOMAIN_PATTERN, name)) is (subdomain or name == "")
