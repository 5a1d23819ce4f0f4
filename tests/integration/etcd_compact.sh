#!/usr/bin/env bash
# etcd's compaction as kube-apiserver's clients meet it, with the real etcd
# and etcdctl: a continue token from before `etcdctl compact` is 410
# Expired with kube's message; a list at an Exact resourceVersion etcd has
# compacted is 410; a watch from a resourceVersion older than the watch
# cache's window is 410 "too old resource version"; and a watch cache whose
# etcd watch comes back to a compacted revision reads everything again
# (its open watches end with 410, a relist sees what other clients wrote).
. "$(dirname "$0")/lib.sh"

command -v etcdctl >/dev/null || {
	not_ok "etcdctl (etcd-client) is installed"
	exit 1
}
VIM_STORE=etcd
VIM_ETCD_PREFIX=/vimage-compact-$$
P=$VIM_ETCD_PREFIX
G=virtualization.deckhouse.io
R=/apis/$G/v1alpha2/namespaces/default/virtualimages
D=$T_TMP/data
etcd_vim_start "$D" --controllers off
ok "vimaged starts on etcd"
for i in 1 2 3 4 5; do
	printf 'apiVersion: %s/v1alpha2\nkind: VirtualImage\nmetadata: {name: c%s, namespace: default}\nspec: {dataSource: {type: Upload}}\n' "$G" "$i"
	echo ---
done | k apply -f - >/dev/null
expect_eq "five images" "c1 c2 c3 c4 c5" "$(k get vi -o jsonpath='{.items[*].metadata.name}')"

# a paged list: the pages are read at the first page's revision
api GET "$R?limit=2" >"$T_TMP/page1.json"
tok=$(jq -r '.metadata.continue // empty' "$T_TMP/page1.json")
rv1=$(jq -r '.metadata.resourceVersion' "$T_TMP/page1.json")
check "the first page hands out a continue token" test -n "$tok"
k label vi c5 late=1 >/dev/null
k delete vi c4 >/dev/null
api GET "$R?limit=2&continue=$tok" >"$T_TMP/page2.json"
expect_eq "the second page is read at the first page's revision (c4, deleted since, is on it)" \
	"$rv1 c3 c4" "$(jq -r '"\(.metadata.resourceVersion) \([.items[].metadata.name] | join(" "))"' "$T_TMP/page2.json")"
tok2=$(jq -r '.metadata.continue // empty' "$T_TMP/page2.json")
api GET "$R?limit=2&continue=$tok2" >"$T_TMP/page3.json"
expect_eq "and so is the third (c5 without the label it got since)" "$rv1 c5= ''" \
	"$(jq -r '"\(.metadata.resourceVersion) \([.items[] | "\(.metadata.name)=\(.metadata.labels.late // "")"] | join(" ")) '"'"'\(.metadata.continue // "")'"'"'"' "$T_TMP/page3.json")"

# etcdctl compacts everything up to now: the token's revision is gone
rev=$(etcd_rev)
out=$(ectl compact "$rev" 2>&1)
expect_match "etcdctl compacts to revision $rev" "compacted revision $rev" "$out"
code=$(api GET "$R?limit=2&continue=$tok2" -o "$T_TMP/expired.json" -w '%{http_code}')
expect_eq "a continue token older than the compaction is 410" 410 "$code"
expect_eq "with reason Expired" Expired "$(jq -r .reason "$T_TMP/expired.json" 2>&1)"
expect_match "and kube's message" '^The provided continue parameter is too old to display a consistent list result' \
	"$(jq -r .message "$T_TMP/expired.json" 2>&1)"
out=$(k get vi --chunk-size=2 2>&1)
expect_match "a new list (kubectl, pages of 2) works after the compaction" 'c5' "$out"
code=$(api GET "$R?resourceVersion=$rv1&resourceVersionMatch=Exact" -o "$T_TMP/exact.json" -w '%{http_code}')
expect_eq "a list at an Exact resourceVersion etcd compacted is 410" 410 "$code"
expect_match "naming the resourceVersion as too old" 'too old' "$(jq -r .message "$T_TMP/exact.json" 2>&1)"
now=$(api GET "$R" | jq -r .metadata.resourceVersion)
code=$(api GET "$R?resourceVersion=$now&resourceVersionMatch=Exact" -o "$T_TMP/exact2.json" -w '%{http_code}')
expect_eq "a list at an Exact current resourceVersion is 200" "200 c1 c2 c3 c5" \
	"$code $(jq -r '[.items[].metadata.name] | join(" ")' "$T_TMP/exact2.json" 2>&1)"

