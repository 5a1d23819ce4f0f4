#!/usr/bin/env bash
# Moving a catalog from SQLite to etcd, as docs/operations.md tells an
# operator to: vimaged on SQLite with images in several phases (Ready by
# HTTP import, Failed, waiting for an upload, a ClusterVirtualImage copied
# by ObjectRef, one Terminating behind a finalizer), stopped;
# `--store-export FILE` writes every object as JSON lines;
# `--store-import FILE` loads them into etcd; vimaged on etcd with the same
# data dir serves the same objects (`kubectl get -o yaml` equal except
# resourceVersion), and with its controllers on the images stay as they
# were.  (tests/integration/store_export.sh is the SQLite-to-SQLite leg.)
. "$(dirname "$0")/lib.sh"

G=virtualization.deckhouse.io
REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || {
	not_ok "the registry starts"
	exit 1
}
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/disk.qcow2" 16M
SUM=$(sha256sum "$WWW/disk.qcow2" | cut -d' ' -f1)
www_start "$WWW" || not_ok "the HTTP server starts"
D=$T_TMP/data
VIM_STORE=sqlite vim_start "$D" --dvcr-url "http://127.0.0.1:$PREG" || {
	not_ok "vimaged starts on SQLite"
	exit 1
}
ok "vimaged starts on SQLite"

phase() { k get "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
phase_is() { [ "$(phase "$1")" = "$2" ]; }
vi_http() { # NAME SHA256
	printf 'apiVersion: %s/v1alpha2\nkind: VirtualImage\nmetadata: {name: %s, namespace: default, labels: {tier: gold}, annotations: {note: "moved with care"}}\nspec: {dataSource: {type: HTTP, http: {url: "http://127.0.0.1:%s/disk.qcow2", checksum: {sha256: "%s"}}}}\n' \
		"$G" "$1" "$WWW_PORT" "$2" | k apply -f - >/dev/null
}
vi_http ready "$SUM"
vi_http failed 0000000000000000000000000000000000000000000000000000000000000000
printf 'apiVersion: %s/v1alpha2\nkind: VirtualImage\nmetadata: {name: upload, namespace: default}\nspec: {dataSource: {type: Upload}}\n' "$G" | k apply -f - >/dev/null
vi_http held "$SUM"
check "an HTTP image is Ready" wait_for 30 phase_is vi/ready Ready
check "a checksum mismatch is Failed" wait_for 30 phase_is vi/failed Failed
check "an Upload image waits for the upload" wait_for 30 phase_is vi/upload WaitForUserUpload
check "a second HTTP image is Ready" wait_for 30 phase_is vi/held Ready
printf 'apiVersion: %s/v1alpha2\nkind: ClusterVirtualImage\nmetadata: {name: golden}\nspec: {dataSource: {type: ObjectRef, objectRef: {kind: VirtualImage, name: ready, namespace: default}}}\n' "$G" |
	k apply -f - >/dev/null
check "a ClusterVirtualImage copied by ObjectRef is Ready" wait_for 30 phase_is cvi/golden Ready
k patch vi held --type=merge -p '{"metadata":{"finalizers":["example.org/hold"]}}' >/dev/null
k delete vi held --wait=false >/dev/null 2>&1
check "an image held by a finalizer is Terminating" \
	test -n "$(k get vi held -o jsonpath='{.metadata.deletionTimestamp}' 2>/dev/null)"
k create namespace moved >/dev/null
OBJS="vi/ready vi/failed vi/upload vi/held cvi/golden ns/moved ns/default"
# yaml OBJ: kubectl get -o yaml without the resourceVersion (the one thing
# a move changes)
yaml() { k get "$1" -o yaml | grep -v '^  resourceVersion: '; }
for o in $OBJS; do yaml "$o" >"$T_TMP/before.${o/\//.}.yaml"; done
events_before=$(k get events -A -o jsonpath='{range .items[*]}{.involvedObject.name}/{.reason}/{.count} {end}' | tr ' ' '\n' | sort | tr '\n' ' ')
vim_stop
expect_eq "vimaged on SQLite exits 0 on SIGTERM" 0 "$?"

# ---- export from the SQLite data dir -----------------------------------
t0=$(date +%s)
out=$(timeout 60 "$VIMAGED" --data-dir "$D" --store-export "$T_TMP/catalog.jsonl" 2>&1)
expect_eq "--store-export exits 0" 0 "$?"
printf '%s\n' "$out" | sed 's/^/# export: /'
echo "# export took $(($(date +%s) - t0)) s, $(cat "$T_TMP/catalog.jsonl" 2>/dev/null | wc -l) lines"
check "every line of the export is one JSON object with its resource" \
	sh -c "jq -e -s 'length > 0 and all(.[]; type == \"object\" and (.resource | type) == \"string\" and (.object.metadata.uid | type) == \"string\")' '$T_TMP/catalog.jsonl' >/dev/null"
names=$(jq -r '"\(.object.kind)/\(.object.metadata.name)"' "$T_TMP/catalog.jsonl" 2>/dev/null | sort | tr '\n' ' ')
for o in VirtualImage/ready VirtualImage/failed VirtualImage/upload VirtualImage/held \
	ClusterVirtualImage/golden Namespace/moved; do
	case " $names " in *" $o "*) ok "the export holds $o" ;; *) not_ok "the export holds $o ($names)" ;; esac
