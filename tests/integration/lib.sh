# Integration test harness: sourced by tests/integration/*.sh.
# Starts the real vimaged (and, in later suites, docker-registry) on loopback
# ports it picks, drives it with the real kubectl, prints TAP lines
# ("ok - name" / "not ok - name") that tests/run counts.
set -u
BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VIMAGED="$ROOT/$BUILD/vimaged"
KUBECTL_DIR=$(dirname "$(readlink -f "$(command -v kubectl)")")
T_FAILED=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vimage-it.XXXXXX")
T_PIDS=()

T_SHM=() # etcd data dirs on tmpfs: removed at exit even when T_TMP is kept

t_cleanup() {
	local p
	# (SIGCONT too: a process an etcd_pause left stopped would hold the
	# SIGTERM pending, and the wait below would never return)
	for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null && kill -CONT "$p" 2>/dev/null; done
	for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for p in "${T_SHM[@]}"; do rm -rf "$p"; done
	if [ "$T_FAILED" -eq 0 ]; then rm -rf "$T_TMP"; else echo "# kept $T_TMP"; fi
}
trap t_cleanup EXIT

ok() { echo "ok - $*"; }
not_ok() {
	echo "not ok - $*"
	T_FAILED=1
}

# check NAME CMD...: runs CMD, ok when it exits 0; on failure shows its output.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$name"
	else
		not_ok "$name"
		printf '%s\n' "$out" | sed 's/^/#   /'
	fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1"
		echo "#   expected: $2"
		echo "#   actual:   $3"
	fi
}

# expect_match NAME REGEX TEXT
expect_match() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then ok "$1"; else
		not_ok "$1"
		echo "#   wanted /$2/ in:"
		printf '%s\n' "$3" | sed 's/^/#   /'
	fi
}

# vim_start DATADIR [extra vimaged flags...]: starts vimaged on a free port
# and waits (30 s at most) until /readyz says the whole service is ready:
# controllers, kubectl endpoint, kubeconfig (with --controllers off, the API
# alone); sets VIM_URL, VIM_PID, KUBECONFIG_FILE, VIM_TOKEN.
# With VIM_STORE=etcd (tests/run's second leg of a suite, or an etcd_*
# suite) and no --store among the flags, the objects live in etcd: the
# suite's etcd (etcd_start, started here when none runs yet), under one
# prefix for the whole suite (VIM_ETCD_PREFIX), so a restart finds them.
# On etcd a managed registry is refused (it belongs to one machine): when
# the flags name no --dvcr-url and the controllers are on, the suite's one
# docker-registry (vim_registry, started at the first such start and reused
# by every later one, restarts included) is passed as --dvcr-url.
vim_start() {
	local dir=$1 i ready= store=() a prev= on_etcd= dvcr=()
	shift
	if [ "${VIM_STORE:-sqlite}" = etcd ]; then
		store=(--store etcd)
		on_etcd=1
	fi
	for a in "$@"; do
		[ "$a" = --store ] && store=() && on_etcd=
		[ "$prev" = --store ] && [ "$a" = etcd ] && on_etcd=1
		prev=$a
	done
	if [ "${#store[@]}" -ne 0 ]; then
		if [ -z "${ETCD_ENDPOINTS:-}" ]; then etcd_start || return 1; fi
		: "${VIM_ETCD_PREFIX:=/vimage-$$-$RANDOM}"
		store+=(--etcd-endpoints "$ETCD_ENDPOINTS" --etcd-prefix "$VIM_ETCD_PREFIX")
	fi
	if [ -n "$on_etcd" ] && vim_wants_registry "$@"; then
		vim_registry || return 1
		dvcr=(--dvcr-url "$VIM_REGISTRY_URL")
	fi
	mkdir -p "$dir"
	echo "# --- vimaged start $(date +%T)" >>"$dir/vimaged.log"
	"$VIMAGED" --data-dir "$dir" --listen "${VIM_LISTEN:-127.0.0.1:0}" "${store[@]}" "${dvcr[@]}" "$@" >>"$dir/vimaged.log" 2>&1 &
	VIM_PID=$!
	T_PIDS+=("$VIM_PID")
	VIM_URL=
	# (the log is appended to across restarts: take the line of this start)
	for i in $(seq 1 300); do
		VIM_URL=$(sed -n 's/^vimaged: listening on \(http[s]*:\/\/[0-9.:]*\).*/\1/p' "$dir/vimaged.log" | tail -n1)
		if [ -n "$VIM_URL" ] && curl -fsS "$VIM_URL/readyz" >/dev/null 2>&1; then
			ready=1
			break
		fi
		if ! kill -0 "$VIM_PID" 2>/dev/null; then
			echo "# vimaged exited at start:"
			sed 's/^/#   /' "$dir/vimaged.log"
			return 1
		fi
		sleep 0.1
	done
	KUBECONFIG_FILE="$dir/kubeconfig"
	VIM_TOKEN=$(cat "$dir/token" 2>/dev/null)
	if [ -z "$ready" ]; then
		echo "# vimaged is not ready after 30 s: ${VIM_URL:-no URL logged}"
		[ -n "$VIM_URL" ] && curl -sS "$VIM_URL/readyz?verbose" 2>&1 | sed 's/^/#   /'
		return 1
	fi
}

