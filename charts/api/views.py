"""ChartMuseum's HTTP API, in Harbor's layout, for the platform's chart repositories.

Helm's side (``helm repo add``, ``helm pull``)::

    GET  /chartrepo/<repo>/index.yaml                      the index, rendered from rows and cached
    GET  /chartrepo/<repo>/charts/<name>-<version>.tgz     an archive

ChartMuseum's API (``helm cm-push`` posts to ``/api/chartrepo/<repo>/charts`` for a repository added as
``…/chartrepo/<repo>``)::

    GET    /api/chartrepo/<repo>/charts                    {name: [version, …]}
    POST   /api/chartrepo/<repo>/charts[?force]            raw .tgz body or multipart field "chart": 201 {"saved": true}
    GET    /api/chartrepo/<repo>/charts/<name>[/<version>] the versions of a chart, or one ("latest" allowed)
    DELETE /api/chartrepo/<repo>/charts/<name>[/<version>] {"deleted": true}
    GET    /api/chartrepo/health, /api/chartrepo/<repo>/health   {"healthy": true}

Errors are ChartMuseum's ``{"error": "…"}``. A request without credentials is answered 401 with a Basic challenge
(Helm then sends its ``--username/--password``); a repository the caller may not learn of is 404, as a missing
one; one they may not act on, 403. Refusals are audited by the audit middleware from the note each view leaves.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import FileResponse, HttpResponse, HttpResponseNotModified
from django.utils.module_loading import import_string
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, views
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from charts import access, index, services, store
from charts.models import ChartVersion
from edgeplatform import authz
from edgeplatform.console import denials
from edgeplatform.helm import HelmError
from edgeplatform.helm.repository import version_key

from .parsers import ArchiveParser, ArchiveTooLarge, MultiPartParser, refuse_declared_oversize

__all__ = ["ChartFileView", "ChartView", "ChartsView", "HealthView", "IndexView", "VersionView"]

log = logging.getLogger(__name__)
REALM = 'Basic realm="edge-platform chart repository"'
TRUE = ("", "1", "true", "yes")


def _authenticators():
    return [import_string(path) for path in settings.EDGE_CHART_AUTHENTICATION_CLASSES]


@extend_schema(exclude=True)  # ChartMuseum's API, not the platform's manifest API: the README documents it
class RepositoryView(APIView):
    """Base of the repository views: the platform's authentication, ChartMuseum's error bodies, and ``scope``,
    which answers who may do what in a repository."""

    authentication_classes = _authenticators()
    permission_classes = ()
    parser_classes = ()
    renderer_classes = (JSONRenderer,)

    def perform_content_negotiation(self, request, force=False):
        """Never 406: Helm asks for ``application/gzip`` or YAML, and the answer is what it is (as ChartMuseum's)."""
        return super().perform_content_negotiation(request, force=True)

    def get_authenticate_header(self, request):
        """Basic: Helm answers a Basic challenge with the credentials it was given."""
        return REALM

    def get_exception_handler(self):
        """DRF's own handler (the API's turns errors into Kubernetes Status objects; ChartMuseum's are not)."""
        return views.exception_handler

    def handle_exception(self, exc):
        """ChartMuseum's ``{"error": "…"}`` with the status DRF gives the exception."""
        response = super().handle_exception(exc)
        if isinstance(exc, exceptions.APIException):
            detail = exc.detail if isinstance(exc.detail, str) else exc.default_detail
            response.data = {"error": str(detail)}
        return response

    def scope(self, request, repository: str, verb: str, name: str = "") -> str:
        """The scope path of ``repository`` once ``request.user`` may ``verb`` charts there; 401/404/403 else."""
        django_request = request._request
        denials.note_kind(django_request, verb, group=access.GROUP, resource=access.RESOURCE, kind="ChartVersion")
        django_request.audit_resource["name"] = name
        user = request.user
        if not user.is_authenticated:
            raise exceptions.NotAuthenticated("authentication required")
        path = access.scope_path(repository)
        if path is None or not authz.may_know_scope(user, path):
            if path is not None:
                denials.note_hidden(django_request)
            raise exceptions.NotFound(f"repository {repository} not found")
        django_request.audit_resource["scope_path"] = path
        if not access.allowed(user, verb, repository, path):
            raise exceptions.PermissionDenied(f"{user.get_username()} may not {verb} charts in repository "
                                              f"{repository}")
        return path


def _version(repository: str, name: str, version: str) -> ChartVersion:
    """The row of ``name`` at ``version`` (``latest``: the newest stable one), or 404 as ChartMuseum words it."""
    try:
        return store.resolve(repository, name, None if version == "latest" else version)
    except HelmError:
        raise exceptions.NotFound(f"no chart version found for {name}-{version}") from None


def _entry(row: ChartVersion) -> dict:
    return index.entry(row.name, row.version, row.digest, row.metadata, row.created)


class IndexView(RepositoryView):
    """``index.yaml``: cached bytes, an ETag of the repository's generation, 304 when the client has them."""

    def get(self, request, repository):
        """The index of ``repository``."""
        self.scope(request, repository, "get")
        body, token = index.rendered_with_token(repository)
        etag = f'"{token}"'
        if request.headers.get("If-None-Match") == etag:
            return HttpResponseNotModified(headers={"ETag": etag})
        return HttpResponse(body, content_type="application/x-yaml", headers={"ETag": etag})


class ChartFileView(RepositoryView):
    """One archive, ``charts/<name>-<version>.tgz``, streamed from the charts storage."""

    def get(self, request, repository, filename):
        """The archive's bytes."""
        self.scope(request, repository, "get", filename)
        row = _by_filename(repository, filename)
        if row is None:
            raise exceptions.NotFound(f"{filename} not found")
        try:
            handle = store.storage().open(row.file, "rb")
        except Exception:  # any backend's failure: the storage is down or lost the file; logged, answered 503
            log.exception("chart archive %s of repository %s cannot be read", row.file, repository)
            return Response({"error": f"{filename} cannot be read from the chart storage"}, status=503)
        response = FileResponse(handle, content_type="application/gzip")
        response["Content-Length"] = str(row.size)
        response["Content-Disposition"] = f'attachment; filename="{row.filename}"'
        return response


def _by_filename(repository: str, filename: str) -> ChartVersion | None:
    """The row a ``<name>-<version>.tgz`` names (names hold dashes too: every split is tried, one query)."""
    stem = filename.removesuffix(".tgz")
    pairs = [(stem[:i], stem[i + 1:]) for i, char in enumerate(stem) if char == "-"]
    candidates = [(name, version) for name, version in pairs if name and version_key(version) is not None]
    if not candidates or not filename.endswith(".tgz"):
        return None
    rows = ChartVersion.objects.filter(repository=repository, name__in=[name for name, _ in candidates])
    wanted = set(candidates)
    return next((row for row in rows if (row.name, row.version) in wanted), None)


class ChartsView(RepositoryView):
    """The list of charts (name → versions), and uploads."""

    parser_classes = (MultiPartParser, ArchiveParser)

    def get(self, request, repository):
        """ChartMuseum's list: every chart with its versions, newest first."""
        self.scope(request, repository, "list")
        return Response(index.entries(repository))

    def post(self, request, repository):
        """Upload: 201 ``{"saved": true}``; 409 when the version is there (unless ``?force``), 400 for a bad
        archive, 413 for one over ``EDGE_CHART_MAX_BYTES`` (refused from its Content-Length, unread)."""
        self.scope(request, repository, "create")
        refuse_declared_oversize(request)
        force = request.query_params.get("force", None)
        force = force is not None and force.lower() in TRUE
        data = self._archive(request)
        if force:
            # an overwrite replaces what others pull: it needs update besides create
            metadata = _metadata(data)
            exists = ChartVersion.objects.filter(repository=repository, name=metadata["name"],
                                                 version=metadata["version"]).exists()
            if exists:
                self.scope(request, repository, "update", f'{metadata["name"]}-{metadata["version"]}')
        try:
            services.upload(repository, data, user=request.user, force=force)
        except store.ChartExists as error:
            return Response({"error": f"file already exists: {error}"}, status=409)
        except store.ArchiveError as error:
            return Response({"error": f"invalid chart archive: {error}"}, status=400)
        return Response({"saved": True}, status=201)

    @staticmethod
    def _archive(request) -> bytes:
        """The archive of a raw body or of the multipart field ``chart``."""
        data = request.data
        if isinstance(data, bytes):
            if not data:
                raise exceptions.ParseError("the request has no body: send the chart archive (.tgz) as the body "
                                            "or as the multipart field \"chart\"")
            return data
        upload = request.FILES.get("chart")
        if upload is None:
            raise exceptions.ParseError('the multipart form has no "chart" field')
        if upload.size > store.max_bytes():
            raise ArchiveTooLarge(f"the chart archive is larger than the limit of {store.max_bytes()} bytes")
        return upload.read()


def _metadata(data: bytes) -> dict:
    try:
        return store.archive_metadata(data)
    except store.ArchiveError as error:
        raise exceptions.ParseError(f"invalid chart archive: {error}") from None


class ChartView(RepositoryView):
    """One chart: its versions, or all of them removed."""

    def get(self, request, repository, name):
        """The chart's versions, newest first."""
        self.scope(request, repository, "get", name)
        found = index.entries(repository, name).get(name)
        if not found:
            raise exceptions.NotFound("chart not found")
        return Response(found)

    def delete(self, request, repository, name):
        """Remove every version of the chart."""
        self.scope(request, repository, "delete", name)
        if not services.remove(repository, name):
            raise exceptions.NotFound("chart not found")
        return Response({"deleted": True})


class VersionView(RepositoryView):
    """One chart version: its index entry, or removed."""

    def get(self, request, repository, name, version):
        """The version's index entry (``latest``: the newest stable version)."""
        self.scope(request, repository, "get", f"{name}-{version}")
        return Response(_entry(_version(repository, name, version)))

    def delete(self, request, repository, name, version):
        """Remove exactly that version (never "latest": a delete names what it removes)."""
        self.scope(request, repository, "delete", f"{name}-{version}")
        if not services.remove(repository, name, version):
            raise exceptions.NotFound(f"no chart version found for {name}-{version}")
        return Response({"deleted": True})


@extend_schema(exclude=True)
class HealthView(APIView):
    """ChartMuseum's health check, open to all (as ChartMuseum's is): the database answers."""

    authentication_classes = ()
    permission_classes = ()
    renderer_classes = (JSONRenderer,)

    def get(self, request, repository=None):
        """``{"healthy": true}``, or 503 ``{"healthy": false}`` when the database does not answer."""
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception:  # any database failure is an unhealthy answer, never a 500
            return Response({"healthy": False}, status=503)
        return Response({"healthy": True})
