#!/usr/bin/env bash
# Selectors and names as kube-apiserver judges them, through the real API:
# a garbage label selector is a 400 and never widens to every object (the
# `kubectl delete -l '!app!'` that emptied a namespace), unknown field
# selectors are 400, generateName is validated and cut as kube does, labels,
# annotations and their size are 422 on create and on patch, and values are
# quoted in messages as Go's %q.
. "$(dirname "$0")/lib.sh"

D=$T_TMP/data
vim_start "$D" --controllers off || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts"

VIS=/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualimages
vi_json() { # NAME-MEMBERS (metadata members)
	printf '{"apiVersion":"virtualization.deckhouse.io/v1alpha2","kind":"VirtualImage","metadata":{%s},"spec":{"storage":"ContainerRegistry","dataSource":{"type":"HTTP","http":{"url":"https://x.example/a.img"}}}}' "$1"
}
create() { api POST "$VIS" -H 'Content-Type: application/json' -d "$1" -o "$T_TMP/out" -w '%{http_code}'; }

expect_eq "create a" 201 "$(create "$(vi_json '"name":"a","labels":{"app":"web"}')")"
expect_eq "create b" 201 "$(create "$(vi_json '"name":"b","labels":{"app":"db"}')")"

out=$(k delete vi -l '!app!' 2>&1)
expect_match "kubectl delete -l '!app!' is refused" "found '!', expected: ',' or 'end of string'" "$out"
expect_eq "and deleted nothing" "a b" "$(k get vi -o jsonpath='{.items[*].metadata.name}')"

list() { # SELECTOR-PARAM VALUE: prints "<code> <message>"
	local code
	code=$(api GET "$VIS" -G --data-urlencode "$1=$2" -o "$T_TMP/out" -w '%{http_code}')
	printf '%s %s' "$code" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("message", len(d.get("items", []))))' "$T_TMP/out")"
}
expect_eq "labelSelector '!!!' is 400" \
	"400 unable to parse requirement: found '!', expected: identifier" "$(list labelSelector '!!!')"
expect_eq "labelSelector 'a b' is 400" \
	"400 unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt" \
	"$(list labelSelector 'a b')"
expect_eq "labelSelector '(((((' is 400" \
	"400 found '(', expected: !, identifier, or 'end of string'" "$(list labelSelector '(((((')"
expect_eq "labelSelector 'a=b,,c' is 400" \
	"400 found ',', expected: identifier after ','" "$(list labelSelector 'a=b,,c')"
out=$(list labelSelector $'\xff')
expect_match "labelSelector of invalid UTF-8 is 400 naming the byte" \
	'^400 unable to parse requirement: <nil>: Invalid value: "\\xff": name part must consist' "$out"
expect_eq "labelSelector 'app in (web,x)' still selects" "200 1" "$(list labelSelector 'app in (web,x)')"
expect_eq "labelSelector 'app==' selects app=\"\" only" "200 0" "$(list labelSelector 'app==')"
expect_eq "fieldSelector on an unknown field is 400" \
	'400 "spec.x" is not a known field selector: only "metadata.name", "metadata.namespace", "status.phase"' \
	"$(list fieldSelector 'spec.x=1')"
expect_eq "fieldSelector without operator is 400" \
	"400 invalid selector: 'metadata.name'; can't understand 'metadata.name'" \
	"$(list fieldSelector 'metadata.name')"
code=$(api GET "$VIS?watch=true&timeoutSeconds=1" -G --data-urlencode 'labelSelector=!!!' -o "$T_TMP/out" -w '%{http_code}')
expect_eq "a watch with a bad selector is 400" 400 "$code"

expect_eq "generateName BAD_ is 422" 422 "$(create "$(vi_json '"generateName":"BAD_"')")"
expect_match "naming metadata.generateName" \
	'metadata.generateName: Invalid value: \\"BAD_\\": a lowercase RFC 1123 subdomain' "$(cat "$T_TMP/out")"
expect_eq "generateName ../../x is 422" 422 "$(create "$(vi_json '"generateName":"../../x"')")"
expect_eq "generateName img- is 201" 201 "$(create "$(vi_json '"generateName":"img-"')")"
name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["name"])' "$T_TMP/out")
expect_match "the generated name is the prefix and 5 of kube's runes" '^img-[bcdfghjklmnpqrstvwxz2456789]{5}$' "$name"
long=$(printf 'g%.0s' $(seq 1 100))-
expect_eq "a 101-byte generateName is 201" 201 "$(create "$(vi_json "\"generateName\":\"$long\"")")"
name=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata"]["name"])' "$T_TMP/out")
expect_eq "its name is cut to 58 + 5 bytes" 63 "${#name}"
check "and it can be fetched and deleted" k delete vi "$name"

expect_eq "a non-ASCII name is 422" 422 "$(create "$(vi_json '"name":"образ"')")"
expect_match "quoted as it is, not as ??" 'metadata.name: Invalid value: \\"образ\\"' "$(cat "$T_TMP/out")"
expect_eq "a bad label value is 422" 422 "$(create "$(vi_json '"name":"c","labels":{"app":"-x"}')")"
expect_match "naming metadata.labels" 'metadata.labels: Invalid value: \\"-x\\": a valid label must be' "$(cat "$T_TMP/out")"
big=$(head -c 300000 /dev/zero | tr '\0' x)
printf '%s' "$(vi_json "\"name\":\"d\",\"annotations\":{\"k\":\"$big\"}")" >"$T_TMP/big.json"
code=$(api POST "$VIS" -H 'Content-Type: application/json' --data-binary "@$T_TMP/big.json" -o "$T_TMP/out" -w '%{http_code}')
expect_eq "300 KB of annotations is 422" 422 "$code"
expect_match "Too long" 'metadata.annotations: Too long: must have at most 262144 bytes' "$(cat "$T_TMP/out")"
code=$(api PATCH "$VIS/a" -H 'Content-Type: application/merge-patch+json' \
	-d '{"metadata":{"labels":{"bad key":"v"}}}' -o "$T_TMP/out" -w '%{http_code}')
expect_eq "a patch adding a bad label key is 422" 422 "$code"
expect_eq "and the label is not stored" "web" "$(k get vi a -o jsonpath='{.metadata.labels}' | python3 -c 'import json,sys; d=json.load(sys.stdin); print(",".join(d.values()))')"

cat >"$T_TMP/fin.yaml" <<'YAML'
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: fin
  namespace: default
  finalizers: [foo]
spec:
  storage: ContainerRegistry
  dataSource:
    type: HTTP
    http:
      url: https://x.example/a.img
YAML
out=$(k create -f "$T_TMP/fin.yaml" 2>&1)
expect_match "a finalizer without a '/' is created with kube's warning" \
	'Warning: metadata.finalizers: "foo": prefer a domain-qualified finalizer name including a path' "$out"
sed -i 's/\[foo\]/["bad finalizer"]/; s/name: fin/name: fin2/' "$T_TMP/fin.yaml"
out=$(k create -f "$T_TMP/fin.yaml" 2>&1)
expect_match "a finalizer that is no qualified name is 422" \
	'metadata.finalizers: Invalid value: "bad finalizer": name part must consist' "$out"

exit $T_FAILED
