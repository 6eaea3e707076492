"""Console pages for clusters, workspaces, node groups, namespaces and nodes (see ``edgeplatform.console``)."""
from __future__ import annotations

from django import forms
from django.contrib import admin

from clusters.models import (
    CLUSTER_LABEL,
    NODEGROUP_LABEL,
    WORKSPACE_LABEL,
    Cluster,
    Namespace,
    Node,
    NodeGroup,
    Workspace,
)
from edgeplatform.console.forms import ManifestForm, get_path, set_path
from edgeplatform.console.options import ManifestAdmin, ui_table
from edgeplatform.console.site import console

__all__ = ["ClusterAdmin", "NamespaceAdmin", "NodeAdmin", "NodeGroupAdmin", "WorkspaceAdmin"]

CLUSTER_FIELD = f"metadata.labels[{CLUSTER_LABEL}]"


def _names(model, user) -> list[tuple[str, str]]:
    return [(name, name) for name in model.objects.restrict(user, "list").values_list("name", flat=True)]


class ClusterForm(ManifestForm):
    """A cluster: name, type and provider; a virtual cluster's distribution and Kubernetes version; the edge
    runtime (the connection and the rest through YAML)."""

    name = forms.CharField(max_length=63, help_text="Lowercase letters, digits and '-'.")
    type = forms.ChoiceField(choices=[("physical", "physical (imported)"), ("virtual", "virtual (vcluster)")])
    provider = forms.CharField(required=False)
    distribution = forms.ChoiceField(required=False, choices=[("", "k8s (default)"), ("k8s", "k8s"), ("k3s", "k3s"),
                                                              ("k0s", "k0s")],
                                     help_text="Virtual clusters: the Kubernetes distribution of the vcluster.")
    version = forms.CharField(required=False, max_length=32,
                              help_text="Virtual clusters: the Kubernetes version (v1.26.0); empty: the chart's.")
    edge_runtime = forms.ChoiceField(required=False, label="Edge runtime",
                                     choices=[("none", "none"), ("kubeedge", "KubeEdge"), ("openyurt", "OpenYurt")])
    field_map = {"metadata.name": "name", "spec.type": "type", "spec.provider": "provider",
                 "spec.distribution": "distribution", "spec.version": "version",
                 "spec.edgeRuntime.type": "edge_runtime"}

    def initial_from(self, manifest):
        """Form values from the manifest."""
        return {"type": get_path(manifest, ("spec", "type"), "physical"),
                "provider": get_path(manifest, ("spec", "provider"), ""),
                "distribution": get_path(manifest, ("spec", "distribution"), ""),
                "version": get_path(manifest, ("spec", "version"), ""),
                "edge_runtime": get_path(manifest, ("spec", "edgeRuntime", "type"), "none")}

    def overlay(self, manifest, data):
        """Form values into the manifest."""
        if "name" in data:
            manifest["metadata"]["name"] = data["name"]
        manifest["spec"]["type"] = data["type"]
        set_path(manifest, ("spec", "provider"), data.get("provider"))
        if "distribution" in data:
            set_path(manifest, ("spec", "distribution"), data.get("distribution"))
        if "version" in data:
            set_path(manifest, ("spec", "version"), data.get("version"))
        runtime = data.get("edge_runtime") or "none"
        if runtime != "none" or get_path(manifest, ("spec", "edgeRuntime", "type"), ""):
            set_path(manifest, ("spec", "edgeRuntime", "type"), runtime)


