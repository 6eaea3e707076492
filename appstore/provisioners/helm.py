"""The ``helm`` provisioner: one Helm release per topology from the version's ``helmConfig``.

``helmConfig`` is ``{chartName, chartVersion, repository, values}`` (``values`` a YAML string holding a
mapping). The chart is found as the component controller finds its charts (``components.desired.find_chart``):

* ``repository`` an ``http(s)://`` URL: that chart repository (ChartMuseum's layout), the archive verified and
  cached by digest, so a repository that is down still serves a chart fetched once;
* ``repository`` the platform's own chart repository, by name (``library``, or a cluster's, named after the
  cluster) or by its URL (``https://<platform>/chartrepo/<name>``, the platform being one of
  ``EDGE_APPSTORE_CHARTREPO_HOSTS``): that repository of ``charts.store``, no HTTP;
* no ``repository``: the topology's cluster's repository, then ``library``.

**Releases.** A topology's release is ``scoped_name(deployment, key, 53)`` (``<deployment>-<topology key>``, Helm's
limit of 53 characters), in the deployment's namespace on the topology's cluster; ``owns`` tells from a release
name alone, exactly, which deployment and topology it belongs to, so ``unprovision`` (and the pruning of removed
topologies) uninstalls only what the deployment made. The release carries ``Target.labels()`` (Helm stores them
on its release Secrets): ``kubectl get secret -l app.theriseunion.io/deployment=<name>`` lists them.

**Values.** The version's values, deep-merged with the topology's ``workloadOverride.values`` (a mapping or a YAML
string), then the placement: ``nodeSelector`` (the topology's pin, over the values' own), ``affinity`` keeping a
cloud-side topology off edge nodes (unless the values set a node affinity), and the topology's ``replicas`` as
``replicaCount`` when it gives them. Charts that follow ``helm create``'s conventions honour all three.

**Provision** reads the release's Secrets (one LIST): deployed at the same chart version with the same values and
labels, nothing is sent (``writes`` 0). Otherwise Helm installs or upgrades it (not atomically: a failed attempt
stays visible as a ``failed`` revision, and ``status`` reports the topology ``Failed`` with Helm's message; the
controller decides about retries and rollback). A chart or values Helm cannot render raises ``PermanentError``
(only a new version helps; the cluster was not touched); a chart not found in its repository, or a release
another process is still working on, ``TemporaryError``; a cluster in trouble, ``HelmError``. A release whose
only revisions failed is uninstalled first (Helm upgrades only a release that was deployed once); one left
``pending-*`` by a process that died is repaired once it is older than ``EDGE_HELM_TIMEOUT``.

**Status** costs one LIST of the deployment's release Secrets (by its label), one LIST per workload kind the
releases' manifests name (Deployments, StatefulSets, DaemonSets) and one of pods, per cluster — not per topology.
An upgrade keeps ``HISTORY_MAX`` revisions of a release.
"""
from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import validate_host

from appstore.provisioners import register
from appstore.provisioners.base import Provisioned, Provisioner, Target, TopologyState, deep_merge, owns, scoped_name
from appstore.provisioners.kubeobjects import DEPLOYMENT_LABEL, VERSION_LABEL, listed, topology_state
from edgeplatform import kube
from edgeplatform.controllers import clock
from edgeplatform.controllers.errors import PermanentError, TemporaryError
from edgeplatform.helm import HelmDriver, HelmError
from edgeplatform.helm.repository import version_key
from edgeplatform.kube.connections import HOST
from edgeplatform.resources import documents
from edgeplatform.resources.errors import cause

__all__ = ["RELEASE_MAX", "HelmProvisioner", "chart_sources", "release_name", "values_for"]

#: Helm's limit on a release name
RELEASE_MAX = 53
#: revisions an upgrade keeps of a release (Helm's CLI default): weekly releases do not pile up Secrets
HISTORY_MAX = 10
_CHART_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,249}")
_REPOSITORY_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_CHARTREPO_PATH = re.compile(r"/chartrepo/(?P<name>[a-z0-9]([-a-z0-9]*[a-z0-9])?)/?")
#: Helm error kinds that come from the chart or the values: the same version fails the same way
_INVALID = frozenset({"values", "render", "chart", "invalid"})
_PENDING = frozenset({"pending-install", "pending-upgrade", "pending-rollback", "uninstalling"})
_WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def release_name(deployment_name: str, key: str) -> str:
    """The release of topology ``key`` of deployment ``deployment_name`` (at most 53 characters)."""
    return scoped_name(deployment_name, key, RELEASE_MAX)


