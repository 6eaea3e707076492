"""Console pages for clusters, workspaces, node groups, namespaces and nodes (see ``edgeplatform.console``); the
edge nodes page (join commands, joining nodes) lives in ``clusters.edge_nodes``, the fleet overview in
``clusters.console``."""
from __future__ import annotations

import base64
import json

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse

from clusters import edge_nodes as _edge_nodes  # noqa: F401  (registers the Edge nodes page)
from clusters.health import check_new_connection
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
from edgeplatform.console.options import ManifestAdmin, ProgressAdmin, ui_table
from edgeplatform.console.site import console
from edgeplatform.kube.connections import KUBECONFIG_HINT, kubeconfig_problems
from edgeplatform.resources.errors import StatusError

__all__ = ["ClusterAdmin", "NamespaceAdmin", "NodeAdmin", "NodeGroupAdmin", "WorkspaceAdmin"]

CLUSTER_FIELD = f"metadata.labels[{CLUSTER_LABEL}]"


def _names(model, user) -> list[tuple[str, str]]:
    return [(name, name) for name in model.objects.restrict(user, "list").values_list("name", flat=True)]


class ClusterForm(ManifestForm):
    """A cluster: name, type and provider; a virtual cluster's distribution and Kubernetes version; the edge
    runtime; and for a physical one its connection: a pasted kubeconfig, or an endpoint with a token (and the CA
    that signed its serving certificate). A new connection is checked before anything is saved
    (``clusters.health.check_new_connection``, the controller's own check, bounded by
    ``EDGE_CLUSTER_HEALTH_TIMEOUT``); a failed check is shown on the field in words, unless "save anyway" is
    ticked (a site that is offline right now). The rest of the spec through YAML."""

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
    kubeconfig = forms.CharField(
        required=False, strip=False, label="Kubeconfig",
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80, "spellcheck": "false", "autocomplete": "off"}),
        help_text="Paste the cluster's kubeconfig (credentials embedded as data). Stored encrypted, never shown. "
                  "Leave empty to keep the stored connection.")
    endpoint = forms.CharField(required=False, label="API server URL",
                               help_text="Or: the API server's URL (https://…:6443) with a token.")
    token = forms.CharField(required=False, strip=True, widget=forms.PasswordInput(render_value=False),
                            help_text="A bearer token for that API server. Stored encrypted, never shown.")
    ca_certificate = forms.CharField(
        required=False, label="CA certificate (PEM)",
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80, "spellcheck": "false"}),
        help_text="The certificate authority that signed the API server's certificate (with the URL and token).")
    save_anyway = forms.BooleanField(
        required=False, label="Save anyway",
        help_text="Save even when the connection check fails (the site is offline right now); the cluster is "
                  "checked again on its period.")
    field_map = {"metadata.name": "name", "spec.type": "type", "spec.provider": "provider",
                 "spec.distribution": "distribution", "spec.version": "version",
                 "spec.edgeRuntime.type": "edge_runtime",
                 "spec.connection.kubeconfig": "kubeconfig", "spec.connection.kubernetesAPIEndpoint": "endpoint",
                 "spec.connection.token": "token"}

    def initial_from(self, manifest):
        """Form values from the manifest (the stored credentials are never shown)."""
        return {"type": get_path(manifest, ("spec", "type"), "physical"),
                "provider": get_path(manifest, ("spec", "provider"), ""),
                "distribution": get_path(manifest, ("spec", "distribution"), ""),
                "version": get_path(manifest, ("spec", "version"), ""),
                "edge_runtime": get_path(manifest, ("spec", "edgeRuntime", "type"), "none"),
                "endpoint": get_path(manifest, ("spec", "connection", "kubernetesAPIEndpoint"), "")}

    def connection(self, data) -> dict | None:
        """``spec.connection`` as the form's fields give it (secrets in clear), None when none was given."""
        kubeconfig = (data.get("kubeconfig") or "").strip()
        endpoint = (data.get("endpoint") or "").strip()
        token, ca = data.get("token") or "", (data.get("ca_certificate") or "").strip()
        if kubeconfig:
            return {"kubeconfig": kubeconfig}
        if not endpoint or (self.instance.pk and not token and not ca
                            and endpoint == self.initial.get("endpoint")):
            return None
        if not ca:
            return {"kubernetesAPIEndpoint": endpoint, **({"token": token} if token else {})}
        user = {"token": token} if token else {}
        document = {"apiVersion": "v1", "kind": "Config", "current-context": "imported",
                    "clusters": [{"name": "imported", "cluster": {
                        "server": endpoint, "certificate-authority-data": base64.b64encode(ca.encode()).decode()}}],
                    "users": [{"name": "imported", "user": user}],
                    "contexts": [{"name": "imported", "context": {"cluster": "imported", "user": "imported"}}]}
        return {"kubernetesAPIEndpoint": endpoint, "kubeconfig": json.dumps(document)}

    def clean(self):
        """A new connection of a physical cluster is checked before the save; a failure is shown on its field."""
        data = super().clean()
        if self.errors or data.get("type") != "physical":
            return data
        connection = self.connection(data)
        if connection is None:
            return data
        target = "kubeconfig" if (data.get("kubeconfig") or "").strip() else "endpoint"
        if target == "kubeconfig":
            problems = kubeconfig_problems(connection["kubeconfig"])
            if problems:
                self.add_error(target, f"{'; '.join(problems)} ({KUBECONFIG_HINT})")
                return data
        if data.get("save_anyway"):
            return data
        timeout = settings.EDGE_CLUSTER_HEALTH_TIMEOUT
        found = check_new_connection(data.get("name") or self.instance.name, connection, timeout)
        self.connection_check = found
        if not found.ok:
            self.add_error(target, f"The connection check failed: {found.message} ({found.reason}). Nothing was "
                                   f"saved. Fix the connection, or tick “Save anyway” if the site is offline now.")
        return data

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
        connection = self.connection(data) if data.get("type") == "physical" else None
        if connection is not None:
            stored = dict(manifest["spec"].get("connection") or {})
            stored.pop("kubernetesAPIEndpoint", None)
            manifest["spec"]["connection"] = {**stored, **connection}


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
class ClusterAdmin(ProgressAdmin):
    """Clusters."""

    form = ClusterForm
    fields = ("name", "type", "provider", "distribution", "version", "edge_runtime", "kubeconfig", "endpoint", "token",
              "ca_certificate", "save_anyway")
    change_form_template = "console/clusters/change_form.html"
    list_display = ("name", "cluster_type", "edge_runtime", "created", "yaml_link")
    dashboard_label, dashboard_order = "Clusters", 10
    quick_action = True
    page_ui = ui_table(view=("platform/clusters.view", "cluster/overview.view"),
                              manage=("platform/clusters.manage",))
    object_actions = {"kubeconfig": "kubeconfig_view"}

    @admin.display(description="type", ordering="type")
    def cluster_type(self, obj):
        """physical or virtual (the typed column)."""
        return obj.type

    @admin.display(description="edge runtime")
    def edge_runtime(self, obj):
        """The runtime, its version and phase (``status.edgeRuntime``, see ``clusters.edge_runtime``)."""
        shown = (obj.status or {}).get("edgeRuntime") or {}
        wanted = ((obj.spec or {}).get("edgeRuntime") or {}).get("type") or "none"
        if wanted == "none" and not shown:
            return "—"
        return " ".join(str(part) for part in (shown.get("type") or wanted, shown.get("version") or "",
                                                shown.get("phase") or "Pending") if part)

    # --- provisioning progress and the kubeconfig download -------------------------------------------------
    def object_progress(self, obj) -> dict:
        """What the progress panel polls (``<id>/status/``): the cluster's phase, step, reason, message and
        retries."""
        return cluster_progress(obj)

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
        from clusters.api.kubeconfig import may_download

        extra = dict(extra_context or {})
        if object_id is not None and request.method == "GET" and str(object_id).isdigit():
            obj = self.model.objects.restrict(request.user, "get").filter(pk=object_id).first()
            if obj is not None:
                extra["progress"] = cluster_progress(obj)
                extra["status_url"] = self.object_url("status", obj.pk)
                if obj.connection_secret and may_download(request.user, obj):
                    extra["kubeconfig_url"] = self.object_url("kubeconfig", obj.pk)
        return super().changeform_view(request, object_id, form_url, extra)


