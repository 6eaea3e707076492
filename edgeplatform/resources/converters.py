"""Model ⇄ manifest: one converter per kind serves the API, the CRD sync and import/export.

A converter knows its kind's apiVersion, kind and plural, validates an incoming manifest
(metadata, then the spec through a DRF serializer, then the kind's own cross-field rules)
and writes it to a model row. Errors name the offending field (``spec.rules[0].verbs``).

Validation comes in two steps, because the write path authorizes in between (``services``):
``parse`` checks the manifest itself and resolves the scope it names (``clean``), answering a scope
the caller may not learn of as a missing one; ``admission`` then runs the rules whose answers depend
on other objects (``admit``: the role a binding names, escalation), only once the caller is known to
be allowed to write at that scope. A value of the wrong JSON type anywhere is a 422 naming the field,
never a server error. ``status`` is the platform's to write: on input it is ignored, as kube-apiserver
ignores the status sent to a resource's main endpoint (a kind that reads a desired state from it reads
it only when it is an object, ``status_in``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from rest_framework import serializers

from edgeplatform.resources import documents
from edgeplatform.resources import labels as selectors
from edgeplatform.resources.errors import cause, flatten_drf_errors, invalid
from edgeplatform.resources.names import DNS1123_LABEL, DNS1123_LABEL_MAX, DNS1123_SUBDOMAIN, DNS1123_SUBDOMAIN_MAX
from edgeplatform.resources.schemas import LABEL_SELECTOR

__all__ = ["CategorySpecSerializer", "Converter", "LabelSelectorField", "Parsed", "StringMapField", "converter_for",
           "plain_data_problems", "register", "registered"]


@dataclass
class Parsed:
    """A validated manifest, ready to be written to a row."""

    name: str
    labels: dict
    annotations: dict
    spec: dict
    resource_version: str | None = None
    extra: dict = field(default_factory=dict)  # what a kind's clean() resolved (scope objects, …)
    #: ``metadata.namespace`` of a namespaced kind (the body's, else the URL's); None: not given
    namespace: str | None = None


_registry: dict[tuple[str, str], Converter] = {}


def register(converter_class: type[Converter]) -> type[Converter]:
    """Class decorator: make a converter findable by (group, plural) and by model."""
    converter = converter_class()
    _registry[(converter.group, converter.plural)] = converter
    converter_class.model._converter = converter
    return converter_class


def converter_for(model_or_obj) -> Converter:
    """The converter of a model class or instance."""
    return model_or_obj._converter


def registered() -> list[Converter]:
    """Every registered converter."""
    return list(_registry.values())


class Converter:
    """Model ⇄ manifest for one kind. Subclasses set the class attributes and override hooks."""

    model = None
    group = ""
    version = "v1alpha1"
    kind = ""
    plural = ""
    short_names: tuple[str, ...] = ()
    spec_serializer: type[serializers.Serializer] | None = None
    name_pattern = DNS1123_SUBDOMAIN
    name_max_length = DNS1123_SUBDOMAIN_MAX
    #: served under clusters/<cluster>/ rather than at the group root
    cluster_child = False
    #: foreign keys ``to_manifest`` reads, loaded with the row when a write re-reads it (one query, not one more
    #: per relation)
    related: tuple[str, ...] = ()
    #: the OpenAPI schema of ``status`` (the CRD's and the API document's, ``edgeplatform.resources.schemas``);
    #: None: the kind has no status
    status_schema: dict | None = None
    #: the kind has a CRD on the host cluster, kept in step with the database (CRD sync, kubewatch)
    has_crd = False
    crd_scope = "Cluster"  # or "Namespaced"
    #: kubectl's columns for the kind (the CRD's ``additionalPrinterColumns``, ``edgeplatform.resources.kinds``)
    printer_columns: tuple[dict, ...] = ()
    #: kubectl categories of the kind besides ``edge`` (``kubectl get iam``)
    categories: tuple[str, ...] = ()
    #: the finalizer its custom resource carries while the row exists (``""``: none), so that ``kubectl delete``
    #: waits for the platform (``finalizes``)
    crd_finalizer = ""

    @property
    def namespaced(self) -> bool:
        """Objects of the kind live in a namespace (``metadata.namespace``; the row's ``namespace`` column), and
        the API serves them under ``namespaces/<namespace>/``."""
        return self.crd_scope == "Namespaced" and not self.cluster_child

    def namespace_of(self, obj) -> str | None:
        """The namespace a row lives in (None for kinds that are not namespaced)."""
        return obj.namespace if self.namespaced else None

    def finalizes(self, obj) -> bool:
        """True when a delete of ``obj`` is held by a finalizer: the delete only asks for it (the row's
        ``deletion_requested`` is set, shown as ``metadata.deletionTimestamp``) and the kind's controller removes
        the row later, through ``services.delete_object(..., finalize=True)``."""
        return False

    def admit_delete(self, obj, context: dict) -> None:
        """Rules a delete request must pass that look at other objects (raise a StatusError: a 409 when others
        still need it); run after the delete is authorized, not on the system's final removal."""

    @property
    def api_version(self) -> str:
        """``group/version``, or just the version for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def lookup(self, name: str, context: dict | None = None):
        """The stored object a manifest named ``name`` refers to, or None (a namespaced kind looks in the
        context's ``namespace``)."""
        rows = self.model.objects.filter(name=name)
        if self.namespaced and (context or {}).get("namespace"):
            rows = rows.filter(namespace=context["namespace"])
        return rows.first()

    # --- model → manifest -------------------------------------------------------------
    def to_manifest(self, obj) -> dict:
        """The manifest of a row, as the API, the CRD and the YAML tab show it."""
        metadata = {"name": obj.name}
        if self.namespaced:
            metadata["namespace"] = obj.namespace
        metadata.update({
            "uid": str(obj.uid),
            "resourceVersion": str(obj.resource_version),
            "generation": obj.generation,
            "creationTimestamp": obj.created.strftime("%Y-%m-%dT%H:%M:%SZ") if obj.created else None,
        })
        requested = getattr(obj, "deletion_requested", None)
        if requested is not None:
            metadata["deletionTimestamp"] = requested.strftime("%Y-%m-%dT%H:%M:%SZ")
        if obj.labels:
            metadata["labels"] = dict(obj.labels)
        if obj.annotations:
            metadata["annotations"] = dict(obj.annotations)
        body = {"apiVersion": self.api_version, "kind": self.kind, "metadata": metadata}
        body["spec"] = self.spec_out(obj)
        status = self.status_out(obj)
        if status is not None:
            body["status"] = status
        return body

    def spec_out(self, obj) -> dict:
        """The spec as shown (override to redact secrets)."""
        return dict(obj.spec or {})

    def status_out(self, obj) -> dict | None:
        """The status as shown; None omits it (kinds without a status subresource)."""
        return dict(obj.status or {})

    # --- manifest → model -------------------------------------------------------------
    def parse(self, manifest: dict, instance=None, name: str | None = None, context: dict | None = None) -> Parsed:
        """Validate a whole manifest; raise a 422 Status naming every bad field."""
        problems: list[dict] = []
        if not isinstance(manifest, dict):
            raise invalid(self.kind, name or "", [cause("body", "must be an object")], self.group)
        plain_data_problems({k: v for k, v in manifest.items() if k != "status"}, problems)
        if problems:  # what follows may assume JSON data: string keys, no other types
            raise invalid(self.kind, name or "", problems, self.group)
        self._check_type(manifest, problems)
        metadata = manifest.get("metadata") or {}
        if not isinstance(metadata, dict):
            problems.append(cause("metadata", "must be an object"))
            metadata = {}
        obj_name = metadata.get("name") or name or (instance.name if instance else "")
        self._check_name(obj_name, name, instance, problems)
        if not isinstance(obj_name, str):
            obj_name = ""
        labels = self._check_map(metadata.get("labels"), "metadata.labels", problems, labels=True)
        annotations = self._check_map(metadata.get("annotations"), "metadata.annotations", problems)
        spec = self._check_spec(manifest.get("spec"), problems, context)
        rv = metadata.get("resourceVersion")
        if isinstance(rv, bool) or not isinstance(rv, (str, int, type(None))):
            problems.append(cause("metadata.resourceVersion", "must be a string"))
            rv = None
        parsed = Parsed(obj_name, labels, annotations, spec, str(rv) if rv not in (None, "") else None)
        if self.namespaced:
            parsed.namespace = self._check_namespace(metadata.get("namespace"), context or {}, instance, problems)
        if not problems:
            self.clean(parsed, instance, problems, context or {})
        if problems:
            raise invalid(self.kind, obj_name, problems, self.group)
        return parsed

    def admission(self, parsed: Parsed, instance=None, context: dict | None = None) -> None:
        """Run the kind's rules that depend on other objects (``admit``); raise a 422 naming every bad field.

        The write path calls this only after the caller is authorized at the object's scope, so that what these
        rules answer (a role not found, a group bound where the caller holds less) tells nothing to someone who
        may not write there.
        """
        problems: list[dict] = []
        self.admit(parsed, instance, problems, dict(context or {}))
        if problems:
            raise invalid(self.kind, parsed.name, problems, self.group)

    @staticmethod
    def status_in(manifest) -> dict:
        """The ``status`` of an incoming manifest when it is an object, else ``{}`` (ignored, as kube-apiserver
        ignores status sent to the main resource)."""
        status = manifest.get("status") if isinstance(manifest, dict) else None
        return status if isinstance(status, dict) else {}

    def _check_type(self, manifest: dict, problems: list) -> None:
        api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
        if api_version not in (None, self.api_version):
            problems.append(cause("apiVersion", f"must be {self.api_version}", "FieldValueNotSupported"))
        if kind not in (None, self.kind):
            problems.append(cause("kind", f"must be {self.kind}", "FieldValueNotSupported"))

    def _check_name(self, obj_name, url_name, instance, problems: list) -> None:
        if not obj_name:
            problems.append(cause("metadata.name", "name is required", "FieldValueRequired"))
        elif not isinstance(obj_name, str) or len(obj_name) > self.name_max_length \
                or not self.name_pattern.fullmatch(obj_name):
            problems.append(cause("metadata.name", "must be a lowercase RFC 1123 name (a-z, 0-9, '-')"))
        elif url_name and obj_name != url_name:
            problems.append(cause("metadata.name", f"does not match the name in the URL ({url_name})"))
        elif instance is not None and obj_name != instance.name:
            problems.append(cause("metadata.name", "is immutable", "FieldValueForbidden"))

    def _check_namespace(self, value, context: dict, instance, problems: list) -> str | None:
        """``metadata.namespace``: a DNS-1123 label, the URL's when the body names none, equal to it when both do,
        and immutable."""
        url_namespace = context.get("namespace")
        if value in (None, ""):
            value = url_namespace or (instance.namespace if instance is not None else None)
        if value is None:
            return None
        if not isinstance(value, str) or len(value) > DNS1123_LABEL_MAX or not DNS1123_LABEL.fullmatch(value):
            problems.append(cause("metadata.namespace", "must be a lowercase RFC 1123 label (a-z, 0-9, '-')"))
            return None
        if url_namespace and value != url_namespace:
            problems.append(cause("metadata.namespace", f"does not match the namespace in the URL ({url_namespace})"))
        elif instance is not None and value != instance.namespace:
            problems.append(cause("metadata.namespace", "is immutable", "FieldValueForbidden"))
        return value

    @staticmethod
    def _check_map(value, where: str, problems: list, labels: bool = False) -> dict:
        if value is None or value == "":
            return {}
        if not isinstance(value, dict):
            problems.append(cause(where, "must be a map of strings"))
            return {}
        for key, item in value.items():
            if not isinstance(key, str) or not isinstance(item, str) or not selectors.valid_key(key) or \
                    (labels and not selectors.valid_value(item)):
                problems.append(cause(f"{where}[{key}]", "invalid key or value"))
        return dict(value)

    def _check_spec(self, spec, problems: list, context) -> dict:
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            problems.append(cause("spec", "must be an object"))
            return {}
        if self.spec_serializer is None:
            return spec
        serializer = self.spec_serializer(data=spec, context=context or {})
        if not serializer.is_valid():
            problems.extend(flatten_drf_errors(serializer.errors, "spec"))
            return {}
        return _drop_nulls(serializer.validated_data)

    def clean(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """Cross-field rules and the scope the object names (append causes to ``problems``); they run before the
        write is authorized, so a scope the caller may not learn of must be answered as a missing one."""

    def admit(self, parsed: Parsed, instance, problems: list, context: dict) -> None:
        """Rules that look at other objects (append causes, or raise a 403 for escalation); run only after the
        write is authorized at the object's scope (see ``admission``)."""

    def changes_outside_row(self, obj, parsed: Parsed) -> bool:
        """True when the write changes something stored beside the object's row (a user's group membership), so
        that a manifest equal to the stored one is still a write."""
        return False

    def assign(self, obj, parsed: Parsed) -> None:
        """Write a validated manifest onto a row (columns beyond metadata come from ``parsed``)."""
        obj.name = parsed.name
        obj.labels = parsed.labels
        obj.annotations = parsed.annotations
        obj.spec = parsed.spec

    def after_save(self, obj, parsed: Parsed, created: bool) -> None:
        """Work that belongs to the same transaction as the write (child rows, grant changes)."""

    def before_delete(self, obj) -> None:
        """Work that belongs to the same transaction as the delete, before the row goes (its contents)."""

    def after_delete(self, obj) -> None:
        """Work that belongs to the same transaction as the delete, once the row is gone (what referred to it)."""

    def scope_path_for(self, parsed: Parsed, instance=None) -> str:
        """The scope a new or changed object will live in (checked before it is written)."""
        return "platform"


def _drop_nulls(value):
    """Plain dicts/lists without the ``None`` values optional serializer fields leave behind."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def plain_data_problems(value, problems: list) -> None:
    """Append a cause for every place in ``value`` that is not plain JSON data (``documents.problems``): what a
    manifest that did not come through the API's decoders (the console, the CRD sync) may still hold."""
    problems.extend(cause(field, message) for field, message in documents.problems(value))


class LabelSelectorField(serializers.JSONField):
    """A metav1.LabelSelector (matchLabels / matchExpressions), validated."""

    openapi_schema = LABEL_SELECTOR

    def to_internal_value(self, data):
        """Check the selector's shape, keys, operators and values."""
        if not isinstance(data, dict) or set(data) - {"matchLabels", "matchExpressions"}:
            raise serializers.ValidationError("must be a LabelSelector (matchLabels, matchExpressions)")
        problems = selectors.validate_label_selector(data, "")
        if problems:  # keyed by the path below the selector, so that causes name it (spec.selector.matchLabels)
            errors: dict[str, list[str]] = {}
            for where, message in problems:
                errors.setdefault(where.lstrip(".") or "non_field_errors", []).append(message)
            raise serializers.ValidationError(errors)
        return data


class CategorySpecSerializer(serializers.Serializer):
    """Category spec: i18n maps and an icon."""

    displayName = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False,
                                        help_text="The name shown in the console, per language (zh-CN, en-US).")
    description = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False,
                                        help_text="What the category holds, per language.")
    icon = serializers.CharField(required=False, allow_blank=True, help_text="The console icon's name.")


class StringMapField(serializers.DictField):
    """A map of strings."""

    child = serializers.CharField(allow_blank=True)