def _values(text) -> dict:
    """Helm values from a YAML string (or a mapping, as given); ValueError when they are no mapping."""
    if isinstance(text, dict):
        return text
    if text is None or (isinstance(text, str) and not text.strip()):
        return {}
    if not isinstance(text, str):
        raise ValueError("must be a YAML string holding a mapping of Helm values")
    try:
        parsed = documents.load_yaml(text)
    except documents.DocumentError as error:
        raise ValueError(f"is not valid YAML: {error.problem}".splitlines()[0]) from None
    if parsed is None:
        return {}
    if not isinstance(parsed, dict):
        raise ValueError("must be a YAML mapping of Helm values")
    return parsed


def values_for(target: Target) -> dict:
    """The values topology ``target`` is installed with (see the module docstring)."""
    config = target.version.spec.get("helmConfig") or {}
    try:
        values = _values(config.get("values"))
    except ValueError as error:
        raise PermanentError(f"spec.helmConfig.values {error}", reason="InvalidValues") from None
    if "values" in target.override:
        try:
            values = deep_merge(values, _values(target.override["values"]))
        except ValueError as error:
            raise PermanentError(f"spec.topologies[{target.index}].workloadOverride.values {error}",
                                 reason="InvalidValues") from None
    if target.node_selector:
        selector = values.get("nodeSelector") if isinstance(values.get("nodeSelector"), dict) else {}
        values["nodeSelector"] = {**selector, **target.node_selector}
    affinity = values.get("affinity") if isinstance(values.get("affinity"), dict) else {}
    if target.affinity and "nodeAffinity" not in affinity:
        values["affinity"] = {**affinity, **target.affinity}
    if target.replicas is not None:
        values["replicaCount"] = target.replicas
    return values


def _platform_repository(url: str) -> str | None:
    """The name of the platform repository ``url`` points at (``https://<platform>/chartrepo/<name>``), else
    None."""
    parts = urlsplit(url)
    match = _CHARTREPO_PATH.fullmatch(parts.path or "")
    hosts = [host for host in settings.EDGE_APPSTORE_CHARTREPO_HOSTS if host != "*"]
    if match and parts.hostname and validate_host(parts.hostname, hosts):
        return match["name"]
    return None


def chart_sources(repository: str, cluster: str) -> tuple[str | None, tuple[str, ...]]:
    """(URL to fetch from over HTTP, or None; platform repositories to look in) for ``helmConfig.repository``
    and the topology's ``cluster``."""
    from charts.models import LIBRARY

    repository = (repository or "").strip()
    if not repository:
        return None, (cluster, LIBRARY)
    if "://" not in repository:
        return None, (repository,)
    name = _platform_repository(repository)
    return (None, (name,)) if name else (repository, ())


def _cluster_row(client, name: str | None = None):
    """The Cluster ``client`` reaches (``name``, else the client's own; the host's client is the cluster
    labelled the host), for the Helm driver's kubeconfig."""
    from clusters.models import Cluster
    from edgeplatform.resources.names import CLUSTER_ROLE_LABEL

    cluster = Cluster.objects.filter(name=name or client.name).first()
    if cluster is None and client.name == HOST:
        cluster = next((row for row in Cluster.objects.all()
                        if (row.labels or {}).get(CLUSTER_ROLE_LABEL) == "host"), None)
    if cluster is None:
        raise TemporaryError(f'cluster "{name or client.name}" is not registered', reason="NoCluster")
    return cluster


