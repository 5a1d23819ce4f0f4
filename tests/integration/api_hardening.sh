#!/usr/bin/env bash
# API writes under pressure and bad input (issue 13): concurrent patches
# lose nothing, a JSON patch bomb is refused fast with memory flat, bad
# parameters name themselves, duplicate members under Strict, immutable
# uid, a malformed DELETE body deletes nothing, parse errors say where.
. "$(dirname "$0")/lib.sh"

D=$T_TMP/data
vim_start "$D" --controllers off || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts"

G=/apis/virtualization.deckhouse.io/v1alpha2
VI=$G/namespaces/default/virtualimages
cat >"$T_TMP/vi.yaml" <<'YAML'
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: hard
  namespace: default
spec:
  storage: ContainerRegistry
  dataSource:
    type: HTTP
    http:
      url: https://cloud-images.example.org/noble.qcow2
YAML
out=$(k create -f "$T_TMP/vi.yaml" 2>&1)
expect_match "the test image is created" 'hard created' "$out"

# waitall: waits for the jobs in $JOBS (a bare `wait` would wait for vimaged too)
JOBS=()
waitall() {
	local p
	for p in "${JOBS[@]}"; do wait "$p"; done
	JOBS=()
}

# code METHOD PATH [curl args]: prints the HTTP status; the body goes to $T_TMP/out
code() {
	local m=$1 p=$2
	shift 2
	api "$m" "$p" --max-time 20 -o "$T_TMP/out" -w "%{http_code}" "$@"
}
merge() { code PATCH "$1" -H 'Content-Type: application/merge-patch+json' --data-binary "$2"; }
jpatch() { code PATCH "$1" -H 'Content-Type: application/json-patch+json' --data-binary "$2"; }

# ---- item 1: concurrent patches ------------------------------------------------
N=60
for i in $(seq 1 $N); do
	merge "$VI/hard" "{\"metadata\":{\"labels\":{\"l$i\":\"v$i\"}}}" >"$T_TMP/code.$i" 2>/dev/null &
	JOBS+=($!)
done
waitall
codes=$(for f in "$T_TMP"/code.*; do cat "$f"; echo; done | sort | uniq -c | tr -s ' ')
expect_eq "$N concurrent merge patches all answer 200" " $N 200" "$codes"
labels=$(k get vi hard -o json | python3 -c 'import json,sys; print(sum(1 for k in json.load(sys.stdin)["metadata"]["labels"] if k.startswith("l")))')
expect_eq "all $N labels of the concurrent patches are stored" "$N" "$labels"

for i in $(seq 1 12); do
	k annotate vi hard "a$i=v$i" >/dev/null 2>&1 &
	JOBS+=($!)
done
waitall
ann=$(k get vi hard -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["metadata"].get("annotations",{})))')
expect_eq "12 concurrent kubectl annotate all land" "12" "$ann"

for i in $(seq 1 20); do
	code PATCH "$VI/hard/status" -H 'Content-Type: application/merge-patch+json' \
		--data-binary "{\"status\":{\"conditions\":[],\"progress\":\"$i%\"}}" >/dev/null &
	JOBS+=($!)
	merge "$VI/hard" "{\"metadata\":{\"labels\":{\"s$i\":\"x\"}}}" >/dev/null &
	JOBS+=($!)
done
waitall
s=$(k get vi hard -o json | python3 -c 'import json,sys; print(sum(1 for k in json.load(sys.stdin)["metadata"]["labels"] if k.startswith("s")))')
expect_eq "labels patched while /status is patched concurrently all land" "20" "$s"

rv=$(k get vi hard -o jsonpath='{.metadata.resourceVersion}')
k label vi hard bump=1 >/dev/null
c=$(merge "$VI/hard" "{\"metadata\":{\"resourceVersion\":\"$rv\",\"labels\":{\"stale\":\"1\"}}}")
expect_eq "a patch naming a stale resourceVersion is 409" "409" "$c"
expect_match "the 409 says the object was modified" 'the object has been modified' "$(cat "$T_TMP/out")"
expect_eq "the stale patch changed nothing" "" "$(k get vi hard -o jsonpath='{.metadata.labels.stale}')"