class InClusterForm(ManifestForm):
    """Workspaces and node groups: name, cluster, display name and description."""

    name = forms.CharField(max_length=63, help_text="Lowercase letters, digits and '-'.")
    cluster = forms.ChoiceField(choices=())
    display_name = forms.CharField(required=False, max_length=128)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    field_map = {"metadata.name": "name", CLUSTER_FIELD: "cluster", "spec.displayName": "display_name",
                 "spec.description": "description"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "cluster" in self.fields:
            self.fields["cluster"].choices = [("", "---------"), *_names(Cluster, self.request.user)]

    def initial_from(self, manifest):
        """Form values from the manifest."""
        return {"display_name": get_path(manifest, ("spec", "displayName"), ""),
                "description": get_path(manifest, ("spec", "description"), "")}

    def overlay(self, manifest, data):
        """Form values into the manifest."""
        if "name" in data:
            manifest["metadata"]["name"] = data["name"]
        if data.get("cluster"):
            manifest["metadata"].setdefault("labels", {})[CLUSTER_LABEL] = data["cluster"]
        set_path(manifest, ("spec", "displayName"), data.get("display_name"))
        set_path(manifest, ("spec", "description"), data.get("description"))


class NativeForm(ManifestForm):
    """Namespaces and nodes: name, cluster and the grouping object (workspace or node group)."""

    name = forms.CharField(max_length=63)
    cluster = forms.ChoiceField(choices=())
    parent_model = None
    parent_label = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "cluster" in self.fields:
            self.fields["cluster"].choices = [("", "---------"), *_names(Cluster, self.request.user)]
        parents = self.parent_model.objects.restrict(self.request.user, "list").select_related("cluster")
        self.fields["parent"].choices = [("", "(none)")] + [(p.name, f"{p.cluster.name}/{p.name}") for p in parents]

    def initial_from(self, manifest):
        """Form values from the manifest."""
        return {"parent": get_path(manifest, ("metadata", "labels", self.parent_label), "")}

    def overlay(self, manifest, data):
        """Form values into the manifest."""
        if "name" in data:
            manifest["metadata"]["name"] = data["name"]
        labels = manifest["metadata"].setdefault("labels", {})
        labels.pop(CLUSTER_LABEL, None)
        if data.get("parent"):
            labels[self.parent_label] = data["parent"]
        else:
            labels.pop(self.parent_label, None)

    def write_context(self):
        """The cluster the object lives in."""
        cluster = self.cleaned_data.get("cluster") or (self.instance.cluster.name if self.instance.pk else "")
        return {"cluster": cluster}


class NamespaceForm(NativeForm):
    """A namespace, in a workspace or not."""

    parent = forms.ChoiceField(choices=(), required=False, label="Workspace")
    parent_model, parent_label = Workspace, WORKSPACE_LABEL
    field_map = {"metadata.name": "name", "cluster": "cluster", f"metadata.labels[{WORKSPACE_LABEL}]": "parent"}


class NodeForm(NativeForm):
    """A node, in a node group or not."""

    parent = forms.ChoiceField(choices=(), required=False, label="Node group")
    parent_model, parent_label = NodeGroup, NODEGROUP_LABEL
    field_map = {"metadata.name": "name", "cluster": "cluster", f"metadata.labels[{NODEGROUP_LABEL}]": "parent"}


@admin.register(Cluster, site=console)
class ClusterAdmin(ManifestAdmin):
    """Clusters."""

    form = ClusterForm
    fields = ("name", "type", "provider", "distribution", "version", "edge_runtime")
    change_form_template = "console/clusters/change_form.html"
    list_display = ("name", "cluster_type", "created", "yaml_link")
    dashboard_label, dashboard_order = "Clusters", 10
    quick_action = True
    page_ui = ui_table(view=("platform/clusters.view", "cluster/overview.view"),
                              manage=("platform/clusters.manage",))

    @admin.display(description="type", ordering="type")
    def cluster_type(self, obj):
        """physical or virtual (the typed column)."""
        return obj.type

    # --- provisioning progress and the kubeconfig download -------------------------------------------------
    def get_urls(self):
        """The admin's URLs plus ``<id>/status/`` (JSON, polled by the progress panel) and ``<id>/kubeconfig/``."""
        from django.urls import path

        extra = [path("<path:object_id>/status/", self.admin_site.admin_view(self.status_view),
                      name="clusters_cluster_status"),
                 path("<path:object_id>/kubeconfig/", self.admin_site.admin_view(self.kubeconfig_view),
                      name="clusters_cluster_kubeconfig")]
        return extra + super().get_urls()

    def status_view(self, request, object_id):
        """The progress panel's one endpoint: the cluster's phase, step, reason, message and retries."""
        from django.core.exceptions import PermissionDenied
        from django.http import JsonResponse

        self._note(request, "get")
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise PermissionDenied
        return JsonResponse(progress(obj))

    def kubeconfig_view(self, request, object_id):
        """The kubeconfig download (``clusters.api.kubeconfig``: the engine decides, audited)."""
        from django.http import Http404, HttpResponseForbidden

        from clusters.api.kubeconfig import kubeconfig_response
        from edgeplatform.resources.errors import StatusError

        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404("no such cluster")
        try:
            return kubeconfig_response(request, obj.name)
        except StatusError as error:
            if error.status_code == 403:
                return HttpResponseForbidden(error.message)
            raise Http404(error.message) from None

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """The form, plus the progress panel and, for those allowed, the kubeconfig button."""
        from django.urls import reverse

        from clusters.api.kubeconfig import may_download

        extra = dict(extra_context or {})
        if object_id is not None and request.method == "GET" and str(object_id).isdigit():
            obj = self.model.objects.restrict(request.user, "get").filter(pk=object_id).first()
            if obj is not None:
                extra["progress"] = progress(obj)
                extra["status_url"] = reverse(f"{self.admin_site.name}:clusters_cluster_status", args=[obj.pk])
                if obj.connection_secret and may_download(request.user, obj):
                    extra["kubeconfig_url"] = reverse(f"{self.admin_site.name}:clusters_cluster_kubeconfig",
                                                      args=[obj.pk])
        return super().changeform_view(request, object_id, form_url, extra)


def progress(cluster) -> dict:
    """What the cluster page's live panel shows: phase, step, reason, message, retries, and whether it is over
    (Ready at the current generation, or a failure only a spec change helps)."""
    status = cluster.status or {}
    deleting = cluster.deletion_requested is not None
    phase = status.get("phase") or ("Deleting" if deleting else "Pending")
    settled = status.get("observedGeneration", -1) >= (cluster.generation or 0) and not deleting
    return {"name": cluster.name, "type": cluster.type, "phase": phase, "step": status.get("step", ""),
            "reason": status.get("reason", ""), "message": status.get("message", ""),
            "retryCount": status.get("retryCount", 0), "nextRetryTime": status.get("nextRetryTime"),
            "deletionRequested": deleting, "ready": cluster.ready,
            "terminal": settled and (cluster.ready or not status.get("nextRetryTime"))}


class InClusterAdmin(ManifestAdmin):
    """Workspaces and node groups."""

    form = InClusterForm
    fields = ("name", "cluster", "display_name", "description")
    readonly_on_change = ("name", "cluster")
    list_display = ("name", "cluster", "display", "created", "yaml_link")
    list_select_related = ("cluster",)
    search_fields = ("name", "cluster__name")

    @admin.display(description="display name")
    def display(self, obj):
        """spec.displayName."""
        return (obj.spec or {}).get("displayName", "")

    def display_name(self, obj):
        """Read-only view of spec.displayName."""
        return self.display(obj)

    def description(self, obj):
        """Read-only view of spec.description."""
        return (obj.spec or {}).get("description", "")


@admin.register(Workspace, site=console)
class WorkspaceAdmin(InClusterAdmin):
    """Workspaces."""

    dashboard_label, dashboard_order = "Workspaces", 20
    quick_action = True
    page_ui = ui_table(
        view=("cluster/workspaces.view", "workspace/overview.view"),
        manage=("cluster/workspaces.manage", "workspace/settings.manage"),
        create=("platform/workspaces.create", "cluster/workspaces.create", "cluster/workspaces.manage"),
        delete=("cluster/workspaces.manage",))


@admin.register(NodeGroup, site=console)
class NodeGroupAdmin(InClusterAdmin):
    """Node groups."""

    dashboard_label, dashboard_order = "Node groups", 30
    quick_action = True
    page_ui = ui_table(view=("cluster/nodegroups.view", "nodegroup/overview.view"),
                              manage=("cluster/nodegroups.manage", "nodegroup/settings.manage"),
                              create=("cluster/nodegroups.manage",))


class NativeAdmin(ManifestAdmin):
    """Namespaces and nodes (native objects of member clusters)."""

    fields = ("name", "cluster", "parent")
    readonly_on_change = ("name", "cluster")
    search_fields = ("name", "cluster__name")

    def write_context(self, obj) -> dict:
        """Native converters look objects up in their cluster."""
        return {"cluster": obj.cluster.name}

    def parent(self, obj):
        """Read-only view of the grouping object."""
        return getattr(obj, self.form.parent_model.level) or "(none)"


@admin.register(Namespace, site=console)
class NamespaceAdmin(NativeAdmin):
    """Namespaces."""

    form = NamespaceForm
    list_display = ("name", "cluster", "workspace", "created", "yaml_link")
    list_select_related = ("cluster", "workspace")
    dashboard_label, dashboard_order = "Namespaces", 40
    quick_action = True
    page_ui = ui_table(
        view=("cluster/namespaces.view", "workspace/projects.view", "project/overview.view"),
        manage=("cluster/namespaces.manage", "workspace/projects.manage", "project/settings.manage"),
        create=("cluster/namespaces.manage", "workspace/projects.create", "workspace/projects.manage"),
        delete=("cluster/namespaces.manage", "workspace/projects.manage"))


@admin.register(Node, site=console)
class NodeAdmin(NativeAdmin):
    """Nodes."""

    form = NodeForm
    list_display = ("name", "cluster", "nodegroup", "created", "yaml_link")
    list_select_related = ("cluster", "nodegroup")
    dashboard_label, dashboard_order = "Nodes", 50
    page_ui = ui_table(view=("cluster/nodes.view", "nodegroup/nodes.view", "node/node.view"),
                              manage=("cluster/nodes.manage", "nodegroup/nodes.manage", "node/node.manage"),
                              create=("cluster/nodes.manage",), delete=("cluster/nodes.manage",))
