#!/usr/bin/env bash
# vimaged's Kubernetes-compatible API driven by the real kubectl: apply, get
# (Table columns), get -o yaml, explain, describe with events, get -w, wait,
# finalizers, validation, immutability, conflicts, body limits, restart.
. "$(dirname "$0")/lib.sh"

D=$T_TMP/data
# the API alone: these tests set statuses by hand, and their URLs lead nowhere
vim_start "$D" --controllers off || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts and answers /healthz"

cat >"$T_TMP/vi.yaml" <<'YAML'
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: ubuntu
  namespace: default
  labels:
    os: ubuntu
spec:
  storage: ContainerRegistry
  dataSource:
    type: HTTP
    http:
      url: https://cloud-images.example.org/noble.qcow2
      checksum:
        sha256: 9f0c7a6f4f4e0b0e3a9c4f5c2b1a0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c
YAML
cat >"$T_TMP/cvi.yaml" <<'YAML'
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: ClusterVirtualImage
metadata:
  name: ubuntu-golden
spec:
  dataSource:
    type: ObjectRef
    objectRef:
      kind: VirtualImage
      name: ubuntu
      namespace: default
YAML

# apply with default (client-side) validation: needs /openapi/v3
out=$(k apply -f "$T_TMP/vi.yaml" 2>&1)
expect_match "apply creates a VirtualImage" 'virtualimage.virtualization.deckhouse.io/ubuntu created' "$out"
out=$(k apply -f "$T_TMP/cvi.yaml" 2>&1)
expect_match "apply creates a ClusterVirtualImage" 'clustervirtualimage.virtualization.deckhouse.io/ubuntu-golden created' "$out"

sed -i 's/os: ubuntu/os: ubuntu-noble/' "$T_TMP/vi.yaml"
out=$(k apply -f "$T_TMP/vi.yaml" 2>&1)
expect_match "apply again with a label change is configured" 'ubuntu configured' "$out"
expect_eq "the label change is stored" "ubuntu-noble" "$(k get vi ubuntu -o jsonpath='{.metadata.labels.os}')"
expect_eq "apply on the main resource keeps generation 1 for a label change" "1" \
	"$(k get vi ubuntu -o jsonpath='{.metadata.generation}')"

out=$(k get vi 2>&1)
expect_match "get vi shows the printer columns" '^NAME +PHASE +CDROM +PROGRESS +AGE' "$out"
out=$(k get vi -o wide 2>&1)
expect_match "get vi -o wide shows the priority-1 columns" 'STOREDSIZE +UNPACKEDSIZE +REGISTRY URL +TARGETPVC' "$out"
out=$(k get cvi -o wide 2>&1)
expect_match "get cvi -o wide has no TargetPVC column" '^NAME +PHASE +CDROM +PROGRESS +STOREDSIZE +UNPACKEDSIZE +REGISTRY URL +AGE' "$out"
out=$(k get virtualization -A 2>&1)
# (one kind in the category: kubectl prints bare names, no kind prefix)
expect_match "the virtualization category lists VirtualImages" 'default +ubuntu' "$out"

# get -o yaml round-trips: what comes back applies as a no-op
k get vi ubuntu -o yaml >"$T_TMP/back.yaml"
expect_match "get -o yaml carries the spec" 'url: https://cloud-images.example.org/noble.qcow2' "$(cat "$T_TMP/back.yaml")"
out=$(k replace -f "$T_TMP/back.yaml" 2>&1)
expect_match "the yaml from get replaces cleanly" 'ubuntu replaced' "$out"
expect_eq "a no-op replace does not bump generation" "1" "$(k get vi ubuntu -o jsonpath='{.metadata.generation}')"

out=$(k explain vi.spec.dataSource.http 2>&1)
expect_match "explain vi.spec.dataSource.http prints the field docs" 'checksum' "$out"

# events: one created through the API shows up in describe
uid=$(k get vi ubuntu -o jsonpath='{.metadata.uid}')
cat >"$T_TMP/ev.yaml" <<YAML
apiVersion: v1
kind: Event
metadata:
  name: ubuntu.test1
  namespace: default
