#!/usr/bin/env bash
# dvcr client against real docker-registry instances (CNCF distribution):
# one open registry (no blobdescriptor cache, deletes on) and one behind
# htpasswd basic auth.  The C driver prints the TAP lines; skopeo checks
# from outside that what the client pushed is a proper image.
source "$(dirname "$0")/lib.sh"

DRIVER="$ROOT/$BUILD/itests/dvcr_client"

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# reg_start NAME PORT [yaml appended after http.addr] [scheme]: writes a
# config and starts the registry.
reg_start() {
	local name=$1 port=$2 auth=${3:-} scheme=${4:-http} dir="$T_TMP/$1"
	mkdir -p "$dir/storage"
	cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
$auth
EOF
	docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
	T_PIDS+=($!)
	eval "${name}_PID=$!"
	wait_for 10 curl -ks -o /dev/null "$scheme://127.0.0.1:$port/v2/" || {
		not_ok "registry $name starts"
		sed 's/^/#   /' "$dir/log"
		exit 1
	}
}

P1=$(free_port)
P2=$(free_port)
htpasswd -Bbn vimuser 's3cret' >"$T_TMP/htpasswd"
reg_start open "$P1"
reg_start auth "$P2" "auth:
  htpasswd:
    realm: dvcr
    path: $T_TMP/htpasswd"

# A fake bearer-token registry (the real one needs a token signer): /v2/
# answers 401 Bearer until a token issued by /token (basic credentials
# required) comes back; /stats counts token fetches to prove the cache.
cat >"$T_TMP/fake.py" <<'PYEOF'
import base64, json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
issued, scopes = set(), []
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body=b"", hdrs=()):
        self.send_response(code)
        for k, v in hdrs: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def do_HEAD(self): self.do_GET()
    def do_GET(self):
        from urllib.parse import urlparse, parse_qs
        u = urlparse(self.path)
        if u.path == "/stats":
            return self.send(200, json.dumps({"fetches": len(scopes), "scopes": scopes}).encode())
        if u.path == "/token":
            want = "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()
            if self.headers.get("Authorization") != want: return self.send(401)
            q = parse_qs(u.query)
            scopes.append(q.get("scope", [""])[0] + "|" + q.get("service", [""])[0])
            tok = "tok-%d" % len(scopes); issued.add(tok)
            return self.send(200, json.dumps({"token": tok, "expires_in": 300}).encode())
        a = self.headers.get("Authorization", "")
        if not (a.startswith("Bearer ") and a[7:] in issued):
            ch = 'Bearer realm="http://127.0.0.1:%d/token",service="fake reg",scope="repository:vi/a/b:pull,push"' % port
            err = json.dumps({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}).encode()
            return self.send(401, err, [("WWW-Authenticate", ch), ("Content-Type", "application/json")])
        if u.path == "/v2/": return self.send(200, b"{}")
        if u.path.startswith("/v2/vi/five/"): return self.send(503, b"busy")
        if u.path.startswith("/v2/vi/stall/"):
            self.send_response(200); self.send_header("Content-Length", "1000"); self.end_headers()
            self.wfile.write(b"x" * 10); self.wfile.flush(); time.sleep(6); return
        err = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}).encode()
        return self.send(404, err, [("Content-Type", "application/json")])
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PYEOF
P3=$(free_port)
python3 "$T_TMP/fake.py" "$P3" vimuser 's3cret' >"$T_TMP/fake.log" 2>&1 &
T_PIDS+=($!)
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$P3/stats" || not_ok "fake bearer registry starts"
export DVCR_BEARER_URL="http://127.0.0.1:$P3"
# TLS: a self-signed certificate for 127.0.0.1, trusted only through ca_file
P4=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-addext subjectAltName=IP:127.0.0.1 -keyout "$T_TMP/tls.key" -out "$T_TMP/tls.crt" >/dev/null 2>&1
reg_start tls "$P4" "  tls:
    certificate: $T_TMP/tls.crt
    key: $T_TMP/tls.key" https
export DVCR_TLS_URL="https://127.0.0.1:$P4" DVCR_TLS_CA="$T_TMP/tls.crt"

export DVCR_URL="http://127.0.0.1:$P1" DVCR_STORAGE="$T_TMP/open/storage"
export DVCR_AUTH_URL="http://127.0.0.1:$P2" DVCR_USER=vimuser DVCR_PASS='s3cret'
export CMOCKA_MESSAGE_OUTPUT=TAP

run_driver() {
	local out rc
	# DVCR_WRAP="valgrind --error-exitcode=9 --leak-check=full" runs the driver under a checker
	out=$(${DVCR_WRAP:-} "$DRIVER" "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	if [ "$rc" -ne 0 ]; then
		T_FAILED=1
		grep -q '^not ok ' <<<"$out" || not_ok "dvcr_client driver $* (exit $rc)"
	fi
}

run_driver main
stats=$(curl -s "$DVCR_BEARER_URL/stats")
expect_eq "bearer tokens are fetched once per scope and cached" \
	'{"fetches": 4, "scopes": ["repository:vi/a/b:pull,push|fake reg", "repository:vi/a/b:pull|fake reg", "repository:vi/five/x:pull|fake reg", "repository:vi/stall/x:pull|fake reg"]}' "$stats"

out=$(skopeo inspect --tls-verify=false "docker://127.0.0.1:$P1/vi/default/ubuntu:uid-1" 2>&1)
expect_match "skopeo sees the pushed image" '"Architecture": "amd64"' "$out"
layers=$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Layers"]))' 2>&1)
expect_eq "skopeo sees one layer" 1 "$layers"

kill "$open_PID" 2>/dev/null
wait "$open_PID" 2>/dev/null
run_driver stopped
exit "$T_FAILED"