# vim_wants_registry [vimaged flags...]: the flags name no --dvcr-url and
# do not turn the controllers off.
vim_wants_registry() {
	local a prev=
	for a in "$@"; do
		case "$a" in --dvcr-url | --dvcr-url=*) return 1 ;; esac
		[ "$prev" = --controllers ] && [ "$a" = off ] && return 1
		[ "$a" = --controllers=off ] && return 1
		prev=$a
	done
	return 0
}

# vim_registry: the suite's docker-registry for vimaged on etcd, started
# once ($T_TMP/vim-registry); sets VIM_REGISTRY_URL, VIM_REGISTRY_DIR.
vim_registry() {
	[ -n "${VIM_REGISTRY_URL:-}" ] && return 0
	local port
	port=$(free_port)
	VIM_REGISTRY_DIR=$T_TMP/vim-registry
	local saved=${REG_PID:-} rc=0 # (a suite's own registry keeps REG_PID)
	registry_start "$VIM_REGISTRY_DIR" "$port" || rc=1
	VIM_REGISTRY_PID=$REG_PID
	REG_PID=$saved
	if [ "$rc" -ne 0 ]; then
		echo "# the suite's registry did not start on $port"
		return 1
	fi
	VIM_REGISTRY_URL=http://127.0.0.1:$port
}

# etcd_vim_start DIR [vimaged flags...]: the etcd_* suites' preamble: the
# suite's etcd, then vimaged on it; either failing is a "not ok" line and
# the suite's end (nothing after can run).
etcd_vim_start() {
	VIM_STORE=etcd
	etcd_start || {
		not_ok "etcd starts"
		exit 1
	}
	vim_start "$@" || {
		not_ok "vimaged starts on etcd"
		exit 1
	}
}

# free_port: a loopback port nobody listens on right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# registry_start DIR PORT [extra yaml]: a real docker-registry (CNCF
# distribution) with storage in DIR/storage, deletes on, no blob cache;
# sets REG_PID.
registry_start() {
	local dir=$1 port=$2 extra=${3:-}
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
$extra
EOF
	docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
	REG_PID=$!
	T_PIDS+=("$REG_PID")
	wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$port/v2/"
}

# registry_notify_yaml URL TOKEN: the registry config's notifications
# section (registry_start's extra yaml) sending every change but pulls to
# URL (vimaged's /dvcr/events) with TOKEN, retried every second.
registry_notify_yaml() {
	cat <<EOF
notifications:
  endpoints:
    - name: vimaged
      url: $1
      headers:
        Authorization: [Bearer $2]
      timeout: 2s
      threshold: 3
      backoff: 1s
      ignore:
        actions: [pull]
EOF
}

# vim_stop: SIGTERM and wait; returns vimaged's exit status.
vim_stop() {
	kill -TERM "$VIM_PID" 2>/dev/null
	wait "$VIM_PID"
}

