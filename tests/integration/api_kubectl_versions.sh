#!/usr/bin/env bash
# The oldest and newest supported kubectl (1.27, 1.33; issue 14 "Tests"):
# diff and every --dry-run=server write (create, apply, patch, label,
# delete) leave the object and its resourceVersion alone; create namespace;
# delete by label; auth can-i and whoami (1.27 posts to v1beta1); kubectl
# wait across the 10 s idle bookmark prints no watch warning.
. "$(dirname "$0")/lib.sh"

D=$T_TMP/data
vim_start "$D" --controllers off || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts"

vi_yaml() { # NAME URL [LABEL]
	cat <<YAML
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: $1
  namespace: default
$([ -n "${3:-}" ] && printf '  labels: {grp: "%s"}' "$3")
spec:
  storage: ContainerRegistry
  dataSource:
    type: HTTP
    http:
      url: $2
YAML
}

for v in 1.27 1.33; do
	export KUBECTL="$KUBECTL_DIR/kubectl.$v"
	t=${v/./-}
	vi_yaml "kv-$t" https://e.example.org/a.img >"$T_TMP/a.yaml"
	vi_yaml "kv-$t" https://e.example.org/CHANGED.img >"$T_TMP/b.yaml"
	k apply -f "$T_TMP/a.yaml" >/dev/null 2>&1 || not_ok "kubectl $v: the test image is applied"
	state() { k get vi "kv-$t" -o jsonpath='{.metadata.resourceVersion} {.spec.dataSource.http.url} {.metadata.labels} {.metadata.deletionTimestamp}'; }
	before=$(state)

	out=$(k diff -f "$T_TMP/b.yaml" 2>&1)
	rc=$?
	expect_eq "kubectl $v: diff finds the change (exit 1)" 1 "$rc"
	expect_match "kubectl $v: diff shows the new URL" '\+ +url: https://e.example.org/CHANGED.img' "$out"
	expect_eq "kubectl $v: diff leaves the object and its resourceVersion" "$before" "$(state)"

	out=$(vi_yaml "kv-new-$t" https://e.example.org/n.img | k create --dry-run=server -f - 2>&1)
	expect_match "kubectl $v: create --dry-run=server" "kv-new-$t created \(server dry run\)" "$out"
	out=$(k get vi "kv-new-$t" 2>&1)
	expect_match "kubectl $v: the dry-run create stored nothing" 'NotFound|not found' "$out"
	out=$(k apply --dry-run=server -f "$T_TMP/b.yaml" 2>&1)
	expect_match "kubectl $v: apply --dry-run=server" 'configured \(server dry run\)' "$out"
	out=$(k patch vi "kv-$t" --type=merge -p '{"spec":{"dataSource":{"http":{"url":"https://e.example.org/P.img"}}}}' --dry-run=server 2>&1)
	# (kubectl's patch prints no "(server dry run)"; the state check below tells)
	expect_match "kubectl $v: patch --dry-run=server" "kv-$t patched" "$out"
	out=$(k label vi "kv-$t" dry=run --dry-run=server 2>&1)
	expect_match "kubectl $v: label --dry-run=server" 'labeled \(server dry run\)' "$out"
	out=$(k delete vi "kv-$t" --dry-run=server 2>&1)
	expect_match "kubectl $v: delete --dry-run=server" 'deleted \(server dry run\)' "$out"
	expect_eq "kubectl $v: the dry runs changed nothing (resourceVersion, URL, labels, no deletion)" \
		"$before" "$(state)"

	out=$(k create namespace "kv-ns-$t" 2>&1)
	expect_eq "kubectl $v: create namespace" "namespace/kv-ns-$t created" "$out"
	expect_eq "kubectl $v: the namespace is Active" Active "$(k get ns "kv-ns-$t" -o jsonpath='{.status.phase}' 2>&1)"

	for n in 1 2; do vi_yaml "kv-l$n-$t" https://e.example.org/l.img "g$t" | k create -f - >/dev/null 2>&1; done
	out=$(k delete vi -l "grp=g$t" 2>&1)
	expect_eq "kubectl $v: delete vi -l deletes the two labelled" \
		"virtualimage.virtualization.deckhouse.io \"kv-l1-$t\" deleted|virtualimage.virtualization.deckhouse.io \"kv-l2-$t\" deleted|" \
		"$(printf '%s\n' "$out" | sed 's/ from default namespace//' | tr '\n' '|')"
	expect_eq "kubectl $v: and leaves the rest" "kv-$t" \
		"$(k get vi -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | grep -- "-$t\$" | xargs)"

	expect_eq "kubectl $v: auth can-i create virtualimages" yes "$(k auth can-i create virtualimages 2>&1)"
	expect_eq "kubectl $v: auth can-i delete namespaces" yes "$(k auth can-i delete namespaces 2>/dev/null)"
	out=$(k auth whoami 2>&1)
	expect_match "kubectl $v: auth whoami names the admin" 'Username +admin' "$out"
done
unset KUBECTL
out=$(api POST /apis/authentication.k8s.io/v1beta1/selfsubjectreviews -H 'Content-Type: application/json' \
	--data '{"apiVersion":"authentication.k8s.io/v1beta1","kind":"SelfSubjectReview"}')
expect_eq "a v1beta1 SelfSubjectReview is answered in v1beta1" "authentication.k8s.io/v1beta1 SelfSubjectReview admin" \
	"$(printf '%s' "$out" | jq -r '"\(.apiVersion) \(.kind) \(.status.userInfo.username)"')"

# kubectl wait across the idle bookmark (10 s), both versions at once; the
# label arrives after 12 s
for v in 1.27 1.33; do
	KUBECTL="$KUBECTL_DIR/kubectl.$v" k wait --for=jsonpath='{.metadata.labels.ready}'=yes \
		"vi/kv-${v/./-}" --timeout=30s >"$T_TMP/wait-$v.out" 2>"$T_TMP/wait-$v.err" &
	eval "W_${v/./_}=\$!"
done
sleep 12
for v in 1.27 1.33; do k label vi "kv-${v/./-}" ready=yes >/dev/null 2>&1; done
for v in 1.27 1.33; do
	eval "wait \$W_${v/./_}"
	expect_eq "kubectl $v: wait past an idle bookmark succeeds" 0 "$?"
	if [ -s "$T_TMP/wait-$v.err" ]; then
		not_ok "kubectl $v: wait prints nothing on stderr (no watch warning)"
		sed 's/^/#   /' "$T_TMP/wait-$v.err"
	else ok "kubectl $v: wait prints nothing on stderr (no watch warning)"; fi
	expect_match "kubectl $v: wait says the condition is met" 'condition met' "$(cat "$T_TMP/wait-$v.out")"
done
vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"
exit $T_FAILED
