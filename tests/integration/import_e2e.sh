#!/usr/bin/env bash
# Imports end to end: a real docker-registry as DVCR, vimaged, kubectl, an
# HTTP server serving images qemu-img makes: HTTP (plain and .gz, with
# checksums), Upload (curl -T to the published URL), ObjectRef (a copy by
# mount), the failures (checksum mismatch, 404), and loss/recovery of an
# imported image with no second download.
. "$(dirname "$0")/lib.sh"

REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { not_ok "the registry starts"; exit 1; }
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/base.qcow2" 64M
qemu-img convert -q -O qcow2 "$WWW/base.qcow2" "$WWW/noble.qcow2"
gzip -k "$WWW/noble.qcow2"
www_start "$WWW" || not_ok "the HTTP server starts"
PWWW=$WWW_PORT
vim_start "$T_TMP/data" --dvcr-url "http://127.0.0.1:$PREG" --storage-probe-interval 1 || {
	not_ok "vimaged starts"
	exit 1
}
ok "vimaged starts against the registry"

phase() { k get "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
phase_is() { [ "$(phase "$1")" = "$2" ]; }
jp() { k get "$1" -o jsonpath="$2"; }
SUM=$(sha256sum "$WWW/noble.qcow2" | cut -d' ' -f1)
VSIZE=$(qemu-img info --output=json "$WWW/noble.qcow2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
SIZE=$(stat -c %s "$WWW/noble.qcow2")

vi_http() { # NAME URL [SHA256]
	local cs=""
	[ -n "${3:-}" ] && cs=", checksum: {sha256: \"$3\"}"
	printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: %s, namespace: default}\nspec: {dataSource: {type: HTTP, http: {url: "%s"%s}}}\n' "$1" "$2" "$cs" | k apply -f - >/dev/null
}

# HTTP, with a checksum
vi_http noble "http://127.0.0.1:$PWWW/noble.qcow2" "$SUM"
check "an HTTP image becomes Ready" wait_for 30 phase_is vi/noble Ready
expect_eq "format and cdrom" "qcow2 false" "$(jp vi/noble '{.status.format} {.status.cdrom}')"
expect_eq "virtual size as qemu-img says" "$VSIZE" "$(jp vi/noble '{.status.size.unpackedBytes}')"
expect_eq "stored size is the file's" "$SIZE" "$(jp vi/noble '{.status.size.storedBytes}')"
expect_eq "progress is 100%" "100%" "$(jp vi/noble '{.status.progress}')"
uid=$(jp vi/noble '{.metadata.uid}')
expect_eq "target.registryURL" "127.0.0.1:$PREG/vi/default/noble:$uid" "$(jp vi/noble '{.status.target.registryURL}')"
labels=$(skopeo inspect --tls-verify=false "docker://127.0.0.1:$PREG/vi/default/noble:$uid" 2>&1)
expect_match "DVCR holds it with its labels" "\"source-image-virtual-size\": \"$VSIZE\"" "$labels"
expect_match "import events" 'DataSourceImportCompleted' "$(k get events --field-selector involvedObject.name=noble -o jsonpath='{.items[*].reason}')"

# a .gz: stored as it came, format and size from the unpacked stream
vi_http noblegz "http://127.0.0.1:$PWWW/noble.qcow2.gz"
check "a .qcow2.gz image becomes Ready" wait_for 30 phase_is vi/noblegz Ready
expect_eq "its format and virtual size come from the unpacked bytes" "qcow2 $VSIZE" "$(jp vi/noblegz '{.status.format} {.status.size.unpackedBytes}')"
expect_eq "its stored size is the compressed file's" "$(stat -c %s "$WWW/noble.qcow2.gz")" "$(jp vi/noblegz '{.status.size.storedBytes}')"

# failures
vi_http badsum "http://127.0.0.1:$PWWW/noble.qcow2" "0000000000000000000000000000000000000000000000000000000000000000"
check "a checksum mismatch fails the image" wait_for 30 phase_is vi/badsum Failed
expect_match "terminally, with the sums in the message" "ProvisioningFailedTerminally .*sha256 sum mismatch: 0{64} != $SUM" \
	"$(jp vi/badsum '{.status.conditions[?(@.type=="Ready")].reason} {.status.conditions[?(@.type=="Ready")].message}')"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	"http://127.0.0.1:$PREG/v2/vi/default/badsum/manifests/$(jp vi/badsum '{.metadata.uid}')")
expect_eq "and leaves no manifest in DVCR" 404 "$code"
vi_http missing "http://127.0.0.1:$PWWW/nope.qcow2"
check "a 404 fails the image" wait_for 30 phase_is vi/missing Failed
expect_match "with the status in the message" 'ProvisioningFailedTerminally .*answered 404' \
	"$(jp vi/missing '{.status.conditions[?(@.type=="Ready")].reason} {.status.conditions[?(@.type=="Ready")].message}')"

