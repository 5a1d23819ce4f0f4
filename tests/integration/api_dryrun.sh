#!/usr/bin/env bash
# dryRun=All changes nothing (issue 14 item 1): kubectl diff, create/apply/
# patch/label/delete --dry-run=server, PUT, /status and deletecollection
# under dryRun answer what the write would and leave the object, its
# resourceVersion and the watch stream alone.  Kube's boolean query rule
# (item 3) and deletecollection (item 5).  The official Python client last.
. "$(dirname "$0")/lib.sh"

D=$T_TMP/data
vim_start "$D" --controllers off || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts"

G=/apis/virtualization.deckhouse.io/v1alpha2
VI=$G/namespaces/default/virtualimages

# code METHOD PATH [curl args]: prints the HTTP status; the body goes to $T_TMP/out
code() {
	local m=$1 p=$2
	shift 2
	api "$m" "$p" --max-time 20 -o "$T_TMP/out" -w "%{http_code}" "$@"
}
# jq-ish: py EXPR reads $T_TMP/out as JSON into o and prints EXPR
py() { python3 -c "import json,sys; o=json.load(open('$T_TMP/out')); print($1)"; }
rv_of() { k get vi "$1" -o jsonpath='{.metadata.resourceVersion}'; }

vi_yaml() { # NAME LABEL-VALUE URL [FINALIZER]
	cat <<YAML
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: $1
  namespace: default
  labels:
    app: $2
$([ -n "${4:-}" ] && printf '  finalizers: ["%s"]' "$4")
spec:
  storage: ContainerRegistry
  dataSource:
    type: HTTP
    http:
      url: $3
YAML
}
vi_yaml live x https://e.example.org/a.img >"$T_TMP/live.yaml"
vi_yaml held x https://e.example.org/h.img example.org/hold >"$T_TMP/held.yaml"
vi_yaml other z https://e.example.org/o.img >"$T_TMP/other.yaml"
for f in live held other; do k create -f "$T_TMP/$f.yaml" >/dev/null 2>&1 || not_ok "create $f"; done
ok "three images are created"
RV0=$(rv_of other) # the last of the three
live_json() { k get vi live -o json; }
before=$(live_json)

# ---- kubectl's dry runs ---------------------------------------------------------
vi_yaml live x https://e.example.org/CHANGED.img >"$T_TMP/live2.yaml"
out=$(k diff -f "$T_TMP/live2.yaml" 2>&1)
rc=$?
expect_eq "kubectl diff finds the difference (exit 1)" "1" "$rc"
expect_match "kubectl diff shows the new URL" '\+ +url: https://e.example.org/CHANGED.img' "$out"
# (the URL is kubectl-create's: without force, apply conflicts, as in kube)
out=$(k apply --server-side --force-conflicts --dry-run=server -f "$T_TMP/live2.yaml" 2>&1)
expect_match "apply --server-side --dry-run=server answers" 'serverside-applied \(server dry run\)' "$out"
out=$(k apply --dry-run=server -f "$T_TMP/live2.yaml" 2>&1)
expect_match "apply --dry-run=server answers" 'configured \(server dry run\)' "$out"
out=$(k patch vi live --dry-run=server --type merge -p '{"spec":{"dataSource":{"http":{"url":"https://e.example.org/P.img"}}}}' -o jsonpath='{.spec.dataSource.http.url} {.metadata.resourceVersion} {.metadata.generation}' 2>&1)
expect_eq "patch --dry-run=server returns the patched object, the old RV, generation 2" \
	"https://e.example.org/P.img $(echo "$before" | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["resourceVersion"])') 2" "$out"
out=$(k label vi live --dry-run=server tier=db 2>&1)
expect_match "label --dry-run=server answers" 'labeled \(server dry run\)' "$out"
out=$(k annotate vi live --dry-run=server note=1 2>&1)
expect_match "annotate --dry-run=server answers" 'annotated \(server dry run\)' "$out"
out=$(k delete vi live --dry-run=server 2>&1)
expect_match "delete --dry-run=server answers" 'deleted \(server dry run\)' "$out"
expect_eq "the live object is byte for byte what it was" "$before" "$(live_json)"

vi_yaml fresh x https://e.example.org/f.img >"$T_TMP/fresh.yaml"
out=$(k create --dry-run=server -f "$T_TMP/fresh.yaml" -o json 2>&1)
printf '%s' "$out" >"$T_TMP/out"
expect_eq "create --dry-run=server: uid, creationTimestamp, generation 1, no resourceVersion" \
	"True True 1 None" \
	"$(py '" ".join(map(str, (bool(o["metadata"].get("uid")), bool(o["metadata"].get("creationTimestamp")), o["metadata"]["generation"], o["metadata"].get("resourceVersion"))))')"
