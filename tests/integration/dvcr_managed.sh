#!/usr/bin/env bash
# Without --dvcr-url vimaged runs its own docker-registry: configured for
# lost-data detection (no blob cache, deletes on, loopback, htpasswd),
# notifying vimaged, restarted when it dies, stopped with vimaged, on the
# same port after a restart.
. "$(dirname "$0")/lib.sh"

DATA=$T_TMP/data
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/disk.qcow2" 16M
www_start "$WWW" || not_ok "the HTTP server starts"
PWWW=$WWW_PORT
# the probe and the sweep are slowed right down: only a notification can
# tell vimaged of a deleted manifest in time
FLAGS=(--storage-probe-interval 3600 --presence-sweep-interval 3600 --metrics-anonymous)
vim_start "$DATA" "${FLAGS[@]}" || { not_ok "vimaged starts without --dvcr-url"; exit 1; }
ok "vimaged starts without --dvcr-url"

CFG=$DATA/dvcr/config.yml
reg_pid() { pgrep -f "docker-registry serve $CFG" | head -n1; }
PORT=$(cat "$DATA/dvcr/port")
REG=http://127.0.0.1:$PORT
PASS=$(cat "$DATA/dvcr/password")
pid1=$(reg_pid)
check "it runs docker-registry with its own config" test -n "$pid1"
expect_match "bound to loopback" "addr: 127\.0\.0\.1:$PORT" "$(cat "$CFG")"
expect_match "deletes enabled" 'delete:\s*$' "$(cat "$CFG")"
check "no blob descriptor cache (it hides lost data)" sh -c "! grep -q blobdescriptor '$CFG'"
check "the password file is private" test "$(stat -c %a "$DATA/dvcr/password")" = 600
expect_eq "anonymous requests are refused" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$REG/v2/")"
expect_eq "the generated credentials work" 200 "$(curl -s -o /dev/null -w '%{http_code}' -u "vimage:$PASS" "$REG/v2/")"

expect_match "--metrics-anonymous serves /metrics without the token" '^vimage_controllers_up 1$' "$(curl -s "$VIM_URL/metrics")"

phase_is() { [ "$(k get "$1" -o jsonpath='{.status.phase}' 2>/dev/null)" = "$2" ]; }
jp() { k get "$1" -o jsonpath="$2"; }
printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: disk, namespace: default}\nspec: {dataSource: {type: HTTP, http: {url: "http://127.0.0.1:%s/disk.qcow2"}}}\n' "$PWWW" | k apply -f - >/dev/null
check "an HTTP image becomes Ready in the managed registry" wait_for 30 phase_is vi/disk Ready
uid=$(jp vi/disk '{.metadata.uid}')
expect_eq "its registryURL names the managed registry" "127.0.0.1:$PORT/vi/default/disk:$uid" "$(jp vi/disk '{.status.target.registryURL}')"
expect_match "skopeo reads it with the credentials" '"Architecture"' \
	"$(skopeo inspect --tls-verify=false --creds "vimage:$PASS" "docker://127.0.0.1:$PORT/vi/default/disk:$uid" 2>&1)"

# the registry dies: the supervisor starts it again
kill -KILL "$pid1"
check "a killed registry is started again" wait_for 10 sh -c "p=\$(pgrep -f 'docker-registry serve $CFG'); [ -n \"\$p\" ] && [ \"\$p\" != $pid1 ]"
check "and answers again" wait_for 10 curl -sf -o /dev/null -u "vimage:$PASS" "$REG/v2/"
expect_match "vimaged says so" 'docker-registry was killed by signal 9; restarting' "$(cat "$DATA/vimaged.log")"

# a manifest deleted behind vimaged's back: the registry's notification
# brings the image to ImageLost (probe and sweep are an hour away)
digest=$(curl -sI -u "vimage:$PASS" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	"$REG/v2/vi/default/disk/manifests/$uid" | tr -d '\r' | sed -n 's/^[Dd]ocker-[Cc]ontent-[Dd]igest: //p')
wait_for 10 curl -sf -o /dev/null -u "vimage:$PASS" "$REG/v2/"
code=$(curl -s -o /dev/null -w '%{http_code}' -u "vimage:$PASS" -X DELETE "$REG/v2/vi/default/disk/manifests/$digest")
expect_eq "the manifest is deleted out of band" 202 "$code"
check "the registry's notification makes the image ImageLost" wait_for 15 phase_is vi/disk ImageLost

# stop and start: the registry goes with vimaged and comes back on its port
pid2=$(reg_pid)
vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"
check "its registry stopped with it" sh -c "! kill -0 $pid2 2>/dev/null"
vim_start "$DATA" "${FLAGS[@]}" || not_ok "vimaged starts again"
expect_eq "the registry is on the same port again" "$PORT" "$(cat "$DATA/dvcr/port")"
expect_eq "with the same password" "$PASS" "$(cat "$DATA/dvcr/password")"
check "and answers" wait_for 10 curl -sf -o /dev/null -u "vimage:$PASS" "$REG/v2/"

# vimaged killed outright: the registry does not outlive it
pid3=$(reg_pid)
kill -KILL "$VIM_PID"
wait "$VIM_PID" 2>/dev/null
check "a killed vimaged leaves no registry behind" wait_for 10 sh -c "! kill -0 $pid3 2>/dev/null"
exit "$T_FAILED"
