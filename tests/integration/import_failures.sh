#!/usr/bin/env bash
# Imports that go wrong must end in a clear Failed (or keep waiting) and
# never leave a half-written image in DVCR: a body cut short, bytes that only
# look like qcow2, an upload that stops half-way, an upload that never comes.
. "$(dirname "$0")/lib.sh"

REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { not_ok "the registry starts"; exit 1; }
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/disk.qcow2" 32M
# 8 MiB of real qcow2 (data written into it) for the slow transfers
qemu-img create -q -f qcow2 "$WWW/big.qcow2" 64M
qemu-io -c "write -P 0x5a 0 7M" "$WWW/big.qcow2" >/dev/null 2>&1 || head -c 0 /dev/null
# a qcow2 magic and version, then a header that does not hold together:
# cluster_bits 99 and a virtual size of 2^63 (fixed bytes: random ones
# could by chance make a plausible header)
python3 - "$WWW/corrupt.qcow2" <<'PY'
import struct, sys
h = b"QFI\xfb" + struct.pack(">IQIIQ", 3, 0, 0, 99, 1 << 63) + b"\x5a" * 4064
open(sys.argv[1], "wb").write(h)
PY
PWWW=$(free_port)
# a server that promises more bytes than it sends for /short.img
cat >"$T_TMP/www.py" <<'PY'
import http.server, sys, os
class H(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/short.img":
            self.send_response(200)
            self.send_header("Content-Length", "10485760")
            self.end_headers()
            self.wfile.write(b"\0" * 65536)
            self.wfile.flush()
            self.close_connection = True
            return
        if self.path.startswith("/trickle"):
            # 10 B/s of a promised MiB: never "no byte for N s", never done
            self.send_response(200)
            self.send_header("Content-Length", "1048576")
            self.end_headers()
            import time
            try:
                for i in range(600):
                    self.wfile.write(b"\0" * 5)
                    self.wfile.flush()
                    time.sleep(0.5)
            except OSError:
                pass
            return
        if self.path.startswith("/slow"):
            # 8 MiB at ~1 MiB/s: long enough to kill or delete mid-import
            data = open("big.qcow2", "rb").read()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            import time
            try:
                for i in range(0, len(data), 65536):
                    self.wfile.write(data[i:i + 65536])
                    self.wfile.flush()
                    time.sleep(0.06)
            except OSError:
                pass
            return
        return super().do_GET()
os.chdir(sys.argv[2])
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$T_TMP/www.py" "$PWWW" "$WWW" >"$T_TMP/www.log" 2>&1 &
T_PIDS+=($!)
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$PWWW/disk.qcow2" || not_ok "the HTTP server starts"
# one import at a time, and a 2 s window for the minimum rate, so that a
# trickling source is seen quickly and the queue behind it is visible;
# --upload-timeout 10: the cut-off upload below must still find its image
# waiting after a python start, a hang-up and two kubectl reads, which took
# more than 3 s on a loaded machine (the image had timed out: Failed).
VIM_FLAGS=(--dvcr-url "http://127.0.0.1:$PREG" --upload-timeout 10 --import-workers 1
	--import-min-rate 1024 --import-stall-window 2)
vim_start "$T_TMP/data" "${VIM_FLAGS[@]}" || {
	not_ok "vimaged starts"
	exit 1
}

phase_is() { [ "$(k get "$1" -o jsonpath='{.status.phase}' 2>/dev/null)" = "$2" ]; }
jp() { k get "$1" -o jsonpath="$2"; }
ready_cond() { jp "$1" '{.status.conditions[?(@.type=="Ready")].reason} {.status.conditions[?(@.type=="Ready")].message}'; }
manifest_code() { # VI-NAME
	curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://127.0.0.1:$PREG/v2/vi/default/$1/manifests/$(jp "vi/$1" '{.metadata.uid}')"
}
vi_apply() { # NAME DATASOURCE-FLOW-YAML
	printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: %s, namespace: default}\nspec: {dataSource: %s}\n' "$1" "$2" | k apply -f - >/dev/null
}

