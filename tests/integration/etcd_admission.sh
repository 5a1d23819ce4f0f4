#!/usr/bin/env bash
# kube's NamespaceLifecycle admission on etcd reads the namespace from the
# watch cache, as kube's reads its informer: creates in a namespace cost
# etcd no Range each (counted by etcd's own /metrics), a namespace created
# a moment ago admits at once (read live when the cache has not seen it),
# a missing one is 404 NotFound and a terminating one 403 Forbidden.
. "$(dirname "$0")/lib.sh"

VIM_STORE=etcd
VIM_ETCD_PREFIX=/vimage-admission-$$
G=virtualization.deckhouse.io
D=$T_TMP/data
etcd_vim_start "$D" --controllers off
ok "vimaged starts on etcd"

ranges() {
	etcd_curl "$ETCD_ENDPOINTS/metrics" |
		sed -n 's/^grpc_server_handled_total{grpc_code="OK",grpc_method="Range".*} \([0-9]*\)$/\1/p'
}
vi_json() { # NAME NAMESPACE
	printf '{"apiVersion":"%s/v1alpha2","kind":"VirtualImage","metadata":{"name":"%s","namespace":"%s"},"spec":{"dataSource":{"type":"Upload"}}}' \
		"$G" "$1" "$2"
}
create() { # NAME NAMESPACE: the HTTP status
	api POST "/apis/$G/v1alpha2/namespaces/$2/virtualimages" -o "$T_TMP/out" -w '%{http_code}' \
		-H 'Content-Type: application/json' -d "$(vi_json "$1" "$2")"
}

api POST /api/v1/namespaces -o /dev/null -H 'Content-Type: application/json' \
	-d '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"fresh"}}'
expect_eq "a create in a namespace made a moment before is admitted" 201 "$(create a fresh)"

# the cache has seen "default" since the start: 30 creates, no Range each
before=$(ranges)
codes=
for i in $(seq 1 30); do codes="$codes$(create "img-$i" default) "; done
after=$(ranges)
expect_eq "30 creates in default are 201" "$(printf '201 %.0s' $(seq 1 30))" "$codes"
check "30 creates cost etcd fewer than 10 Range reads (were $before, now $after)" \
	test "$((after - before))" -lt 10

expect_eq "a create in a namespace that does not exist is 404" 404 "$(create a nowhere)"
expect_match "its Status names the namespace" 'namespaces \\"nowhere\\" not found' "$(cat "$T_TMP/out")"

api DELETE /api/v1/namespaces/fresh -o /dev/null
# the cache learns of the deletion within the watch's latency
refused() { [ "$(create b fresh)" = 403 ]; }
check "a create in a terminating namespace is 403 Forbidden" wait_for 5 refused
expect_match "its Status says the namespace is being terminated" "because it is being terminated" \
	"$(cat "$T_TMP/out")"