involvedObject:
  apiVersion: virtualization.deckhouse.io/v1alpha2
  kind: VirtualImage
  name: ubuntu
  namespace: default
  uid: $uid
reason: VirtualImageLost
message: The image data is no longer available and needs to be recreated.
type: Warning
count: 1
YAML
k create -f "$T_TMP/ev.yaml" >/dev/null 2>&1
out=$(k describe vi ubuntu 2>&1)
expect_match "describe shows the image's events" 'Warning +VirtualImageLost' "$out"

# get -w sees a status change made through /status
k get vi ubuntu -w --output-watch-events >"$T_TMP/watch.out" 2>&1 &
wpid=$!
sleep 1.5
k patch vi ubuntu --subresource=status --type=merge -p '{"status":{"phase":"Ready","progress":"100%"}}' >/dev/null 2>&1
wait_for 10 grep -q 'MODIFIED.*Ready' "$T_TMP/watch.out"
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
expect_match "get -w sees the status change" 'MODIFIED +ubuntu +Ready' "$(cat "$T_TMP/watch.out")"
check "wait --for=jsonpath sees phase Ready" k wait vi/ubuntu --for=jsonpath='{.status.phase}'=Ready --timeout=10s
expect_eq "a status change does not bump generation" "1" "$(k get vi ubuntu -o jsonpath='{.metadata.generation}')"

# validation: upstream's messages
cat >"$T_TMP/bad.yaml" <<'YAML'
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: bad
  namespace: default
spec:
  dataSource:
    type: HTTP
    containerImage:
      image: registry.example.org/img:1
YAML
out=$(k apply -f "$T_TMP/bad.yaml" 2>&1)
expect_match "an invalid data source is refused with upstream's message" 'HTTP requires http and cannot have ContainerImage, ObjectRef or Upload' "$out"
sed -i 's/name: bad/name: bad.name/' "$T_TMP/bad.yaml"
out=$(k create -f "$T_TMP/bad.yaml" 2>&1)
expect_match "a dot in the name is refused with upstream's message" "the VirtualImage name \"bad.name\" is invalid: '.' is forbidden" "$out"

# a spec change after Ready is refused
out=$(k patch vi ubuntu --type=merge -p '{"spec":{"dataSource":{"http":{"url":"https://other.example.org/x.img"}}}}' 2>&1)
expect_match "a data source change after Ready is refused" 'data source cannot be changed if the VirtualImage has already been provisioned' "$out"

# a stale update gets 409
k get vi ubuntu -o json >"$T_TMP/stale.json"
k label vi ubuntu extra=1 >/dev/null
out=$(k replace -f "$T_TMP/stale.json" 2>&1)
expect_match "a stale update gets a 409 conflict" 'the object has been modified' "$out"

# a 2 MiB body gets 413 before being read whole
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$T_TMP/big.json"
code=$(curl -s -o "$T_TMP/big.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $VIM_TOKEN" \
	-H 'Content-Type: application/json' --data-binary @"$T_TMP/big.json" \
	"$VIM_URL/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualimages")
expect_eq "a 2 MiB body gets 413" "413" "$code"
expect_match "the 413 is a Status" '"kind": ?"Status"' "$(cat "$T_TMP/big.out")"
code=$(curl -s -o /dev/null -w '%{http_code}' "$VIM_URL/apis/virtualization.deckhouse.io/v1alpha2/virtualimages")
expect_eq "a request without a token gets 401" "401" "$code"

# namespaces, field validation, malformed bodies, expired watches
expect_match "kubectl get ns lists default" '^default +Active' "$(k get ns 2>&1)"
sed -e 's/name: ubuntu$/name: strict/' -e 's/^  storage: ContainerRegistry/  storage: ContainerRegistry\n  bogus: 1/' "$T_TMP/vi.yaml" >"$T_TMP/strict.yaml"
out=$(k apply -f "$T_TMP/strict.yaml" 2>&1)
expect_match "an unknown field is refused under Strict validation" 'unknown field "spec.bogus"' "$out"
out=$(k apply --validate=warn -f "$T_TMP/strict.yaml" 2>&1)
expect_match "under Warn the object is created with a warning" 'unknown field.*spec.bogus' "$out"
code=$(api POST /apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualimages \
	-H 'Content-Type: application/json' --data '{"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind":' \
	-o "$T_TMP/bad.out" -w '%{http_code}')
