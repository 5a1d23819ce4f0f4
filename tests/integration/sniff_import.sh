#!/usr/bin/env bash
# Hostile images imported for real: a qcow2 naming a backing file or an
# external data file, a vmdk descriptor naming another file, the first one
# again behind gzip.  Each ends Failed for good (the same bytes would fail
# again), its message naming the cause, with nothing committed to DVCR;
# a plain image next to them still becomes Ready.
. "$(dirname "$0")/lib.sh"

REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { not_ok "the registry starts"; exit 1; }
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/good.qcow2" 16M
qemu-img create -q -f qcow2 -b /etc/passwd -F raw "$WWW/backing.qcow2" 16M
qemu-img create -q -f qcow2 -o data_file="$T_TMP/data.raw" "$WWW/datafile.qcow2" 16M
qemu-img create -q -f vmdk -o subformat=monolithicFlat "$WWW/flat.vmdk" 16M
gzip -k "$WWW/backing.qcow2"
www_start "$WWW" || not_ok "the HTTP server starts"
vim_start "$T_TMP/data" --dvcr-url "http://127.0.0.1:$PREG" || { not_ok "vimaged starts"; exit 1; }

phase_is() { [ "$(k get "$1" -o jsonpath='{.status.phase}' 2>/dev/null)" = "$2" ]; }
jp() { k get "$1" -o jsonpath="$2"; }
ready_cond() { jp "$1" '{.status.conditions[?(@.type=="Ready")].reason} {.status.conditions[?(@.type=="Ready")].message}'; }
manifest_code() { # VI-NAME
	curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://127.0.0.1:$PREG/v2/vi/default/$1/manifests/$(jp "vi/$1" '{.metadata.uid}')"
}
vi_http() { # NAME FILE
	printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: %s, namespace: default}\nspec: {dataSource: {type: HTTP, http: {url: "http://127.0.0.1:%s/%s"}}}\n' \
		"$1" "$WWW_PORT" "$2" | k apply -f - >/dev/null
}

vi_http good good.qcow2
vi_http backing backing.qcow2
vi_http datafile datafile.qcow2
vi_http flat flat.vmdk
vi_http backinggz backing.qcow2.gz
check "a plain qcow2 next to them becomes Ready" wait_for 30 phase_is vi/good Ready
while read -r name want; do
	check "$name: the import fails" wait_for 30 phase_is "vi/$name" Failed
	expect_match "$name: for good, naming the cause" "^ProvisioningFailedTerminally .*$want" "$(ready_cond "vi/$name")"
	expect_eq "$name: nothing committed to DVCR" 404 "$(manifest_code "$name")"
done <<'LIST'
backing qcow2 names a backing file \("/etc/passwd"\): images that read other files are refused
datafile qcow2 names an external data file \(".*/data.raw"\)
flat vmdk descriptor file: its extents are other files
backinggz qcow2 names a backing file \("/etc/passwd"\)
LIST
exit "$T_FAILED"
