"""The deploy form: an application, a version selector (latest, one of its approved versions, or a range typed),
a namespace (one the user may create application deployments in) and the topologies, picked from the clusters
and node groups the user may deploy to (grouped by cluster, a replicas field each, and each cluster's cloud side).

It writes an ApplicationDeployment manifest through the one write path, as the user
(``edgeplatform.resources.services.save_manifest``), so the write is authorized, validated and audited as through
the API; a refusal comes back as errors on the fields it names.

**What is offered.** A namespace when the engine grants ``create`` on ``applicationdeployments`` at its scope. A
node group (or a cluster's cloud side) the user may know of, when ``create`` is granted at its scope, or when its
cluster has an offered namespace (a topology is authorized at its place or at the namespace of the deployment's
name on that cluster). The write path makes the last call with the namespace chosen
(``appstore.topologies.authorize``): a place the chosen namespace does not reach is refused on its checkbox.
"""
from __future__ import annotations

import re

from django import forms

from appstore import review, versions
from appstore.models import ApplicationDeployment
from appstore.provisioners.base import CLOUD
from clusters.models import Cluster, Namespace, NodeGroup
from edgeplatform import authz
from edgeplatform.console import access
from edgeplatform.console.forms import apply_status_error
from edgeplatform.resources import scopes, services
from edgeplatform.resources.errors import StatusError
from edgeplatform.resources.names import CLUSTER_LABEL, DNS1123_LABEL_MAX

__all__ = ["DeployForm", "Offer", "offer"]

#: rows looked at per kind when building what a user is offered
LIMIT = 1000
RANGE = "range"


def _within_any(path: str, paths: list[str]) -> bool:
    return any(scopes.is_within(path, granted) for granted in paths)


class Offer:
    """The namespaces and places (node groups and cloud sides, by cluster) ``user`` may deploy to."""

    def __init__(self, user):
        converter = ApplicationDeployment._converter
        found = access.grants(user)
        superuser = found is not None and found.superuser
        granted = [] if found is None or superuser else found.paths_allowing("create", converter.group,
                                                                             converter.plural)

        def may_create(path: str) -> bool:
            return (superuser or _within_any(path, granted)) and access.may_at(user, "create", converter, path)

        rows = Namespace.objects.select_related("cluster").order_by("cluster__name", "name")
        self.namespaces = [row for row in rows[:LIMIT] if may_create(row.scope_path)]
        with_namespace = {row.cluster.name for row in self.namespaces}
        #: field keys of the places where ``create`` is granted at the place's own scope
        self.direct: set[str] = set()
        self.clusters: dict[str, dict] = {}
        for cluster in Cluster.objects.order_by("name")[:LIMIT]:
            if not authz.may_know_scope(user, cluster.scope_path):
                continue
            direct = may_create(cluster.scope_path)
            if direct:
                self.direct.add(f"cloud__{cluster.name}")
            entry = {"name": cluster.name, "groups": [], "namespaces": sorted(
                row.name for row in self.namespaces if row.cluster_id == cluster.pk),
                "cloud": cluster.name in with_namespace or direct}
            self.clusters[cluster.name] = entry
        for group in NodeGroup.objects.select_related("cluster").order_by("cluster__name", "name")[:LIMIT]:
            entry = self.clusters.get(group.cluster.name)
            if entry is None or not authz.may_know_scope(user, group.scope_path):
                continue
            direct = may_create(group.scope_path)
            if direct:
                self.direct.add(f"ng__{group.name}")
            if group.cluster.name in with_namespace or direct:
                entry["groups"].append(group.name)
        self.clusters = {name: entry for name, entry in self.clusters.items() if entry["groups"] or entry["cloud"]}

    def places(self) -> list[tuple[str, str, str]]:
        """(field key, cluster, node group or ``__cloud__``) of every place offered, cluster by cluster."""
        out = []
        for name, entry in self.clusters.items():
            out += [(f"ng__{group}", name, group) for group in entry["groups"]]
            if entry["cloud"]:
                out.append((f"cloud__{name}", name, CLOUD))
        return out


def offer(user) -> Offer:
    """What ``user`` may deploy to."""
    return Offer(user)


def _default_name(app_name: str) -> str:
    return re.sub(r"-+$", "", app_name[:DNS1123_LABEL_MAX])