# ---- several replicas on one etcd ---------------------------------------------
# vim_replicas_start N DIR [vimaged flags...]: N vimaged replicas (on the
# suite's etcd, VIM_STORE=etcd, one prefix) with data dirs DIR/r0..r(N-1),
# each on its own port (VIM_PORTS[i] when the suite chose them, say for a
# registry's notifications, else a free one) so that a restart keeps its
# URL and replica id.  Replica 0 starts first and is waited for until it
# leads (ttl+2 s at most; the flags' --lease-ttl, else 10), so a suite
# knows its first leader; then the others.  Sets VIM_URLS, VIM_PIDS,
# VIM_DIRS, VIM_TOKENS, VIM_KUBECONFIGS (index = replica) and VIM_REPLICA_FLAGS;
# vim_use I points VIM_URL, k and api at one of them.
VIM_PORTS=()
VIM_URLS=()
VIM_PIDS=()
VIM_DIRS=()
VIM_TOKENS=()
VIM_KUBECONFIGS=()
VIM_REPLICA_FLAGS=()
vim_replicas_start() {
	local n=$1 dir=$2 i
	shift 2
	VIM_STORE=etcd
	VIM_REPLICA_FLAGS=("$@")
	VIM_LEASE_TTL=$(vim_flag_value --lease-ttl "$@")
	: "${VIM_LEASE_TTL:=10}"
	if [ -z "${ETCD_ENDPOINTS:-}" ]; then etcd_start || return 1; fi
	for i in $(seq 0 $((n - 1))); do
		[ -n "${VIM_PORTS[$i]:-}" ] || VIM_PORTS[$i]=$(free_port)
		VIM_DIRS[$i]=$dir/r$i
		vim_replica_start "$i" || return 1
		if [ "$i" -eq 0 ] && ! wait_for $((VIM_LEASE_TTL + 2)) vim_is_leader 0; then
			echo "# replica 0 does not lead $((VIM_LEASE_TTL + 2)) s after its start"
			return 1
		fi
	done
}

# vim_flag_value FLAG [flags...]: the value after FLAG among the flags.
vim_flag_value() {
	local f=$1 a prev=
	shift
	for a in "$@"; do
		[ "$prev" = "$f" ] && echo "$a" && return 0
		prev=$a
	done
}

# vim_replica_start I: starts replica I again (its dir, port and flags).
vim_replica_start() {
	local i=$1
	VIM_LISTEN=127.0.0.1:${VIM_PORTS[$i]} vim_start "${VIM_DIRS[$i]}" \
		"${VIM_REPLICA_FLAGS[@]}" || return 1
	VIM_URLS[$i]=$VIM_URL
	VIM_PIDS[$i]=$VIM_PID
	VIM_TOKENS[$i]=$VIM_TOKEN
	VIM_KUBECONFIGS[$i]=$KUBECONFIG_FILE
}

# vim_replica_stop I: SIGTERM (and SIGCONT, should it be stopped), then waits.
vim_replica_stop() {
	kill -TERM "${VIM_PIDS[$1]}" 2>/dev/null && kill -CONT "${VIM_PIDS[$1]}" 2>/dev/null
	wait "${VIM_PIDS[$1]}" 2>/dev/null
}

# vim_replica_kill I: SIGKILL, as a machine's crash would.
vim_replica_kill() {
	kill -9 "${VIM_PIDS[$1]}" 2>/dev/null
	wait "${VIM_PIDS[$1]}" 2>/dev/null
	return 0
}

# vim_replica_restart I: stop (SIGTERM, wait) and start again.
vim_replica_restart() {
	vim_replica_stop "$1"
	vim_replica_start "$1"
}

# vim_use I: VIM_URL, VIM_PID, VIM_TOKEN and KUBECONFIG_FILE (k, api,
# watch_start) name replica I.
vim_use() {
	VIM_URL=${VIM_URLS[$1]}
	VIM_PID=${VIM_PIDS[$1]}
	VIM_TOKEN=${VIM_TOKENS[$1]}
	KUBECONFIG_FILE=${VIM_KUBECONFIGS[$1]}
}

# vim_metric I NAME: the value of the sample NAME (with its labels, as
# printed) in replica I's /metrics; empty when it does not answer in 1 s.
vim_metric() {
	curl -s -m 1 -H "Authorization: Bearer ${VIM_TOKENS[$1]}" "${VIM_URLS[$1]}/metrics" 2>/dev/null |
		awk -v k="$2" '$1 == k {print $2}'
}

vim_is_leader() { [ "$(vim_metric "$1" vimage_leader)" = 1 ]; }