out=$(k get vi fresh 2>&1)
expect_match "the dry-run create stored nothing" 'NotFound' "$out"

# ---- the raw API --------------------------------------------------------------------
gen='{"apiVersion":"virtualization.deckhouse.io/v1alpha2","kind":"VirtualImage","metadata":{"generateName":"gen-"},"spec":{"storage":"ContainerRegistry","dataSource":{"type":"HTTP","http":{"url":"https://e.example.org/g.img"}}}}'
c=$(code POST "$VI?dryRun=All" -H 'Content-Type: application/json' --data "$gen")
expect_eq "a dry-run create with generateName is 201" "201" "$c"
gname=$(py 'o["metadata"]["name"]')
expect_match "it gets a generated name" '^gen-[a-z0-9]{5}$' "$gname"
c=$(code GET "$VI/$gname")
expect_eq "the generated name was not stored" "404" "$c"
bad='{"apiVersion":"virtualization.deckhouse.io/v1alpha2","kind":"VirtualImage","metadata":{"name":"bad"},"spec":{"storage":"ContainerRegistry","dataSource":{"type":"HTTP","http":{"url":"not a url"}}}}'
c=$(code POST "$VI?dryRun=All" -H 'Content-Type: application/json' --data "$bad")
expect_eq "a dry-run create is validated (422)" "422" "$c"
c=$(code POST "$VI?dryRun=All" -H 'Content-Type: application/yaml' --data-binary @"$T_TMP/live.yaml")
expect_eq "a dry-run create of a taken name is 409" "409" "$c"

k get vi live -o json | python3 -c 'import json,sys; o=json.load(sys.stdin); o["spec"]["dataSource"]["http"]["url"]="https://e.example.org/U.img"; print(json.dumps(o))' >"$T_TMP/put.json"
c=$(code PUT "$VI/live?dryRun=All" -H 'Content-Type: application/json' --data-binary @"$T_TMP/put.json")
expect_eq "a dry-run PUT is 200" "200" "$c"
expect_eq "it answers the new spec under the old resourceVersion" \
	"https://e.example.org/U.img $(rv_of live)" "$(py 'o["spec"]["dataSource"]["http"]["url"] + " " + o["metadata"]["resourceVersion"]')"
python3 -c 'import json; o=json.load(open("'"$T_TMP"'/put.json")); o["metadata"]["resourceVersion"]="999"; print(json.dumps(o))' >"$T_TMP/stale.json"
c=$(code PUT "$VI/live?dryRun=All" -H 'Content-Type: application/json' --data-binary @"$T_TMP/stale.json")
expect_eq "a dry-run PUT with a stale resourceVersion is 409" "409" "$c"
c=$(code PATCH "$VI/live/status?dryRun=All" -H 'Content-Type: application/merge-patch+json' --data '{"status":{"phase":"Ready"}}')
expect_eq "a dry-run status patch answers the new status" "200 Ready" "$c $(py 'o["status"]["phase"]')"
c=$(code DELETE "$VI/held" -H 'Content-Type: application/json' --data '{"dryRun":["All"]}')
expect_eq "a dry-run delete (DeleteOptions body) of a held object sets deletionTimestamp" \
	"200 True" "$c $(py 'bool(o["metadata"].get("deletionTimestamp"))')"
expect_eq "the held object has no deletionTimestamp" "" "$(k get vi held -o jsonpath='{.metadata.deletionTimestamp}')"
c=$(code DELETE "$VI/live?dryRun=All")
expect_eq "a dry-run delete (query) is 200" "200" "$c"

# deletecollection, dry
c=$(code DELETE "$VI?labelSelector=app%3Dx&dryRun=All")
expect_eq "a dry-run deletecollection answers the list it would delete" \
	"200 VirtualImageList held,live" "$c $(py 'o["kind"] + " " + ",".join(sorted(i["metadata"]["name"] for i in o["items"]))')"
expect_eq "and all three images are still there" "held live other" "$(k get vi -o jsonpath='{.items[*].metadata.name}')"

# nothing happened: no event after RV0, no resourceVersion assigned
c=$(code GET "$VI?watch=1&resourceVersion=$RV0&timeoutSeconds=1")
expect_eq "a watch from before the dry runs sees no event" "200 0" "$c $(wc -c <"$T_TMP/out" | tr -d ' ')"
k label vi other seen=1 >/dev/null
expect_eq "the next real write gets the next resourceVersion" "$((RV0 + 1))" "$(rv_of other)"
expect_eq "the live object is still what it was" "$before" "$(live_json)"

