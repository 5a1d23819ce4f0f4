#!/usr/bin/env bash
# The ContainerImage source end to end: a second docker-registry with TLS
# (its own CA, given as caBundle) and basic auth (a pull secret file) holds
# images whose disk is disk/<name> in a layer: gzip OCI, plain tar with
# "./disk/", a multi-arch index, one with no disk at all.  vimaged (with its
# own managed DVCR) pulls them into Ready images.
. "$(dirname "$0")/lib.sh"

SRC=$T_TMP/src
src_registry_start "$SRC" || { not_ok "the source registry starts"; exit 1; }
PSRC=$SRC_PORT

# OCI layouts made by hand: blobs, config, manifest, index
blob() { oci_blob "$@"; }
manifest() { oci_manifest "$@"; }
layout_index() { # LAYOUT ENTRIES-JSON
	echo '{"imageLayoutVersion":"1.0.0"}' >"$1/oci-layout"
	printf '{"schemaVersion":2,"manifests":[%s]}' "$2" >"$1/index.json"
}
push() { # LAYOUT:REF REPO:TAG [--all]
	skopeo copy -q ${3:-} --dest-tls-verify=false --dest-creds 'puller:s3cret pass' \
		"oci:$1" "docker://127.0.0.1:$PSRC/$2" >"$T_TMP/skopeo.log" 2>&1
}
OCT='application/vnd.oci.image.manifest.v1+json'
GZ='application/vnd.oci.image.layer.v1.tar+gzip'
TAR='application/vnd.oci.image.layer.v1.tar'

mkdir -p "$T_TMP/ctx/disk" "$T_TMP/ctx2/disk" "$T_TMP/empty/etc"
qemu-img create -q -f qcow2 "$T_TMP/ctx/disk/noble.qcow2" 48M
VSIZE=$(qemu-img info --output=json "$T_TMP/ctx/disk/noble.qcow2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
head -c 1048576 /dev/zero >"$T_TMP/ctx2/disk/arm.img"
echo hi >"$T_TMP/empty/etc/motd"
tar -C "$T_TMP/ctx" -cf "$T_TMP/l1.tar" disk && gzip -n -k "$T_TMP/l1.tar"
tar -C "$T_TMP/ctx" -cf "$T_TMP/l2.tar" ./disk
tar -C "$T_TMP/ctx2" -czf "$T_TMP/l3.tgz" disk
tar -C "$T_TMP/empty" -czf "$T_TMP/l4.tgz" etc
# a layer cut inside its second header (etc/ at 0, etc/motd at 512)
tar -C "$T_TMP/empty" -cf - etc | head -c 1000 >"$T_TMP/l5.tar"

L=$T_TMP/oci
read -r m1 s1 < <(manifest "$L" "$T_TMP/l1.tar.gz" "$GZ" amd64)
read -r m2 s2 < <(manifest "$L" "$T_TMP/l2.tar" "$TAR" amd64)
read -r m3 s3 < <(manifest "$L" "$T_TMP/l3.tgz" "$GZ" arm64)
read -r m4 s4 < <(manifest "$L" "$T_TMP/l4.tgz" "$GZ" amd64)
read -r m5 s5 < <(manifest "$L" "$T_TMP/l5.tar" "$TAR" amd64)
ent() { printf '{"mediaType":"%s","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}' "$OCT" "$1" "$2" "$3"; }
plat() { printf '{"mediaType":"%s","digest":"sha256:%s","size":%s,"platform":{"os":"linux","architecture":"%s"}}' "$OCT" "$1" "$2" "$3"; }
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s,%s]}' \
	"$(plat "$m3" "$s3" arm64)" "$(plat "$m1" "$s1" amd64)" >"$T_TMP/idx.json"
mi=$(blob "$L" "$T_TMP/idx.json")
layout_index "$L" "$(ent "$m1" "$s1" gz),$(ent "$m2" "$s2" tar),$(ent "$m4" "$s4" nodisk),$(ent "$m5" "$s5" cut),$(printf '{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"multi"}}' "$mi" "$(stat -c %s "$T_TMP/idx.json")")"
push "$L:gz" disks/noble:gz && push "$L:tar" disks/noble:tar && push "$L:nodisk" disks/noble:nodisk && push "$L:cut" disks/noble:cut &&
	push "$L:multi" disks/noble:multi --all || { not_ok "skopeo pushes the test images"; sed 's/^/#   /' "$T_TMP/skopeo.log"; exit 1; }
ok "the source registry holds the test images (TLS, basic auth)"

DATA=$T_TMP/data
mkdir -p "$DATA/secrets/default" "$DATA/secrets/infra"
printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}\n' "$PSRC" "$(printf 'puller:s3cret pass' | base64 -w0)" >"$DATA/secrets/default/regcred.json"
printf '{"auths":{"https://127.0.0.1:%s":{"username":"puller","password":"s3cret pass"}}}\n' "$PSRC" >"$DATA/secrets/infra/cvi-cred.json"
vim_start "$DATA" || { not_ok "vimaged starts"; exit 1; }
CA=$(base64 -w0 "$SRC/tls.crt")

