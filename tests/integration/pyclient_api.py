#!/usr/bin/python3
"""The official Python client (Debian's python3-kubernetes 22.6) against
vimaged: what an informer-like program relies on.

Usage: pyclient_api.py KUBECONFIG PHASE STATEFILE
  list     (controllers off) paging with limit/_continue, a watch resumed
           from a list's resourceVersion, dry-run and deletecollection
           through the DynamicClient, Namespaces through CoreV1Api; writes
           an old resourceVersion to STATEFILE
  gone     (after a restart) a watch from STATEFILE's resourceVersion is an
           ApiException 410 and the client's re-list and watch work; idle
           watches with allow_watch_bookmarks=True decode their BOOKMARKs
  sweep    (controllers and a registry) a namespace with a Ready image is
           deleted: Terminating, then its image and the namespace are gone
Prints TAP lines; the last is "ok - python PHASE: done" when it ran to the
end (an exception is a "not ok" with its traceback)."""
import json
import sys
import threading
import time
import traceback

from kubernetes import client, config, dynamic, watch
from kubernetes.client.rest import ApiException

G, V, P = "virtualization.deckhouse.io", "v1alpha2", "virtualimages"
failed = False
phase = "?"


def check(name, cond, detail=""):
    global failed
    if cond:
        print("ok - python %s: %s" % (phase, name))
    else:
        failed = True
        print("not ok - python %s: %s" % (phase, name))
        if detail != "":
            print("#   " + str(detail)[:2000].replace("\n", "\n#   "))
    sys.stdout.flush()


def vi(name, ns, url="https://e.example.org/p.img", labels=None):
    return {
        "apiVersion": G + "/" + V,
        "kind": "VirtualImage",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {"storage": "ContainerRegistry",
                 "dataSource": {"type": "HTTP", "http": {"url": url}}},
    }


def status_of(fn, *args, **kwargs):
    """The HTTP status of an ApiException fn raises (0 when it does not)."""
    try:
        fn(*args, **kwargs)
        return 0
    except ApiException as e:
        return e.status


def events(w, fn, *args, **kwargs):
    """(type, name) of every event of a bounded watch (timeout_seconds)."""
    return [(e["type"], e["raw_object"]["metadata"].get("name"))
            for e in w.stream(fn, *args, **kwargs)]


