#!/usr/bin/env bash
# vimaged on a three-member etcd cluster on loopback, given all three
# endpoints: kill -9 the member it talks to first, then (that one back)
# the cluster's leader; creates, gets, lists and a watch keep working
# through the two members left, and what was written before is there.
. "$(dirname "$0")/lib.sh"

command -v etcdctl >/dev/null || {
	not_ok "etcdctl (etcd-client) is installed"
	exit 1
}
VIM_STORE=etcd
VIM_ETCD_PREFIX=/vimage-cluster-$$
G=virtualization.deckhouse.io
R=/apis/$G/v1alpha2/namespaces/default/virtualimages
etcd_cluster_start || {
	not_ok "a three-member etcd starts"
	exit 1
}
ok "three etcd members: $ETCD_ENDPOINTS"
vim_start "$T_TMP/data" --controllers off --etcd-timeout 2000 || {
	not_ok "vimaged starts on the cluster"
	exit 1
}
ok "vimaged starts with the three endpoints"

mkvi() { printf 'apiVersion: %s/v1alpha2\nkind: VirtualImage\nmetadata: {name: %s, namespace: default}\nspec: {dataSource: {type: Upload}}\n' "$G" "$1"; }
# create_soon NAME: kubectl creates NAME within 10 s.  A leader election
# takes a second or two and a write in it may be refused: it is tried
# again (AlreadyExists then means the refused one had committed); the
# refusals are counted in CREATE_TRIES.
create_soon() {
	local deadline=$(($(date +%s) + 10)) out
	CREATE_TRIES=0
	while :; do
		CREATE_TRIES=$((CREATE_TRIES + 1))
		out=$(mkvi "$1" | k create -f - 2>&1) && return 0
		case "$out" in *"already exists"*) return 0 ;; esac
		echo "# try $CREATE_TRIES: $out"
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.3
	done
}
readyz_passes() { [ "$(curl -s -o /dev/null -w '%{http_code}' -m 5 "$VIM_URL/readyz")" = 200 ]; }
names() { k get vi -o jsonpath='{.items[*].metadata.name}'; }
for n in b1 b2 b3; do mkvi "$n" | k apply -f - >/dev/null; done
expect_eq "three images written" "b1 b2 b3" "$(names)"
rv=$(api GET "$R" | jq -r .metadata.resourceVersion)
watch_start "$T_TMP/cluster.watch" "$R?watch=true&resourceVersion=$rv&timeoutSeconds=50" --max-time 55
wpid=$WATCH_PID

# through_two LABEL NEW: with one member dead, kubectl works
through_two() {
	local what=$1 n=$2 t0=$KILLED_AT out
	if create_soon "$n"; then ok "$what: a create goes through the members left"; else
		not_ok "$what: a create goes through the members left"
	fi
	echo "# $what: created after $(($(date +%s) - t0)) s, $CREATE_TRIES tries"
	expect_eq "$what: a get" "$n" "$(k get vi "$n" -o jsonpath='{.metadata.name}' 2>&1)"
	out=$(k label vi b1 "seen-$n=1" 2>&1)
	expect_match "$what: an update" 'labeled' "$out"
	expect_match "$what: a list has what was written before" "^b1 b2 b3 .*$n" "$(names)"
	check "$what: the watch open since before sees the create" \
		wait_for 10 grep -q "\"type\":\"ADDED\".*\"name\":\"$n\"" "$T_TMP/cluster.watch"
	# (an election makes the store check fail for a moment, as etcd's own
	# /health does: ready again within 5 s of the kill)
	if wait_for $((t0 + 5 - $(date +%s))) readyz_passes; then ok "$what: /readyz passes"; else
		not_ok "$what: /readyz passes within 5 s of the kill"
		curl -s -m 5 "$VIM_URL/readyz?verbose" | sed 's/^/#   /'
	fi
	check "$what: vimaged runs" kill -0 "$VIM_PID"
}

first=${ETCD_NAMES[0]}
etcd_kill "$first"
KILLED_AT=$(date +%s)
through_two "$first (vimaged's first endpoint) killed" c1
etcd_restart "$first" || not_ok "$first starts again on its data dir"
check "$first catches up with the cluster" wait_for 10 sh -c "ETCDCTL_API=3 etcdctl --endpoints ${ETCD_URL_OF[$first]} get --consistency=s --prefix $VIM_ETCD_PREFIX/$G/virtualimages/default/c1 --keys-only | grep -q c1"

leader=$(ectl endpoint status -w json | jq -r '.[] | select(.Status.leader == .Status.header.member_id) | .Endpoint')
lname=
for n in "${ETCD_NAMES[@]}"; do [ "${ETCD_URL_OF[$n]}" = "$leader" ] && lname=$n; done
check "the cluster has a leader (${lname:-none})" test -n "$lname"
etcd_kill "${lname:-${ETCD_NAMES[1]}}"
KILLED_AT=$(date +%s)
through_two "the leader ${lname:-?} killed" c2

expect_eq "every image, from before and during the kills" "b1 b2 b3 c1 c2" "$(names)"
expect_eq "and the labels written through the kills" "1 1" \
	"$(k get vi b1 -o jsonpath='{.metadata.labels.seen-c1} {.metadata.labels.seen-c2}')"
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
if grep -q '"type":"ERROR"' "$T_TMP/cluster.watch"; then
	not_ok "the watch never ended with an error"
	grep '"type":"ERROR"' "$T_TMP/cluster.watch" | sed 's/^/#   /'
else ok "the watch never ended with an error"; fi
vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"
exit "$T_FAILED"