# vim_leaders [I...]: the indexes (of the replicas named, default all)
# whose /metrics say vimage_leader 1, one a line.
vim_leaders() {
	local i
	for i in "${@:-${!VIM_URLS[@]}}"; do
		vim_is_leader "$i" && echo "$i"
	done
	return 0
}

# vim_leader [I...]: the one index whose /metrics say vimage_leader 1;
# fails (prints nothing) when none or several do.
vim_leader() {
	local l
	l=$(vim_leaders "$@")
	[ -n "$l" ] && [ "$(printf '%s\n' "$l" | wc -l)" -eq 1 ] || return 1
	echo "$l"
}

# vim_wait_leader SECONDS [I...]: waits until exactly one of the replicas
# named leads; prints its index.
vim_wait_leader() {
	local deadline=$(($(date +%s%N) / 1000000 + $1 * 1000)) l
	shift
	while :; do
		if l=$(vim_leader "$@"); then
			echo "$l"
			return 0
		fi
		[ "$(($(date +%s%N) / 1000000))" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# k [args...]: the machine's kubectl against the running vimaged, with a
# private discovery cache.  KUBECTL may name another build (kubectl.1.27).
k() {
	"${KUBECTL:-kubectl}" --kubeconfig "$KUBECONFIG_FILE" --cache-dir "$T_TMP/kcache-${KUBECTL:-kubectl}" "$@"
}

# api METHOD PATH [curl args...]: raw HTTP with the admin token.
api() {
	local m=$1 p=$2
	shift 2
	curl -sS -X "$m" -H "Authorization: Bearer $VIM_TOKEN" "$@" "$VIM_URL$p"
}

# watch_start FILE PATH [curl args...]: a raw watch (PATH with ?watch=true)
# into FILE, event by event (curl -N: unbuffered, so a test can grep FILE
# while it runs); sets WATCH_PID, the curl itself (kill ends the watch).
watch_start() {
	local f=$1 p=$2
	shift 2
	curl -sS -N -H "Authorization: Bearer $VIM_TOKEN" "$@" "$VIM_URL$p" >"$f" 2>&1 &
	WATCH_PID=$!
	T_PIDS+=("$WATCH_PID")
}

# wait_for SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
	local deadline=$(($(date +%s) + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(date +%s)" -ge "$deadline" ] && return 1
		sleep 0.2
	done
}

# src_registry_start DIR: a second docker-registry, the kind a
# ContainerImage source names: TLS (its own self-signed CA in DIR/tls.crt)
# and htpasswd (user "puller", password "s3cret pass").  Sets SRC_PORT.
src_registry_start() {
	local dir=$1
	mkdir -p "$dir/storage"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
	htpasswd -nbB puller 's3cret pass' >"$dir/htpasswd" 2>/dev/null
	SRC_PORT=$(free_port)
	cat >"$dir/config.yml" <<YML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $dir/storage}
auth:
  htpasswd: {realm: src, path: $dir/htpasswd}
http:
  addr: 127.0.0.1:$SRC_PORT
  tls: {certificate: $dir/tls.crt, key: $dir/tls.key}
YML
	docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
	T_PIDS+=($!)
	wait_for 10 curl -sk -o /dev/null "https://127.0.0.1:$SRC_PORT/v2/"
}

# oci_blob LAYOUT FILE: stores FILE as a blob of the OCI layout; prints its
# sha256 hex.
oci_blob() {
	local h
	h=$(sha256sum "$2" | cut -d' ' -f1)
	mkdir -p "$1/blobs/sha256"
	cp "$2" "$1/blobs/sha256/$h"
	echo "$h"
}

# oci_manifest LAYOUT LAYER-FILE LAYER-MEDIATYPE ARCH: an image of one
# layer; prints "<manifest sha256 hex> <manifest size>".
oci_manifest() {
	local L=$1 lf=$2 lmt=$3 arch=$4 lh ch mh tmp
	tmp=$(mktemp -d "$T_TMP/oci.XXXXXX")
	lh=$(oci_blob "$L" "$lf")
	printf '{"architecture":"%s","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' "$arch" >"$tmp/cfg.json"
	ch=$(oci_blob "$L" "$tmp/cfg.json")
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"%s","digest":"sha256:%s","size":%s}]}' \
		"$ch" "$(stat -c %s "$tmp/cfg.json")" "$lmt" "$lh" "$(stat -c %s "$lf")" >"$tmp/man.json"
	mh=$(oci_blob "$L" "$tmp/man.json")
	echo "$mh $(stat -c %s "$tmp/man.json")"
}

