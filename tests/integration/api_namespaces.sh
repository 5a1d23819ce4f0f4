#!/usr/bin/env bash
# Namespaces (issue 14 item 6), with the real kubectl, docker-registry and
# qemu-img: `default` exists from the start; kubectl create/get/delete ns;
# a manifest that starts with a Namespace applies; creating in a missing
# namespace is 404 and in a Terminating one 403, as kube's
# NamespaceLifecycle; `kubectl delete ns` with images in it removes the
# images (and their DVCR data), their events, then the namespace; a data
# dir without Namespaces gets one for every namespace its objects use.
. "$(dirname "$0")/lib.sh"

VI_YAML='apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata: {name: %s, namespace: %s}
spec: {storage: ContainerRegistry, dataSource: {type: HTTP, http: {url: "%s"}}}
'
G=/apis/virtualization.deckhouse.io/v1alpha2

# ---- without controllers: Terminating stays, so its rules can be seen ----
D0=$T_TMP/data0
vim_start "$D0" --controllers off || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts (controllers off)"
expect_eq "the default namespace exists from the start, Active" "default Active kubernetes" \
	"$(k get ns default -o jsonpath='{.metadata.name} {.status.phase} {.spec.finalizers[0]}' 2>&1)"
check "default has a creationTimestamp" test -n "$(k get ns default -o jsonpath='{.metadata.creationTimestamp}')"
out=$(k create namespace held 2>&1)
expect_eq "kubectl create namespace" "namespace/held created" "$out"
expect_eq "it has kube's label" "held" "$(k get ns held -o jsonpath='{.metadata.labels.kubernetes\.io/metadata\.name}')"
out=$(k create namespace held 2>&1)
expect_match "creating it twice is AlreadyExists" 'namespaces "held" already exists' "$out"
out=$(k create namespace Bad_Name 2>&1)
expect_match "a name that is no DNS-1123 label is 422" 'Namespace "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 label' "$out"
out=$(k get ns 2>&1)
expect_match "kubectl get ns lists both, with Status" 'held +Active' "$out"
printf "$VI_YAML" img held "https://cloud-images.example.org/noble.qcow2" | k create -f - >/dev/null 2>&1
c=$(printf "$VI_YAML" img nope "https://cloud-images.example.org/noble.qcow2" | \
	api POST "$G/namespaces/nope/virtualimages" -H 'Content-Type: application/yaml' --data-binary @- \
	-o "$T_TMP/nf" -w '%{http_code}')
expect_eq "creating an image in a missing namespace is 404" "404" "$c"
expect_match "namespaces \"nope\" not found" '"message":"namespaces \\"nope\\" not found"' "$(cat "$T_TMP/nf")"
out=$(printf "$VI_YAML" img2 nope "https://x.example.org/a.img" | k create -f - 2>&1)
expect_match "kubectl says so too" 'namespaces "nope" not found' "$out"
out=$(printf "$VI_YAML" img2 nope "https://x.example.org/a.img" | k apply --server-side -f - 2>&1)
expect_match "a server-side apply that would create is held to the same rule" \
	'namespaces "nope" not found' "$out"
out=$(k delete ns default 2>&1)
expect_match "default may not be deleted (403, kube's message)" 'namespaces "default" is forbidden: this namespace may not be deleted' "$out"
expect_eq "and stays Active" "Active" "$(k get ns default -o jsonpath='{.status.phase}')"
k delete ns held --wait=false >/dev/null 2>&1
expect_eq "a deleted namespace with content is Terminating" "Terminating" \
	"$(k get ns held -o jsonpath='{.status.phase}')"
check "with a deletionTimestamp" test -n "$(k get ns held -o jsonpath='{.metadata.deletionTimestamp}')"
out=$(printf "$VI_YAML" img3 held "https://x.example.org/a.img" | k create -f - 2>&1)
expect_match "creating in a Terminating namespace is 403, kube's message" \
	'virtualimages.virtualization.deckhouse.io "img3" is forbidden: unable to create new content in namespace held because it is being terminated' "$out"
out=$(printf "$VI_YAML" img4 held "https://x.example.org/a.img" | k apply --server-side -f - 2>&1)
expect_match "and so is an apply that would create there" \
	'"img4" is forbidden: unable to create new content in namespace held because it is being terminated' "$out"
