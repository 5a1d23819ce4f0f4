#!/usr/bin/env bash
# vimaged on a real etcd, seen from etcd's side with etcdctl: the keys are
# laid out as kube-apiserver lays out /registry
# (<prefix>/<group>/<resource>/<namespace>/<name>, cluster-scoped without
# the namespace), a value is the object's JSON and its mod_revision is the
# object's resourceVersion; a write made by another etcd client reaches
# vimaged's reads and makes a stale update through kubectl a 409 (decided
# by etcd's compare, not by vimaged's memory); an Event carries a lease
# whose TTL is --event-ttl, as kube-apiserver's Events do.
. "$(dirname "$0")/lib.sh"

command -v etcdctl >/dev/null || {
	not_ok "etcdctl (etcd-client) is installed"
	exit 1
}
VIM_STORE=etcd
VIM_ETCD_PREFIX=/vimage-keys-$$
P=$VIM_ETCD_PREFIX
G=virtualization.deckhouse.io
D=$T_TMP/data
etcd_vim_start "$D" --controllers off --event-ttl 120
ok "vimaged starts on etcd ($ETCD_ENDPOINTS, prefix $P)"

printf 'apiVersion: %s/v1alpha2\nkind: VirtualImage\nmetadata: {name: ubuntu, namespace: default, labels: {os: ubuntu}}\nspec: {dataSource: {type: Upload}}\n' "$G" |
	k apply -f - >/dev/null
printf 'apiVersion: %s/v1alpha2\nkind: ClusterVirtualImage\nmetadata: {name: golden}\nspec: {dataSource: {type: Upload}}\n' "$G" |
	k apply -f - >/dev/null
keys=$(ectl get --prefix "$P/" --keys-only 2>&1 | sed '/^$/d')
expect_match "a VirtualImage's key is <prefix>/<group>/virtualimages/<namespace>/<name>" \
	"^$P/$G/virtualimages/default/ubuntu\$" "$keys"
expect_match "a ClusterVirtualImage's key is <prefix>/<group>/clustervirtualimages/<name>" \
	"^$P/$G/clustervirtualimages/golden\$" "$keys"
expect_match "the default namespace lives under <prefix>/namespaces/default" \
	"^$P/namespaces/default\$" "$keys"
other=$(printf '%s\n' "$keys" | grep -v "^$P/" || true)
expect_eq "nothing is written outside the prefix" "" "$other"

K=$P/$G/virtualimages/default/ubuntu
val=$(ectl get "$K" --print-value-only)
expect_eq "the value is the object's JSON" "ubuntu default Upload" \
	"$(printf '%s' "$val" | jq -r '"\(.metadata.name) \(.metadata.namespace) \(.spec.dataSource.type)"' 2>&1)"
modrev=$(ectl get "$K" -w json | jq -r '.kvs[0].mod_revision')
expect_eq "resourceVersion is the key's etcd mod_revision" "$modrev" \
	"$(k get vi ubuntu -o jsonpath='{.metadata.resourceVersion}')"

# another etcd client changes the object: vimaged's reads follow (its
# watch cache is fed by etcd's watch), and the resourceVersion kubectl
# held is now stale: etcd's compare refuses the update
k get vi ubuntu -o json >"$T_TMP/stale.json"
printf '%s' "$val" | jq -c '.metadata.labels.os = "changed-in-etcd"' >"$T_TMP/changed.json"
ectl put "$K" <"$T_TMP/changed.json" >/dev/null
newrev=$(ectl get "$K" -w json | jq -r '.kvs[0].mod_revision')
# (at once, no polling: a list without resourceVersion is consistent, the
# cache first catches up with etcd's current revision, KEP-2340)
expect_eq "a write by another etcd client is in the next list, with its mod_revision" "changed-in-etcd $newrev" \
	"$(api GET "/apis/$G/v1alpha2/namespaces/default/virtualimages" | jq -r '.items[] | select(.metadata.name == "ubuntu") | "\(.metadata.labels.os) \(.metadata.resourceVersion)"')"
expect_eq "and in a get" changed-in-etcd "$(k get vi ubuntu -o jsonpath='{.metadata.labels.os}')"
sed -i 's/"os": "ubuntu"/"os": "from-stale-copy"/' "$T_TMP/stale.json"
out=$(k replace -f "$T_TMP/stale.json" 2>&1)
expect_match "an update with the stale resourceVersion is a 409 Conflict" 'the object has been modified' "$out"
expect_eq "and etcd's value is the other client's" changed-in-etcd "$(ectl get "$K" --print-value-only | jq -r .metadata.labels.os)"
code=$(api PUT "/apis/$G/v1alpha2/namespaces/default/virtualimages/ubuntu" -H 'Content-Type: application/json' \
	--data-binary @"$T_TMP/stale.json" -o "$T_TMP/409.out" -w '%{http_code}')