def phase_list(state):
    co = client.CustomObjectsApi()
    core = client.CoreV1Api()

    # ---- Namespaces through CoreV1Api ----
    ns = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pypage")))
    check("CoreV1Api.create_namespace answers an Active V1Namespace",
          ns.status.phase == "Active" and ns.metadata.uid, ns)
    got = core.read_namespace("pypage")
    check("read_namespace decodes it, kube's finalizer and label included",
          got.spec.finalizers == ["kubernetes"]
          and got.metadata.labels.get("kubernetes.io/metadata.name") == "pypage", got)
    out = core.create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name="pydry")), dry_run="All")
    check("a dry-run create_namespace answers the namespace",
          out.metadata.name == "pydry", out)
    check("and stores nothing (read is 404)", status_of(core.read_namespace, "pydry") == 404)
    try:
        co.create_namespaced_custom_object(G, V, "pymissing", P, vi("x", "pymissing"))
        check("an image in a missing namespace is an ApiException 404", False, "created")
    except ApiException as e:
        body = json.loads(e.body)
        check("an image in a missing namespace is an ApiException 404",
              e.status == 404 and body.get("reason") == "NotFound"
              and body.get("details", {}).get("kind") == "namespaces"
              and body.get("message") == 'namespaces "pymissing" not found', e.body)
    try:
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pypage")))
        check("creating a namespace twice is an ApiException 409 naming it", False, "created")
    except ApiException as e:
        check("creating a namespace twice is an ApiException 409 naming it in details",
              e.status == 409 and json.loads(e.body).get("details") == {
                  "name": "pypage", "kind": "namespaces"}, e.body)
    ev = client.CoreV1Event(metadata=client.V1ObjectMeta(name="py-ev"), reason="R", message="m",
                            type="Normal", involved_object=client.V1ObjectReference(
                                kind="VirtualImage", name="x", namespace="default"))
    core.create_namespaced_event("default", ev)
    try:
        core.create_namespaced_event("default", ev)
        check("creating an Event twice is an ApiException 409 naming it", False, "created")
    except ApiException as e:
        check("creating an Event twice is an ApiException 409 naming it in details",
              e.status == 409 and json.loads(e.body).get("details") == {
                  "name": "py-ev", "kind": "events"}, e.body)
    names = [n.metadata.name for n in core.list_namespace().items]
    check("list_namespace lists default and pypage", "default" in names and "pypage" in names,
          names)

    # ---- paging: limit/_continue over many objects returns each once ----
    want = sorted("p-%02d" % i for i in range(37))
    for n in want:
        co.create_namespaced_custom_object(G, V, "pypage", P, vi(n, "pypage"))
    try:
        co.create_namespaced_custom_object(G, V, "pypage", P, vi(want[0], "pypage"))
        check("creating an image twice is an ApiException 409 naming it", False, "created")
    except ApiException as e:
        check("creating an image twice is an ApiException 409 naming it in details",
              e.status == 409 and e.reason == "Conflict" and json.loads(e.body).get("details") == {
                  "name": want[0], "group": G, "kind": P}, e.body)
    try:
        co.get_namespaced_custom_object(G, V, "pypage", P, "absent")
        check("a missing image is an ApiException 404", False, "found")
    except ApiException as e:
        check("a missing image is an ApiException 404 with kube's details (group included)",
              e.status == 404 and json.loads(e.body).get("details") == {
                  "name": "absent", "group": G, "kind": P}, e.body)
    seen, pages, cont, first_rv = [], 0, None, None
    while pages < 20:
        kw = {"limit": 5}
        if cont:
            kw["_continue"] = cont
        page = co.list_namespaced_custom_object(G, V, "pypage", P, **kw)
        pages += 1
        first_rv = first_rv or page["metadata"]["resourceVersion"]
        seen += [i["metadata"]["name"] for i in page["items"]]
        cont = page["metadata"].get("continue")
        if not cont:
            break
        left = page["metadata"].get("remainingItemCount")
        check_left = left is None or left == len(want) - len(seen)
        if not check_left:
            check("remainingItemCount counts what is left", False, (left, len(seen)))
    check("CustomObjectsApi limit=5/_continue returns each of 37 once, in 8 pages",
          sorted(seen) == want and len(seen) == len(set(seen)) and pages == 8, (pages, seen))
    dyn = dynamic.DynamicClient(client.ApiClient())
    vis = dyn.resources.get(api_version=G + "/" + V, kind="VirtualImage")
    seen, cont, pages = [], None, 0
    while pages < 20:
        page = vis.get(namespace="pypage", limit=10, _continue=cont)
        pages += 1
        seen += [i.metadata.name for i in page.items]
        cont = page.metadata["continue"]
        if not cont:
            break
    check("the DynamicClient pages the same 37 once each (limit=10, 4 pages)",
          sorted(seen) == want and pages == 4, (pages, seen))
    check("an invalid continue token is ApiException 400 (not a silent full list)",
          status_of(co.list_namespaced_custom_object, G, V, "pypage", P, limit=5,
                    _continue="garbage") == 400)

    # ---- a watch from a list's resourceVersion sees exactly the later changes ----
    lst = co.list_namespaced_custom_object(G, V, "pypage", P)
    rv = lst["metadata"]["resourceVersion"]
    co.create_namespaced_custom_object(G, V, "pypage", P, vi("w-new", "pypage"))
    co.patch_namespaced_custom_object(G, V, "pypage", P, "p-03", {"metadata": {"labels": {"w": "1"}}})
    co.delete_namespaced_custom_object(G, V, "pypage", P, "p-04")
    co.create_namespaced_custom_object(G, V, "default", P, vi("elsewhere", "default"))
    w = watch.Watch()
    got = events(w, co.list_namespaced_custom_object, G, V, "pypage", P,
                 resource_version=rv, timeout_seconds=2)
    check("a watch from the list's resourceVersion sees exactly the three later changes",
          got == [("ADDED", "w-new"), ("MODIFIED", "p-03"), ("DELETED", "p-04")], got)
    last = w.resource_version
    check("watch.Watch keeps the last event's resourceVersion", last and int(last) > int(rv),
          (rv, last))
    got = events(watch.Watch(), co.list_namespaced_custom_object, G, V, "pypage", P,
                 resource_version=last, timeout_seconds=1)
    check("resuming from that resourceVersion sees nothing twice", got == [], got)
    got = []
    for e in vis.watch(namespace="pypage", resource_version=rv, timeout=2):
        got.append((e["type"], e["object"].metadata.name))
    check("the DynamicClient's watch from the list's resourceVersion sees the same three",
          got == [("ADDED", "w-new"), ("MODIFIED", "p-03"), ("DELETED", "p-04")], got)

    # ---- dry-run and deletecollection through the DynamicClient ----
    out = vis.create(body=vi("dry", "pypage"), namespace="pypage", dry_run="All")
    check("the DynamicClient's dry-run create answers the object without a resourceVersion",
          out.metadata.name == "dry" and not out.metadata.get("resourceVersion"), out)
    check("and stores nothing",
          status_of(co.get_namespaced_custom_object, G, V, "pypage", P, "dry") == 404)
    for n in ("lab-a", "lab-b"):
        co.create_namespaced_custom_object(G, V, "pypage", P, vi(n, "pypage", labels={"grp": "del"}))
    rv_before = co.list_namespaced_custom_object(G, V, "pypage", P)["metadata"]["resourceVersion"]
    out = vis.delete(namespace="pypage", label_selector="grp=del", dry_run="All")
    check("a dry-run deletecollection answers the two selected",
          sorted(i.metadata.name for i in out.items) == ["lab-a", "lab-b"], out)
    check("and deletes nothing", co.list_namespaced_custom_object(
        G, V, "pypage", P, label_selector="grp=del")["items"].__len__() == 2)
    out = vis.delete(namespace="pypage", label_selector="grp=del")
    check("a deletecollection by label answers the two it deleted",
          sorted(i.metadata.name for i in out.items) == ["lab-a", "lab-b"], out)
    left = [i["metadata"]["name"] for i in co.list_namespaced_custom_object(G, V, "pypage", P)["items"]]
    check("only those two are gone", "lab-a" not in left and "lab-b" not in left
          and len(left) == 37, left)
    got = events(watch.Watch(), co.list_namespaced_custom_object, G, V, "pypage", P,
                 resource_version=rv_before, timeout_seconds=1)
    check("the watch sees the deletecollection as two DELETED events (the dry run none)",
          sorted(got) == [("DELETED", "lab-a"), ("DELETED", "lab-b")], got)

    # ---- a namespace delete through CoreV1Api (controllers off: it stays Terminating) ----
    out = core.delete_namespace("pypage")
    check("delete_namespace decodes its answer (a V1Status), no exception", out is not None, out)
    got = core.read_namespace("pypage")
    check("the namespace with images is Terminating, with a deletionTimestamp",
          got.status.phase == "Terminating" and got.metadata.deletion_timestamp, got)
    try:
        co.create_namespaced_custom_object(G, V, "pypage", P, vi("late", "pypage"))
        check("an image in a Terminating namespace is an ApiException 403", False, "created")
    except ApiException as e:
        body = json.loads(e.body)
        check("an image in a Terminating namespace is an ApiException 403 naming it in details",
              e.status == 403 and body.get("reason") == "Forbidden"
              and body.get("details") == {"name": "late", "group": G, "kind": P}, e.body)
    with open(state, "w") as f:
        f.write(rv)


