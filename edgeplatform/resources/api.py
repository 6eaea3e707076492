"""The REST surface every kind shares: ``/oapis/<group>/v1alpha1/<plural>/[<name>]``.

Bodies are manifests; lists are ``<Kind>List`` objects with Kubernetes' ``limit`` /
``continue`` paging and ``labelSelector``. Objects the caller may not see are 404, objects
they may see but not change are 403 — one engine decides both. Kinds of a member cluster (``cluster_child``) are
served under the cluster kind's items, ``/oapis/<cluster group>/<version>/<clusters>/<name>/<plural>/``: the cluster
kind is whichever stores the scopes of level ``cluster`` (``scopes.register_scope_model``).

Namespaced kinds (``converter.namespaced``) are served as kube-apiserver serves them:
``/oapis/<group>/<version>/namespaces/<namespace>/<plural>/[<name>]`` for every verb, and
``/oapis/<group>/<version>/<plural>/`` lists across all namespaces. A namespace holding nothing the caller may see
lists empty, whether it exists or not. Lists also take a ``fieldSelector`` on ``metadata.name`` and
``metadata.namespace`` (``=``, ``==``, ``!=``, comma-separated), as kubectl sends it.

A delete a finalizer holds (``converter.finalizes``) answers 202 Accepted with the object, now carrying its
``metadata.deletionTimestamp``, as kube-apiserver answers a delete it cannot finish at once.
"""
from __future__ import annotations

import base64
import json

from django.db.models import Q
from django.http import JsonResponse
from django.urls import re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter
from rest_framework import viewsets
from rest_framework.response import Response

from edgeplatform import authz
from edgeplatform.resources import labels as selectors
from edgeplatform.resources import scopes, services
from edgeplatform.resources.converters import Converter, converter_for
from edgeplatform.resources.errors import StatusError, cause, not_found, status_object
from edgeplatform.resources.names import DNS1123_LABEL_BODY, NAME_IN_URL
from edgeplatform.resources.openapi import ManifestSchema
from edgeplatform.resources.parsers import PATCH_TYPES

__all__ = ["FIELD_SELECTOR_PARAM", "LIST_PARAMS", "ManifestViewSet", "cluster_kind", "field_selector_q",
           "manifest_urls", "manifest_viewset", "unknown_resource"]

LIST_PARAMS = [
    OpenApiParameter("labelSelector", {"type": "string"},
                     description="A Kubernetes label selector: `key=value`, `key!=value`, `key in (a,b)`, "
                                 "`key notin (a,b)`, `key`, `!key`, comma-separated (all must hold)."),
    OpenApiParameter("limit", {"type": "integer", "minimum": 1},
                     description="The most items on a page (default EDGE_API_PAGE_SIZE); a page holds at most "
                                 "5000, so a larger limit is served as 5000."),
    OpenApiParameter("continue", {"type": "string"},
                     description="The previous page's metadata.continue: read the page after it."),
]

FIELD_SELECTOR_PARAM = OpenApiParameter(
    "fieldSelector", {"type": "string"},
    description="Kubernetes field selector on metadata.name and metadata.namespace: `metadata.namespace=edge-system`, "
                "`metadata.name!=x`, comma-separated (all must hold).")
#: the fields a field selector may name, and the column each is
SELECTABLE_FIELDS = {"metadata.name": "name", "metadata.namespace": "namespace"}


def field_selector_q(selector: str, namespaced: bool) -> Q:
    """The filter of a field selector; a 400 Status for one this server does not take."""
    q = Q()
    for term in filter(None, (part.strip() for part in selector.split(","))):
        for operator in ("!=", "==", "="):
            if operator in term:
                key, _, value = (part.strip() for part in term.partition(operator))
                break
        else:
            key, operator, value = term, "", ""
        column = SELECTABLE_FIELDS.get(key)
        if column is None or not operator or (column == "namespace" and not namespaced):
            message = f'field label not supported: "{key}"' if operator else f'invalid field selector: "{term}"'
            raise StatusError(400, message, "BadRequest", causes=[cause("fieldSelector", message)])
        q &= ~Q(**{column: value}) if operator == "!=" else Q(**{column: value})
    return q


def _encode_token(name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([name, pk]).encode()).decode()


def _decode_token(token: str) -> tuple[str, int]:
    """The (name, pk) a continue token carries; 400 for anything this server did not issue."""
    try:
        name, pk = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError) as exc:  # bad base64, bad JSON, not a pair
        raise _bad_token() from exc
    if not isinstance(name, str) or isinstance(pk, bool) or not isinstance(pk, int) or not 0 < pk < 2 ** 63:
        raise _bad_token()
    return name, pk


def _bad_token() -> StatusError:
    return StatusError(400, "the continue token is not valid", "BadRequest",
                       causes=[cause("continue", "not a token this server issued")])