done

# ---- import into etcd ----------------------------------------------------
etcd_start || {
	not_ok "etcd starts"
	exit 1
}
VIM_ETCD_PREFIX=/vimage-export-$$
EF=(--store etcd --etcd-endpoints "$ETCD_ENDPOINTS" --etcd-prefix "$VIM_ETCD_PREFIX")
t0=$(date +%s)
out=$(timeout 60 "$VIMAGED" --data-dir "$D" "${EF[@]}" --store-import "$T_TMP/catalog.jsonl" 2>&1)
expect_eq "--store-import into etcd exits 0" 0 "$?"
printf '%s\n' "$out" | sed 's/^/# import: /'
echo "# import took $(($(date +%s) - t0)) s"
vim_start "$D" "${EF[@]}" --controllers off || {
	not_ok "vimaged starts on etcd"
	exit 1
}
for o in $OBJS; do
	yaml "$o" >"$T_TMP/after.${o/\//.}.yaml" 2>&1
	if diff -u "$T_TMP/before.${o/\//.}.yaml" "$T_TMP/after.${o/\//.}.yaml" >"$T_TMP/diff" 2>&1; then
		ok "$o: kubectl get -o yaml on etcd equals SQLite's but for resourceVersion"
	else
		not_ok "$o: kubectl get -o yaml on etcd equals SQLite's but for resourceVersion"
		sed 's/^/#   /' "$T_TMP/diff"
	fi
done
events_after=$(k get events -A -o jsonpath='{range .items[*]}{.involvedObject.name}/{.reason}/{.count} {end}' | tr ' ' '\n' | sort | tr '\n' ' ')
expect_eq "the Events moved too" "$events_before" "$events_after"
rv=$(k get vi ready -o jsonpath='{.metadata.resourceVersion}')
modrev=$(ectl get "$VIM_ETCD_PREFIX/$G/virtualimages/default/ready" -w json | jq -r '.kvs[0].mod_revision')
expect_eq "the new resourceVersion is etcd's mod_revision" "$modrev" "$rv"
vim_stop

# with the controllers: nothing is imported again, the phases hold
uploads=$(grep -c 'PUT /v2/.*blobs/uploads' "$REG/log" 2>/dev/null || true)
vim_start "$D" "${EF[@]}" --dvcr-url "http://127.0.0.1:$PREG" || not_ok "vimaged starts on etcd with its controllers"
sleep 3
expect_eq "the phases hold under the controllers" "Ready Failed WaitForUserUpload Ready" \
	"$(for o in vi/ready vi/failed vi/upload cvi/golden; do phase "$o"; echo; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the uid is kept" "$(grep '^  uid: ' "$T_TMP/before.vi.ready.yaml")" "$(k get vi ready -o yaml | grep '^  uid: ')"
expect_eq "nothing was uploaded to DVCR again" "$uploads" "$(grep -c 'PUT /v2/.*blobs/uploads' "$REG/log" 2>/dev/null || true)"
out=$(k patch vi held --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' 2>&1)
check "removing the Terminating image's finalizer deletes it" wait_for 10 sh -c "! $(printf '%q ' "${KUBECTL:-kubectl}") --kubeconfig $KUBECONFIG_FILE --cache-dir $T_TMP/kc2 get vi held"
vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"
exit "$T_FAILED"
