#!/usr/bin/env bash
# etcd goes away under a working vimaged (real etcd, docker-registry as
# DVCR, kubectl, HTTP imports): first frozen for 20 s (SIGSTOP: its sockets
# stay open and nothing answers), then killed and started again on its data
# dir.  Meanwhile reads and writes get a 503 (or 504) Status naming etcd,
# within the etcd timeout; a list at resourceVersion=0 is still served from
# the watch cache; /readyz fails, then passes again; vimaged does not
# crash.  When etcd is back every object is intact, a create that was
# refused is not half there, every image converges to Ready, and a watch
# open through the gap continues (or ends with a 410 and a relist sees
# everything).
. "$(dirname "$0")/lib.sh"

VIM_STORE=etcd
VIM_ETCD_PREFIX=/vimage-outage-$$
G=virtualization.deckhouse.io
R=/apis/$G/v1alpha2/namespaces/default/virtualimages
TIMEOUT_MS=2000
etcd_start || {
	not_ok "etcd starts"
	exit 1
}
REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || {
	not_ok "the registry starts"
	exit 1
}
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/disk.qcow2" 16M
www_start "$WWW" || not_ok "the HTTP server starts"
# a slow source: the same disk in 20 pieces over 10 s, so mid's import
# runs through the freeze (its progress and Ready writes meet etcd gone)
cat >"$T_TMP/slow.py" <<'PY'
import http.server, sys, time
data = open(sys.argv[2], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        step = len(data) // 20 + 1
        for i in range(0, len(data), step):
            self.wfile.write(data[i:i + step]); self.wfile.flush(); time.sleep(0.5)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
SLOW_PORT=$(free_port)
python3 "$T_TMP/slow.py" "$SLOW_PORT" "$WWW/disk.qcow2" >"$T_TMP/slow.log" 2>&1 &
T_PIDS+=($!)
D=$T_TMP/data
vim_start "$D" --dvcr-url "http://127.0.0.1:$PREG" --etcd-timeout "$TIMEOUT_MS" --storage-probe-interval 1 || {
	not_ok "vimaged starts on etcd"
	exit 1
}
ok "vimaged starts on etcd and the registry"

vi_http() {
	printf 'apiVersion: %s/v1alpha2\nkind: VirtualImage\nmetadata: {name: %s, namespace: default}\nspec: {dataSource: {type: HTTP, http: {url: "http://127.0.0.1:%s/disk.qcow2"}}}\n' \
		"$G" "$1" "$WWW_PORT"
}
vi_json() {
	printf '{"apiVersion":"%s/v1alpha2","kind":"VirtualImage","metadata":{"name":"%s","namespace":"default"},"spec":{"dataSource":{"type":"HTTP","http":{"url":"http://127.0.0.1:%s/disk.qcow2"}}}}' \
		"$G" "$1" "$WWW_PORT"
}
phase() { k get "$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
all_ready() {
	local n
	for n in "$@"; do [ "$(phase "vi/$n")" = Ready ] || return 1; done
}
for n in a1 a2 a3; do vi_http "$n" | k apply -f - >/dev/null; done
check "three images imported over HTTP are Ready" wait_for 30 all_ready a1 a2 a3
catalog() { k get vi -o jsonpath='{range .items[*]}{.metadata.name}/{.metadata.uid}/{.status.phase} {end}'; }
readyz() { curl -s -o /dev/null -w '%{http_code}' -m 5 "$VIM_URL/readyz"; }
readyz_fails() { [ "$(readyz)" != 200 ]; }
readyz_passes() { [ "$(readyz)" = 200 ]; }
store_up_is() { [ "$(api GET /metrics -m 5 | awk '$1 == "vimage_store_up" {print $2}')" = "$1" ]; }

# probe NAME METHOD PATH [BODY]: a request to vimaged while etcd is away:
# 503 or 504, a Status that names etcd, within the etcd timeout (+1 s).
probe() {
	local name=$1 m=$2 p=$3 body=${4:-} res code secs
	res=$(curl -sS -o "$T_TMP/probe.out" -w '%{http_code} %{time_total}' -m 15 -X "$m" \
		-H "Authorization: Bearer $VIM_TOKEN" -H 'Content-Type: application/json' \
		${body:+--data-binary "$body"} "$VIM_URL$p" 2>&1)
	code=${res% *}
	secs=${res#* }
	echo "# $name: $code in $secs s: $(tr -d '\n' <"$T_TMP/probe.out" | jq -r .message 2>/dev/null)"
	expect_match "$name: 503 or 504" '^50[34]$' "$code"
	expect_match "$name: a Status naming etcd" '"kind": ?"Status".*etcd' "$(tr -d '\n' <"$T_TMP/probe.out")"
	if awk -v s="$secs" -v t="$TIMEOUT_MS" 'BEGIN { exit !(s <= t / 1000 + 1) }'; then
		ok "$name: answered in $secs s (etcd timeout $((TIMEOUT_MS / 1000)) s)"
	else not_ok "$name: answered within the etcd timeout (took $secs s)"; fi
}

# a raw watch and a kubectl get -w, both open through the two gaps
rv=$(api GET "$R" | jq -r .metadata.resourceVersion)
watch_start "$T_TMP/gap.watch" "$R?watch=true&resourceVersion=$rv&timeoutSeconds=55" --max-time 60
wpid=$WATCH_PID
k get vi -w --output-watch-events --request-timeout=0 >"$T_TMP/kubectl.watch" 2>&1 &
kpid=$!
before=$(catalog)
# mid: created just before etcd freezes, from the slow source: its import
# runs through the gap
vi_http mid | sed "s/:$WWW_PORT\//:$SLOW_PORT\//" | k apply -f - >/dev/null
check "mid's import is under way when etcd freezes" wait_for 10 sh -c \
	"$(printf '%q ' "${KUBECTL:-kubectl}") --kubeconfig $KUBECONFIG_FILE --cache-dir $T_TMP/kc2 get vi mid -o jsonpath='{.status.phase}' | grep -q Provisioning"

# ---- 1: etcd frozen for 20 s ---------------------------------------------
t0=$(date +%s)
etcd_pause
probe "frozen: get" GET "$R/a1"
probe "frozen: list" GET "$R"
probe "frozen: create" POST "$R" "$(vi_json refused1)"
out=$(k get vi a1 --request-timeout=10s 2>&1)
expect_match "frozen: kubectl get says the server cannot reach etcd" 'etcd' "$out"
code=$(api GET "$R?resourceVersion=0" -o "$T_TMP/rv0.json" -w '%{http_code}' -m 10)
expect_eq "frozen: a list at resourceVersion=0 is served from the watch cache" "200 a1 a2 a3" \
	"$code $(jq -r '[.items[].metadata.name | select(. != "mid")] | join(" ")' "$T_TMP/rv0.json" 2>&1)"
check "frozen: /readyz fails" wait_for 10 readyz_fails
check "frozen: /metrics says vimage_store_up 0" wait_for 5 store_up_is 0
expect_match "frozen: /readyz?verbose names the store" 'store' "$(curl -s -m 5 "$VIM_URL/readyz?verbose")"
alive=yes
while [ "$(($(date +%s) - t0))" -lt 20 ]; do
	kill -0 "$VIM_PID" 2>/dev/null || alive=no
	sleep 1
done
expect_eq "frozen: vimaged runs through the 20 s" yes "$alive"
etcd_resume
t1=$(date +%s)
check "thawed: /readyz passes within 15 s" wait_for 15 readyz_passes
check "thawed: vimage_store_up is 1 again" wait_for 5 store_up_is 1
echo "# ready again $(($(date +%s) - t1)) s after etcd thawed"
# A create that timed out (504) may have reached etcd's socket before the
# freeze and commit on thaw, as with kube-apiserver: it is then whole; a
# 503 never reached etcd.  Either way it is never half there.
r1=$(k get vi refused1 -o jsonpath='{.metadata.uid} {.spec.dataSource.type}' 2>&1)
expect_match "thawed: the refused create is absent or whole, never half there" \
	'(NotFound|^[0-9a-f-]{36} HTTP$)' "$r1"
echo "# the create refused while frozen, after the thaw: $r1"
k label vi a1 after=freeze >/dev/null 2>&1

# ---- 2: etcd killed, started again on its data dir --------------------------
etcd_kill "${ETCD_NAMES[0]}"
probe "killed: get" GET "$R/a2"
probe "killed: create" POST "$R" "$(vi_json refused2)"
check "killed: /readyz fails" wait_for 10 readyz_fails
sleep 3
check "killed: vimaged runs" kill -0 "$VIM_PID"
etcd_restart "${ETCD_NAMES[0]}" || not_ok "etcd starts again on its data dir"
check "restarted: /readyz passes within 15 s" wait_for 15 readyz_passes
out=$(k get vi refused2 2>&1)
expect_match "restarted: the create refused while etcd was dead is not there" 'NotFound' "$out"
k label vi a2 after=kill >/dev/null 2>&1

# ---- after: intact, converging, watches ---------------------------------
now=$(catalog)
for o in $before; do
	case " $now " in *" $o "*) ok "intact: $o" ;; *) not_ok "intact: $o (now: $now)" ;; esac
done
vi_http after | k apply -f - >/dev/null
check "every image converges to Ready (mid imported through the gaps, a new one after)" \
	wait_for 40 all_ready a1 a2 a3 mid after
expect_eq "the labels written between the outages are there" "freeze kill" \
	"$(k get vi a1 a2 -o jsonpath='{.items[*].metadata.labels.after}')"
# kubectl get -w: goes on through the gaps (it sees the image created
# after), or ends with the server's error, never hangs silently
if kill -0 "$kpid" 2>/dev/null; then
	expect_match "the kubectl watch open through the gaps goes on (sees the image created after)" \
		'^ADDED +after ' "$(cat "$T_TMP/kubectl.watch")"
else
	expect_match "the kubectl watch that ended through the gaps says why" \
		'(Error|error|expired|410|etcd)' "$(cat "$T_TMP/kubectl.watch")"
fi
kill "$kpid" 2>/dev/null
wait "$kpid" 2>/dev/null
w=$(cat "$T_TMP/gap.watch")
if printf '%s' "$w" | grep -q '"type":"ERROR"'; then
	expect_match "the watch open through the gap ended with 410" '"code":410' "$w"
	expect_match "and a relist sees every image" 'a1.*a2.*a3.*after.*mid' "$(k get vi -o name | tr '\n' ' ')"
else
	expect_match "the watch open through the gap saw a1's label from between the outages" \
		'"after":"freeze"' "$w"
	expect_match "and a2's from after the restart" '"after":"kill"' "$w"
	expect_match "and the image created after" '"type":"ADDED".*"name":"after"' "$w"
fi
check "vimaged still runs" kill -0 "$VIM_PID"
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"
exit "$T_FAILED"
