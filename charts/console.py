"""The console's Chart repositories page: the repositories the user may read, their charts and versions, upload
and (confirmed) delete where the engine allows them, and the ``helm repo add`` line to copy."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from edgeplatform.console.site import ConsolePage, console

from . import access, services, store
from .models import ChartVersion

__all__ = ["UploadForm", "delete_view", "repositories_view"]

RESOURCE = (access.GROUP, access.RESOURCE, "ChartVersion")


class UploadForm(forms.Form):
    """A chart archive for one of the repositories the user may upload to."""

    repository = forms.ChoiceField()
    chart = forms.FileField(help_text="A packaged chart (.tgz), as helm package writes it.")
    force = forms.BooleanField(required=False, label="Overwrite an existing version")

    def __init__(self, *args, repositories: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["repository"].choices = [(name, name) for name in repositories]


def _may_read_any(request) -> bool:
    return bool(access.readable(request.user))


def _repositories(request) -> list[dict]:
    """Each readable repository with its versions and what the user may do there."""
    readable = access.readable(request.user)
    rows = ChartVersion.objects.filter(repository__in=[name for name, _ in readable]).order_by(
        "repository", "name", "-created")
    by_repository: dict[str, list] = {}
    for row in rows:
        by_repository.setdefault(row.repository, []).append(row)
    base = request.build_absolute_uri("/").rstrip("/")
    return [{"name": name, "versions": by_repository.get(name, []),
             "may_upload": access.allowed(request.user, "create", name, path),
             "may_delete": access.allowed(request.user, "delete", name, path),
             "helm_repo_add": f"helm repo add {name} {base}/chartrepo/{name} "
                              f"--username {request.user.get_username()} --password <token>"}
            for name, path in readable]


def repositories_view(request):
    """List the repositories; a POST uploads an archive."""
    repositories = _repositories(request)
    uploadable = [repo["name"] for repo in repositories if repo["may_upload"]]
    form = UploadForm(repositories=uploadable)
    if request.method == "POST":
        if not uploadable:
            raise PermissionDenied
        form = UploadForm(request.POST, request.FILES, repositories=uploadable)
        if form.is_valid() and _upload(request, form):
            return HttpResponseRedirect(request.path)
    context = {**console.each_context(request), "title": "Chart repositories", "repositories": repositories,
               "form": form if uploadable else None, "tokens_url": reverse("admin:tokens")}
    return TemplateResponse(request, "console/chart_repositories.html", context)


def _upload(request, form: UploadForm) -> bool:
    repository, upload = form.cleaned_data["repository"], form.cleaned_data["chart"]
    if upload.size > store.max_bytes():
        form.add_error("chart", f"The archive is larger than the limit of {store.max_bytes()} bytes.")
        return False
    force = form.cleaned_data["force"]
    data = upload.read()
    if force:  # overwriting needs update, as through the API
        try:
            metadata = store.archive_metadata(data)
        except store.ArchiveError as error:
            form.add_error("chart", f"Not a chart archive: {error}.")
            return False
        path = access.scope_path(repository)
        exists = ChartVersion.objects.filter(repository=repository, name=metadata["name"],
                                             version=metadata["version"]).exists()
        if exists and not access.allowed(request.user, "update", repository, path):
            form.add_error("force", "You may not overwrite charts in this repository.")
            return False
    try:
        row = services.upload(repository, data, user=request.user, force=force)
    except store.ArchiveError as error:
        form.add_error("chart", f"Not a chart archive: {error}.")
        return False
    except store.ChartExists as error:
        form.add_error("chart", f"{error}; tick “Overwrite” to replace it.")
        return False
    messages.success(request, f"{row.name} {row.version} uploaded to {repository}.")
    return True


def delete_view(request):
    """``?repository=&name=&version=``: confirm, then (POST) remove that chart version."""
    params = request.POST if request.method == "POST" else request.GET
    repository, name, version = (params.get(key, "") for key in ("repository", "name", "version"))
    path = access.scope_path(repository)
    readable = path is not None and access.allowed(request.user, "get", repository, path)
    row = ChartVersion.objects.filter(repository=repository, name=name, version=version).first() \
        if readable else None
    if row is None:
        raise Http404("no such chart version")
    request.audit_resource.update(verb="delete", name=f"{name}-{version}", scope_path=path)
    if not access.allowed(request.user, "delete", repository, path):
        raise PermissionDenied
    if request.method == "POST":
        services.remove(repository, name, version)
        messages.success(request, f"{name} {version} deleted from {repository}.")
        return HttpResponseRedirect(reverse("admin:chart_repositories"))
    context = {**console.each_context(request), "title": f"Delete {name} {version}?", "row": row,
               "cancel_url": reverse("admin:chart_repositories")}
    return TemplateResponse(request, "console/chart_delete.html", context)


console.register_page(ConsolePage("chart_repositories", "Chart repositories", "charts/", repositories_view,
                                  _may_read_any, section="Components", resource=RESOURCE))
console.register_page(ConsolePage("chart_delete", "Delete a chart version", "charts/delete/", delete_view,
                                  _may_read_any, section="Components", in_menu=False, resource=RESOURCE))