# ---- Events honour dryRun too ---------------------------------------------------------
EV=/api/v1/namespaces/default/events
ev='{"apiVersion":"v1","kind":"Event","metadata":{"name":"dry.1","namespace":"default"},"involvedObject":{"kind":"VirtualImage","name":"live","namespace":"default"},"reason":"Test","message":"m","type":"Normal","count":1}'
c=$(code POST "$EV?dryRun=All" -H 'Content-Type: application/json' --data "$ev")
expect_eq "a dry-run Event create is 201" "201" "$c"
c=$(code GET "$EV/dry.1")
expect_eq "and stored nothing" "404" "$c"
c=$(code POST "$EV" -H 'Content-Type: application/json' --data "$ev")
expect_eq "a real Event create is 201" "201" "$c"
c=$(code DELETE "$EV/dry.1?dryRun=All")
expect_eq "a dry-run Event delete is 200" "200" "$c"
c=$(code GET "$EV/dry.1")
expect_eq "and the Event is still there" "200" "$c"

# ---- booleans as kube reads them -----------------------------------------------------
for v in True yes maybe ''; do
	c=$(code GET "$VI?watch=$v&timeoutSeconds=1&resourceVersion=$RV0")
	expect_match "watch=$v is a watch" '"type":"MODIFIED"' "$(cat "$T_TMP/out")"
done
for v in false FALSE False 0; do
	c=$(code GET "$VI?watch=$v")
	expect_eq "watch=$v is a list" "200 VirtualImageList" "$c $(py 'o["kind"]')"
done
c=$(code GET "$VI?watch=1&allowWatchBookmarks=perhaps&timeoutSeconds=1&resourceVersion=$RV0")
expect_eq "allowWatchBookmarks=perhaps is accepted" "200" "$c"
c=$(code PATCH "$VI/live?dryRun=Some" -H 'Content-Type: application/merge-patch+json' --data '{}')
expect_eq "an unknown dryRun is still 422, as kube's ValidateDryRun" "422" "$c"
c=$(code GET "$VI?limit=abc")
expect_eq "a malformed limit is still 400" "400" "$c"

# ---- deletecollection for real --------------------------------------------------------
c=$(code DELETE "$VI?labelSelector=app%3Dnope")
expect_eq "deletecollection matching nothing answers an empty list" "200 0" "$c $(py 'len(o["items"])')"
c=$(code DELETE "$VI?labelSelector=app%20in%20(")
expect_eq "deletecollection with a malformed selector is 400" "400" "$c"
c=$(code DELETE "$G/virtualimages")
expect_eq "deletecollection across all namespaces is 405, as kube" "405" "$c"
c=$(code DELETE "$VI?labelSelector=app%3Dx")
expect_eq "deletecollection answers what it deleted" "200 2" "$c $(py 'len(o["items"])')"
expect_eq "the unheld one is gone, the held one waits, the unmatched one stays" \
	"held other" "$(k get vi -o jsonpath='{.items[*].metadata.name}')"
expect_match "the held one has a deletionTimestamp" '^20' "$(k get vi held -o jsonpath='{.metadata.deletionTimestamp}')"
k patch vi held --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1
for f in live other; do k apply -f "$T_TMP/$f.yaml" >/dev/null 2>&1; done
k label vi other app=x --overwrite >/dev/null
out=$(k delete vi -l app=x -v=8 2>&1)
expect_match "kubectl delete -l deletes the matches" 'virtualimage.virtualization.deckhouse.io "other" deleted' "$out"
expect_eq "nothing is left" "" "$(k get vi -o jsonpath='{.items[*].metadata.name}')"

# ---- the official Python client ---------------------------------------------------
for f in live held; do k create -f "$T_TMP/$f.yaml" >/dev/null 2>&1; done
out=$(/usr/bin/python3 "$(dirname "$0")/pyclient_dryrun.py" "$KUBECONFIG_FILE" 2>&1)
printf '%s\n' "$out" | grep -E '^(ok|not ok) - ' || true
printf '%s\n' "$out" | grep -Eq '^not ok - |Traceback' && {
	T_FAILED=1
	printf '%s\n' "$out" | grep -v -E '^(ok|not ok) - ' | sed 's/^/#   /'
}
printf '%s\n' "$out" | grep -q '^ok - python: done' || not_ok "the Python driver ran to its end"