def cluster_progress(cluster) -> dict:
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


def _status(obj, field, default=""):
    value = (obj.status or {}).get(field)
    return default if value is None else value


@admin.register(Workspace, site=console)
class WorkspaceAdmin(InClusterAdmin):
    """Workspaces, with their status counts."""

    list_display = ("name", "cluster", "display", "phase", "namespace_count", "member_count", "created", "yaml_link")
    dashboard_label, dashboard_order = "Workspaces", 20

    @admin.display(description="phase")
    def phase(self, obj):
        """status.phase."""
        return _status(obj, "phase")

    @admin.display(description="namespaces")
    def namespace_count(self, obj):
        """status.namespaceCount."""
        return _status(obj, "namespaceCount")

    @admin.display(description="members")
    def member_count(self, obj):
        """status.memberCount."""
        return _status(obj, "memberCount")
    quick_action = True
    page_ui = ui_table(
        view=("cluster/workspaces.view", "workspace/overview.view"),
        manage=("cluster/workspaces.manage", "workspace/settings.manage"),
        create=("platform/workspaces.create", "cluster/workspaces.create", "cluster/workspaces.manage"),
        delete=("cluster/workspaces.manage",))


@admin.register(NodeGroup, site=console)
class NodeGroupAdmin(InClusterAdmin):
    """Node groups, with their node counts."""

    list_display = ("name", "cluster", "display", "phase", "nodes_ready", "member_count", "created", "yaml_link")
    dashboard_label, dashboard_order = "Node groups", 30

    @admin.display(description="phase")
    def phase(self, obj):
        """status.phase."""
        return _status(obj, "phase")

    @admin.display(description="nodes ready")
    def nodes_ready(self, obj):
        """Ready nodes / nodes."""
        if "nodeCount" not in (obj.status or {}):
            return ""
        return f"{_status(obj, 'readyNodeCount', 0)}/{_status(obj, 'nodeCount', 0)}"

    @admin.display(description="members")
    def member_count(self, obj):
        """status.memberCount."""
        return _status(obj, "memberCount")
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
    list_display = ("name", "cluster", "nodegroup", "ready", "lifecycle", "created", "yaml_link")
    list_select_related = ("cluster", "nodegroup")
    change_form_template = "console/clusters/node_change_form.html"
    dashboard_label, dashboard_order = "Nodes", 50
    page_ui = ui_table(view=("cluster/nodes.view", "nodegroup/nodes.view", "node/node.view"),
                              manage=("cluster/nodes.manage", "nodegroup/nodes.manage", "node/node.manage"),
                              create=("cluster/nodes.manage",), delete=("cluster/nodes.manage",))

    @admin.display(description="ready")
    def ready(self, obj):
        """The Ready condition as the member reports it."""
        return _status(obj, "ready")

    @admin.display(description="lifecycle")
    def lifecycle(self, obj):
        """status.lifecycle.phase."""
        return ((obj.status or {}).get("lifecycle") or {}).get("phase", "")

    # --- lifecycle: actions and live progress ---------------------------------------------------------------
    def get_urls(self):
        """The admin's URLs plus ``<id>/lifecycle/`` (GET: JSON progress; POST: an action)."""
        extra = [path("<path:object_id>/lifecycle/", self.admin_site.admin_view(self.lifecycle_view),
                      name="clusters_node_lifecycle")]
        return extra + super().get_urls()

    def lifecycle_view(self, request, object_id):
        """GET: the node's lifecycle as JSON (the progress panel polls it every 2 s). POST ``action``: ask for a
        lifecycle through the write path as the user (authorized at the node's scope, audited)."""
        from clusters import node_lifecycle
        from clusters.api.lifecycle import document

        self._note(request, "update" if request.method == "POST" else "get")
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            raise PermissionDenied
        if request.method == "GET":
            return JsonResponse(progress(obj, document))
        if request.method != "POST":
            return HttpResponseNotAllowed(["GET", "POST"])
        action = request.POST.get("action", "")
        if action not in node_lifecycle.ACTIONS:
            self.message_user(request, f"unknown action: {action}", messages.ERROR)
        else:
            try:
                node_lifecycle.request(obj, action, user=request.user)
            except StatusError as error:
                self.message_user(request, error.message, messages.ERROR)
            else:
                self.message_user(request, f'Node "{obj.name}": {action} asked.', messages.SUCCESS)
        return HttpResponseRedirect(reverse(f"{self.admin_site.name}:clusters_node_change", args=[obj.pk]))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """The form, plus the lifecycle panel (its buttons for those who may change the node)."""
        from clusters.api.lifecycle import document

        extra = dict(extra_context or {})
        if object_id is not None and request.method == "GET" and str(object_id).isdigit():
            obj = Node.objects.restrict(request.user, "get").select_related("cluster", "nodegroup") \
                .filter(pk=object_id).first()
            if obj is not None:
                extra["lifecycle"] = progress(obj, document)
                extra["lifecycle_url"] = reverse(f"{self.admin_site.name}:clusters_node_lifecycle", args=[obj.pk])
                extra["may_act"] = self.has_change_permission(request, obj)
        return super().changeform_view(request, object_id, form_url, extra)


#: lifecycle phases at which nothing more happens until someone asks again
SETTLED = ("Online", "Maintenance")


def progress(node, document) -> dict:
    """What the lifecycle panel shows: the API's ``NodeLifecycle`` fields, the blocking pods in words, and
    whether it is over (``terminal``: the panel stops polling)."""
    doc = document(node)
    blocked = ", ".join(f"{item.get('pod')} (budget {item.get('budget')})" for item in doc.get("blockedBy") or [])
    return {"desired": doc["desired"], "phase": doc["phase"], "message": doc["message"], "blocked": blocked,
            "terminal": not doc["desired"] or doc["phase"] in SETTLED}


from clusters import console as fleet  # noqa: E402  (the fleet overview page; registered with the console there)

__all__ += ["fleet"]
