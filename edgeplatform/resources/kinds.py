"""The kinds of the platform, as each app declares them: names, scope, spec and status schemas, printer columns.

A kind with a model has a converter (``converters.register``), and the converter carries the whole declaration:
besides its names and spec serializer, ``status_schema``, ``printer_columns``, ``categories``, ``crd_scope`` and
``has_crd``. A kind that has a CRD but no model yet is declared with a ``KindInfo`` its app registers here
(``register``), so that the core never names an app: the CRDs (``edgeplatform.kube.crds``) and the API's OpenAPI
document (``kind_schemas``) are generated from what ``registered()`` finds.

Printer columns are kubectl's (``additionalPrinterColumns``); ``AGE_COLUMN``, ``READY_COLUMN`` and ``PHASE_COLUMN``
are the ones most kinds show, and ``label_path`` / ``annotation_path`` spell the JSONPath of a label or annotation.
"""
from __future__ import annotations

from dataclasses import dataclass

from rest_framework import serializers

from edgeplatform.resources.converters import Converter
from edgeplatform.resources.converters import registered as registered_converters
from edgeplatform.resources.schemas import API, spec_schema

__all__ = ["AGE_COLUMN", "PHASE_COLUMN", "READY_COLUMN", "SCOPES", "KindInfo", "annotation_path", "kind_schemas",
           "label_path", "register", "registered"]

SCOPES = ("Cluster", "Namespaced")
AGE_COLUMN = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
READY_COLUMN = {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'}
PHASE_COLUMN = {"name": "Phase", "type": "string", "jsonPath": ".status.phase"}


def label_path(key: str, where: str = "labels") -> str:
    """The JSONPath of a label (or annotation), dots escaped as kubectl wants them."""
    return f".metadata.{where}['" + key.replace(".", "\\.") + "']"


def annotation_path(key: str) -> str:
    """The JSONPath of an annotation."""
    return label_path(key, "annotations")


@dataclass(frozen=True)
class KindInfo:
    """Everything a kind's CRD and its manifests' schemas are generated from."""

    group: str
    kind: str
    plural: str
    scope: str = "Cluster"  # of its CRD: "Cluster" or "Namespaced"
    #: the DRF spec serializer (the API's); None: the spec is ``declared_spec``, or free-form
    spec_serializer: type[serializers.Serializer] | None = None
    status: dict | None = None  # None: the kind has no status (and its CRD no status subresource)
    columns: tuple[dict, ...] = ()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    version: str = "v1alpha1"
    #: the spec schema of a kind that has no serializer (instead of a free-form spec)
    declared_spec: dict | None = None
    #: the kind has a CRD on the host cluster
    crd: bool = True
    #: a converter keeps the custom resources in step with the database (CRD sync, kubewatch)
    synced: bool = False

    def __post_init__(self):
        if self.scope not in SCOPES:
            raise ValueError(f"{self.kind}: scope must be one of {', '.join(SCOPES)}, not {self.scope!r}")

    @classmethod
    def of(cls, converter: Converter) -> KindInfo:
        """The declaration a converter carries."""
        return cls(converter.group, converter.kind, converter.plural, converter.crd_scope, converter.spec_serializer,
                   converter.status_schema, tuple(converter.printer_columns), tuple(converter.short_names),
                   tuple(converter.categories), converter.version, crd=converter.has_crd, synced=converter.has_crd)

    def serializer(self) -> serializers.Serializer | None:
        """An instance of the spec serializer (None when the spec has none)."""
        return self.spec_serializer() if self.spec_serializer is not None else None


_declared: dict[tuple[str, str], KindInfo] = {}


def register(info: KindInfo) -> KindInfo:
    """Declare a kind that has no converter (yet): its CRD is generated, and nothing syncs it."""
    _declared[(info.group, info.kind)] = info
    return info


def registered() -> list[KindInfo]:
    """Every kind, those with a converter and those declared, in a stable order (group, kind). A kind that has
    both is described by its converter."""
    found = dict(_declared)
    found.update({(c.group, c.kind): KindInfo.of(c) for c in registered_converters()})
    return [found[key] for key in sorted(found)]


def kind_schemas(converter: Converter, target: str = API) -> tuple[dict, dict | None]:
    """(spec, status) schemas of a kind the API serves, CRD or not: what its manifests carry (status None: the
    kind has no status). The CRDs carry the same ones (``target="crd"`` leaves write-only secrets out)."""
    info = KindInfo.of(converter)
    return spec_schema(info, target), info.status
