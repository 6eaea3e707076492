"""The generated API case (``tests/api_cases.py``) of Component: served in host namespaces, listed across them."""
from tests.api_cases import CREATED, INVALID, KindAPICase
from tests.factories import ClusterFactory, ComponentFactory


class TestComponentAPI(KindAPICase):
    """Components live at their cluster's scope: one of c1 (inside), one of a third cluster c3 (beside: a cluster
    the limited user may not learn of) and one of c2 (abroad), each in the namespace named after its cluster. A user
    holding a cluster may create components in it; a delete is held until the release is uninstalled."""

    factory = ComponentFactory
    level = "cluster"
    limited_create = abroad_create = CREATED
    beside_create = hidden_create = INVALID  # a cluster the caller may not learn of reads as a missing one
    deletes_gracefully = True
    update = {"spec": {"version": "1.2.0", "values": {"replicas": 2}}}
    patch = {"metadata": {"labels": {"tier": "platform"}}, "spec": {"enabled": False}}

    @classmethod
    def places(cls, objs):
        return {"inside": ComponentFactory(name="agent", cluster=objs["c1"]),
                "beside": ComponentFactory(name="monitoring", cluster=ClusterFactory(name="c3")),
                "abroad": ComponentFactory(name="logging", cluster=objs["c2"])}

    @classmethod
    def new(cls, objs, where):
        return {"cluster": objs["c2"] if where == "abroad" else objs["c1"] if where == "inside" else "c3"}
