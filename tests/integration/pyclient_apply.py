#!/usr/bin/python3
"""The official Python client's server-side apply (DynamicClient.
server_side_apply, what Python tooling uses) against vimaged: apply
creates, a second manager's change is a 409 whose body carries kube's
FieldManagerConflict causes, force_conflicts wins, managedFields name both.

Usage: pyclient_apply.py KUBECONFIG.  Prints TAP lines; the last is
"ok - python: done" when it ran to the end."""
import json
import sys

from kubernetes import client, config, dynamic
from kubernetes.client.rest import ApiException

G, V, NS = "virtualization.deckhouse.io", "v1alpha2", "default"
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


def manifest(url):
    # a serialized body: this client's REST layer sends only JSON content
    # types from a dict (the apply content type needs str or bytes)
    return json.dumps({
        "apiVersion": G + "/" + V,
        "kind": "VirtualImage",
        "metadata": {"name": "py-ssa", "namespace": NS},
        "spec": {"storage": "ContainerRegistry",
                 "dataSource": {"type": "HTTP", "http": {"url": url}}},
    })


def main():
    config.load_kube_config(sys.argv[1])
    dyn = dynamic.DynamicClient(client.ApiClient())
    vi = dyn.resources.get(api_version=G + "/" + V, kind="VirtualImage")

    obj = dyn.server_side_apply(vi, name="py-ssa", namespace=NS, body=manifest("https://e.example.org/p.img"),
                                field_manager="py-a")
    managers = [(e["manager"], e["operation"]) for e in obj.to_dict()["metadata"]["managedFields"]]
    check("server_side_apply creates with an Apply entry", managers == [("py-a", "Apply")], managers)
    try:
        dyn.server_side_apply(vi, name="py-ssa", namespace=NS, body=manifest("https://e.example.org/q.img"), field_manager="py-b")
        check("a second manager's change is refused", False, "no exception")
    except ApiException as e:
        body = json.loads(e.body)
        causes = body.get("details", {}).get("causes", [])
        check("a second manager's change is a 409 with FieldManagerConflict causes",
              e.status == 409 and causes and causes[0]["type"] == "FieldManagerConflict"
              and causes[0]["field"] == ".spec.dataSource.http.url", e.body)
    obj = dyn.server_side_apply(vi, name="py-ssa", namespace=NS, body=manifest("https://e.example.org/q.img"),
                                field_manager="py-b", force_conflicts=True)
    d = obj.to_dict()
    managers = sorted(e["manager"] for e in d["metadata"]["managedFields"])
    check("force_conflicts wins and both managers are listed",
          d["spec"]["dataSource"]["http"]["url"] == "https://e.example.org/q.img"
          and managers == ["py-a", "py-b"], d["metadata"]["managedFields"])
    vi_api = dyn.resources.get(api_version=G + "/" + V, kind="VirtualImage")
    dyn.delete(vi_api, name="py-ssa", namespace=NS)
    print("ok - python: done")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