# a resourceVersion the cache has not seen yet: it waits (3 s), then says
# so as kube does (504, "Too large resource version", clients retry)
future=$((now + 1000))
t0=$(date +%s)
code=$(api GET "$R?resourceVersion=$future&resourceVersionMatch=NotOlderThan" -o "$T_TMP/future.json" -w '%{http_code}' -m 15)
took=$(($(date +%s) - t0))
expect_eq "a list NotOlderThan a future resourceVersion is 504" 504 "$code"
expect_match "Too large resource version" 'Too large resource version' "$(jq -r .message "$T_TMP/future.json" 2>&1)"
check "after the cache's wait, not etcd's timeout ($took s)" test "$took" -le 5

# a watch from before the watch cache's window (it starts where vimaged
# read everything: at this start) is 410 "too old resource version"
vim_stop
vim_start "$D" --controllers off || not_ok "vimaged restarts"
out=$(api GET "$R?watch=true&resourceVersion=$rv1&timeoutSeconds=3" --max-time 8)
expect_match "a watch from a resourceVersion older than the cache's window is an ERROR event" \
	'"type":"ERROR"' "$out"
expect_match "with code 410 and 'too old resource version'" '"code":410' "$out"
expect_match "naming it too old" 'too old resource version' "$out"
cur=$(api GET "$R" | jq -r .metadata.resourceVersion)
out=$(api GET "$R?watch=true&resourceVersion=$cur&timeoutSeconds=2" --max-time 6)
if printf '%s' "$out" | grep -q '"type":"ERROR"'; then
	not_ok "a watch from the list's resourceVersion is not an error"
	printf '%s\n' "$out" | sed 's/^/#   /'
else ok "a watch from the list's resourceVersion is not an error"; fi

# the watch cache's own etcd watch meets a compaction: vimaged is frozen
# while etcd restarts (its watch stream is cut) and another client writes
# and compacts; thawed, vimaged's watch cannot resume from its revision,
# so it reads everything again: the open watch ends with 410 and a relist
# has the other client's writes
start=$(api GET "$R" | jq -r .metadata.resourceVersion)
watch_start "$T_TMP/gone.watch" "$R?watch=true&resourceVersion=$start&timeoutSeconds=30" --max-time 40
wpid=$WATCH_PID
sleep 1
kill -STOP "$VIM_PID"
etcd_stop
etcd_restart "${ETCD_NAMES[0]}" || not_ok "etcd restarts on its data dir"
K1=$P/$G/virtualimages/default/c1
ectl get "$K1" --print-value-only | jq -c '.metadata.labels.written = "by-etcdctl"' >"$T_TMP/c1.json"
ectl put "$K1" <"$T_TMP/c1.json" >/dev/null
ectl del "$P/$G/virtualimages/default/c2" >/dev/null
ectl compact "$(etcd_rev)" >/dev/null
kill -CONT "$VIM_PID"
check "the open watch ends" wait_for 20 sh -c "! kill -0 $wpid"
wait "$wpid" 2>/dev/null
expect_match "with an ERROR event, code 410 (the client relists)" '"type":"ERROR".*"code":410' "$(cat "$T_TMP/gone.watch")"
relist() { [ "$(k get vi -o jsonpath='{range .items[*]}{.metadata.name}:{.metadata.labels.written} {end}')" = "c1:by-etcdctl c3: c5: " ]; }
check "a relist sees the other client's put and delete" wait_for 10 relist
check "vimaged still runs" kill -0 "$VIM_PID"
out=$(k label vi c3 after=relist 2>&1)
expect_match "and writes again" 'labeled' "$out"
vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"
exit "$T_FAILED"