def bookmark_watch(fn, args, out):
    try:
        evs = list(watch.Watch().stream(fn, *args, allow_watch_bookmarks=True, timeout_seconds=12))
        out.extend(evs)
    except Exception:  # reported by the caller
        out.append(traceback.format_exc())


def phase_gone(state):
    co = client.CustomObjectsApi()
    core = client.CoreV1Api()
    old = open(state).read().strip()
    # two idle watches wait for the 10 s bookmark meanwhile
    typed, raw = [], []
    t1 = threading.Thread(target=bookmark_watch, args=(core.list_namespace, (), typed))
    t2 = threading.Thread(target=bookmark_watch, args=(
        co.list_namespaced_custom_object, (G, V, "pypage", P), raw))
    t1.start()
    t2.start()
    try:
        got = events(watch.Watch(), co.list_namespaced_custom_object, G, V, "pypage", P,
                     resource_version=old, timeout_seconds=2)
        check("a watch from a resourceVersion older than the history raises", False, got)
    except ApiException as e:
        check("a watch from a resourceVersion older than the history is ApiException 410",
              e.status == 410, e)
    lst = co.list_namespaced_custom_object(G, V, "pypage", P)
    check("the re-list works", len(lst["items"]) == 37, len(lst["items"]))
    rv = lst["metadata"]["resourceVersion"]
    co.patch_namespaced_custom_object(G, V, "pypage", P, "p-05", {"metadata": {"labels": {"g": "1"}}})
    got = events(watch.Watch(), co.list_namespaced_custom_object, G, V, "pypage", P,
                 resource_version=rv, timeout_seconds=2)
    check("and a watch from the re-list's resourceVersion sees the next change",
          got == [("MODIFIED", "p-05")], got)
    t1.join(20)
    t2.join(20)
    for name, evs, kind, api_version in (
            ("CoreV1Api.list_namespace", typed, "Namespace", "v1"),
            ("CustomObjectsApi", raw, "VirtualImage", G + "/" + V)):
        errs = [e for e in evs if isinstance(e, str)]
        check("%s watch with allow_watch_bookmarks=True runs to its timeout" % name,
              not errs and not t1.is_alive() and not t2.is_alive(), errs)
        bms = [e for e in evs if isinstance(e, dict) and e["type"] == "BOOKMARK"]
        check("%s watch gets an idle BOOKMARK naming %s %s with a resourceVersion" % (
            name, kind, api_version),
              bms and all(b["raw_object"].get("kind") == kind
                          and b["raw_object"].get("apiVersion") == api_version
                          and b["raw_object"]["metadata"].get("resourceVersion") for b in bms),
              [b["raw_object"] for b in bms] or evs)


