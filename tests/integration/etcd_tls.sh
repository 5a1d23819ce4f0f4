#!/usr/bin/env bash
# vimaged on an etcd that wants client certificates (certificates made with
# the openssl CLI here): with --etcd-cafile/--etcd-certfile/--etcd-keyfile it
# serves; without the client certificate, or trusting another CA, it does
# not start, and says why in one line that names etcd.
. "$(dirname "$0")/lib.sh"

command -v etcdctl >/dev/null || {
	not_ok "etcdctl (etcd-client) is installed"
	exit 1
}
ETCD_TLS=$T_TMP/tls
etcd_tls_certs "$ETCD_TLS" || {
	not_ok "openssl makes the certificates"
	exit 1
}
etcd_start tls || {
	not_ok "etcd starts with client-cert auth"
	exit 1
}
ok "etcd serves $ETCD_ENDPOINTS with client-cert auth"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ETCD_TLS/ca.crt" -m 5 "$ETCD_ENDPOINTS/health")
expect_eq "etcd refuses a client without a certificate" 000 "$code"

VIM_STORE=etcd
VIM_ETCD_PREFIX=/vimage-tls-$$
TLSF=(--etcd-cafile "$ETCD_TLS/ca.crt" --etcd-certfile "$ETCD_TLS/client.crt" --etcd-keyfile "$ETCD_TLS/client.key")
vim_start "$T_TMP/data" --controllers off "${TLSF[@]}" || {
	not_ok "vimaged starts with the etcd client certificate"
	exit 1
}
ok "vimaged starts with the etcd client certificate"
printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: tls-img, namespace: default}\nspec: {dataSource: {type: Upload}}\n' |
	k apply -f - >/dev/null
expect_eq "an image created through kubectl" tls-img "$(k get vi tls-img -o jsonpath='{.metadata.name}' 2>&1)"
expect_match "is in etcd, over TLS" "^$VIM_ETCD_PREFIX/virtualization.deckhouse.io/virtualimages/default/tls-img\$" \
	"$(ectl get --prefix "$VIM_ETCD_PREFIX/" --keys-only)"
vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"

# start_fails NAME REGEX FLAGS...: vimaged on this etcd with FLAGS exits
# non-zero within 20 s and says why in one line that matches REGEX (its
# output kept in $T_TMP/NAME.log).  EPS overrides the endpoints.
start_fails() {
	local name=$1 re=$2 rc lines
	shift 2
	timeout 20 "$VIMAGED" --data-dir "$T_TMP/data" --listen 127.0.0.1:0 --controllers off --store etcd \
		--etcd-endpoints "${EPS:-$ETCD_ENDPOINTS}" --etcd-prefix "$VIM_ETCD_PREFIX" "$@" >"$T_TMP/$name.log" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then ok "$name: vimaged exits $rc at start"; else
		not_ok "$name: vimaged exits non-zero at start (rc $rc)"
	fi
	# (the info lines of the start, e.g. the open-file limit, are not the why)
	grep -Ev '^[0-9T:.-]+Z +(debug|info) ' "$T_TMP/$name.log" | grep . >"$T_TMP/$name.why"
	expect_eq "$name: it says why in one line" 1 "$(wc -l <"$T_TMP/$name.why")"
	expect_match "$name: the line says $re" "$re" "$(cat "$T_TMP/$name.why")"
}
EP=${ETCD_ENDPOINTS#https://}
start_fails "without the client certificate" "etcd.*$EP.*([Cc]ertificate|TLS|SSL|[Hh]andshake|alert)" \
	--etcd-cafile "$ETCD_TLS/ca.crt"
start_fails "trusting another CA" "etcd.*$EP.*([Cc]ertificate|[Vv]erif|issuer|CA)" \
	--etcd-cafile "$ETCD_TLS/other-ca.crt" --etcd-certfile "$ETCD_TLS/client.crt" --etcd-keyfile "$ETCD_TLS/client.key"
start_fails "a missing key file" "nowhere\.key" \
	--etcd-cafile "$ETCD_TLS/ca.crt" --etcd-certfile "$ETCD_TLS/client.crt" --etcd-keyfile "$T_TMP/nowhere.key"
EPS=http://$EP start_fails "plain http to a TLS etcd" "etcd.*127\.0\.0\.1"
exit "$T_FAILED"
