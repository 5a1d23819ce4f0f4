#!/usr/bin/env bash
# Moving a catalog: images in several phases, made by the real vimaged
# against a real docker-registry, exported with --store-export from the
# stopped daemon's data dir and imported with --store-import into a new
# one; `kubectl get -o yaml` of every resource is then the same but for
# resourceVersions.  Also through a pipe (- to -), and the refusals: an
# import over keys the target has writes nothing and names the key, a bad
# line is named FILE:LINE.
. "$(dirname "$0")/lib.sh"

REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { not_ok "the registry starts"; exit 1; }
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/disk.qcow2" 16M
www_start "$WWW" || not_ok "the HTTP server starts"
SRC=$T_TMP/src
vim_start "$SRC" --dvcr-url "http://127.0.0.1:$PREG" || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts against the registry"

phase_is() { # [-n NS] OBJECT PHASE
	local ns=default
	[ "$1" = -n ] && { ns=$2; shift 2; }
	[ "$(k get -n "$ns" "$1" -o jsonpath='{.status.phase}' 2>/dev/null)" = "$2" ]
}
vi_http() { # NAMESPACE NAME URL
	printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: %s, namespace: %s, labels: {tier: gold}}\nspec: {dataSource: {type: HTTP, http: {url: "%s"}}}\n' "$2" "$1" "$3" | k apply -f - >/dev/null
}

k create namespace prod >/dev/null
vi_http default ready "http://127.0.0.1:$WWW_PORT/disk.qcow2"
vi_http prod failed "http://127.0.0.1:$WWW_PORT/nope.qcow2"
printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: upload, namespace: default}\nspec: {dataSource: {type: Upload}}\n' | k apply -f - >/dev/null
printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: ClusterVirtualImage\nmetadata: {name: golden}\nspec: {dataSource: {type: ObjectRef, objectRef: {kind: VirtualImage, name: ready, namespace: default}}}\n' | k apply -f - >/dev/null
check "an HTTP image becomes Ready" wait_for 30 phase_is vi/ready Ready
check "a 404 image becomes Failed" wait_for 30 phase_is -n prod vi/failed Failed
check "an Upload image waits for its data" wait_for 30 phase_is vi/upload WaitForUserUpload
check "a ClusterVirtualImage from it becomes Ready" wait_for 30 phase_is cvi/golden Ready
vim_stop

# What kubectl shows of a data dir, without resourceVersions (the one thing
# an import changes); the daemon runs with the controllers off so nothing
# moves while we look.
catalog() { # DATADIR OUTFILE
	vim_start "$1" --controllers off || return 1
	k get namespaces,virtualimages,clustervirtualimages,events -A -o yaml |
		grep -v 'resourceVersion:' >"$2"
	vim_stop
}
check "kubectl shows the source catalog" catalog "$SRC" "$T_TMP/src.yaml"
for p in Ready Failed WaitForUserUpload Active; do
	expect_match "it holds phase $p" "^ +phase: $p\$" "$(cat "$T_TMP/src.yaml")"
done

out=$("$VIMAGED" --data-dir "$SRC" --store-export "$T_TMP/catalog.jsonl" 2>&1)
expect_match "--store-export reports what it wrote" "^exported [0-9]+ objects to $T_TMP/catalog.jsonl$" "$out"
n=$(wc -l <"$T_TMP/catalog.jsonl")
expect_match "one JSON line per object, namespaces first" '^\{"resource":"namespaces","object":\{' "$(head -n1 "$T_TMP/catalog.jsonl")"
expect_eq "the count is the file's" "exported $n objects to $T_TMP/catalog.jsonl" "$out"
expect_eq "it started nothing: no kubeconfig written" "" "$(find "$SRC" -newer "$T_TMP/catalog.jsonl" -name kubeconfig)"

DST=$T_TMP/dst
out=$("$VIMAGED" --data-dir "$DST" --store-import "$T_TMP/catalog.jsonl" 2>&1)
expect_eq "--store-import reports what it loaded" "imported $n objects (0 namespaces kept) from $T_TMP/catalog.jsonl" "$out"
check "kubectl shows the imported catalog" catalog "$DST" "$T_TMP/dst.yaml"
check "it is the same, resourceVersions aside" diff -u "$T_TMP/src.yaml" "$T_TMP/dst.yaml"

# - to -: a pipe, which the import cannot read twice
PIPE=$T_TMP/pipe
"$VIMAGED" --data-dir "$SRC" --store-export - 2>"$T_TMP/export.err" |
	"$VIMAGED" --data-dir "$PIPE" --store-import - >"$T_TMP/import.out" 2>&1
expect_eq "export to stdout reports on stderr" "exported $n objects to -" "$(cat "$T_TMP/export.err")"
expect_eq "import from stdin" "imported $n objects (0 namespaces kept) from -" "$(cat "$T_TMP/import.out")"
check "kubectl shows the piped catalog" catalog "$PIPE" "$T_TMP/pipe.yaml"
check "the same again" diff -u "$T_TMP/src.yaml" "$T_TMP/pipe.yaml"

# the refusals: nothing written
cp "$DST/vimage.db" "$T_TMP/before.db"
out=$("$VIMAGED" --data-dir "$DST" --store-import "$T_TMP/catalog.jsonl" 2>&1)
rc=$?
expect_eq "an import over taken keys exits 1" 1 "$rc"
expect_match "it names the key and says nothing was imported" \
	"^vimaged: $T_TMP/catalog.jsonl:[0-9]+: [a-z]+ [a-z/-]+ already exists in the store: nothing was imported$" "$out"
check "the target is as it was" catalog "$DST" "$T_TMP/dst2.yaml"
check "every object unchanged" diff -u "$T_TMP/dst.yaml" "$T_TMP/dst2.yaml"

{ head -n2 "$T_TMP/catalog.jsonl"; echo '{"resource":"virtualimages","object":'; } >"$T_TMP/bad.jsonl"
out=$("$VIMAGED" --data-dir "$T_TMP/bad" --store-import "$T_TMP/bad.jsonl" 2>&1)
rc=$?
expect_eq "a bad line exits 1" 1 "$rc"
expect_match "and is named FILE:LINE" "^vimaged: $T_TMP/bad.jsonl:3: not JSON" "$out"
out=$("$VIMAGED" --data-dir "$T_TMP/bad" --store-export "$T_TMP/bad.out" 2>&1)
expect_eq "the bad import wrote nothing (not even a Namespace)" "exported 0 objects to $T_TMP/bad.out" "$out"
exit $T_FAILED