class ManifestViewSet(viewsets.ViewSet):
    """List, get, create, replace, patch and delete one kind through its converter."""

    converter: Converter = None
    lookup_field = "name"
    lookup_value_regex = NAME_IN_URL

    # --- querysets -------------------------------------------------------------------
    def scoped_queryset(self, verb: str):
        """The rows of this kind the caller may ``verb``, within the URL's cluster if any."""
        qs = self.converter.model.objects.restrict(self.request.user, verb)
        if self.converter.cluster_child:
            qs = qs.filter(cluster__name=self.kwargs["cluster"])
        if self.kwargs.get("namespace"):
            qs = qs.filter(namespace=self.kwargs["namespace"])
        return qs

    def initial(self, request, *args, **kwargs):
        """After authentication: a URL under a cluster the caller may not learn of is 404, as a missing one."""
        super().initial(request, *args, **kwargs)
        cluster = kwargs.get("cluster")
        if self.converter.cluster_child and not authz.may_know_scope(request.user, scopes.resolve("cluster", cluster)):
            parent = cluster_kind()
            raise not_found(parent.plural, cluster, parent.group)

    def get_object(self, verb: str = "get"):
        """The named object, or 404 when it does not exist or the caller may not see it."""
        name = self.kwargs["name"]
        obj = self.scoped_queryset(verb).filter(name=name).first()
        if obj is None:
            raise not_found(self.converter.plural, name, self.converter.group)
        return obj

    def write_context(self) -> dict:
        """What the converter needs besides the body (the URL's cluster)."""
        return {"cluster": self.kwargs.get("cluster"), "namespace": self.kwargs.get("namespace"),
                "request": self.request}

    def manifest(self, obj) -> dict:
        """The manifest of one row."""
        return self.converter.to_manifest(obj)

    # --- verbs -----------------------------------------------------------------------
    def list(self, request, **kwargs):
        """A ``<Kind>List``, filtered by label selector and paged by limit/continue."""
        qs = self.scoped_queryset("list")
        selector = request.query_params.get("labelSelector")
        if selector:
            try:
                qs = self.filter_selector(qs, selectors.parse(selector))
            except selectors.SelectorError as exc:
                raise StatusError(400, str(exc), "BadRequest", causes=[cause("labelSelector", str(exc))]) from exc
        fields = request.query_params.get("fieldSelector")
        if fields:
            qs = qs.filter(field_selector_q(fields, self.converter.namespaced))
        qs = self.filter_list(qs, request)
        qs = qs.order_by("name", "pk")
        token = request.query_params.get("continue")
        if token:
            name, pk = _decode_token(token)
            qs = qs.filter(Q(name__gt=name) | Q(name=name, pk__gt=pk))
        limit = self._limit(request)
        rows = list(qs[: limit + 1])
        metadata = {"resourceVersion": ""}
        if len(rows) > limit:
            rows = rows[:limit]
            metadata["continue"] = _encode_token(rows[-1].name, rows[-1].pk)
            metadata["remainingItemCount"] = qs.count() - limit
        self.prefetch(rows)
        return Response({"apiVersion": self.converter.api_version, "kind": f"{self.converter.kind}List",
                         "metadata": metadata, "items": [self.manifest(obj) for obj in rows]})

    def filter_selector(self, qs, requirements):
        """The rows whose labels satisfy a ``labelSelector`` (override where a kind derives a label)."""
        return qs.filter(selectors.filter_q(requirements))

    def filter_list(self, qs, request):
        """Kind-specific list filters from the query (override; the default adds none)."""
        return qs

    def prefetch(self, rows: list) -> None:
        """Load what ``manifest()`` needs for many rows at once (override against N+1 queries)."""

    @staticmethod
    def _limit(request) -> int:
        from django.conf import settings

        raw = request.query_params.get("limit")
        if raw in (None, ""):
            return settings.EDGE_API_PAGE_SIZE
        value = int(raw) if raw.isdigit() and len(raw) <= 18 else -1
        if value < 1:
            raise StatusError(400, "limit must be a positive integer", "BadRequest",
                              causes=[cause("limit", "must be a positive integer")])
        return min(value, 5000)

    def retrieve(self, request, **kwargs):
        """One manifest."""
        return Response(self.manifest(self.get_object("get")))

    def create(self, request, **kwargs):
        """Create from a manifest; 201 with the stored manifest."""
        return self._create(request.data)

    def _create(self, manifest, url_name: str | None = None):
        obj = services.save_manifest(self.converter, manifest, user=self.request.user, url_name=url_name,
                                     context=self.write_context())
        return Response(self.manifest(obj), status=201)

    def update(self, request, **kwargs):
        """Replace from a whole manifest (a stale resourceVersion is a 409)."""
        obj = self.get_object("get")
        saved = services.save_manifest(self.converter, request.data, user=request.user, instance=obj,
                                       url_name=kwargs["name"], context=self.write_context())
        return Response(self.manifest(saved))

    def partial_update(self, request, **kwargs):
        """Patch the current manifest: a merge patch, a strategic-merge patch (for our kinds, maps merge and lists
        replace, so it is the same) or an apply patch (the same merge; it creates the object when it is missing,
        as server-side apply does)."""
        media_type = request.content_type.split(";")[0].strip()
        patch_type = PATCH_TYPES.get(media_type)
        if patch_type is None:
            raise StatusError(415, f'the patch type "{media_type or "(none)"}" is not supported; send '
                                   f"{', '.join(PATCH_TYPES)}", "UnsupportedMediaType")
        if patch_type == "apply" and not self.scoped_queryset("get").filter(name=kwargs["name"]).exists():
            return self._create(request.data, url_name=kwargs["name"])
        obj = self.get_object("get")
        current = self.manifest(obj)
        current["metadata"].pop("resourceVersion", None)
        patched = services.merge_patch(current, _without_directives(request.data) if patch_type == "strategic"
                                       else request.data)
        saved = services.save_manifest(self.converter, patched, user=request.user, instance=obj,
                                       url_name=kwargs["name"], context=self.write_context())
        return Response(self.manifest(saved))

    def destroy(self, request, **kwargs):
        """Delete; answers a Success Status naming the object, or 202 with the object when a finalizer holds it."""
        obj = self.get_object("get")
        held = services.delete_object(self.converter, obj, user=request.user, context=self.write_context())
        if held is not None:
            return Response(self.manifest(held), status=202)
        return Response(status_object(200, "", "", {"name": obj.name, "group": self.converter.group,
                                                     "kind": self.converter.plural, "uid": str(obj.uid)},
                                      success=True))