c=$(api POST /api/v1/namespaces/nope/events -H 'Content-Type: application/json' \
	--data '{"metadata":{"name":"e1"},"involvedObject":{"kind":"VirtualImage","name":"x"},"reason":"R","message":"m","type":"Normal"}' \
	-o /dev/null -w '%{http_code}')
expect_eq "an Event in a missing namespace is 404 too" "404" "$c"
vim_stop

# a data dir written before Namespaces: objects in "legacy", no Namespace rows
sqlite3 "$D0/vimage.db" "UPDATE objects SET ns='legacy', json=json_set(json,'\$.metadata.namespace','legacy') WHERE resource='virtualimages'; DELETE FROM objects WHERE resource='namespaces';" 2>"$T_TMP/sq.err" ||
	{ not_ok "the data dir is made old"; sed 's/^/#   /' "$T_TMP/sq.err"; }
vim_start "$D0" --controllers off || { not_ok "vimaged restarts"; exit 1; }
expect_eq "an old data dir gets a Namespace for every namespace its objects use" "default legacy" \
	"$(k get ns -o jsonpath='{.items[*].metadata.name}')"
expect_eq "and its image is still served there" "img" "$(k get vi -n legacy -o jsonpath='{.items[*].metadata.name}')"
vim_stop

# ---- with the controllers and a real DVCR: delete ns removes the content ----
REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { not_ok "the registry starts"; exit 1; }
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/disk.qcow2" 16M
www_start "$WWW" || not_ok "the HTTP server starts"
vim_start "$T_TMP/data" --dvcr-url "http://127.0.0.1:$PREG" || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts against the registry"

{
	printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\n'
	printf "$VI_YAML" disk team "http://127.0.0.1:$WWW_PORT/disk.qcow2"
} >"$T_TMP/manifest.yaml"
out=$(k apply -f "$T_TMP/manifest.yaml" 2>&1)
expect_match "kubectl apply of a manifest that starts with a Namespace creates it" 'namespace/team created' "$out"
expect_match "and the image in it" 'virtualimage.virtualization.deckhouse.io/disk created' "$out"
out=$(k apply -f "$T_TMP/manifest.yaml" 2>&1)
expect_match "applying it again leaves the namespace unchanged" 'namespace/team unchanged' "$out"
out=$(k label ns team tier=dev 2>&1)
expect_eq "kubectl label ns (a strategic merge patch)" "namespace/team labeled" "$out"
expect_eq "the label is there, the finalizer kept" "dev kubernetes" \
	"$(k get ns team -o jsonpath='{.metadata.labels.tier} {.spec.finalizers[0]}')"
phase_ready() { [ "$(k get vi disk -n team -o jsonpath='{.status.phase}' 2>/dev/null)" = Ready ]; }
check "the image in it becomes Ready" wait_for 30 phase_ready
uid=$(k get vi disk -n team -o jsonpath='{.metadata.uid}')
manifest() {
	curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://127.0.0.1:$PREG/v2/vi/team/disk/manifests/$uid"
}
expect_eq "its data is in DVCR" 200 "$(manifest)"
check "it has events" test -n "$(k get events -n team -o name)"

start=$(date +%s)
out=$(timeout 60 "${KUBECTL:-kubectl}" --kubeconfig "$KUBECONFIG_FILE" delete ns team --timeout=50s 2>&1)
expect_eq "kubectl delete ns returns once the namespace is gone" 'namespace "team" deleted' "$out"
echo "# kubectl delete ns took $(($(date +%s) - start)) s"
out=$(k get ns team 2>&1)
expect_match "the namespace is gone" 'namespaces "team" not found' "$out"
expect_eq "its image is gone" "" "$(k get vi -A -o jsonpath='{.items[?(@.metadata.namespace=="team")].metadata.name}')"
expect_eq "its DVCR data is gone" 404 "$(manifest)"
expect_eq "its events are gone" "0" "$(api GET /api/v1/namespaces/team/events | jq '.items | length')"
expect_eq "default is still there" "default" "$(k get ns -o jsonpath='{.items[*].metadata.name}')"
c=$(printf "$VI_YAML" again team "https://x.example.org/a.img" | \
	api POST "$G/namespaces/team/virtualimages" -H 'Content-Type: application/yaml' --data-binary @- -o /dev/null -w '%{http_code}')
expect_eq "creating in the deleted namespace is 404" "404" "$c"
exit $T_FAILED