# oci_push_disk DISK-FILE REPO:TAG: pushes an image whose one gzip layer
# holds disk/<basename of DISK-FILE> to the source registry.
oci_push_disk() {
	local L ctx m s
	L=$(mktemp -d "$T_TMP/layout.XXXXXX")
	ctx=$(mktemp -d "$T_TMP/ctx.XXXXXX")
	mkdir -p "$ctx/disk"
	cp "$1" "$ctx/disk/"
	tar -C "$ctx" -czf "$L.layer.tgz" disk
	read -r m s < <(oci_manifest "$L" "$L.layer.tgz" application/vnd.oci.image.layer.v1.tar+gzip amd64)
	echo '{"imageLayoutVersion":"1.0.0"}' >"$L/oci-layout"
	printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"img"}}]}' "$m" "$s" >"$L/index.json"
	skopeo copy -q --dest-tls-verify=false --dest-creds 'puller:s3cret pass' \
		"oci:$L:img" "docker://127.0.0.1:$SRC_PORT/$2" >"$L.log" 2>&1
}

# www_start DIR: a real HTTP server (python3's) serving DIR on a free
# loopback port, its access log in $T_TMP/www.log; sets WWW_PORT.
www_start() {
	WWW_PORT=$(free_port)
	(cd "$1" && exec python3 -m http.server "$WWW_PORT" --bind 127.0.0.1 >"$T_TMP/www.log" 2>&1) &
	T_PIDS+=($!)
	wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$WWW_PORT/"
}

# ---- etcd ------------------------------------------------------------------------
# The real etcd (/usr/bin/etcd, etcd-server) on loopback ports picked here,
# its data on tmpfs (/dev/shm) when there is one, its log in
# $T_TMP/etcd-NAME/log.  Members are known by NAME: ETCD_PID_OF[NAME],
# ETCD_URL_OF[NAME] (its client URL), ETCD_ARGS_OF[NAME] (the command line,
# to start it again on its data dir).  ETCD_ENDPOINTS lists every member's
# client URL (comma-separated, first member first), ETCD_PIDS their PIDs.
# With ETCD_TLS=DIR (etcd_tls_certs DIR), clients must show a certificate
# signed by DIR/ca.crt and the URLs are https.
declare -A ETCD_PID_OF=() ETCD_URL_OF=() ETCD_ARGS_OF=()
ETCD_NAMES=()
ETCD_PIDS=()
ETCD_ENDPOINTS=
ETCD_PID=

# etcd_datadir NAME: a fresh directory for NAME's data, in ETCD_DATADIR
# (not printed: T_SHM must be set in this shell, not a subshell's).
etcd_datadir() {
	local base
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		base=$(mktemp -d /dev/shm/vimage-etcd.XXXXXX) || return 1
		T_SHM+=("$base")
	else
		base=$(mktemp -d "$T_TMP/etcd-data.XXXXXX") || return 1
	fi
	ETCD_DATADIR=$base/$1
}

# etcd_tls_certs DIR: a CA, a server certificate for 127.0.0.1 and a client
# certificate (CN client), made with the openssl CLI: DIR/ca.crt,
# DIR/server.{crt,key}, DIR/client.{crt,key}, DIR/other-ca.crt (a CA that
# signed nothing here).
etcd_tls_certs() {
	local d=$1 who
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=vimage-test-ca \
		-keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null || return 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca \
		-keyout "$d/other-ca.key" -out "$d/other-ca.crt" 2>/dev/null || return 1
	printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$d/server.ext"
	printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
	for who in server client; do
		openssl req -newkey rsa:2048 -nodes -subj "/CN=$who" -keyout "$d/$who.key" \
			-out "$d/$who.csr" 2>/dev/null || return 1
		openssl x509 -req -in "$d/$who.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
			-days 2 -extfile "$d/$who.ext" -out "$d/$who.crt" 2>/dev/null || return 1
	done
}

