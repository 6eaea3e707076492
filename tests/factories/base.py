"""The base of every kind's factory: declarations resolve to a manifest, and a created object is stored through the
platform's write path, so that a row made for a test is a row the API would have made.

``Factory.build(...)`` (or ``Factory.manifest(...)``) returns the manifest the API takes; ``Factory(...)`` /
``Factory.create(...)`` saves that manifest as the system (``services.save_manifest``: validation, the kind's own
same-transaction work, the audit log and the grant change log) and returns the row; ``Factory.apply(...)`` creates
it or replaces the object of that name. Objects a manifest names (a
workspace's cluster, a binding's role) are created first when not given, whatever the strategy, since a manifest
may only name objects that exist; they may be given as rows or by name.
"""
from __future__ import annotations

import copy

import factory

from edgeplatform.resources.converters import converter_for
from edgeplatform.resources.loader import apply
from edgeplatform.resources.names import CLUSTER_LABEL, SCOPE_LABEL, SCOPE_VALUE_LABEL
from edgeplatform.resources.services import save_manifest

__all__ = ["PASSWORD", "Existing", "ManifestFactory", "name_of", "scope_labels"]

#: the password of every user the factories make (tests log in with it)
PASSWORD = "Edge-Test-Passw0rd!"


def name_of(obj) -> str:
    """The name of a row, or the name itself (manifests name other objects by name)."""
    return obj if isinstance(obj, str) else obj.name


def scope_labels(level: str, value: str = "", cluster: str = "") -> dict:
    """The labels naming a scope, as roles and bindings carry them (the cluster where a name repeats across
    clusters)."""
    labels = {SCOPE_LABEL: level}
    if value:
        labels[SCOPE_VALUE_LABEL] = value
    if cluster:
        labels[CLUSTER_LABEL] = cluster
    return labels


class Existing(factory.SubFactory):
    """An object the manifest names: created through its own factory (unless given), also when the manifest is
    only built, since a manifest may only name objects that exist."""

    def evaluate(self, instance, step, extra):
        """Create the object with the overrides given as ``<field>__<attribute>``."""
        return self.get_factory().create(**extra)


class ManifestFactory(factory.Factory):
    """Declarations of one kind's manifest; ``build`` gives the manifest, ``create`` stores it as the system.

    A kind's factory sets ``Meta.model`` and overrides ``labels_of``, ``spec_of`` and ``context_of`` to turn its
    declarations (rows it refers to, scope labels, rules) into the manifest's fields.
    """

    class Meta:
        abstract = True

    labels = factory.Dict({})
    annotations = factory.Dict({})
    spec = factory.Dict({})

    # --- declarations → manifest ------------------------------------------------------------
    @classmethod
    def labels_of(cls, fields: dict) -> dict:
        """The manifest's labels."""
        return dict(fields.get("labels") or {})

    @classmethod
    def spec_of(cls, fields: dict) -> dict:
        """The manifest's spec."""
        return copy.deepcopy(dict(fields.get("spec") or {}))

    @classmethod
    def context_of(cls, manifest: dict) -> dict | None:
        """What the write path needs besides the manifest (the cluster of a native kind's URL)."""
        return None

    @classmethod
    def to_manifest(cls, fields: dict) -> dict:
        """The manifest the resolved declarations describe."""
        unknown = set(fields) - set(cls._meta.declarations)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
        converter = converter_for(cls._meta.model)
        metadata = {"name": fields["name"]}
        labels = cls.labels_of(fields)
        if labels:
            metadata["labels"] = labels
        if fields.get("annotations"):
            metadata["annotations"] = dict(fields["annotations"])
        return {"apiVersion": converter.api_version, "kind": converter.kind, "metadata": metadata,
                "spec": cls.spec_of(fields)}

    # --- factory_boy strategies -------------------------------------------------------------------
    @classmethod
    def _build(cls, model_class, **fields):
        return cls.to_manifest(fields)

    @classmethod
    def _create(cls, model_class, **fields):
        manifest = cls.to_manifest(fields)
        return save_manifest(converter_for(model_class), manifest, context=cls.context_of(manifest))

    @classmethod
    def manifest(cls, **fields) -> dict:
        """The manifest of a new object, as a client would post it (``build``)."""
        return cls.build(**fields)

    @classmethod
    def apply(cls, **fields):
        """Create the object, or replace the one of that name (as ``kubectl apply`` does); return the row."""
        manifest = cls.build(**fields)
        return apply([manifest], context=cls.context_of(manifest))[0]
