"""Scope objects know their path and chain (DESIGN §3), in both views, and follow their parent when it moves."""
from tests import fleet


def test_every_scope_object_knows_its_path_and_chain(platform):
    objs = fleet.build(platform)
    expected = {
        "c1": ("clusters/c1", "platform"),
        "c1/w1": ("clusters/c1/workspaces/w1", "clusters/c1", "platform"),
        "c1/g1": ("clusters/c1/nodegroups/g1", "clusters/c1", "platform"),
        "c1/n1": ("clusters/c1/workspaces/w1/namespaces/n1", "clusters/c1/workspaces/w1", "clusters/c1", "platform"),
        "c1/loose": ("clusters/c1/namespaces/loose", "clusters/c1", "platform"),
        "c1/x1": ("clusters/c1/nodegroups/g1/nodes/x1", "clusters/c1/nodegroups/g1", "clusters/c1", "platform"),
        "c1/free": ("clusters/c1/nodes/free", "clusters/c1", "platform"),
        "c2/n1": ("clusters/c2/workspaces/w3/namespaces/n1", "clusters/c2/workspaces/w3", "clusters/c2", "platform"),
    }
    for key, chain in expected.items():
        assert (objs[key].path, objs[key].chain) == (chain[0], chain), key


def test_a_namespace_moved_to_another_workspace_changes_its_path(platform):
    from clusters.models import Namespace

    fleet.build(platform)
    platform.namespace("n1", "c1", "w2")  # re-applied with another workspace label
    moved = Namespace.objects.get(name="n1", cluster__name="c1")
    assert moved.chain[:2] == ("clusters/c1/workspaces/w2/namespaces/n1", "clusters/c1/workspaces/w2")