# etcd_curl URL [curl args...]: curl to a member, with the client
# certificate when etcd wants one.
etcd_curl() {
	local u=$1
	shift
	if [ -n "${ETCD_TLS:-}" ]; then
		curl -sS --cacert "$ETCD_TLS/ca.crt" --cert "$ETCD_TLS/client.crt" \
			--key "$ETCD_TLS/client.key" "$@" "$u"
	else
		curl -sS "$@" "$u"
	fi
}

# etcd_healthy URL: the member at URL answers /health with health true.
etcd_healthy() {
	etcd_curl "$1/health" -m 2 2>/dev/null | grep -q '"health":"true"'
}

# etcd_spawn NAME: runs NAME's command line in the background (appending to
# its log); records the PID.
etcd_spawn() {
	local n=$1 dir=$T_TMP/etcd-$1
	mkdir -p "$dir"
	echo "# --- etcd $n start $(date +%T)" >>"$dir/log"
	# shellcheck disable=SC2086  # ETCD_ARGS_OF holds no spaces within a word
	etcd ${ETCD_ARGS_OF[$n]} >>"$dir/log" 2>&1 &
	ETCD_PID_OF[$n]=$!
	T_PIDS+=($!)
}

# etcd_refresh: ETCD_PIDS, ETCD_PID and ETCD_ENDPOINTS from the members.
etcd_refresh() {
	local n eps=()
	ETCD_PIDS=()
	for n in "${ETCD_NAMES[@]}"; do
		ETCD_PIDS+=("${ETCD_PID_OF[$n]}")
		eps+=("${ETCD_URL_OF[$n]}")
	done
	ETCD_PID=${ETCD_PIDS[0]:-}
	ETCD_ENDPOINTS=$(
		IFS=,
		echo "${eps[*]}"
	)
	export ETCD_ENDPOINTS ETCD_PID
}

# etcd_members_up SECONDS NAME...: waits until every named member is healthy
# (a member of a cluster is only once it has a leader); on failure shows
# their logs.
etcd_members_up() {
	local secs=$1 n
	shift
	for n in "$@"; do
		if ! wait_for "$secs" etcd_healthy "${ETCD_URL_OF[$n]}"; then
			echo "# etcd $n is not healthy after $secs s (${ETCD_URL_OF[$n]}):"
			tail -n 20 "$T_TMP/etcd-$n/log" | sed 's/^/#   /'
			return 1
		fi
	done
}

# etcd_define NAME CLIENT-PORT PEER-PORT CLUSTER TOKEN: NAME's command line.
etcd_define() {
	local n=$1 cp=$2 pp=$3 cluster=$4 token=$5 scheme=http tls=
	if [ -n "${ETCD_TLS:-}" ]; then
		scheme=https
		tls="--client-cert-auth --trusted-ca-file $ETCD_TLS/ca.crt"
		tls="$tls --cert-file $ETCD_TLS/server.crt --key-file $ETCD_TLS/server.key"
	fi
	etcd_datadir "$n" || return 1
	ETCD_URL_OF[$n]=$scheme://127.0.0.1:$cp
	ETCD_ARGS_OF[$n]="--name $n --data-dir $ETCD_DATADIR
		--listen-client-urls $scheme://127.0.0.1:$cp --advertise-client-urls $scheme://127.0.0.1:$cp
		--listen-peer-urls http://127.0.0.1:$pp --initial-advertise-peer-urls http://127.0.0.1:$pp
		--initial-cluster $cluster --initial-cluster-token $token --initial-cluster-state new
		--logger zap --log-level warn $tls ${ETCD_EXTRA:-}"
	ETCD_NAMES+=("$n")
}

# etcd_start [NAME]: one etcd member on loopback (name "etcd" by default),
# healthy within 10 s; exports ETCD_ENDPOINTS and ETCD_PID.  A port taken
# between free_port and etcd's bind (other suites run in parallel) is
# retried on new ports.
etcd_start() {
	local n=${1:-etcd} try cp pp
	for try in 1 2 3; do
		cp=$(free_port)
		pp=$(free_port)
		etcd_define "$n" "$cp" "$pp" "$n=http://127.0.0.1:$pp" "vimage-$$-$n-$try"
		etcd_spawn "$n"
		etcd_refresh
		if etcd_members_up 10 "$n"; then return 0; fi
		kill -9 "${ETCD_PID_OF[$n]}" 2>/dev/null
		wait "${ETCD_PID_OF[$n]}" 2>/dev/null
		unset 'ETCD_NAMES[-1]' # (etcd_define appended it)
		etcd_refresh
	done
	echo "# etcd $n did not start"
	return 1
}