def _without_directives(patch):
    """A strategic-merge patch without its ``$``-directives (``$patch``, ``$retainKeys``, ``$setElementOrder/…``),
    which mean nothing for kinds without patch-merge keys; what is left applies as a merge patch."""
    if isinstance(patch, dict):
        return {k: _without_directives(v) for k, v in patch.items() if not k.startswith("$")}
    return patch


def cluster_kind() -> Converter:
    """The converter of the kind whose objects are clusters: kinds of a member cluster are served under it."""
    return converter_for(scopes.scope_model("cluster"))


def manifest_viewset(converter: Converter, base: type[ManifestViewSet] = ManifestViewSet,
                     list_params: tuple[OpenApiParameter, ...] = ()):
    """A viewset class for ``converter``, documented for the OpenAPI schema by ``openapi.ManifestSchema`` (the
    kind's manifest, list and Status bodies, every status code, Kubernetes' operation ids); ``list_params``
    documents the list filters a ``base`` adds."""
    return type(f"{converter.kind}ViewSet", (base,), {"converter": converter, "__doc__": f"{converter.kind} API.",
                                                      "schema": ManifestSchema([*LIST_PARAMS, FIELD_SELECTOR_PARAM,
                                                                                *list_params])})


def manifest_urls(converter: Converter, viewset=None) -> list:
    """URL patterns for one kind (collection and item, with or without a trailing slash)."""
    viewset = viewset or manifest_viewset(converter)
    group = converter.group or "core"
    prefix = rf"^oapis/{group}/{converter.version}/"
    if converter.cluster_child:  # native kinds of member clusters live under their cluster
        parent = cluster_kind()
        prefix = rf"^oapis/{parent.group}/{parent.version}/{parent.plural}/(?P<cluster>{DNS1123_LABEL_BODY})/"
    collection = viewset.as_view({"get": "list", "post": "create"})
    item = viewset.as_view({"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"})
    name = converter.plural if not converter.cluster_child else f"cluster-{converter.plural}"
    fleet = []
    if converter.namespaced:  # as kube-apiserver: every verb in a namespace, and a list across all of them
        fleet = [re_path(prefix + rf"{converter.plural}/?$", viewset.as_view({"get": "list"}),
                         name=f"{group}-{name}-list-all")]
        prefix += rf"namespaces/(?P<namespace>{DNS1123_LABEL_BODY})/"
    return [
        *fleet,
        re_path(prefix + rf"{converter.plural}/?$", collection, name=f"{group}-{name}-list"),
        re_path(prefix + rf"{converter.plural}/(?P<name>{ManifestViewSet.lookup_value_regex})/?$", item,
                name=f"{group}-{name}-detail"),
    ]


@csrf_exempt
def unknown_resource(request, path: str = ""):
    """Any other ``/oapis/…`` URL: a 404 Status, as kube-apiserver answers a kind it does not serve."""
    return JsonResponse(status_object(404, "NotFound", f'the server could not find the requested resource '
                                                       f'"/oapis/{path}"'), status=404)
