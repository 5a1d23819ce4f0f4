#!/usr/bin/env bash
# The static documents kubectl reads (api/schema_*): /version, legacy and
# aggregated discovery, OpenAPI v3 (and the v2 stub 1.27/1.28 need), Table
# columns — checked with every installed kubectl build, each with a fresh
# discovery cache so discovery is really exercised.
. "$(dirname "$0")/lib.sh"

D=$T_TMP/data
# the API alone: its objects name URLs that lead off this machine
vim_start "$D" --controllers off || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts"

out=$(api GET /version)
expect_match "/version reports a 1.32 gitVersion" '"gitVersion": *"v1\.32\.' "$out"

agg='application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'
out=$(api GET /apis -H "Accept: $agg" -D -)
expect_match "/apis answers the aggregated v2 form" 'APIGroupDiscoveryList' "$out"
expect_match "aggregated discovery names the status subresource" '"subresource": *"status"' "$out"
out=$(api GET /apis -H 'Accept: application/json')
expect_match "/apis answers a plain APIGroupList" '"kind": *"APIGroupList"' "$out"

url=$(api GET /openapi/v3 | sed -n 's/.*"\(\/openapi\/v3\/apis\/virtualization[^"]*\)".*/\1/p' | head -n1)
expect_match "/openapi/v3 indexes the group with a hash" 'hash=' "$url"
out=$(api GET "$url")
expect_match "the group document has x-kubernetes-group-version-kind" \
	'x-kubernetes-group-version-kind' "$out"

for v in "" 1.27 1.28 1.29 1.30 1.31 1.32 1.33; do
	KUBECTL=kubectl${v:+.$v}
	[ -n "$v" ] && KUBECTL=$KUBECTL_DIR/$KUBECTL
	[ -x "$(command -v "$KUBECTL")" ] || continue
	name=${v:-default}
	export KUBECTL
	out=$(k api-resources 2>&1)
	expect_match "kubectl $name: api-resources lists vi" 'virtualimages +vi +virtualization\.deckhouse\.io/v1alpha2 +true +VirtualImage' "$out"
	expect_match "kubectl $name: api-resources lists cvi" 'clustervirtualimages +cvi +virtualization\.deckhouse\.io/v1alpha2 +false +ClusterVirtualImage' "$out"
	out=$(k explain vi.spec.dataSource.http 2>&1)
	expect_match "kubectl $name: explain prints the http description" 'import an image from an HTTP server' "$out"
	out=$(k explain cvi.spec.dataSource.objectRef 2>&1)
	expect_match "kubectl $name: explain cvi objectRef has namespace" 'namespace' "$out"
	out=$(k get vi -A -o wide 2>&1)
	expect_match "kubectl $name: get -o wide shows the wide columns" 'STOREDSIZE|No resources found' "$out"
	unset KUBECTL
done

cat >"$T_TMP/vi.yaml" <<'YAML'
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata: {name: schema-probe, namespace: default}
spec:
  storage: ContainerRegistry
  dataSource: {type: HTTP, http: {url: "https://example.org/a.qcow2"}}
YAML
out=$(k apply -f "$T_TMP/vi.yaml" -v=6 2>&1)
expect_match "kubectl apply leaves validation to the server (fieldValidation=Strict)" \
	'fieldValidation=Strict' "$out"
out=$(k get vi -n default -o wide 2>&1)
expect_match "get -o wide prints every printer column" \
	'NAME +PHASE +CDROM +PROGRESS +STOREDSIZE +UNPACKEDSIZE +REGISTRY URL +TARGETPVC +AGE' "$out"
out=$(k get cvi -o wide 2>&1)
expect_match "cvi has no TargetPVC column" '^(No resources found.*|NAME +PHASE +CDROM +PROGRESS +STOREDSIZE +UNPACKEDSIZE +REGISTRY URL +AGE)$' "$out"
k delete -f "$T_TMP/vi.yaml" --wait=false >/dev/null 2>&1