phase_is() { [ "$(k get "$1" -o jsonpath='{.status.phase}' 2>/dev/null)" = "$2" ]; }
jp() { k get "$1" -o jsonpath="$2"; }
ready_cond() { jp "$1" '{.status.conditions[?(@.type=="Ready")].reason} {.status.conditions[?(@.type=="Ready")].message}'; }
vi_ci() { # NAME TAG [SECRET] [CA]
	local sec="" ca=""
	[ -n "${3:-}" ] && sec=", imagePullSecret: {name: $3}"
	[ -n "${4:-}" ] && ca=", caBundle: $4"
	printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: %s, namespace: default}\nspec: {dataSource: {type: ContainerImage, containerImage: {image: "127.0.0.1:%s/disks/noble:%s"%s%s}}}\n' \
		"$1" "$PSRC" "$2" "$sec" "$ca" | k apply -f - >/dev/null
}

vi_ci gz gz regcred "$CA"
check "a gzip OCI layer with disk/ becomes Ready" wait_for 30 phase_is vi/gz Ready
expect_eq "format and virtual size as qemu-img says" "qcow2 $VSIZE" "$(jp vi/gz '{.status.format} {.status.size.unpackedBytes}')"
expect_eq "the stored size is the disk file's" "$(stat -c %s "$T_TMP/ctx/disk/noble.qcow2")" "$(jp vi/gz '{.status.size.storedBytes}')"
PDVCR=$(cat "$DATA/dvcr/port")
expect_match "DVCR holds it in its own layout" 'source-image-format": "qcow2"' \
	"$(skopeo inspect --tls-verify=false --creds "vimage:$(cat "$DATA/dvcr/password")" "docker://127.0.0.1:$PDVCR/vi/default/gz:$(jp vi/gz '{.metadata.uid}')" 2>&1)"

vi_ci tar tar regcred "$CA"
check "a plain tar layer with ./disk/ becomes Ready" wait_for 30 phase_is vi/tar Ready
vi_ci multi multi regcred "$CA"
check "a multi-arch index becomes Ready" wait_for 30 phase_is vi/multi Ready
expect_eq "from its linux/amd64 image" "qcow2" "$(jp vi/multi '{.status.format}')"

vi_ci nodisk nodisk regcred "$CA"
check "an image without disk/ fails" wait_for 30 phase_is vi/nodisk Failed
expect_match "terminally, saying so" 'ProvisioningFailedTerminally .*no layer holds a disk/ file' "$(ready_cond vi/nodisk)"

vi_ci cut cut regcred "$CA"
check "an image whose layer is a cut tar fails" wait_for 30 phase_is vi/cut Failed
expect_match "terminally, as a truncated tar rather than a layer without a disk" \
	'ProvisioningFailedTerminally .*layer: truncated tar at offset 1000' "$(ready_cond vi/cut)"

vi_ci nosuch nosuchtag regcred "$CA"
check "a tag that does not exist fails" wait_for 30 phase_is vi/nosuch Failed
expect_match "naming the manifest" 'ProvisioningFailedTerminally .*nosuchtag' "$(ready_cond vi/nosuch)"

vi_ci noca gz regcred
check "without the caBundle the TLS check fails the import" wait_for 30 phase_is vi/noca Failed
expect_match "as a retryable failure naming the image and the certificate" "ProvisioningFailed .*127.0.0.1:$PSRC/disks/noble:gz.*(certificate|SSL)" "$(ready_cond vi/noca)"

vi_ci anon gz "" "$CA"
check "without credentials the registry refuses" wait_for 30 phase_is vi/anon Failed
expect_match "with the registry's answer" 'ProvisioningFailed .*(401|UNAUTHORIZED|unauthorized)' "$(ready_cond vi/anon)"

vi_ci later gz latecred "$CA"
check "a missing pull secret is reported" wait_for 15 sh -c "[ \"\$($(printf '%q ' "${KUBECTL:-kubectl}") --kubeconfig $KUBECONFIG_FILE get vi/later -o jsonpath='{.status.conditions[?(@.type==\"DatasourceReady\")].reason}')\" = ContainerRegistrySecretNotFound ]"
expect_match "with upstream's message" 'Container registry secret not found' "$(jp vi/later '{.status.conditions[?(@.type=="DatasourceReady")].message}')"
cp "$DATA/secrets/default/regcred.json" "$DATA/secrets/default/latecred.json"
check "once the secret exists the image imports" wait_for 45 phase_is vi/later Ready

printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: ClusterVirtualImage\nmetadata: {name: golden-ci}\nspec: {dataSource: {type: ContainerImage, containerImage: {image: "127.0.0.1:%s/disks/noble:gz", imagePullSecret: {name: cvi-cred, namespace: infra}, caBundle: %s}}}\n' "$PSRC" "$CA" | k apply -f - >/dev/null
check "a ClusterVirtualImage from a registry becomes Ready" wait_for 30 phase_is cvi/golden-ci Ready
expect_eq "with the same virtual size" "$VSIZE" "$(jp cvi/golden-ci '{.status.size.unpackedBytes}')"

# the retry waits 30 s (doubling): no tight loop against a failing registry
gaps=$(grep 'import VirtualImage default/noca' "$DATA/vimaged.log" | cut -c1-20 |
	python3 -c 'import sys, datetime as d
t = [d.datetime.strptime(l.strip(), "%Y-%m-%dT%H:%M:%SZ").timestamp() for l in sys.stdin]
print("ok" if t and all(b - a >= 29 for a, b in zip(t, t[1:])) else "attempts at %s" % t)')
expect_eq "a failed pull is retried no sooner than 30 s later" ok "$gaps"
vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"
exit "$T_FAILED"