@register
class HelmProvisioner(Provisioner):
    """One Helm release per topology (module docstring)."""

    type, config_key = "helm", "helmConfig"

    # --- validate -------------------------------------------------------------------------------------------
    def validate(self, config: dict) -> list[dict]:
        """chartName and chartVersion present (a chart name, a semantic version); values a YAML mapping;
        repository an http(s) URL or a repository of the platform."""
        from charts import access

        where = f"spec.{self.config_key}"
        if not isinstance(config, dict):
            return [cause(where, "must be an object", "FieldValueTypeInvalid")]
        problems = []
        name, version = config.get("chartName"), config.get("chartVersion")
        if not isinstance(name, str) or not name.strip():
            problems.append(cause(f"{where}.chartName", "the chart's name is required", "FieldValueRequired"))
        elif not _CHART_NAME.fullmatch(name):
            problems.append(cause(f"{where}.chartName", f'"{name}" is not a chart name (letters, digits, "-", "_", '
                                  '".", starting with a letter or digit)'))
        if not isinstance(version, str) or not version.strip():
            problems.append(cause(f"{where}.chartVersion", "the chart's version is required", "FieldValueRequired"))
        elif version_key(version) is None:
            problems.append(cause(f"{where}.chartVersion", f'"{version}" is not a semantic version'))
        try:
            _values(config.get("values"))
        except ValueError as error:
            problems.append(cause(f"{where}.values", str(error)))
        repository = config.get("repository") or ""
        if not isinstance(repository, str):
            problems.append(cause(f"{where}.repository", "must be a string", "FieldValueTypeInvalid"))
        elif "://" in repository:
            parts = urlsplit(repository)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                problems.append(cause(f"{where}.repository", f'"{repository}" is no http(s) URL of a chart '
                                      "repository"))
            else:
                platform = _platform_repository(repository)
                if platform is not None and access.scope_path(platform) is None:
                    problems.append(cause(f"{where}.repository", f'the platform has no chart repository '
                                          f'"{platform}"', "FieldValueNotFound"))
        elif repository and (not _REPOSITORY_NAME.fullmatch(repository) or access.scope_path(repository) is None):
            problems.append(cause(f"{where}.repository", f'the platform has no chart repository "{repository}" '
                                  "(give library, a cluster's name or a chart repository's URL)",
                                  "FieldValueNotFound"))
        return problems

    # --- provision ------------------------------------------------------------------------------------------
    def provision(self, target: Target, client) -> Provisioned:
        """Install or upgrade the topology's release unless it is deployed as asked (module docstring)."""
        from components.releases import latest, release_history

        config = target.version.spec.get(self.config_key) or {}
        name, namespace = release_name(target.deployment.name, target.key), target.namespace
        values, labels = values_for(target), target.labels()
        history = release_history(client, name, namespace)
        current = latest(history)
        if current is not None and current.status == "deployed" and _same(current, config, values, labels):
            return Provisioned([name], 0)
        chart = self._chart(config, target)  # before any write: a chart no repository has changes nothing
        writes = 1 if kube.ensure_namespace(client, namespace) else 0
        with HelmDriver.for_cluster(_cluster_row(client, target.cluster)) as driver:
            history, writes = self._repair(driver, client, name, namespace, history, writes)
            before = latest(history)
            try:
                driver.install_or_upgrade(name, chart.path, values, namespace=namespace, labels=labels,
                                          max_history=HISTORY_MAX)
            except HelmError as error:
                if error.kind in _INVALID:
                    raise PermanentError(f"chart {chart.name} {chart.version}: {error.message}",
                                         reason="InvalidChart") from None
                after = latest(release_history(client, name, namespace))
                if after is not None and after.status == "failed" and \
                        (before is None or after.revision > before.revision):
                    return Provisioned([name], writes + 1)  # recorded as failed: status shows Helm's message
                raise
        return Provisioned([name], writes + 1)

    def _chart(self, config: dict, target: Target):
        from components.desired import find_chart

        url, repositories = chart_sources(config.get("repository") or "", target.cluster)
        try:
            return find_chart(config.get("chartName"), config.get("chartVersion"), url, repositories)
        except HelmError as error:
            if error.kind == "not-found":
                raise TemporaryError(f"chart not found: {error.message}", reason="ChartNotFound",
                                     delay=settings.EDGE_COMPONENT_CHART_RETRY) from None
            if error.kind == "digest":
                raise TemporaryError(error.message, reason="ChartDigestMismatch") from None
            raise

    def _repair(self, driver, client, name: str, namespace: str, history: list, writes: int):
        """Make the release upgradable: a release with no deployed revision whose last attempt failed (or was
        abandoned) is uninstalled; an upgrade abandoned ``pending-*`` is rolled back to the last deployed
        revision. A pending revision younger than the Helm timeout may still be running: retried later."""
        from components.releases import latest, release_history

        current, good = latest(history), latest(history, "deployed")
        if current is None or (current.status not in _PENDING and (good is not None or current.status != "failed")):
            return history, writes
        if current.status in _PENDING:
            age = (clock.now() - current.modified).total_seconds() if current.modified else float("inf")
            if age < settings.EDGE_HELM_TIMEOUT + 30:
                raise TemporaryError(f"release {name} revision {current.revision} is {current.status} (another "
                                     "operation is in progress)", reason="HelmBusy", delay=15)
        try:
            if good is None:
                driver.uninstall(name, namespace=namespace)
            else:
                driver.rollback(name, revision=good.revision, namespace=namespace)
        except HelmError as error:
            if error.kind != "not-found":
                raise
        return release_history(client, name, namespace), writes + 1

    # --- unprovision ------------------------------------------------------------------------------------------
    def unprovision(self, deployment, client, keep: frozenset[str] = frozenset()) -> int:
        """Uninstall the deployment's releases in its namespace whose topology key is not in ``keep``."""
        from components.releases import HELM_SELECTOR, latest_releases

        releases = latest_releases(client, deployment.namespace, HELM_SELECTOR)
        doomed = sorted(name for (_, name) in releases
                        if (key := owns(deployment.name, name, RELEASE_MAX)) is not None and key not in keep)
        if not doomed:
            return 0
        with HelmDriver.for_cluster(_cluster_row(client)) as driver:
            for name in doomed:
                try:
                    driver.uninstall(name, namespace=deployment.namespace)
                except HelmError as error:
                    if error.kind != "not-found":
                        raise
        return len(doomed)

    # --- status -----------------------------------------------------------------------------------------------
    def status(self, targets: list[Target], client) -> dict[str, TopologyState]:
        """Each topology's release and its workloads, in one LIST per kind for all of them (module
        docstring)."""
        from components.controller import workloads
        from components.desired import Release
        from components.releases import HELM_SELECTOR, latest_releases

        states: dict[str, TopologyState] = {}
        for (namespace, deployment_name), group in _by_deployment(targets).items():
            releases = latest_releases(client, namespace, f"{HELM_SELECTOR},{DEPLOYMENT_LABEL}={deployment_name}",
                                       decode=True)
            owned: dict[str, tuple[object, list]] = {}
            kinds = set()
            for target in group:
                name = release_name(target.deployment.name, target.key)
                revision = releases.get((namespace, name))
                if revision is None:
                    states[target.key] = TopologyState("Missing", message=f"release {name} is not installed")
                    continue
                version = (revision.labels or {}).get(VERSION_LABEL, "")
                if revision.status == "failed":
                    states[target.key] = TopologyState(
                        "Failed", workloads=[name], version=version,
                        message=f"release {name} revision {revision.revision} failed: {revision.description}")
                    continue
                if revision.status != "deployed":
                    states[target.key] = TopologyState(
                        "Progressing", workloads=[name], version=version,
                        message=f"release {name} revision {revision.revision} is {revision.status}")
                    continue
                if not revision.payload:  # Helm's record of it cannot be read: what it made is unknown
                    states[target.key] = TopologyState(
                        "Progressing", workloads=[name], version=version,
                        message=f"release {name} revision {revision.revision}: its record cannot be read")
                    continue
                made = workloads(revision, Release(name, namespace, "", None, None, {}))
                owned[target.key] = (revision, made)
                kinds.update(kind for kind, _, _ in made)
            found = {(kind, item["metadata"]["name"]): item for kind in sorted(kinds)
                     for item in listed(client, "apps/v1", kind, namespace, None)}
            pods = listed(client, "v1", "Pod", namespace, None) if found else []
            for target in group:
                if target.key not in owned:
                    continue
                revision, made = owned[target.key]
                name = release_name(target.deployment.name, target.key)
                version = (revision.labels or {}).get(VERSION_LABEL, "")
                items = [found[(kind, item_name)] for kind, item_name, _ in made if (kind, item_name) in found]
                missing = [f"{kind} {item_name}" for kind, item_name, _ in made if (kind, item_name) not in found]
                if not made:  # a chart of no workloads (ConfigMaps, CRDs, …): deployed is running
                    states[target.key] = TopologyState("Running", workloads=[name], version=version,
                                                       message=f"release {name} revision {revision.revision}")
                    continue
                state = topology_state(items, _nodes(items, pods), version=version) if items else \
                    TopologyState("Progressing", version=version)
                if missing:
                    state.phase = "Failed" if state.phase == "Failed" else "Progressing"
                    state.message = "; ".join(filter(None, [state.message, "missing: " + ", ".join(missing)]))
                state.workloads = [name]
                states[target.key] = state
        return states


