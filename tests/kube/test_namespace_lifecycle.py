"""Deleted namespaces go Terminating, are emptied honouring finalizers, refuse new content, then go away."""
from __future__ import annotations

import threading

from kubernetes import client, watch

from tests.kube.testing import error_of, raw


def _conditions(core, name):
    return {c.type: (c.status, c.reason) for c in core.read_namespace(name).status.conditions or []}


def test_a_namespace_nothing_holds_goes_at_once_with_its_contents(kube, core):
    core.create_namespace({"metadata": {"name": "doomed"}})
    assert core.read_namespace("doomed").spec.finalizers == ["kubernetes"]
    core.create_namespaced_config_map("doomed", {"metadata": {"name": "inside"}})
    answer = raw(core.api_client, "DELETE", "/api/v1/namespaces/doomed")[1]
    assert answer["kind"] == "Namespace" and answer["status"]["phase"] == "Terminating"  # as the real server answers
    assert answer["metadata"]["deletionTimestamp"]
    assert kube.object("namespaces", "doomed") is None and kube.objects("configmaps", namespace="doomed") == []
    core.create_namespace({"metadata": {"name": "doomed"}})  # the name is free again at once


def test_content_with_finalizers_holds_the_namespace_terminating(kube, core):
    core.create_namespace({"metadata": {"name": "held"}})
    core.create_namespaced_config_map("held", {"metadata": {"name": "kept", "finalizers": ["example.io/cleanup"]}})
    core.create_namespaced_secret("held", {"metadata": {"name": "plain"}})
    core.delete_namespace("held")
    ns = core.read_namespace("held")
    assert ns.status.phase == "Terminating" and ns.metadata.deletion_timestamp
    assert kube.objects("secrets", namespace="held") == []
    assert core.read_namespaced_config_map("kept", "held").metadata.deletion_timestamp
    conditions = _conditions(core, "held")
    assert conditions["NamespaceContentRemaining"] == ("True", "SomeResourcesRemain")
    assert conditions["NamespaceFinalizersRemaining"] == ("True", "SomeFinalizersRemain")
    assert conditions["NamespaceDeletionDiscoveryFailure"] == ("False", "ResourcesDiscovered")
    messages = {c.type: c.message for c in core.read_namespace("held").status.conditions}
    assert messages["NamespaceContentRemaining"] == "Some resources are remaining: configmaps. has 1 resource instances"
    assert messages["NamespaceFinalizersRemaining"] == ("Some content in the namespace has finalizers remaining: "
                                                        "example.io/cleanup in 1 resource instances")
    # new content is refused, as the NamespaceLifecycle admission plugin refuses it
    status, error = error_of(core.create_namespaced_config_map, "held", {"metadata": {"name": "late"}})
    assert status == 403 and error["reason"] == "Forbidden"
    assert error["message"] == ('configmaps "late" is forbidden: unable to create new content in namespace held '
                                "because it is being terminated")
    assert error["details"]["causes"] == [{"reason": "NamespaceTerminating", "field": "metadata.namespace",
                                           "message": "namespace held is being terminated"}]
    # releasing the last finalizer lets the namespace go
    core.patch_namespaced_config_map("kept", "held", {"metadata": {"finalizers": None}})
    assert kube.object("namespaces", "held") is None


def test_namespace_finalizers_hold_it_until_finalize_and_metadata_finalizers_until_removed(kube, core):
    core.create_namespace({"metadata": {"name": "ext", "finalizers": ["example.io/meta"]}})
    raw(core.api_client, "PUT", "/api/v1/namespaces/ext/finalize",
        {"metadata": {"name": "ext"}, "spec": {"finalizers": ["kubernetes", "example.io/spec"]}})
    # a plain update cannot change spec.finalizers
    core.patch_namespace("ext", {"spec": {"finalizers": []}})
    assert core.read_namespace("ext").spec.finalizers == ["kubernetes", "example.io/spec"]
    core.delete_namespace("ext")
    ns = core.read_namespace("ext")
    assert ns.spec.finalizers == ["example.io/spec"]  # the namespace controller removed its own
    assert _conditions(core, "ext")["NamespaceContentRemaining"] == ("False", "ContentRemoved")
    status, _ = raw(core.api_client, "PUT", "/api/v1/namespaces/ext/finalize",
                    {"metadata": {"name": "ext"}, "spec": {"finalizers": []}})
    assert status == 200 and core.read_namespace("ext").status.phase == "Terminating"
    core.patch_namespace("ext", {"metadata": {"finalizers": None}})
    assert kube.object("namespaces", "ext") is None


def test_a_watch_sees_terminating_then_deleted(kube, core):
    core.create_namespace({"metadata": {"name": "seen"}})
    events: list = []
    w = watch.Watch()

    def run():
        for event in w.stream(core.list_namespace, field_selector="metadata.name=seen",
                              resource_version=str(kube.resource_version), timeout_seconds=5):
            events.append((event["type"], event["object"].status.phase))
            if event["type"] == "DELETED":
                w.stop()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    from tests.kube.testing import wait_for

    assert wait_for(lambda: kube.open_watches == 1)
    client.CoreV1Api(core.api_client).delete_namespace("seen")
    thread.join(5)
    assert events[0] == ("MODIFIED", "Terminating") and events[-1][0] == "DELETED"