k get vi hard -o json | python3 -c 'import json,sys; o=json.load(sys.stdin); del o["metadata"]["resourceVersion"]; print(json.dumps(o))' >"$T_TMP/norv.json"
c=$(code PUT "$VI/hard" -H 'Content-Type: application/json' --data-binary @"$T_TMP/norv.json")
expect_eq "a PUT without resourceVersion is 422, as for kube's custom resources" "422" "$c"
expect_match "the 422 names metadata.resourceVersion" 'metadata.resourceVersion: Invalid value: 0x0: must be specified for an update' "$(cat "$T_TMP/out")"

# ---- item 12: the JSON patch bomb -------------------------------------------------
rss() { sed -n 's/^VmRSS: *\([0-9]*\) kB/\1/p' "/proc/$VIM_PID/status"; }
ops=$(python3 -c 'import json; print(json.dumps([{"op":"copy","from":"","path":"/metadata/annotations/b%d" % (i % 2)} for i in range(24)]))')
printf '%s' "$ops" >"$T_TMP/bomb.json"
before=$(rss)
t0=$(date +%s%N)
c=$(jpatch "$VI/hard" @"$T_TMP/bomb.json")
t1=$(date +%s%N)
after=$(rss)
expect_eq "24 root copies in $(stat -c %s "$T_TMP/bomb.json") bytes are refused with 422" "422" "$c"
expect_match "the refusal names the copy limit" 'accumulated size increase of copy' "$(cat "$T_TMP/out")"
ms=$(((t1 - t0) / 1000000))
if [ "$ms" -lt 3000 ]; then ok "the bomb is refused in ${ms} ms"; else not_ok "the bomb took ${ms} ms"; fi
grow=$((after - before))
if [ "$grow" -lt 65536 ]; then ok "vimaged's RSS grew by ${grow} kB (< 64 MiB) on the bomb"; else
	not_ok "vimaged's RSS grew by ${grow} kB on the bomb"
fi
python3 -c 'import json; print(json.dumps([{"op":"test","path":"/kind","value":"VirtualImage"}] * 10001))' >"$T_TMP/many.json"
c=$(jpatch "$VI/hard" @"$T_TMP/many.json")
expect_eq "a JSON patch of 10,001 operations is 413" "413" "$c"
expect_match "the 413 gives kube's limit" 'The allowed maximum operations in a JSON patch is 10000, got 10001' "$(cat "$T_TMP/out")"
c=$(jpatch "$VI/hard" '[{"op":"add","path":"/metadata/labels/jp","value":"ok"}]')
expect_eq "an ordinary JSON patch still works" "200" "$c"

# ---- item 19: parameters ----------------------------------------------------------
bad_param() { # NAME WANT-CODE REGEX METHOD PATH [curl args]
	local name=$1 want=$2 re=$3 c
	shift 3
	c=$(code "$@")
	expect_eq "$name is $want" "$want" "$c"
	expect_match "$name: the message names it" "$re" "$(cat "$T_TMP/out")"
}
bad_param "limit=abc" 400 'limit: Invalid value: \\"abc\\"' GET "$VI?limit=abc"
bad_param "limit=-1" 400 'limit: Invalid value: \\"-1\\"' GET "$VI?limit=-1"
bad_param "resourceVersion=abc" 400 'resourceVersion: Invalid value: \\"abc\\"' GET "$VI?resourceVersion=abc"
bad_param "continue=garbage" 400 'continue' GET "$VI?limit=1&continue=garbage"
bad_param "continue with a resourceVersion" 400 'specifying resource version is not allowed when using continue' GET "$VI?limit=1&continue=x&resourceVersion=5"
bad_param "resourceVersionMatch=Sometime" 422 'resourceVersionMatch: Unsupported value: \\"Sometime\\"' GET "$VI?resourceVersion=1&resourceVersionMatch=Sometime"
bad_param "resourceVersionMatch without resourceVersion" 422 'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided' GET "$VI?resourceVersionMatch=NotOlderThan"
bad_param "timeoutSeconds=soon" 400 'timeoutSeconds: Invalid value: \\"soon\\"' GET "$VI?watch=true&timeoutSeconds=soon"
bad_param "dryRun=yes on a patch" 422 'dryRun: Unsupported value: \[\]string\{\\"yes\\"\}: supported values: \\"All\\"' \
	PATCH "$VI/hard?dryRun=yes" -H 'Content-Type: application/merge-patch+json' --data '{"metadata":{"labels":{"dry":"1"}}}'
