#!/usr/bin/env bash
# The DVCR image layout, written by vimage's streaming writer into a real
# docker-registry and read back with skopeo and tar: one uncompressed tar
# layer with disk/ (0755) and disk/<file> (0644), owned by 64535, padded
# and ended properly; the three labels; a copy across repositories moves no
# data.
. "$(dirname "$0")/lib.sh"

DRV="$ROOT/$BUILD/itests/dvcr_image"
P=$(free_port)
registry_start "$T_TMP/reg" "$P" || { not_ok "the registry starts"; exit 1; }
URL=http://127.0.0.1:$P

# layer_of REPO TAG DIR: skopeo copies the image to DIR; prints the layer path
layer_of() {
	rm -rf "$3"
	skopeo copy -q --src-tls-verify=false "docker://127.0.0.1:$P/$1:$2" "dir:$3" >/dev/null 2>&1 || return 1
	python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/manifest.json")); print(sys.argv[1]+"/"+m["layers"][0]["digest"].split(":")[1])' "$3"
}

head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >"$T_TMP/noble.qcow2"
out=$("$DRV" "$URL" write "$T_TMP/noble.qcow2" vi/default/ubuntu uid-1 qcow2 10737418240)
expect_match "an odd-sized image is written" '^ok sha256:[0-9a-f]{64}$' "$out"
inspect=$(skopeo inspect --tls-verify=false "docker://127.0.0.1:$P/vi/default/ubuntu:uid-1" 2>&1)
expect_match "the three labels are in the config" '"source-image-format": "qcow2"' "$inspect"
expect_match "source-image-size is the stored size" "\"source-image-size\": \"$((3 * 1024 * 1024 + 123))\"" "$inspect"
expect_match "source-image-virtual-size" '"source-image-virtual-size": "10737418240"' "$inspect"
expect_match "erofs-compatible-layers" '"erofs-compatible-layers": "true"' "$inspect"
raw=$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$P/vi/default/ubuntu:uid-1" 2>&1)
expect_match "a Docker schema 2 manifest with an uncompressed tar layer" \
	'application/vnd.docker.image.rootfs.diff.tar"' "$raw"
layer=$(layer_of vi/default/ubuntu uid-1 "$T_TMP/out")
listing=$(tar -tvf "$layer" --numeric-owner 2>&1)
expect_match "disk/ is a 0755 directory owned by 64535" '^drwxr-xr-x 64535/64535 +0 .* disk' "$listing"
expect_match "disk/noble.qcow2 is a 0644 file owned by 64535" "^-rw-r--r-- 64535/64535 +$((3 * 1024 * 1024 + 123)) .* disk/noble.qcow2" "$listing"
check "the file in the layer is the source, byte for byte" cmp <(tar -xOf "$layer" disk/noble.qcow2) "$T_TMP/noble.qcow2"
expect_eq "the layer ends padded with the two zero blocks" 0 $(($(stat -c %s "$layer") % 512))
sum=$(sha256sum "$layer" | cut -d' ' -f1)
expect_match "the layer digest is the sha256 of the tar" "$sum" "$raw"

: >"$T_TMP/empty.img"
out=$("$DRV" "$URL" write "$T_TMP/empty.img" vi/default/empty uid-2 raw 0)
expect_match "a zero-byte image is written" '^ok ' "$out"
out=$("$DRV" "$URL" write "$T_TMP/noble.qcow2" vi/default/short uid-3 qcow2 1 99999999)
expect_match "fewer bytes than declared fail the image" 'source image size mismatch' "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$URL/v2/vi/default/short/manifests/uid-3")
expect_eq "and leave no manifest behind" 404 "$code"

uploads_before=$(grep -c 'PUT /v2/.*blobs/uploads' "$T_TMP/reg/log" || true)
out=$("$DRV" "$URL" copy vi/default/ubuntu uid-1 cvi/golden uid-9)
expect_eq "a copy across repositories succeeds" ok "$out"
uploads_after=$(grep -c 'PUT /v2/.*blobs/uploads' "$T_TMP/reg/log" || true)
expect_eq "the copy uploads no blob (mounts)" "$uploads_before" "$uploads_after"
a=$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$P/cvi/golden:uid-9" 2>&1)
expect_eq "the copy has the same manifest" "$raw" "$a"

# ---- the layer a download streams, found by the image's address
out=$("$DRV" "$URL" layer "127.0.0.1:$P/vi/default/ubuntu:uid-1")
expect_eq "an image's one layer is found by its address" "ok sha256:$sum $(stat -c %s "$layer")" "$out"
out=$("$DRV" "$URL" layer "127.0.0.1:$P/vi/default/none:uid-0")
expect_match "an image not in DVCR has no layer" '^error: .*404' "$out"

# ---- removing an image: by its address, as the cleaner of a deleted image does
out=$("$DRV" "$URL" host)
expect_eq "the client names its registry as host:port" "ok 127.0.0.1:$P" "$out"
out=$("$DRV" "$URL" remove "127.0.0.1:$P/cvi/golden:uid-9")
expect_eq "an image is removed by its address" ok "$out"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$URL/v2/cvi/golden/manifests/uid-9")
expect_eq "its manifest is gone" 404 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "$URL/v2/vi/default/ubuntu/manifests/uid-1")
expect_eq "the image it was copied from stays" 200 "$code"
out=$("$DRV" "$URL" remove "127.0.0.1:$P/cvi/golden:uid-9")
expect_eq "removing it again is success (already gone)" ok "$out"
out=$("$DRV" "$URL" remove "")
expect_eq "an image never written (no address) is success" ok "$out"
out=$("$DRV" "$URL" remove "not an address")
expect_match "a malformed address is an error" '^error: ' "$out"
exit "$T_FAILED"
