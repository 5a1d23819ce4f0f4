#!/usr/bin/env bash
# The official Python client (python3-kubernetes; issue 14 "Tests"):
# CoreV1Api, CustomObjectsApi, DynamicClient and watch.Watch against the
# real vimaged: paging, a watch resumed from a list, 410 after a restart and
# the re-list, decoded BOOKMARKs, dry-run, deletecollection, Namespaces; with
# the controllers and a real docker-registry, a namespace delete that sweeps
# its Ready image. pyclient_api.py prints the TAP lines.
. "$(dirname "$0")/lib.sh"
PY="/usr/bin/python3 $(dirname "$0")/pyclient_api.py"

# run PHASE ARG: the Python phase's TAP lines; a missing "done" line fails
run() {
	local out
	out=$(timeout 90 $PY "$KUBECONFIG_FILE" "$1" "$2" 2>&1)
	printf '%s\n' "$out" | grep -E '^(not )?ok - |^#' || true
	printf '%s\n' "$out" | grep -q "^ok - python $1: done" || {
		T_FAILED=1
		printf '%s\n' "$out" | grep -vE '^(not )?ok - |^#' | sed 's/^/#   /'
		printf '%s\n' "$out" | grep -q "python $1: done" || echo "not ok - python $1: ran to the end"
	}
}

D=$T_TMP/data
vim_start "$D" --controllers off || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts (controllers off)"
run list "$T_TMP/rv"
vim_stop
expect_eq "vimaged exits 0 on SIGTERM after the list phase" 0 "$?"
# the watch history is in memory: after a restart the saved resourceVersion is too old
vim_start "$D" --controllers off || { not_ok "vimaged restarts"; exit 1; }
run gone "$T_TMP/rv"
vim_stop
expect_eq "vimaged exits 0 on SIGTERM after the gone phase" 0 "$?"

REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { not_ok "the registry starts"; exit 1; }
mkdir -p "$T_TMP/www"
qemu-img create -q -f qcow2 "$T_TMP/www/disk.qcow2" 16M
www_start "$T_TMP/www" || not_ok "the HTTP server starts"
vim_start "$T_TMP/data2" --dvcr-url "http://127.0.0.1:$PREG" || { not_ok "vimaged starts with controllers"; exit 1; }
ok "vimaged starts against the registry"
run sweep "http://127.0.0.1:$WWW_PORT/disk.qcow2"
vim_stop
expect_eq "vimaged exits 0 on SIGTERM after the sweep" 0 "$?"
exit $T_FAILED