def phase_sweep(url):
    co = client.CustomObjectsApi()
    core = client.CoreV1Api()
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="pyteam")))
    rv = core.read_namespace("pyteam").metadata.resource_version
    co.create_namespaced_custom_object(G, V, "pyteam", P, vi("disk", "pyteam", url=url))
    deadline = time.time() + 40
    phase_now = None
    while time.time() < deadline:
        phase_now = co.get_namespaced_custom_object(G, V, "pyteam", P, "disk").get(
            "status", {}).get("phase")
        if phase_now == "Ready":
            break
        time.sleep(0.3)
    check("the image in the new namespace becomes Ready", phase_now == "Ready", phase_now)
    core.delete_namespace("pyteam")
    got = None
    try:
        got = core.read_namespace("pyteam").status.phase
    except ApiException as e:
        got = e.status
    check("right after delete_namespace it is Terminating (or already gone)",
          got in ("Terminating", 404), got)
    w = watch.Watch()
    seen = []
    for e in w.stream(core.list_namespace, resource_version=rv, timeout_seconds=40):
        if e["object"].metadata.name != "pyteam":
            continue
        seen.append((e["type"], e["object"].status.phase))
        if e["type"] == "DELETED":
            w.stop()
    check("a typed watch sees pyteam go Terminating, then DELETED",
          ("MODIFIED", "Terminating") in seen and seen[-1][0] == "DELETED", seen)
    check("the namespace is gone (read is 404)", status_of(core.read_namespace, "pyteam") == 404)
    items = co.list_cluster_custom_object(G, V, P)["items"]
    check("its image is gone", not [i for i in items if i["metadata"]["namespace"] == "pyteam"],
          items)


def main():
    global phase
    config.load_kube_config(sys.argv[1])
    phase = sys.argv[2]
    try:
        {"list": phase_list, "gone": phase_gone, "sweep": phase_sweep}[phase](sys.argv[3])
    except Exception:
        check("no unexpected exception", False, traceback.format_exc())
    print(("ok - python %s: done" if not failed else "not ok - python %s: done") % phase)


if __name__ == "__main__":
    main()