# Upload
printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: up, namespace: default}\nspec: {dataSource: {type: Upload, upload: {checksum: {sha256: "%s"}}}}\n' "$SUM" | k apply -f - >/dev/null
check "an Upload image waits for the user" wait_for 15 phase_is vi/up WaitForUserUpload
url=$(jp vi/up '{.status.imageUploadURLs.external}')
expect_match "it publishes an upload URL" '^http://127\.0\.0\.1:[0-9]+/upload/[0-9a-f]{64}$' "$url"
out=$(curl -s -T "$WWW/noble.qcow2" "$url")
expect_match "curl -T uploads the image" '"status":"ok"' "$out"
check "the uploaded image becomes Ready" wait_for 30 phase_is vi/up Ready
expect_eq "the upload URLs are gone once Ready" "" "$(jp vi/up '{.status.imageUploadURLs.external}')"
code=$(curl -s -o /dev/null -w '%{http_code}' -T "$WWW/noble.qcow2" "$url")
expect_eq "the URL takes no second upload" 404 "$code"

# ObjectRef: a ClusterVirtualImage from the VirtualImage, by mount
# every blob upload ends with a PUT .../blobs/uploads/<id>?digest=; a mount
# is a single POST ...?mount= answered 201
uploads() { grep -cE '"(PUT|PATCH) /v2/[^ ]*blobs/uploads/' "$REG/log" || true; }
uploads_before=$(uploads)
printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: ClusterVirtualImage\nmetadata: {name: golden}\nspec: {dataSource: {type: ObjectRef, objectRef: {kind: VirtualImage, name: noble, namespace: default}}}\n' | k apply -f - >/dev/null
check "an ObjectRef image becomes Ready" wait_for 30 phase_is cvi/golden Ready
expect_eq "sourceUID names the source" "$uid" "$(jp cvi/golden '{.status.sourceUID}')"
expect_eq "size and format are the source's" "qcow2 $VSIZE" "$(jp cvi/golden '{.status.format} {.status.size.unpackedBytes}')"
expect_eq "the copy uploaded no data (mounted)" "$uploads_before" "$(uploads)"
expect_match "it mounted the source's blobs" 'POST /v2/cvi/golden/blobs/uploads/\?mount=' "$(cat "$REG/log")"

# loss and recovery of an imported image: nothing is downloaded again
gets_before=$(grep -c 'GET /noble.qcow2 ' "$T_TMP/www.log" || true)
mv "$REG/storage" "$REG/storage.away"
check "the imported image goes ImageLost when the storage goes" wait_for 15 phase_is vi/noble ImageLost
mv "$REG/storage.away" "$REG/storage"
check "and comes back Ready" wait_for 15 phase_is vi/noble Ready
check "the uploaded image comes back Ready too" wait_for 15 phase_is vi/up Ready
sleep 2
expect_eq "the HTTP server saw no second request" "$gets_before" "$(grep -c 'GET /noble.qcow2 ' "$T_TMP/www.log" || true)"
expect_eq "the imported status is unchanged" "qcow2 $VSIZE 100%" "$(jp vi/noble '{.status.format} {.status.size.unpackedBytes} {.status.progress}')"

# /metrics after the imports and the loss/recovery
metrics=$(curl -s -H "Authorization: Bearer $VIM_TOKEN" "$VIM_URL/metrics")
mval() { printf '%s\n' "$metrics" | awk -v k="$1" '$1 == k {print $2}'; }
expect_eq "metrics: Ready VirtualImages" 3 "$(mval 'vimage_images{kind="VirtualImage",phase="Ready"}')"
expect_eq "metrics: Failed VirtualImages" 2 "$(mval 'vimage_images{kind="VirtualImage",phase="Failed"}')"
expect_eq "metrics: Ready ClusterVirtualImages" 1 "$(mval 'vimage_images{kind="ClusterVirtualImage",phase="Ready"}')"
expect_eq "metrics: imports succeeded" 4 "$(mval 'vimage_imports_total{result="succeeded"}')"
expect_eq "metrics: no finished import job is held once the status shows its outcome" 0 "$(mval 'vimage_imports{state="finished"}')"
check "metrics: the loss was seen as absent checks" test "$(mval 'vimage_presence_checks_total{result="absent"}')" -ge 1
expect_eq "metrics: the storage is up" 1 "$(mval 'vimage_dvcr_storage{state="up"}')"
check "metrics: DVCR requests are counted by method and class" test "$(mval 'vimage_dvcr_requests_total{method="GET",code="2xx"}')" -ge 1
expect_match "metrics: import durations are a histogram" 'vimage_import_duration_seconds_bucket\{le="\+Inf"\} 4' "$metrics"
check "metrics: the controllers' two caches watch the store" test "$(mval vimage_watchers)" -ge 2
expect_eq "metrics need the token" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$VIM_URL/metrics")"

# delete: the manifest goes from DVCR, then the object
k delete vi/up >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	"http://127.0.0.1:$PREG/v2/vi/default/up/manifests/$(jp vi/up '{.metadata.uid}' 2>/dev/null || echo gone)")
check "a deleted image is gone from the API" wait_for 10 sh -c "! $(printf '%q ' "${KUBECTL:-kubectl}") --kubeconfig $KUBECONFIG_FILE get vi/up"
vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"
exit "$T_FAILED"
