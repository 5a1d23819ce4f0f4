#!/usr/bin/env bash
# Server-side apply as kube-apiserver does it (issue 14 item 2): apply
# creates and updates, managedFields record each manager (FieldsV1, Apply
# and Update entries), a second manager gets 409 with the conflicting
# fields unless it forces, a field dropped from the manifest goes unless
# another manager owns it, kubectl label records an Update entry, /status
# writes name their manager, dryRun=All changes nothing and concurrent
# applies all land.  With the installed kubectl and the oldest and newest.
. "$(dirname "$0")/lib.sh"

vim_start "$T_TMP/data" --controllers off || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts"

G=/apis/virtualization.deckhouse.io/v1alpha2
VI=$G/namespaces/default/virtualimages
code() { # METHOD PATH [curl args]: the HTTP status; the body goes to $T_TMP/out
	local m=$1 p=$2
	shift 2
	api "$m" "$p" --max-time 20 -o "$T_TMP/out" -w "%{http_code}" "$@"
}
py() { /usr/bin/python3 -c "import json,sys; o=json.load(open('$T_TMP/out')); print($1)"; }
# mf NAME PYEXPR: evaluates PYEXPR over m, the managedFields by
# "manager/operation" (and "/subresource" when there is one)
mf() {
	k get vi "$1" -o json --show-managed-fields >"$T_TMP/out" 2>&1
	py "(lambda m: ($2))({e['manager']+'/'+e['operation']+('/'+e['subresource'] if e.get('subresource') else ''): e for e in o['metadata'].get('managedFields', [])})"
}
rv_of() { k get vi "$1" -o jsonpath='{.metadata.resourceVersion}'; }
vi_yaml() { # NAME URL [LABELS (yaml flow map)]
	cat <<YAML
apiVersion: virtualization.deckhouse.io/v1alpha2
kind: VirtualImage
metadata:
  name: $1
  namespace: default
  labels: ${3:-{app: x, tier: t\}}
spec:
  storage: ContainerRegistry
  dataSource:
    type: HTTP
    http:
      url: $2
YAML
}

