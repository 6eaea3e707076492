"""The generated API cases (``tests/api_cases.py``) of Cluster, Workspace, NodeGroup, Namespace and Node."""
from tests.api_cases import FORBIDDEN, KindAPICase
from tests.factories import ClusterFactory, NamespaceFactory, NodeFactory, NodeGroupFactory, WorkspaceFactory


class TestClusterAPI(KindAPICase):
    """Clusters are platform objects, each its own scope: c1 inside, a third cluster beside it, c2 abroad."""

    factory = ClusterFactory
    level = "cluster"
    update = {"spec": {"provider": "edge-dc", "type": "physical"}}
    patch = {"metadata": {"labels": {"site": "beijing"}}, "spec": {"enable": True}}

    @classmethod
    def places(cls, objs):
        return {"inside": objs["c1"], "beside": ClusterFactory(name="c3"), "abroad": objs["c2"]}

    @classmethod
    def new(cls, objs, where):
        return {}


class TestWorkspaceAPI(KindAPICase):
    """Workspaces w1 (inside), w2 (beside) of c1 and w3 of c2; a new workspace is made at its cluster."""

    factory = WorkspaceFactory
    level = "workspace"
    limited_create = beside_create = FORBIDDEN  # holding one workspace is not holding its cluster
    update = {"spec": {"displayName": "Line 1"}}
    patch = {"metadata": {"labels": {"team": "line-1"}}, "spec": {"description": "the first line"}}

    @classmethod
    def places(cls, objs):
        return {"inside": objs["c1/w1"], "beside": objs["c1/w2"], "abroad": objs["c2/w3"]}

    @classmethod
    def new(cls, objs, where):
        return {"cluster": objs["c2" if where == "abroad" else "c1"]}


class TestNodeGroupAPI(KindAPICase):
    """Node groups g1 (inside), g2 (beside) of c1 and g3 of c2; a new node group is made at its cluster."""

    factory = NodeGroupFactory
    level = "nodegroup"
    limited_create = beside_create = FORBIDDEN  # holding one node group is not holding its cluster
    update = {"spec": {"displayName": "Rack 1"}}
    patch = {"spec": {"template": {"labels": {"rack": "1"}}}}

    @classmethod
    def places(cls, objs):
        return {"inside": objs["c1/g1"], "beside": objs["c1/g2"], "abroad": objs["c2/g3"]}

    @classmethod
    def new(cls, objs, where):
        return {"cluster": objs["c2" if where == "abroad" else "c1"]}


class TestNamespaceAPI(KindAPICase):
    """Namespaces n1 of c1/w1 (inside), n3 of c1/w2 (beside) and n1 of c2/w3 (abroad: the same name)."""

    factory = NamespaceFactory
    level = "workspace"
    update = {"metadata": {"labels": {"team": "line-1"}}}
    patch = {"metadata": {"annotations": {"owner": "line-1-ops"}}}

    @classmethod
    def places(cls, objs):
        return {"inside": objs["c1/n1"], "beside": objs["c1/n3"], "abroad": objs["c2/n1"]}

    @classmethod
    def new(cls, objs, where):
        cluster, workspace = {"inside": ("c1", "c1/w1"), "beside": ("c1", "c1/w2"), "abroad": ("c2", "c2/w3")}[where]
        return {"cluster": objs[cluster], "workspace": objs[workspace]}


class TestNodeAPI(KindAPICase):
    """Nodes x1 of c1/g1 (inside), x3 of c1/g2 (beside) and x1 of c2/g3 (abroad: the same name)."""

    factory = NodeFactory
    level = "nodegroup"
    update = {"metadata": {"labels": {"rack": "1"}}}
    patch = {"spec": {"unschedulable": True}}

    @classmethod
    def places(cls, objs):
        return {"inside": objs["c1/x1"], "beside": objs["c1/x3"], "abroad": objs["c2/x1"]}

    @classmethod
    def new(cls, objs, where):
        cluster, group = {"inside": ("c1", "c1/g1"), "beside": ("c1", "c1/g2"), "abroad": ("c2", "c2/g3")}[where]
        return {"cluster": objs[cluster], "nodegroup": objs[group]}