expect_eq "a malformed body gets 400" "400" "$code"
expect_match "the 400 is a Status" '"reason": ?"BadRequest"' "$(cat "$T_TMP/bad.out")"
out=$(api GET '/apis/virtualization.deckhouse.io/v1alpha2/virtualimages?limit=1')
expect_match "a limited list hands out a continue token" '"continue":"[A-Za-z0-9+/=]+"' "$out"

# delete with a finalizer waits for it
k patch vi ubuntu --type=merge -p '{"metadata":{"finalizers":["example.org/hold"]}}' >/dev/null
k delete vi ubuntu --wait=false >/dev/null 2>&1
ts=$(k get vi ubuntu -o jsonpath='{.metadata.deletionTimestamp}' 2>&1)
expect_match "delete of an object with a finalizer sets deletionTimestamp and keeps it" '^[0-9]{4}-' "$ts"
k patch vi ubuntu --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null 2>&1
check "removing the last finalizer deletes it" wait_for 10 sh -c "! $(printf '%q ' "${KUBECTL:-kubectl}") --kubeconfig $KUBECONFIG_FILE --cache-dir $T_TMP/kc2 get vi ubuntu"

# restart keeps every object and resourceVersion order
for i in 1 2 3; do
	sed -e "s/name: ubuntu$/name: img-$i/" -e 's/^  labels:/  labels:/' "$T_TMP/vi.yaml" | k apply -f - >/dev/null
done
before=$(k get vi -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}')
last_rv=$(k get vi img-3 -o jsonpath='{.metadata.resourceVersion}')
vim_stop
expect_eq "vimaged exits 0 on SIGTERM" "0" "$?"
vim_start "$D" --controllers off || not_ok "vimaged restarts"
after=$(k get vi -o jsonpath='{range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}')
expect_eq "restart keeps every object and its resourceVersion" "$before" "$after"
k label vi img-1 after=restart >/dev/null
new_rv=$(k get vi img-1 -o jsonpath='{.metadata.resourceVersion}')
if [ "$new_rv" -gt "$last_rv" ]; then ok "resourceVersions keep increasing after a restart"; else
	not_ok "resourceVersions keep increasing after a restart ($new_rv <= $last_rv)"
fi

# the watch history is in memory: after a restart an old resourceVersion is Gone
out=$(api GET '/apis/virtualization.deckhouse.io/v1alpha2/virtualimages?watch=true&resourceVersion=1&timeoutSeconds=2' --max-time 5)
expect_match "a watch from a resourceVersion older than the history is 410 Gone" '"type":"ERROR".*"code":410' "$out"

# the same basic flow with the oldest and newest supported kubectl
for v in 1.27 1.33; do
	KUBECTL="$KUBECTL_DIR/kubectl.$v"
	sed -e "s/name: ubuntu$/name: kc-${v/./-}/" "$T_TMP/vi.yaml" >"$T_TMP/v.yaml"
	out=$(KUBECTL=$KUBECTL k apply -f "$T_TMP/v.yaml" 2>&1)
	expect_match "kubectl $v: apply" 'created' "$out"
	out=$(KUBECTL=$KUBECTL k get vi "kc-${v/./-}" 2>&1)
	expect_match "kubectl $v: get shows the columns" '^NAME +PHASE +CDROM +PROGRESS +AGE' "$out"
	out=$(KUBECTL=$KUBECTL k explain vi.spec.dataSource 2>&1)
	expect_match "kubectl $v: explain" 'http' "$out"
	out=$(KUBECTL=$KUBECTL k delete vi "kc-${v/./-}" 2>&1)
	expect_match "kubectl $v: delete" 'deleted' "$out"
done
exit "$T_FAILED"