# etcd_cluster_start [PREFIX]: three members (PREFIX1..3, default e1..e3) of
# one cluster on loopback, all healthy within 15 s; ETCD_ENDPOINTS lists the
# three, ETCD_PIDS their PIDs.  Ports taken meanwhile: tried again on new
# ones, as etcd_start does.
etcd_cluster_start() {
	local p=${1:-e} try i cps pps cluster token
	for try in 1 2 3; do
		cps=()
		pps=()
		cluster=
		token="vimage-$$-$p-cluster-$try"
		for i in 1 2 3; do
			cps+=("$(free_port)")
			pps+=("$(free_port)")
			cluster="$cluster${cluster:+,}$p$i=http://127.0.0.1:${pps[$((i - 1))]}"
		done
		for i in 1 2 3; do
			etcd_define "$p$i" "${cps[$((i - 1))]}" "${pps[$((i - 1))]}" "$cluster" "$token"
			etcd_spawn "$p$i"
		done
		etcd_refresh
		if etcd_members_up 15 "${p}1" "${p}2" "${p}3"; then return 0; fi
		for i in 1 2 3; do etcd_kill "$p$i"; done
		unset 'ETCD_NAMES[-1]' 'ETCD_NAMES[-1]' 'ETCD_NAMES[-1]'
		ETCD_NAMES=("${ETCD_NAMES[@]}")
		etcd_refresh
	done
	echo "# the etcd cluster $p did not start"
	return 1
}

# etcd_stop [NAME]: SIGTERM to one member (default: every member) and wait.
etcd_stop() {
	local n
	for n in "${@:-${ETCD_NAMES[@]}}"; do
		kill -TERM "${ETCD_PID_OF[$n]}" 2>/dev/null && kill -CONT "${ETCD_PID_OF[$n]}" 2>/dev/null
		wait "${ETCD_PID_OF[$n]}" 2>/dev/null
	done
	return 0
}

# etcd_kill NAME: SIGKILL, as a machine's crash would.
etcd_kill() {
	kill -9 "${ETCD_PID_OF[$1]}" 2>/dev/null
	wait "${ETCD_PID_OF[$1]}" 2>/dev/null
	return 0
}

# etcd_restart NAME: starts a stopped or killed member again on its data
# dir and ports; healthy within 10 s.
etcd_restart() {
	etcd_spawn "$1"
	etcd_refresh
	etcd_members_up 10 "$1"
}

# etcd_pause [NAME] / etcd_resume [NAME]: SIGSTOP / SIGCONT one member
# (default: every member): a member that hangs, its sockets open.
etcd_pause() {
	local n
	for n in "${@:-${ETCD_NAMES[@]}}"; do kill -STOP "${ETCD_PID_OF[$n]}"; done
}
etcd_resume() {
	local n
	for n in "${@:-${ETCD_NAMES[@]}}"; do kill -CONT "${ETCD_PID_OF[$n]}"; done
}

# ectl [etcdctl args...]: etcdctl (etcd-client) against every member.
ectl() {
	if [ -n "${ETCD_TLS:-}" ]; then
		ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" --cacert "$ETCD_TLS/ca.crt" \
			--cert "$ETCD_TLS/client.crt" --key "$ETCD_TLS/client.key" "$@"
	else
		ETCDCTL_API=3 etcdctl --endpoints "$ETCD_ENDPOINTS" "$@"
	fi
}

# etcd_rev: the cluster's current revision (through the JSON gateway of
# the first member that answers).
etcd_rev() {
	local n r
	for n in "${ETCD_NAMES[@]}"; do
		r=$(etcd_curl "${ETCD_URL_OF[$n]}/v3/kv/range" -m 3 -X POST \
			-d '{"key":"AA==","count_only":true}' 2>/dev/null | jq -r '.header.revision // empty' 2>/dev/null)
		if [ -n "$r" ]; then
			echo "$r"
			return 0
		fi
	done
	return 1
}