bad_param "a repeated dryRun with one bad value" 422 'dryRun: Unsupported value: \[\]string\{\\"All\\", \\"x\\"\}' \
	PATCH "$VI/hard?dryRun=All&dryRun=x" -H 'Content-Type: application/merge-patch+json' --data '{"metadata":{"labels":{"dry":"1"}}}'
bad_param "fieldValidation=Loose on a create" 422 'fieldValidation: Unsupported value: \\"Loose\\"' \
	POST "$VI?fieldValidation=Loose" -H 'Content-Type: application/yaml' --data-binary @"$T_TMP/vi.yaml"
bad_param "dryRun=no on a delete" 422 'DeleteOptions.meta.k8s.io \\"\\" is invalid: dryRun' DELETE "$VI/hard?dryRun=no"
expect_eq "nothing was written by the refused requests" "" "$(k get vi hard -o jsonpath='{.metadata.labels.dry}')"
c=$(code GET "$VI?limit=1&watch=false")
expect_eq "good values still pass (limit=1&watch=false)" "200" "$c"

# duplicate members
dup='{"apiVersion":"virtualization.deckhouse.io/v1alpha2","kind":"VirtualImage","metadata":{"name":"dup","name":"dup2","namespace":"default"},"spec":{"storage":"ContainerRegistry","dataSource":{"type":"HTTP","http":{"url":"https://e.example.org/a.img"}}}}'
bad_param "duplicate members under fieldValidation=Strict" 400 'strict decoding error: duplicate field \\"metadata.name\\"' \
	POST "$VI?fieldValidation=Strict" -H 'Content-Type: application/json' --data-binary "$dup"
bad_param "a duplicate member in a Strict merge patch" 400 'duplicate field \\"metadata.labels.x\\"' \
	PATCH "$VI/hard?fieldValidation=Strict" -H 'Content-Type: application/merge-patch+json' --data '{"metadata":{"labels":{"x":"1","x":"2"}}}'
dupw='{"apiVersion":"virtualization.deckhouse.io/v1alpha2","kind":"VirtualImage","metadata":{"name":"dupw","namespace":"default","labels":{"x":"1","x":"2"}},"spec":{"storage":"ContainerRegistry","dataSource":{"type":"HTTP","http":{"url":"https://e.example.org/a.img"}}}}'
c=$(code POST "$VI" -H 'Content-Type: application/json' -D "$T_TMP/hdr" --data-binary "$dupw")
expect_eq "a duplicate member under the default (Warn) is accepted" "201" "$c"
expect_match "... with kube's warning naming it" 'Warning: 299 - "duplicate field \\"metadata.labels.x\\""' "$(cat "$T_TMP/hdr")"
expect_eq "... and the last value counts" "2" "$(k get vi dupw -o jsonpath='{.metadata.labels.x}')"

# immutable identity
uid=$(k get vi hard -o jsonpath='{.metadata.uid}')
bad_param "a patch changing metadata.uid" 422 'metadata.uid: Invalid value: \\"0000-forged\\": field is immutable' \
	PATCH "$VI/hard" -H 'Content-Type: application/merge-patch+json' --data '{"metadata":{"uid":"0000-forged"}}'