for KC in "" "$KUBECTL_DIR/kubectl.1.27" "$KUBECTL_DIR/kubectl.1.33"; do
	export KUBECTL=${KC:-kubectl}
	v=$(basename "$KUBECTL")
	n=ssa-${v//./-}
	vi_yaml "$n" https://e.example.org/a.img >"$T_TMP/a.yaml"
	out=$(k apply --server-side -f "$T_TMP/a.yaml" 2>&1)
	expect_match "$v: apply --server-side creates" "virtualimage.virtualization.deckhouse.io/$n serverside-applied" "$out"
	expect_eq "$v: the create records kubectl's Apply entry with what it set" \
		"(['f:labels'], ['f:dataSource', 'f:storage'], {'f:url': {}}, False)" \
		"$(mf "$n" "list(m['kubectl/Apply']['fieldsV1']['f:metadata']), sorted(m['kubectl/Apply']['fieldsV1']['f:spec']), m['kubectl/Apply']['fieldsV1']['f:spec']['f:dataSource']['f:http'], 'subresource' in m['kubectl/Apply']")"
	rv=$(rv_of "$n")
	k apply --server-side -f "$T_TMP/a.yaml" >/dev/null 2>&1
	expect_eq "$v: applying the same manifest again changes nothing (same resourceVersion)" "$rv" "$(rv_of "$n")"
	vi_yaml "$n" https://e.example.org/a2.img >"$T_TMP/a2.yaml"
	out=$(k apply --server-side -f "$T_TMP/a2.yaml" 2>&1)
	expect_match "$v: apply --server-side updates" 'serverside-applied' "$out"
	expect_eq "$v: the update landed" "https://e.example.org/a2.img" "$(k get vi "$n" -o jsonpath='{.spec.dataSource.http.url}')"

	# a second manager changing kubectl's field conflicts
	vi_yaml "$n" https://e.example.org/b.img >"$T_TMP/b.yaml"
	out=$(k apply --server-side --field-manager=other -f "$T_TMP/b.yaml" 2>&1)
	expect_match "$v: a second manager's change is a conflict" \
		'Apply failed with 1 conflict: conflict with "kubectl": .spec.dataSource.http.url' "$out"
	expect_eq "$v: the conflict changed nothing" "https://e.example.org/a2.img" "$(k get vi "$n" -o jsonpath='{.spec.dataSource.http.url}')"
	out=$(k apply --server-side --field-manager=other --force-conflicts -f "$T_TMP/b.yaml" 2>&1)
	expect_match "$v: --force-conflicts wins" 'serverside-applied' "$out"
	expect_eq "$v: the forced value landed" "https://e.example.org/b.img" "$(k get vi "$n" -o jsonpath='{.spec.dataSource.http.url}')"
	expect_eq "$v: force moved the field's ownership to the new manager" "(True, False, True)" \
		"$(mf "$n" "'f:url' in m['other/Apply']['fieldsV1']['f:spec']['f:dataSource']['f:http'], 'f:http' in m['kubectl/Apply']['fieldsV1']['f:spec']['f:dataSource'], 'f:storage' in m['kubectl/Apply']['fieldsV1']['f:spec']")"

	# a field dropped from the manifest goes when nobody else owns it ...
	vi_yaml "$n" https://e.example.org/b.img '{app: x}' >"$T_TMP/c.yaml"
	k apply --server-side --field-manager=other -f "$T_TMP/c.yaml" >/dev/null 2>&1
	expect_eq "$v: a label both managers applied stays when one drops it" "t" "$(k get vi "$n" -o jsonpath='{.metadata.labels.tier}')"
	k apply --server-side -f "$T_TMP/c.yaml" >/dev/null 2>&1 # kubectl drops it too (and takes url back: same value, no conflict)
	expect_eq "$v: a label no manager applies any more is removed" "" "$(k get vi "$n" -o jsonpath='{.metadata.labels.tier}')"
	expect_eq "$v: the other labels stay" "x" "$(k get vi "$n" -o jsonpath='{.metadata.labels.app}')"

	# kubectl label is an Update by kubectl-label
	k label vi "$n" extra=1 >/dev/null 2>&1
	expect_eq "$v: kubectl label records an Update entry for kubectl-label" "{'f:metadata': {'f:labels': {'f:extra': {}}}}" \
		"$(mf "$n" "m['kubectl-label/Update']['fieldsV1']")"
	out=$(k get vi "$n" -o yaml --show-managed-fields 2>&1)
	expect_match "$v: get --show-managed-fields prints FieldsV1" 'fieldsType: FieldsV1' "$out"
	k delete vi "$n" >/dev/null 2>&1
done
export KUBECTL=kubectl

# from client-side to server-side apply, as kube documents the move
vi_yaml csa https://e.example.org/a.img >"$T_TMP/csa.yaml"
vi_yaml csa https://e.example.org/b.img >"$T_TMP/csa2.yaml"
k apply -f "$T_TMP/csa.yaml" >/dev/null 2>&1
out=$(k apply --server-side -f "$T_TMP/csa2.yaml" 2>&1)
expect_match "a server-side change of a client-side applied field conflicts" \
	'conflict with "kubectl-client-side-apply" using virtualization.deckhouse.io/v1alpha2: .spec.dataSource.http.url' "$out"
k apply --server-side -f "$T_TMP/csa.yaml" >/dev/null 2>&1
expect_eq "the same manifest co-owns, and kubectl moves the client-side entry into its Apply entry" "(False, True)" \
	"$(mf csa "'kubectl-client-side-apply/Update' in m, 'f:url' in m['kubectl/Apply']['fieldsV1']['f:spec']['f:dataSource']['f:http']")"
out=$(k apply --server-side -f "$T_TMP/csa2.yaml" 2>&1)
expect_eq "... after which the change applies" "https://e.example.org/b.img" "$(k get vi csa -o jsonpath='{.spec.dataSource.http.url}')"

# the raw API: kube's Status for a conflict, fieldManager, dry run
vi_yaml raw https://e.example.org/r.img >"$T_TMP/r.yaml"
CT='Content-Type: application/apply-patch+yaml'
c=$(code PATCH "$VI/raw" -H "$CT" --data-binary @"$T_TMP/r.yaml")
expect_eq "apply without fieldManager is 422" "422" "$c"
expect_match "... naming the field as kube does" 'PatchOptions.meta.k8s.io \\"\\" is invalid: fieldManager: Required value: is required for apply patch' "$(cat "$T_TMP/out")"
c=$(code PATCH "$VI/raw?fieldManager=m1&dryRun=All" -H "$CT" --data-binary @"$T_TMP/r.yaml")
expect_eq "a dry-run apply of a new object answers 201" "201" "$c"
c=$(code GET "$VI/raw")
expect_eq "... and creates nothing" "404" "$c"
c=$(code PATCH "$VI/raw?fieldManager=m1" -H "$CT" --data-binary @"$T_TMP/r.yaml")
expect_eq "apply of a new object creates it (201)" "201" "$c"
rv=$(rv_of raw)
sed 's/r.img/r2.img/' "$T_TMP/r.yaml" >"$T_TMP/r2.yaml"
c=$(code PATCH "$VI/raw?fieldManager=m2" -H "$CT" --data-binary @"$T_TMP/r2.yaml")
expect_eq "another manager's change is 409" "409" "$c"
expect_eq "... a Conflict Status with kube's message and the field in details.causes" \
	"Conflict|Apply failed with 1 conflict: conflict with \"m1\": .spec.dataSource.http.url|FieldManagerConflict|.spec.dataSource.http.url|conflict with \"m1\"" \
	"$(py "'|'.join([o['reason'], o['message'], o['details']['causes'][0]['type'], o['details']['causes'][0]['field'], o['details']['causes'][0]['message']])")"
c=$(code PATCH "$VI/raw?fieldManager=m2&force=true&dryRun=All" -H "$CT" --data-binary @"$T_TMP/r2.yaml")
expect_eq "a forced dry-run apply answers 200 with the new value" "200 https://e.example.org/r2.img" "$c $(py "o['spec']['dataSource']['http']['url']")"
expect_eq "... and changes nothing" "$rv https://e.example.org/r.img" "$(rv_of raw) $(k get vi raw -o jsonpath='{.spec.dataSource.http.url}')"
c=$(code PATCH "$VI/raw?fieldManager=m1&force=true" -H 'Content-Type: application/merge-patch+json' --data '{"metadata":{"labels":{"x":"1"}}}')
expect_eq "force on a merge patch is 422" "422" "$c"
c=$(code PATCH "$VI/raw?fieldManager=m1&force=false" -H 'Content-Type: application/merge-patch+json' --data '{"metadata":{"labels":{"x":"1"}}}')
expect_eq "... even force=false, as kube" "422 force: Forbidden: may not be specified for non-apply patch" "$c $(py "o['details']['causes'][0]['field'] + ': ' + o['details']['causes'][0]['message']")"
c=$(code PATCH "$VI/raw?fieldManager=$(printf 'm%.0s' $(seq 1 129))" -H "$CT" --data-binary @"$T_TMP/r.yaml")
expect_eq "a fieldManager over 128 bytes is 422" "422" "$c"
vi_yaml made https://e.example.org/m.img | k create -f - >/dev/null 2>&1
expect_eq "a create records an Update entry for its manager" "['kubectl-create/Update']" "$(mf made "list(m)")"
c=$(code PATCH "$VI/raw/status?fieldManager=status-writer" -H 'Content-Type: application/merge-patch+json' --data '{"status":{"phase":"Pending"}}')
expect_eq "a status write records its manager with subresource status" "200 status ['f:phase']" \
	"$c $(py "[e.get('subresource') for e in o['metadata']['managedFields'] if e['manager']=='status-writer'][0]") $(py "[list(e['fieldsV1']['f:status']) for e in o['metadata']['managedFields'] if e['manager']=='status-writer'][0]")"

# concurrent applies of different managers all land (the PATCH retry loop)
pids=()
for i in 1 2 3 4 5 6 7 8; do
	printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata:\n  name: raw\n  namespace: default\n  labels:\n    l%s: "v"\n' "$i" >"$T_TMP/l$i.yaml"
	api PATCH "$VI/raw?fieldManager=p$i" -H "$CT" --data-binary @"$T_TMP/l$i.yaml" --max-time 20 -o /dev/null &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
expect_eq "eight concurrent applies all land, each with its own manager" "8 8" \
	"$(k get vi raw -o json --show-managed-fields | /usr/bin/python3 -c 'import json,sys; o=json.load(sys.stdin); print(sum(1 for l in o["metadata"]["labels"] if l.startswith("l")), sum(1 for e in o["metadata"]["managedFields"] if e["manager"].startswith("p")))')"

# the official Python client's server_side_apply
out=$(/usr/bin/python3 "$(dirname "$0")/pyclient_apply.py" "$KUBECONFIG_FILE" 2>&1)
printf '%s\n' "$out" | grep -E '^(ok|not ok) - ' || true
printf '%s\n' "$out" | grep -Eq '^not ok - |Traceback' && {
	T_FAILED=1
	printf '%s\n' "$out" | grep -v -E '^(ok|not ok) - ' | sed 's/^/#   /'
}
printf '%s\n' "$out" | grep -q '^ok - python: done' || not_ok "the Python driver ran to its end"

# the controllers' status writes name their manager, subresource status
vim_stop
PREG=$(free_port)
registry_start "$T_TMP/reg" "$PREG" || not_ok "the registry starts"
vim_start "$T_TMP/data2" --dvcr-url "http://127.0.0.1:$PREG" || { not_ok "vimaged starts with controllers"; exit 1; }
vi_yaml ctl "http://127.0.0.1:$(free_port)/nothing.img" | k apply --server-side -f - >/dev/null 2>&1
status_manager() { mf ctl "'status' + ' ' + str(sorted(m.get('vimaged/Update/status', {}).get('fieldsV1', {}).get('f:status', {})))" 2>/dev/null; }
for i in $(seq 1 100); do # 20 s at most
	status_manager | grep -q "^status .*f:phase" && break
	sleep 0.2
done
expect_match "the controller's status write records vimaged with subresource status" "^status .*'f:conditions'.*'f:phase'" "$(status_manager)"
expect_eq "... its finalizer write an Update entry for the finalizer, and kubectl keeps its Apply entry" "(True, True)" \
	"$(mf ctl "'v:\"virtualization.deckhouse.io/vi-cleanup\"' in m['vimaged/Update']['fieldsV1']['f:metadata']['f:finalizers'], 'kubectl/Apply' in m")"
exit $T_FAILED