class DeployForm(forms.Form):
    """Deploy ``application``: its fields are built from the user's ``Offer`` (see the module docstring)."""

    name = forms.CharField(max_length=DNS1123_LABEL_MAX, label="Deployment name",
                           help_text="Lowercase letters, digits and '-'; unique in its namespace.")
    namespace = forms.ChoiceField(choices=(), help_text="Where the deployment lives (cluster / namespace): its "
                                                        "permission scope and the namespace its workloads run in.")
    version = forms.ChoiceField(choices=(), help_text="latest follows new approved versions; an exact version "
                                                      "stays; a range follows the newest approved one it admits.")
    version_range = forms.CharField(required=False, max_length=128, label="Range",
                                    help_text="With “a range”: ^1.2 (1.2.0 up to 2.0.0) or ~1.2.3 (1.2.3 up to "
                                              "1.3.0).")

    def __init__(self, *args, application, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.application, self.user = application, user
        self.offered = offer(user)
        approved = application.versions.filter(review_phase=review.APPROVED, deprecated=False) \
            .values_list("version", flat=True)
        self.approved = sorted(approved, key=versions.parse, reverse=True)
        self.fields["name"].initial = _default_name(application.name)
        self.fields["namespace"].choices = [(f"{row.cluster.name}/{row.name}", f"{row.cluster.name} / {row.name}")
                                            for row in self.offered.namespaces]
        newest = next((text for text in self.approved if versions.admits(versions.LATEST, text)), "")
        self.fields["version"].choices = [(versions.LATEST, f"latest (now {newest})" if newest else
                                           "latest (none approved yet)"),
                                          *((text, text) for text in self.approved), (RANGE, "a range…")]
        self.fields["version"].initial = versions.LATEST
        self.place_fields: dict[str, dict] = {}
        for key, cluster, group in self.offered.places():
            label = "cloud side" if group == CLOUD else group
            self.fields[f"pick_{key}"] = forms.BooleanField(required=False, label=label)
            self.fields[f"replicas_{key}"] = forms.IntegerField(min_value=0, initial=1, required=False,
                                                                label=f"Replicas on {label}")
            self.place_fields[key] = {"cluster": cluster, "node_group": group, "label": label}

    def clusters(self) -> list[dict]:
        """The places offered, by cluster, with their bound fields (for the template)."""
        out: dict[str, dict] = {}
        for key, place in self.place_fields.items():
            entry = out.setdefault(place["cluster"], {
                "name": place["cluster"], "places": [],
                "namespaces": self.offered.clusters[place["cluster"]]["namespaces"]})
            entry["places"].append({"key": key, "label": place["label"], "cloud": place["node_group"] == CLOUD,
                                    "pick": self[f"pick_{key}"], "replicas": self[f"replicas_{key}"]})
        return list(out.values())

    def clean(self):
        """A range is typed when "a range" is chosen; at least one topology is picked."""
        data = super().clean()
        if data.get("version") == RANGE and not (data.get("version_range") or "").strip():
            self.add_error("version_range", "Type a range (^1.2, ~1.2.3) or pick a version.")
        if not any(data.get(f"pick_{key}") for key in self.place_fields):
            self.add_error(None, "Pick at least one node group or cloud side to deploy to.")
        return data

    def picked(self) -> list[tuple[str, dict]]:
        """(field key, topology) of every place picked, in the form's order."""
        out = []
        for key, place in self.place_fields.items():
            if not self.cleaned_data.get(f"pick_{key}"):
                continue
            replicas = self.cleaned_data.get(f"replicas_{key}")
            topology = {"cluster": place["cluster"], "nodeGroup": place["node_group"],
                        "replicas": 1 if replicas is None else replicas}
            out.append((key, topology))
        return out

    def manifest(self) -> dict:
        """The ApplicationDeployment the form describes."""
        data = self.cleaned_data
        cluster, namespace = data["namespace"].split("/", 1)
        version = data["version_range"].strip() if data["version"] == RANGE else data["version"]
        converter = ApplicationDeployment._converter
        return {"apiVersion": converter.api_version, "kind": converter.kind,
                "metadata": {"name": data["name"], "namespace": namespace, "labels": {CLUSTER_LABEL: cluster}},
                "spec": {"application": self.application.name, "version": version,
                         "topologies": [topology for _, topology in self.picked()]}}

    def save(self):
        """Write the deployment as the user; a refusal lands on the fields it names (None is returned)."""
        converter = ApplicationDeployment._converter
        manifest = self.manifest()
        field_map = {"metadata.name": "name", "metadata.namespace": "namespace",
                     f"metadata.labels[{CLUSTER_LABEL}]": "namespace",
                     "spec.version": "version_range" if self.cleaned_data["version"] == RANGE else "version"}
        field_map.update({f"spec.topologies[{index}]": f"pick_{key}"
                          for index, (key, _) in enumerate(self.picked())})
        try:
            return services.save_manifest(converter, manifest, user=self.user,
                                          context={"namespace": manifest["metadata"]["namespace"]})
        except StatusError as error:
            apply_status_error(self, error, field_map)
            return None