vi_apply short "{type: HTTP, http: {url: \"http://127.0.0.1:$PWWW/short.img\"}}"
check "a body cut short fails the image" wait_for 30 phase_is vi/short Failed
expect_match "saying the transfer ended early" 'ProvisioningFailed.* (partial|short|ended|closed|transfer)' "$(ready_cond vi/short)"
expect_eq "no manifest for it in DVCR" 404 "$(manifest_code short)"

vi_apply corrupt "{type: HTTP, http: {url: \"http://127.0.0.1:$PWWW/corrupt.qcow2\"}}"
check "a corrupt qcow2 header fails the image" wait_for 30 phase_is vi/corrupt Failed
expect_match "naming qcow2 in the message" 'ProvisioningFailed.*qcow2' "$(ready_cond vi/corrupt)"
expect_eq "no manifest for it in DVCR" 404 "$(manifest_code corrupt)"

out=$(printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: badca, namespace: default}\nspec: {dataSource: {type: HTTP, http: {url: "https://127.0.0.1:%s/disk.qcow2", caBundle: "%%%% not base64"}}}\n' "$PWWW" | k apply -f - 2>&1)
expect_match "a caBundle that is not base64 is refused at the API" 'spec.dataSource.http.caBundle: Invalid value: .*must be base64-encoded PEM' "$out"

# a password in the source URL, or a presigned URL's signature, shows
# nowhere but in the spec the user wrote: not in the status, the events or
# the log
vi_apply creds "{type: HTTP, http: {url: \"http://user:secretpw@127.0.0.1:$PWWW/missing?X-Amz-Signature=sigsecret\"}}"
check "a missing file behind a URL with credentials fails the image" wait_for 30 phase_is vi/creds Failed
expect_match "the message names the URL without them" 'ProvisioningFailedTerminally .*GET http://\*\*\*@127\.0\.0\.1:[0-9]+/missing\?X-Amz-Signature=\*\*\*: the server answered 404' "$(ready_cond vi/creds)"
expect_eq "the password is not in the status" "" "$(jp vi/creds '{.status}' | grep -o 'secretpw\|sigsecret')"
expect_eq "nor in the events" "" "$(k get events -o yaml | grep -o 'secretpw\|sigsecret')"
expect_eq "nor in the log" "" "$(grep -o 'secretpw\|sigsecret' "$T_TMP/data/vimaged.log")"
check "the source saw the request (with its credentials)" grep -q 'GET /missing?X-Amz-Signature=sigsecret' "$T_TMP/www.log"

# an upload that stops half-way: the image keeps waiting, a full one works
vi_apply half "{type: Upload}"
check "an Upload image waits" wait_for 15 phase_is vi/half WaitForUserUpload
url=$(jp vi/half '{.status.imageUploadURLs.external}')
head -c 100000 "$WWW/disk.qcow2" >"$T_TMP/half"
# claim the whole size, send a tenth, hang up
python3 - "$url" "$(stat -c %s "$WWW/disk.qcow2")" "$T_TMP/half" <<'PY'
import socket, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
s = socket.create_connection((u.hostname, u.port))
s.sendall(("PUT %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %s\r\n\r\n" % (u.path, u.netloc, sys.argv[2])).encode())
s.sendall(open(sys.argv[3], "rb").read())
s.close()
PY
sleep 1
expect_eq "a cut-off upload leaves the image waiting" WaitForUserUpload "$(jp vi/half '{.status.phase}')"
code=$(curl -s -o /dev/null -w '%{http_code}' -T "$WWW/disk.qcow2" "$url")
expect_eq "the same URL then takes the whole image" 200 "$code"
check "and the image becomes Ready" wait_for 30 phase_is vi/half Ready