def _same(revision, config: dict, values: dict, labels: dict) -> bool:
    """Whether a deployed revision is the chart version, values and labels asked for."""
    chart = ((revision.payload.get("chart") or {}).get("metadata") or {})
    return str(chart.get("name") or "") == str(config.get("chartName") or "") \
        and str(chart.get("version") or "").lstrip("v") == str(config.get("chartVersion") or "").lstrip("v") \
        and revision.values == values \
        and all((revision.labels or {}).get(key) == value for key, value in labels.items())


def _by_deployment(targets: list[Target]) -> dict[tuple[str, str], list[Target]]:
    grouped: dict[tuple[str, str], list[Target]] = defaultdict(list)
    for target in targets:
        grouped[(target.namespace, target.deployment.name)].append(target)
    return grouped


def _nodes(items: list[dict], pods: list[dict]) -> set[str]:
    """The nodes of the pods that the workloads' selectors (``matchLabels``) select."""
    selectors = [((item.get("spec") or {}).get("selector") or {}).get("matchLabels") or {} for item in items]
    nodes = set()
    for pod in pods:
        labels = (pod.get("metadata") or {}).get("labels") or {}
        node = (pod.get("spec") or {}).get("nodeName")
        if node and any(selector and all(labels.get(k) == v for k, v in selector.items()) for selector in selectors):
            nodes.add(node)
    return nodes

