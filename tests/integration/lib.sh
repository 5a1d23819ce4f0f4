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

t_cleanup() {
	local p
	for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${T_PIDS[@]}"; do wait "$p" 2>/dev/null; done
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
vim_start() {
	local dir=$1 i ready=
	shift
	mkdir -p "$dir"
	echo "# --- vimaged start $(date +%T)" >>"$dir/vimaged.log"
	"$VIMAGED" --data-dir "$dir" --listen "${VIM_LISTEN:-127.0.0.1:0}" "$@" >>"$dir/vimaged.log" 2>&1 &
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

# vim_stop: SIGTERM and wait; returns vimaged's exit status.
vim_stop() {
	kill -TERM "$VIM_PID" 2>/dev/null
	wait "$VIM_PID"
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