# an upload that never comes
vi_apply late "{type: Upload}"
wait_for 15 phase_is vi/late WaitForUserUpload
late_url=$(jp vi/late '{.status.imageUploadURLs.external}')
check "an Upload nobody sends fails after --upload-timeout" wait_for 30 phase_is vi/late Failed
expect_match "with WaitForUserUploadTimeout" 'WaitForUserUploadTimeout .*10 seconds' "$(ready_cond vi/late)"
expect_eq "its upload URL is closed then" 404 "$(curl -s -o /dev/null -w '%{http_code}' -T "$WWW/disk.qcow2" "$late_url")"

# deleting an image cancels its import
vi_apply gone "{type: HTTP, http: {url: \"http://127.0.0.1:$PWWW/slow-gone\"}}"
check "a slow import is under way" wait_for 15 sh -c "[ \"\$($(printf '%q ' "${KUBECTL:-kubectl}") --kubeconfig $KUBECONFIG_FILE get vi/gone -o jsonpath='{.status.phase}')\" = Provisioning ]"
uid=$(jp vi/gone '{.metadata.uid}')
t0=$(date +%s%N)
k delete vi/gone --wait=true --timeout=15s >/dev/null 2>&1
ms=$((($(date +%s%N) - t0) / 1000000))
check "deleting it cancels the import (gone in ${ms} ms, the transfer needs ~8 s)" sh -c "[ $ms -lt 3000 ] && ! $(printf '%q ' "${KUBECTL:-kubectl}") --kubeconfig $KUBECONFIG_FILE get vi/gone"
expect_eq "and leaves no manifest" 404 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://127.0.0.1:$PREG/v2/vi/default/gone/manifests/$uid")"

# vimaged killed mid-import: on restart the import starts over, and
# nothing partial was ever Ready
vi_apply crash "{type: HTTP, http: {url: \"http://127.0.0.1:$PWWW/slow-crash\"}}"
check "another slow import is under way" wait_for 15 sh -c "[ \"\$($(printf '%q ' "${KUBECTL:-kubectl}") --kubeconfig $KUBECONFIG_FILE get vi/crash -o jsonpath='{.status.phase}')\" = Provisioning ]"
sleep 1
kill -KILL "$VIM_PID"
wait "$VIM_PID" 2>/dev/null
uid=$(k get vi/crash -o jsonpath='{.metadata.uid}' 2>/dev/null)
expect_eq "the killed import left no manifest" 404 "$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://127.0.0.1:$PREG/v2/vi/default/crash/manifests/$uid")"
vim_start "$T_TMP/data" "${VIM_FLAGS[@]}" || not_ok "vimaged restarts"
check "after the restart the import runs again to Ready" wait_for 40 phase_is vi/crash Ready
expect_eq "with the whole image" "$(stat -c %s "$WWW/big.qcow2")" "$(jp vi/crash '{.status.size.storedBytes}')"
expect_eq "the source was asked twice" 2 "$(grep -c 'GET /slow-crash' "$T_TMP/www.log")"

# a source that sends 10 B/s holds the only import slot: the minimum rate
# fails the attempt as transient, the image queued behind it runs next,
# and the retry waits behind it
vi_apply trickle "{type: HTTP, http: {url: \"http://127.0.0.1:$PWWW/trickle\"}}"
check "a trickling import is under way" wait_for 10 grep -q 'GET /trickle' "$T_TMP/www.log"
vi_apply after "{type: HTTP, http: {url: \"http://127.0.0.1:$PWWW/disk.qcow2\"}}"
check "a source below --import-min-rate fails the attempt" wait_for 20 phase_is vi/trickle Failed
expect_match "as transient, with the numbers" 'ProvisioningFailed Provisioning failed: GET http://127\.0\.0\.1:[0-9]+/trickle: the source sent [0-9]+ bytes in the last 2 s \(minimum 1024 B/s\): stalled' "$(ready_cond vi/trickle)"
check "the image queued behind it gets the slot" wait_for 30 phase_is vi/after Ready
expect_eq "before the trickling one is retried" 1 "$(grep -c 'GET /trickle' "$T_TMP/www.log")"
k delete vi/trickle --wait=true --timeout=15s >/dev/null 2>&1

vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"
exit "$T_FAILED"