k get vi hard -o json | python3 -c 'import json,sys; o=json.load(sys.stdin); o["metadata"]["uid"]="0000-forged"; print(json.dumps(o))' >"$T_TMP/uid.json"
bad_param "a PUT with another uid (a precondition, as in kube)" 409 'Precondition failed: UID in precondition: 0000-forged' \
	PUT "$VI/hard" -H 'Content-Type: application/json' --data-binary @"$T_TMP/uid.json"
expect_eq "the uid is unchanged" "$uid" "$(k get vi hard -o jsonpath='{.metadata.uid}')"
bad_param "a patch moving the object to another namespace" 400 'namespace of the provided object does not match' \
	PATCH "$VI/hard" -H 'Content-Type: application/merge-patch+json' --data '{"metadata":{"namespace":"other"}}'
bad_param "a /status patch changing metadata.uid" 422 'metadata.uid: Invalid value' \
	PATCH "$VI/hard/status" -H 'Content-Type: application/merge-patch+json' --data '{"metadata":{"uid":"0000-forged"}}'

# a malformed DELETE body deletes nothing
bad_param "a DELETE with a malformed body" 400 'DeleteOptions body as JSON: line 1, column' \
	DELETE "$VI/hard" -H 'Content-Type: application/json' --data '{"preconditions": {"uid": '
bad_param "a DELETE whose preconditions are not an object" 400 'DeleteOptions' \
	DELETE "$VI/hard" -H 'Content-Type: application/json' --data '{"preconditions": "yes"}'
expect_eq "the object is still there" "hard" "$(k get vi hard -o jsonpath='{.metadata.name}' 2>&1)"

