"""The generated API cases (``tests/api_cases.py``) of AppCategory, Application, ApplicationVersion and
ApplicationDeployment."""
from edgeplatform.resources.names import DESCRIPTION_ANNOTATION
from tests.api_cases import KindAPICase
from tests.factories import (
    AppCategoryFactory,
    ApplicationDeploymentFactory,
    ApplicationFactory,
    ApplicationVersionFactory,
)
from tests.factories.appstore import workload

#: the workspace of each place, and the cluster it is in
WORKSPACES = {"inside": ("c1/w1", "c1"), "beside": ("c1/w2", "c1"), "abroad": ("c2/w3", "c2")}


class TestAppCategoryAPI(KindAPICase):
    """Categories are platform objects: only a platform grant writes them."""

    factory = AppCategoryFactory
    level = "platform"
    update = {"spec": {"icon": "shop"}}
    patch = {"metadata": {"labels": {"shelf": "retail"}}}

    @classmethod
    def places(cls, objs):
        return {place: AppCategoryFactory(name=f"{place}-apps") for place in ("inside", "beside", "abroad")}

    @classmethod
    def new(cls, objs, where):
        return {}


class TestApplicationAPI(KindAPICase):
    """Applications of w1 (inside), w2 (beside) of c1 and w3 of c2 (abroad), each in the workspace its label
    names; a workspace holder publishes applications there."""

    factory = ApplicationFactory
    level = "workspace"
    update = {"metadata": {"annotations": {DESCRIPTION_ANNOTATION: "Tills of every shop"}}}
    patch = {"metadata": {"labels": {"app.theriseunion.io/category": "retail"}}}

    @classmethod
    def places(cls, objs):
        return {place: ApplicationFactory(name=f"{place}-pos", workspace=objs[workspace])
                for place, (workspace, _) in WORKSPACES.items()}

    @classmethod
    def new(cls, objs, where):
        return {"workspace": objs[WORKSPACES[where][0]]}


class TestApplicationVersionAPI(KindAPICase):
    """Versions of an application of w1 (inside), w2 (beside) and w3 (abroad): each lives where its application
    is, named by ``spec.applicationRef`` (an application the caller may not learn of reads as a missing one)."""

    factory = ApplicationVersionFactory
    level = "workspace"
    scope_field = "spec.applicationRef"
    update = {"spec": {"workloadConfig": workload("registry.example.com/shop/pos:1.0.1")}}
    patch = {"metadata": {"labels": {"channel": "stable"}}}

    @classmethod
    def places(cls, objs):
        return {place: ApplicationVersionFactory(
            name=f"{place}-pos-1-0-0", version="1.0.0",
            application=ApplicationFactory(name=f"{place}-pos", workspace=objs[workspace]))
            for place, (workspace, _) in WORKSPACES.items()}

    @classmethod
    def new(cls, objs, where):
        return {"application": f"{where}-pos"}


class TestApplicationDeploymentAPI(KindAPICase):
    """Deployments of one platform application in namespace n1 of c1/w1 (inside), n3 of c1/w2 (beside) and n1 of
    c2/w3 (abroad: the same namespace name), each on its home cluster; a workspace holder deploys in its
    namespaces (to the home cluster: allowed at the namespace of that name there). A delete is held until every
    topology is removed."""

    factory = ApplicationDeploymentFactory
    level = "workspace"
    scope_field = "metadata."  # the cluster label, or a namespace of it the caller may not learn of
    in_any_namespace = True
    deletes_gracefully = True
    update = {"spec": {"version": "^1.0", "topologies": [{"replicas": 2}]}}
    patch = {"metadata": {"labels": {"tier": "shop"}}}

    NAMESPACES = {"inside": ("c1", "n1"), "beside": ("c1", "n3"), "abroad": ("c2", "n1")}

    @classmethod
    def places(cls, objs):
        application = ApplicationFactory(name="pos")
        return {place: ApplicationDeploymentFactory(name=f"{place}-pos", application=application,
                                                    cluster=objs[cluster], namespace=namespace)
                for place, (cluster, namespace) in cls.NAMESPACES.items()}

    @classmethod
    def new(cls, objs, where):
        cluster, namespace = cls.NAMESPACES[where]
        return {"application": "pos", "cluster": cluster, "namespace": namespace}