expect_eq "the raw PUT is a 409" 409 "$code"
expect_match "with reason Conflict" '"reason": ?"Conflict"' "$(cat "$T_TMP/409.out")"
out=$(k label vi ubuntu fresh=1 2>&1)
expect_match "an update from the current resourceVersion goes through" 'labeled' "$out"
expect_eq "and its new resourceVersion is etcd's mod_revision again" \
	"$(ectl get "$K" -w json | jq -r '.kvs[0].mod_revision')" "$(k get vi ubuntu -o jsonpath='{.metadata.resourceVersion}')"

# a delete by another etcd client: gone from vimaged's reads too
ectl del "$P/$G/clustervirtualimages/golden" >/dev/null
check "a delete by another etcd client shows in a get" wait_for 5 \
	sh -c "! $(printf '%q ' "${KUBECTL:-kubectl}") --kubeconfig $KUBECONFIG_FILE --cache-dir $T_TMP/kc2 get cvi golden"

# an Event: its key goes with a lease of --event-ttl seconds
uid=$(k get vi ubuntu -o jsonpath='{.metadata.uid}')
cat >"$T_TMP/ev.yaml" <<YAML
apiVersion: v1
kind: Event
metadata: {name: ubuntu.lease1, namespace: default}
involvedObject: {apiVersion: $G/v1alpha2, kind: VirtualImage, name: ubuntu, namespace: default, uid: $uid}
reason: VirtualImageLost
message: The image data is no longer available and needs to be recreated.
type: Warning
count: 1
YAML
out=$(k create -f "$T_TMP/ev.yaml" 2>&1)
expect_match "an Event is created" 'created' "$out"
ek=$(ectl get --prefix "$P/" --keys-only | grep '/events/default/ubuntu.lease1$' || true)
expect_match "the Event's key is <prefix>/events/<namespace>/<name>" "^$P/events/default/ubuntu.lease1\$" "$ek"
# (-w fields: a lease id passes 2^53, which jq would round)
lease=$(ectl get "${ek:-none}" -w fields 2>/dev/null | sed -n 's/^"Lease" : //p')
if [ -n "$ek" ] && [ "${lease:-0}" != 0 ]; then ok "the Event's key carries a lease"; else
	not_ok "the Event's key carries a lease (lease=${lease:-none})"
fi
ttl=$(ectl lease timetolive "$(printf '%x' "${lease:-0}")" 2>/dev/null)
granted=$(printf '%s' "$ttl" | sed -n 's/.*granted with TTL(\([0-9]*\)s).*/\1/p')
left=$(printf '%s' "$ttl" | sed -n 's/.*remaining(\([0-9]*\)s).*/\1/p')
# kube's leaseManager grants the TTL plus a reuse window of 5 % of it (60 s
# at most) and hands the same lease to the Events of that window: an Event
# lives --event-ttl, and at most that window longer (120 s: 126 s)
if [ "${granted:-0}" -ge 120 ] && [ "${granted:-0}" -le 126 ] && [ "${left:-0}" -ge 115 ]; then
	ok "the lease's TTL is --event-ttl (granted $granted s, $left s left)"
else
	not_ok "the lease's TTL is --event-ttl 120 plus kube's reuse window, 5 % (saw '$ttl')"
fi
ev=$(ectl get --prefix "$P/" --keys-only | grep -c '/events/' || true)
vis=$(ectl get --prefix "$P/$G/" -w json | jq '[.kvs[]? | select(.lease != null and .lease != 0)] | length')
expect_eq "no image's key carries a lease" 0 "$vis"
# the lease expiring (revoked here, not waited for) deletes the Event
ectl lease revoke "$(printf '%x' "${lease:-0}")" >/dev/null 2>&1
check "when its lease goes, the Event is gone from vimaged's reads ($ev Event keys before)" wait_for 5 \
	sh -c "! $(printf '%q ' "${KUBECTL:-kubectl}") --kubeconfig $KUBECONFIG_FILE --cache-dir $T_TMP/kc2 get event ubuntu.lease1"

vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"
exit "$T_FAILED"