# ---- item 21: parse errors say where ---------------------------------------------------
printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata:\n  name: [broken\n' >"$T_TMP/broken.yaml"
bad_param "a broken YAML body" 400 'as YAML: YAML line [0-9]+:[0-9]+: ' \
	POST "$VI" -H 'Content-Type: application/yaml' --data-binary @"$T_TMP/broken.yaml"
bad_param "a broken JSON body" 400 'as JSON: line 3, column [0-9]+: ' \
	POST "$VI" -H 'Content-Type: application/json' --data-binary $'{\n "kind": "VirtualImage",\n "metadata": {"name" "x"}\n}'
bad_param "a broken JSON patch" 400 'error decoding the patch as JSON: line 1, column' \
	PATCH "$VI/hard" -H 'Content-Type: application/merge-patch+json' --data '{"metadata":'
bad_param "a broken Event" 400 'error decoding the Event as JSON: line 1' \
	POST /api/v1/namespaces/default/events -H 'Content-Type: application/json' --data '{"metadata": {'

# ---- writes that skipped validation (issue 13 follow-up) ---------------------------------
EV=/api/v1/namespaces/default/events
ev() { printf '{"apiVersion":"v1","kind":"Event","metadata":%s,"reason":"Tested","message":"m"}' "$1"; }
bad_param "an Event named Bad_Name!" 422 'Event \\"Bad_Name!\\" is invalid: metadata.name: Invalid value: \\"Bad_Name!\\": a lowercase RFC 1123 subdomain' \
	POST "$EV" -H 'Content-Type: application/json' --data "$(ev '{"name":"Bad_Name!"}')"
bad_param "an Event whose generateName cannot make a name" 422 'metadata.generateName: Invalid value: \\"Ev_\\"' \
	POST "$EV" -H 'Content-Type: application/json' --data "$(ev '{"generateName":"Ev_"}')"
bad_param "an Event with a bad label key" 422 'metadata.labels: Invalid value: \\"bad key!\\"' \
	POST "$EV" -H 'Content-Type: application/json' --data "$(ev '{"name":"e.1","labels":{"bad key!":"v"}}')"
bad_param "an Event with a bad annotation key" 422 'metadata.annotations: Invalid value: \\"-a\\"' \
	POST "$EV" -H 'Content-Type: application/json' --data "$(ev '{"name":"e.1","annotations":{"-a":"v"}}')"
bad_param "an Event without a name" 422 'metadata.name: Required value: name or generateName is required' \
	POST "$EV" -H 'Content-Type: application/json' --data "$(ev '{}')"
bad_param "an Event whose labels are no map of strings" 400 'metadata.labels: must be a map of strings' \
	POST "$EV" -H 'Content-Type: application/json' --data "$(ev '{"name":"e.1","labels":{"a":1}}')"
bad_param "an Event in another namespace than the path's" 400 'does not match the namespace sent on the request' \
	POST "$EV" -H 'Content-Type: application/json' --data "$(ev '{"name":"e.1","namespace":"other"}')"
expect_eq "a valid Event (a dotted name, generateName) is still created" "201 201" \
	"$(code POST "$EV" -H 'Content-Type: application/json' --data "$(ev '{"name":"hard.17a8b"}')") $(code POST "$EV" -H 'Content-Type: application/json' --data "$(ev '{"generateName":"hard-"}')")"
bad_param "a PUT of an Event whose name is not the URL's" 400 'the name of the object does not match the name on the URL' \
	PUT "$EV/hard.17a8b" -H 'Content-Type: application/json' --data "$(ev '{"name":"other"}')"
expect_eq "no bad Event was stored" "2" "$(api GET "$EV" | jq '.items | length')"
bad_param "GET of an Event with resourceVersion=garbage" 400 'resourceVersion: Invalid value: \\"garbage\\"' GET "$EV/hard.17a8b?resourceVersion=garbage"
bad_param "GET of an image with resourceVersion=garbage" 400 'resourceVersion: Invalid value: \\"garbage\\"' GET "$VI/hard?resourceVersion=garbage"
bad_param "GET of a namespace with resourceVersion=-1" 400 'resourceVersion: Invalid value: \\"-1\\"' GET "/api/v1/namespaces/default?resourceVersion=-1"
expect_eq "GET with resourceVersion=0 still answers" 200 "$(code GET "$VI/hard?resourceVersion=0")"

# /status: the conditions' CRD schema is checked; everything but status is the stored one
cond='{"type":"Ready","status":"True","reason":"Ready","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}'
bad_param "a status condition with status Maybe" 422 'status.conditions\[0\].status: Unsupported value: \\"Maybe\\": supported values: \\"True\\", \\"False\\", \\"Unknown\\"' \
	PATCH "$VI/hard/status" -H 'Content-Type: application/merge-patch+json' --data '{"status":{"conditions":[{"type":"Ready","status":"Maybe","reason":"R","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}]}}'
bad_param "a status condition without type, reason or lastTransitionTime" 422 'status.conditions\[0\].type: Required value.*status.conditions\[0\].reason: Required value.*status.conditions\[0\].lastTransitionTime: Required value' \
	PATCH "$VI/hard/status" -H 'Content-Type: application/merge-patch+json' --data '{"status":{"conditions":[{"status":"True","message":""}]}}'
bad_param "a status condition with reason 'not ok', by PUT" 422 "status.conditions\\[0\\].reason: Invalid value: \\\\\"not ok\\\\\": status.conditions\\[0\\].reason in body should match" \
	PUT "$VI/hard/status" -H 'Content-Type: application/json' --data "$(k get vi hard -o json | jq -c '.status={"conditions":[{"type":"Ready","status":"True","reason":"not ok","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}]}')"
expect_eq "a valid status condition is stored" "200 Ready" \
	"$(code PATCH "$VI/hard/status" -H 'Content-Type: application/merge-patch+json' --data "{\"status\":{\"conditions\":[$cond]}}") $(k get vi hard -o jsonpath='{.status.conditions[0].reason}')"
expect_eq "a status write keeps the stored labels (a bad label in it is ignored, as kube does)" "200 absent" \
	"$(code PATCH "$VI/hard/status" -H 'Content-Type: application/merge-patch+json' --data '{"metadata":{"labels":{"bad key!":"x"}},"status":{"progress":"1%"}}') $(k get vi hard -o json | jq -r '.metadata.labels["bad key!"] // "absent"')"

kill -0 "$VIM_PID" 2>/dev/null && ok "vimaged is still up" || not_ok "vimaged died"
exit $T_FAILED
