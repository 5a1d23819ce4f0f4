#!/usr/bin/env bash
# Watch bookmarks (issue 14 item 4): a BOOKMARK carries the watched kind and
# apiVersion (client-go's decoder refuses one without), so `kubectl wait`
# past the 10 s idle bookmark prints no decode warning; the watch-list
# (sendInitialEvents=true, resourceVersionMatch=NotOlderThan) ends its
# initial events with the k8s.io/initial-events-end bookmark; kube's
# option rules answer 422.
. "$(dirname "$0")/lib.sh"

D=$T_TMP/data
vim_start "$D" --controllers off || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts"

G=/apis/virtualization.deckhouse.io/v1alpha2
VI=$G/namespaces/default/virtualimages
cat >"$T_TMP/vi.yaml" <<'YAML'
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: bm
  namespace: default
spec:
  storage: ContainerRegistry
  dataSource:
    type: HTTP
    http:
      url: https://cloud-images.example.org/noble.qcow2
YAML
out=$(k create -f "$T_TMP/vi.yaml" 2>&1)
expect_match "the test image is created" 'bm created' "$out"

# watch-list: initial ADDED, then the annotated bookmark at the list's RV
api GET "$VI?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=2" \
	-o "$T_TMP/wl" --max-time 10
expect_eq "watch-list sends the current object as ADDED first" "ADDED bm" \
	"$(jq -r 'select(.type=="ADDED") | "\(.type) \(.object.metadata.name)"' "$T_TMP/wl" | head -n1)"
bm=$(jq -c 'select(.type=="BOOKMARK")' "$T_TMP/wl" | head -n1)
expect_eq "the initial events end with a bookmark annotated k8s.io/initial-events-end" "true" \
	"$(printf '%s' "$bm" | jq -r '.object.metadata.annotations["k8s.io/initial-events-end"]')"
expect_eq "that bookmark names the watched kind and apiVersion" \
	"VirtualImage virtualization.deckhouse.io/v1alpha2" \
	"$(printf '%s' "$bm" | jq -r '"\(.object.kind) \(.object.apiVersion)"')"
list_rv=$(api GET "$VI" | jq -r .metadata.resourceVersion)
expect_eq "the bookmark carries the list's resourceVersion" "$list_rv" \
	"$(printf '%s' "$bm" | jq -r .object.metadata.resourceVersion)"
expect_eq "the bookmark comes after the initial events" "ADDED BOOKMARK" \
	"$(jq -r .type "$T_TMP/wl" | head -n2 | xargs)"

# sendInitialEvents=false: no initial state, no end bookmark
api GET "$VI?watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1" \
	-o "$T_TMP/wl0" --max-time 10
expect_eq "sendInitialEvents=false sends no initial events" "0" "$(wc -l <"$T_TMP/wl0" | tr -d ' ')"

# kube's rules (validateWatchOptions / ValidateListOptions), 422 on ListOptions
rule() {
	local name=$1 query=$2 want=$3 c
	c=$(api GET "$VI?$query" -o "$T_TMP/rule" -w '%{http_code}' --max-time 10)
	if [ "$c" = 422 ] && grep -qF -- "$want" "$T_TMP/rule"; then ok "$name"; else
		not_ok "$name"
		echo "#   $c $(cat "$T_TMP/rule")"
	fi
}
rule "sendInitialEvents without resourceVersionMatch is 422" \
	"watch=1&sendInitialEvents=true&allowWatchBookmarks=true" \
	'resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'
rule "sendInitialEvents=true without allowWatchBookmarks is 422" \
	"watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan" \
	'allowWatchBookmarks: Forbidden'
rule "resourceVersionMatch on a watch without sendInitialEvents is 422" \
	"watch=1&resourceVersionMatch=NotOlderThan" \
	'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'
rule "a watch's resourceVersionMatch other than NotOlderThan is 422" \
	"watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=Exact" \
	'resourceVersionMatch: Unsupported value: \"Exact\": supported values: \"NotOlderThan\"'
rule "sendInitialEvents on a list is 422" "sendInitialEvents=true" \
	'sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list'
rule "the 422 is on ListOptions.meta.k8s.io" "sendInitialEvents=false" 'ListOptions.meta.k8s.io'

# a labelSelector watch sees bm move in (ADDED) and out (DELETED, with the
# labels it had and the change's resourceVersion), as kube's cacher sends
from=$(api GET "$VI" | jq -r .metadata.resourceVersion)
k label vi bm -n default tier=web >/dev/null 2>&1
k label vi bm -n default --overwrite tier=db >/dev/null 2>&1
out_rv=$(api GET "$VI/bm" | jq -r .metadata.resourceVersion)
api GET "$VI?watch=1&labelSelector=tier%3Dweb&resourceVersion=$from&timeoutSeconds=1" \
	-o "$T_TMP/ls" --max-time 10
expect_eq "a labelSelector watch gets ADDED as bm moves in, DELETED as it moves out" \
	"ADDED web DELETED web" "$(jq -r '"\(.type) \(.object.metadata.labels.tier)"' "$T_TMP/ls" | xargs)"
expect_eq "the DELETED carries the change's resourceVersion" "$out_rv" \
	"$(jq -r 'select(.type=="DELETED") | .object.metadata.resourceVersion' "$T_TMP/ls")"

# an idle watch's bookmark (after 10 s) names the kind too: Events and a Table watch
api GET "/api/v1/namespaces/default/events?watch=1&allowWatchBookmarks=true&timeoutSeconds=13" \
	-o "$T_TMP/ev" --max-time 20 &
JOB=$!
# kubectl wait across the idle bookmark: the label arrives after 12 s
(sleep 12 && k label vi bm ready=yes >/dev/null 2>&1) &
LBL=$!
k wait --for=jsonpath='{.metadata.labels.ready}'=yes vi/bm --timeout=30s >"$T_TMP/wait.out" 2>"$T_TMP/wait.err"
rc=$?
wait "$LBL" "$JOB"
expect_eq "kubectl wait past an idle bookmark succeeds" "0" "$rc"
if grep -qiE 'decode|unable to|error' "$T_TMP/wait.err"; then
	not_ok "kubectl wait prints no watch decode warning"
	sed 's/^/#   /' "$T_TMP/wait.err"
else ok "kubectl wait prints no watch decode warning"; fi
expect_eq "an idle Event watch's bookmark is kind Event, apiVersion v1" "Event v1" \
	"$(jq -r 'select(.type=="BOOKMARK") | "\(.object.kind) \(.object.apiVersion)"' "$T_TMP/ev" | head -n1)"
exit $T_FAILED
