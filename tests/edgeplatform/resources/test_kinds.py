"""Apps declare their kinds; the core finds them through the registry: a kind registered by an app gets its CRD
and its schemas without any change to ``edgeplatform``."""
from __future__ import annotations

import pytest
from rest_framework import serializers

from edgeplatform.kube import crds
from edgeplatform.resources import kinds
from edgeplatform.resources.schemas import CONDITIONS, observed_state


class GadgetSpecSerializer(serializers.Serializer):
    """A spec with one field."""

    size = serializers.IntegerField(min_value=1, help_text="How big.")


@pytest.fixture
def gadget():
    info = kinds.register(kinds.KindInfo(
        "gadgets.example.io", "Gadget", "gadgets", "Namespaced", GadgetSpecSerializer,
        observed_state("Gadget", conditions=CONDITIONS),
        ({"name": "Size", "type": "integer", "jsonPath": ".spec.size"}, kinds.AGE_COLUMN), short_names=("gd",)))
    yield info
    kinds._declared.pop((info.group, info.kind))


def test_a_kind_an_app_registers_gets_its_crd(gadget):
    crd = next(c for c in crds.crds() if c["spec"]["names"]["kind"] == "Gadget")
    assert crd["metadata"]["name"] == "gadgets.gadgets.example.io"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["shortNames"] == ["gd"]
    version = crd["spec"]["versions"][0]
    assert [c["name"] for c in version["additionalPrinterColumns"]] == ["Size", "Age"]
    assert version["subresources"] == {"status": {}}
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["size"] == {"description": "How big.", "type": "integer", "minimum": 1}
    assert version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]["conditions"] == CONDITIONS
    # declared, not synced: nothing has a table to bring it into
    assert gadget in crds.declared()
    assert "Gadget" not in {c.kind for c in crds.crd_kinds()}


def test_every_kind_with_a_converter_describes_itself():
    """A converter's declaration is its kind's: the CRD of a synced kind is generated from the converter alone."""
    for converter in crds.crd_kinds():
        info = kinds.KindInfo.of(converter)
        assert info.synced and info.crd
        assert crds.crd_for(converter) == crds.crd_for(info)
        assert info in kinds.registered()
