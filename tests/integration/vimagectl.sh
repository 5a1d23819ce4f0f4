#!/usr/bin/env bash
# vimagectl against a real vimaged (with its own managed registry): upload
# with plain progress lines and with a progress bar on a pty, the local
# sha256, the verdict; status; the exit codes and one-line errors.
. "$(dirname "$0")/lib.sh"

CTL="$ROOT/$BUILD/vimagectl"
DATA=$T_TMP/data
vim_start "$DATA" || { not_ok "vimaged starts"; exit 1; }
qemu-img create -q -f qcow2 "$T_TMP/disk.qcow2" 24M
SUM=$(sha256sum "$T_TMP/disk.qcow2" | cut -d' ' -f1)
VSIZE=$(qemu-img info --output=json "$T_TMP/disk.qcow2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
ctl() { "$CTL" --kubeconfig "$KUBECONFIG_FILE" "$@"; }
mk() { # KIND NAME
	if [ "$1" = vi ]; then
		printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: %s, namespace: default}\nspec: {dataSource: {type: Upload}}\n' "$2"
	else
		printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: ClusterVirtualImage\nmetadata: {name: %s}\nspec: {dataSource: {type: Upload}}\n' "$2"
	fi | k apply -f - >/dev/null
}

mk vi up
out=$(ctl upload vi/up "$T_TMP/disk.qcow2" 2>&1)
expect_eq "upload exits 0" 0 "$?"
expect_match "it reports progress in plain lines when not on a terminal" 'upload: 100%' "$out"
expect_match "it prints the sha256 it computed" "sha256 $SUM  $T_TMP/disk.qcow2" "$out"
expect_match "and the verdict" 'vi/up Ready: qcow2, 24Mi virtual' "$out"
expect_eq "the image is Ready with the file's virtual size" "Ready $VSIZE" "$(k get vi/up -o jsonpath='{.status.phase} {.status.size.unpackedBytes}')"

mk cvi cup
out=$(script -qec "$(printf '%q ' "$CTL" --kubeconfig "$KUBECONFIG_FILE" upload cvi/cup "$T_TMP/disk.qcow2")" /dev/null 2>&1)
expect_match "on a terminal it draws a progress bar" '\[#+\] +100\.0%.*ETA' "$out"
expect_eq "a ClusterVirtualImage takes an upload too" Ready "$(k get cvi/cup -o jsonpath='{.status.phase}')"

out=$(ctl download vi/up -o "$T_TMP/back.qcow2" 2>&1)
expect_eq "download exits 0" 0 "$?"
check "the downloaded disk is the uploaded file, byte for byte" cmp "$T_TMP/disk.qcow2" "$T_TMP/back.qcow2"
expect_match "it says the layer digest was verified" "vi/up: disk/[^,]+, $(stat -c %s "$T_TMP/disk.qcow2") bytes -> .*; layer sha256:[0-9a-f]{64} verified" "$out"
expect_eq "-o - writes the disk to stdout" "$SUM" "$(ctl download cvi/cup -o - 2>/dev/null | sha256sum | cut -d' ' -f1)"
mk vi waiting
out=$(ctl download vi/waiting -o "$T_TMP/w.img" 2>&1)
expect_eq "a not-Ready image is not downloaded" "1 vimagectl: download vi/waiting: it is not Ready" "$? $out"
check "and leaves no file behind" sh -c "! ls '$T_TMP/w.img' '$T_TMP/w.img.part' 2>/dev/null"
out=$(ctl download vi/nosuch -o "$T_TMP/n.img" 2>&1)
expect_eq "a missing image is not found" "1 vimagectl: download vi/nosuch: not found" "$? $out"

out=$(ctl status 2>&1)
expect_match "status: the storage is up" 'DVCR storage: up' "$out"
expect_match "status: images by kind and phase" 'VirtualImage +WaitForUserUpload 1, Ready 1' "$out"
expect_match "status: imports" 'imports: +0 running' "$out"

out=$(ctl upload vi/up "$T_TMP/disk.qcow2" 2>&1)
expect_eq "uploading to a Ready image exits 1" 1 "$?"
expect_eq "with one line saying why" "vimagectl: upload vi/up: it is Ready, not waiting for an upload" "$out"
out=$(ctl upload vi/nosuch "$T_TMP/disk.qcow2" 2>&1)
expect_eq "a missing image exits 1" 1 "$?"
expect_match "naming it" '^vimagectl: upload vi/nosuch: .*not found' "$out"
out=$(ctl upload vi/up 2>&1)
expect_eq "a missing argument exits 2" 2 "$?"
out=$(ctl frobnicate 2>&1)
expect_eq "an unknown command exits 2" "2 vimagectl: unknown command \"frobnicate\" (see --help)" "$? $out"
out=$("$CTL" --kubeconfig "$T_TMP/none" status 2>&1)
expect_eq "a missing kubeconfig exits 1 with one line" "1 vimagectl: kubeconfig $T_TMP/none: cannot read it" "$? $out"
out=$(ctl demo --data-dir "$DATA" 2>&1)
expect_eq "demo exits 0" 0 "$?"
expect_match "demo: the image goes ImageLost when the storage goes" 'vi/vimage-demo: Ready -> ImageLost' "$out"
expect_match "demo: with the Warning event" 'event Warning VirtualImageLost: ' "$out"
expect_match "demo: and comes back by itself" 'vi/vimage-demo: ImageLost -> Ready' "$out"
expect_match "demo: with the recovery event" 'event Normal VirtualImageLostRecovered: ' "$out"
check "demo: the storage is back in place" test -d "$DATA/dvcr/storage/docker"
check "demo: nothing left behind" sh -c "! ls -d '$DATA/dvcr/storage.vimage-demo-away' 2>/dev/null && ! $(printf '%q ' "${KUBECTL:-kubectl}") --kubeconfig $KUBECONFIG_FILE get vi/vimage-demo 2>/dev/null"
printf '%s\n' "$out" | sed 's/^/#   /'
out=$(ctl demo --data-dir "$T_TMP/nowhere" 2>&1)
expect_match "demo without a managed registry says what it needs" '^vimagectl: demo: no managed registry storage at .*without --dvcr-url' "$out"

vim_stop
out=$(ctl status 2>&1)
expect_eq "status with vimaged down exits 1" 1 "$?"
exit "$T_FAILED"
