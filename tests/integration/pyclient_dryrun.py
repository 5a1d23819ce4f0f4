#!/usr/bin/python3
"""The official Python client (Debian's python3-kubernetes) against vimaged:
dry_run="All" creates, patches and deletes change nothing, a watch streams
(the client sends watch=True), deletecollection and the DynamicClient work.

Usage: pyclient_dryrun.py KUBECONFIG  (expects VirtualImages "live" and
"held" in namespace default).  Prints TAP lines; the last is "ok - python:
done" when it ran to the end."""
import sys

from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException

G, V, NS, P = "virtualization.deckhouse.io", "v1alpha2", "default", "virtualimages"
failed = False


def check(name, cond, detail=""):
    global failed
    if cond:
        print("ok - python: " + name)
    else:
        failed = True
        print("not ok - python: " + name)
        if detail:
            print("#   " + str(detail))


def rv(api, name):
    return api.get_namespaced_custom_object(G, V, NS, P, name)["metadata"]["resourceVersion"]


def gone(api, name):
    try:
        api.get_namespaced_custom_object(G, V, NS, P, name)
        return False
    except ApiException as e:
        return e.status == 404


def main():
    config.load_kube_config(sys.argv[1])
    api = client.CustomObjectsApi()
    before = api.get_namespaced_custom_object(G, V, NS, P, "live")
    rv0 = before["metadata"]["resourceVersion"]

    body = {
        "apiVersion": G + "/" + V,
        "kind": "VirtualImage",
        "metadata": {"name": "py-new", "labels": {"app": "py"}},
        "spec": {
            "storage": "ContainerRegistry",
            "dataSource": {"type": "HTTP", "http": {"url": "https://e.example.org/p.img"}},
        },
    }
    out = api.create_namespaced_custom_object(G, V, NS, P, body, dry_run="All")
    check("a dry-run create answers a uid and no resourceVersion",
          out["metadata"].get("uid") and not out["metadata"].get("resourceVersion"), out)
    check("the dry-run create stored nothing", gone(api, "py-new"))

    out = api.patch_namespaced_custom_object(
        G, V, NS, P, "live", {"metadata": {"labels": {"py": "patched"}}}, dry_run="All")
    check("a dry-run patch answers the patched object under the old resourceVersion",
          out["metadata"]["labels"].get("py") == "patched"
          and out["metadata"]["resourceVersion"] == rv0, out["metadata"])

    out = api.delete_namespaced_custom_object(G, V, NS, P, "live", dry_run="All")
    check("a dry-run delete answers the object", out.get("metadata", {}).get("name") == "live",
          out)
    # (22.6's delete_collection takes no label_selector: the whole namespace)
    out = api.delete_collection_namespaced_custom_object(G, V, NS, P, dry_run="All")
    check("a dry-run deletecollection answers both objects",
          sorted(i["metadata"]["name"] for i in out.get("items", [])) == ["held", "live"], out)
    after = api.get_namespaced_custom_object(G, V, NS, P, "live")
    check("the live object is unchanged", after == before, after)
    check("held is not being deleted",
          "deletionTimestamp" not in api.get_namespaced_custom_object(
              G, V, NS, P, "held")["metadata"])

    # watch=True: the current state first (two ADDED), then the end of the timeout
    w = watch.Watch()
    seen = []
    for ev in w.stream(api.list_namespaced_custom_object, G, V, NS, P, timeout_seconds=2):
        seen.append((ev["type"], ev["object"]["metadata"]["name"]))
        if len(seen) == 2:
            w.stop()
    check("watch.Watch().stream gets the objects as ADDED events",
          sorted(seen) == [("ADDED", "held"), ("ADDED", "live")], seen)

    dyn = dynamic.DynamicClient(client.ApiClient())
    vis = dyn.resources.get(api_version=G + "/" + V, kind="VirtualImage")
    out = vis.patch(name="live", namespace=NS, body={"metadata": {"labels": {"d": "1"}}},
                    content_type="application/merge-patch+json", dry_run="All")
    check("the DynamicClient's dry-run patch answers the change",
          out.metadata.labels["d"] == "1", out)
    check("and the resourceVersion did not move", rv(api, "live") == rv0)
    out = vis.delete(namespace=NS, label_selector="app=x")
    check("the DynamicClient's deletecollection deletes live (held waits for its finalizer)",
          gone(api, "live") and not gone(api, "held"), out)
    print("ok - python: done" if not failed else "not ok - python: done")


if __name__ == "__main__":
    main()
