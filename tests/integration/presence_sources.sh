#!/usr/bin/env bash
# Loss and recovery for every source, VirtualImage and ClusterVirtualImage
# alike, imported for real: HTTP, ContainerImage, ObjectRef, Upload.  The
# DVCR storage goes away (all ImageLost), vimaged restarts meanwhile, the
# storage comes back (all Ready, one ...LostRecovered event each, status
# unchanged, nothing downloaded or uploaded again).  Then the registry
# itself stops for two minutes: an unreachable registry loses nothing.
. "$(dirname "$0")/lib.sh"

REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { not_ok "the registry starts"; exit 1; }
SRC=$T_TMP/src
src_registry_start "$SRC" || { not_ok "the source registry starts"; exit 1; }
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/disk.qcow2" 40M
www_start "$WWW" || not_ok "the HTTP server starts"
PWWW=$WWW_PORT
oci_push_disk "$WWW/disk.qcow2" disks/d:1 || { not_ok "the source image is pushed"; exit 1; }

DATA=$T_TMP/data
mkdir -p "$DATA/secrets/default"
printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}\n' "$SRC_PORT" "$(printf 'puller:s3cret pass' | base64 -w0)" >"$DATA/secrets/default/cred.json"
FLAGS=(--dvcr-url "http://127.0.0.1:$PREG" --storage-probe-interval 1 --presence-sweep-interval 3)
vim_start "$DATA" "${FLAGS[@]}" || { not_ok "vimaged starts"; exit 1; }

phase() { k get "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
phase_is() { [ "$(phase "$1")" = "$2" ]; }
all_are() { # PHASE OBJECTS...
	local want=$1 o
	shift
	for o in "$@"; do phase_is "$o" "$want" || return 1; done
}
not_all() { # PHASE OBJECTS...: prints the ones that are not
	local want=$1 o
	shift
	for o in "$@"; do phase_is "$o" "$want" || echo "$o is $(phase "$o")"; done
}
CA=$(base64 -w0 "$SRC/tls.crt")
ds() { # SOURCE KIND: the dataSource of a test image
	case $1 in
	http) echo "{type: HTTP, http: {url: \"http://127.0.0.1:$PWWW/disk.qcow2\"}}" ;;
	ci) if [ "$2" = vi ]; then echo "{type: ContainerImage, containerImage: {image: \"127.0.0.1:$SRC_PORT/disks/d:1\", imagePullSecret: {name: cred}, caBundle: $CA}}"; else
		echo "{type: ContainerImage, containerImage: {image: \"127.0.0.1:$SRC_PORT/disks/d:1\", imagePullSecret: {name: cred, namespace: default}, caBundle: $CA}}"
	fi ;;
	ref) if [ "$2" = vi ]; then echo "{type: ObjectRef, objectRef: {kind: VirtualImage, name: http}}"; else
		echo "{type: ObjectRef, objectRef: {kind: VirtualImage, name: http, namespace: default}}"
	fi ;;
	up) echo "{type: Upload}" ;;
	esac
}
make_image() { # KIND SOURCE
	if [ "$1" = vi ]; then
		printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: %s, namespace: default}\nspec: {dataSource: %s}\n' "$2" "$(ds "$2" vi)"
	else
		printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: ClusterVirtualImage\nmetadata: {name: %s}\nspec: {dataSource: %s}\n' "$2" "$(ds "$2" cvi)"
	fi | k apply -f - >/dev/null
}
ALL=()
for kind in vi cvi; do
	for src in http ci ref up; do
		make_image $kind $src
		ALL+=("$kind/$src")
	done
done
for o in vi/up cvi/up; do
	wait_for 15 phase_is "$o" WaitForUserUpload &&
		curl -sf -o /dev/null -T "$WWW/disk.qcow2" "$(k get "$o" -o jsonpath='{.status.imageUploadURLs.external}')" ||
		not_ok "$o takes its upload"
done
check "every image of every source becomes Ready" wait_for 60 all_are Ready "${ALL[@]}"
not_all Ready "${ALL[@]}" | sed 's/^/#   /'

snapshot() { k get "$1" -o jsonpath='{.status.target.registryURL} {.status.size.storedBytes} {.status.size.unpackedBytes} {.status.format} {.status.cdrom} {.status.progress}'; }
declare -A before
for o in "${ALL[@]}"; do before[$o]=$(snapshot "$o"); done
# (the storage probe's own canary image does not count)
uploads() { grep -E '"(PUT|PATCH) /v2/[^ ]*blobs/uploads/' "$REG/log" | grep -vc '/v2/vimage/canary/' || true; }
http_gets() { grep -c 'GET /disk.qcow2 ' "$T_TMP/www.log" || true; }
src_gets() { grep -c 'blobs/sha256' "$SRC/log" || true; }
up0=$(uploads)
get0=$(http_gets)
src0=$(src_gets)

mv "$REG/storage" "$REG/storage.away"
check "all go ImageLost within 15 s of the storage going away" wait_for 15 all_are ImageLost "${ALL[@]}"
not_all ImageLost "${ALL[@]}" | sed 's/^/#   /'
sleep 2
check "and stay ImageLost while it is away" all_are ImageLost "${ALL[@]}"
vim_stop
vim_start "$DATA" "${FLAGS[@]}" || not_ok "vimaged restarts while the images are lost"
check "after a restart they are still ImageLost" all_are ImageLost "${ALL[@]}"
mv "$REG/storage.away" "$REG/storage"
check "all are Ready within 10 s of the storage's return" wait_for 10 all_are Ready "${ALL[@]}"
not_all Ready "${ALL[@]}" | sed 's/^/#   /'
events_of() { k get events -A --field-selector "involvedObject.name=$1,reason=$2" -o jsonpath='{range .items[*]}{.count}{end}'; }
for o in "${ALL[@]}"; do
	kindname=VirtualImage
	[ "${o%%/*}" = cvi ] && kindname=ClusterVirtualImage
	expect_eq "$o: one ${kindname}LostRecovered event, status unchanged" "1 ${before[$o]}" \
		"$(events_of "${o#*/}" "${kindname}LostRecovered") $(snapshot "$o")"
done
expect_eq "the HTTP server saw no second request" "$get0" "$(http_gets)"
expect_eq "the source registry saw no second blob request" "$src0" "$(src_gets)"
expect_eq "DVCR saw no new blob upload" "$up0" "$(uploads)"

# the registry down (not its storage) for two minutes, as the issue asks:
# nothing can be told, so nothing changes, at any moment (probed every
# 10 s while the sweep and the probe keep failing every few seconds)
DOWN_S=${VIM_TEST_REGISTRY_DOWN_S:-120}
kill "$REG_PID"
wait "$REG_PID" 2>/dev/null
flipped=0
for _ in $(seq 1 $((DOWN_S / 10))); do
	sleep 10
	all_are Ready "${ALL[@]}" || { flipped=1; not_all Ready "${ALL[@]}" | sed 's/^/#   /'; }
done
expect_eq "with the registry down for $DOWN_S s no image leaves Ready" 0 "$flipped"
expect_match "the probe says the registry cannot tell" 'registry cannot tell' "$(cat "$DATA/vimaged.log")"
registry_start "$REG" "$PREG" || not_ok "the registry starts again"
sleep 2
check "and all are Ready once it is back" all_are Ready "${ALL[@]}"

vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"
exit "$T_FAILED"
