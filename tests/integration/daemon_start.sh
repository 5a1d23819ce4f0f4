#!/usr/bin/env bash
# vimaged's start: /readyz says ready only when the whole service is (a
# script that waits for it finds a working kubeconfig, every one of ten
# restarts), lists its checks as kube-apiserver does, and the data
# directory is private (0700, files 0600), also what an older start left.
. "$(dirname "$0")/lib.sh"

D=$T_TMP/data
PORT=$(free_port)

# ---- the data directory of an older vimaged, readable by everyone -----------
umask 022
mkdir -p "$D/dvcr/storage/docker" "$D/secrets/default"
chmod 0755 "$D" "$D/dvcr" "$D/dvcr/storage" "$D/dvcr/storage/docker" "$D/secrets" "$D/secrets/default"
for f in token notify-token tls.crt tls.key kubeconfig vimage-old.log dvcr/htpasswd \
	dvcr/storage/docker/blob secrets/default/pull.json; do
	echo x >"$D/$f"
	chmod 0644 "$D/$f"
done
rm -f "$D/token" "$D/notify-token" "$D/tls.crt" "$D/tls.key" # made again below
: >"$D/vimaged.log"

# ---- ten starts on one port: wait for /readyz, then kubectl at once ------------
# (this is what a script does: it does not read vimaged's log)
starts=0 ready_ok=0 kube_ok=0 failures=
for n in $(seq 1 10); do
	echo "# --- start $n $(date +%T)" >>"$D/vimaged.log"
	# The poller runs before vimaged starts and asks /readyz every 5 ms; at
	# the first 200, at once: the kubeconfig exists and its server (the
	# kubectl endpoint) accepts a connection.
	rm -f "$T_TMP/polling" "$T_TMP/poll.out"
	python3 - "$PORT" "$D/kubeconfig" "$T_TMP/polling" >"$T_TMP/poll.out" 2>&1 <<'PY' &
import re, socket, sys, time
port, kc, flag = int(sys.argv[1]), sys.argv[2], sys.argv[3]
open(flag, "w").close()
t0 = time.monotonic()
while time.monotonic() - t0 < 30:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                answer += b
        if answer.startswith(b"HTTP/1.1 200"):
            break
    except OSError:
        pass
    time.sleep(0.005)
else:
    sys.exit("never ready")
try:
    text = open(kc).read()
    m = re.search(r"server: https://127\.0\.0\.1:(\d+)", text)
    if not m:
        sys.exit("kubeconfig has no server: %r" % text[:80])
    socket.create_connection(("127.0.0.1", int(m.group(1))), timeout=2).close()
except OSError as e:
    sys.exit("kubeconfig not usable: %s" % e)
print("ready")
PY
	poller=$!
	wait_for 10 test -e "$T_TMP/polling"
	"$VIMAGED" --data-dir "$D" --listen "127.0.0.1:$PORT" --storage-probe-interval 1 \
		>>"$D/vimaged.log" 2>&1 &
	pid=$!
	T_PIDS+=("$pid")
	starts=$((starts + 1))
	wait "$poller"
	out=$(cat "$T_TMP/poll.out")
	if [ "$out" = ready ]; then
		ready_ok=$((ready_ok + 1))
		# right away: no sleep, no retry
		if out=$(kubectl --kubeconfig "$D/kubeconfig" --request-timeout=5s \
			--cache-dir "$T_TMP/kcache" get vi -A 2>&1); then
			kube_ok=$((kube_ok + 1))
		else
			failures="$failures start $n: $out;"
		fi
	else
		failures="$failures start $n: $out;"
	fi
	if [ "$n" -lt 10 ]; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null
	fi
done
VIM_PID=$pid
VIM_URL=http://127.0.0.1:$PORT
expect_eq "at the first /readyz 200 the kubeconfig names a live endpoint, in each of 10 starts" \
	"$starts" "$ready_ok"
expect_eq "kubectl works as soon as /readyz is 200, in each of 10 starts" "$starts" "$kube_ok"
[ -n "$failures" ] && echo "# $failures"

# ---- the checks, one by one and verbose ------------------------------------------
out=$(curl -sS "$VIM_URL/readyz?verbose")
expect_eq "/readyz?verbose lists every check" \
	"[+]store ok|[+]dvcr ok|[+]controllers ok|[+]kubectl-endpoint ok|[+]kubeconfig ok|[+]shutdown ok|readyz check passed|" \
	"$(printf '%s\n' "$out" | tr '\n' '|')"
expect_eq "/readyz/kubeconfig is ok" "200 ok" \
	"$(curl -sS -w '%{http_code}' -o "$T_TMP/one" "$VIM_URL/readyz/kubeconfig") $(cat "$T_TMP/one")"
expect_eq "/readyz/<unknown> is 404" 404 \
	"$(curl -sS -o /dev/null -w '%{http_code}' "$VIM_URL/readyz/nonesuch")"
out=$(curl -sS "$VIM_URL/readyz?verbose&exclude=dvcr")
expect_match "/readyz?exclude= skips a check" '^\[\+\]dvcr excluded: ok' "$out"
expect_eq "/livez stays liveness" ok "$(curl -sS "$VIM_URL/livez")"

# ---- the data directory is private ---------------------------------------------------
# the storage probe has pushed its canary into the managed registry by now
wait_for 10 test -d "$D/dvcr/storage/docker/registry"
wide=$(find "$D" \( -type d ! -perm 0700 \) -o \( -type f ! -perm 0600 \) | sed "s|^$D|.|")
expect_eq "the data dir and what is in it are 0700 / 0600 (old files included)" "" "$wide"
ls "$D"/vimage.db-wal >/dev/null 2>&1 && ok "the check saw the database's -wal" ||
	not_ok "the check saw the database's -wal"
test -d "$D/dvcr/storage/docker/registry" && ok "the check saw the registry's storage" ||
	not_ok "the check saw the registry's storage"

# ---- shutting down: not ready any more -------------------------------------------------
kill -TERM "$VIM_PID"
wait "$VIM_PID" 2>/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' "$VIM_URL/readyz")
expect_match "after SIGTERM /readyz no longer says 200" '^(000|503)$' "$code"
exit "$T_FAILED"
