#!/usr/bin/env bash
# bench/import — vimage's import throughput and memory against the limit of
# the same pipeline done by curl (not run in CI; `make bench`).
#
# A real HTTP server (python3's ThreadingHTTPServer) serves a random image
# on loopback; a real docker-registry is DVCR.  For each size it measures:
#   baseline: curl GET from the server piped into one streamed blob PUT to
#             the registry (the pipeline's limit on this machine);
#   vimage:   an HTTP VirtualImage from apply to Ready (download, sha256,
#             format detection, tar layer, upload, manifest);
# and vimaged's peak RSS (VmHWM) over the whole run.  Last line:
#   import: ratio=R mib_per_s=N rss_mib=N
# for the largest size.  Targets: ratio >= 0.9, rss <= 64 MiB at any size.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib.sh
SIZES_MIB=${BENCH_IMPORT_SIZES:-256 2048}

REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { echo "import: the registry did not start" >&2; exit 1; }
WWW=$T_TMP/www
mkdir -p "$WWW"
PWWW=$(free_port)
python3 - "$PWWW" "$WWW" >"$T_TMP/www.log" 2>&1 <<'PY' &
import http.server, os, sys
os.chdir(sys.argv[2])
class H(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
T_PIDS+=($!)
vim_start "$T_TMP/data" --dvcr-url "http://127.0.0.1:$PREG" --presence-sweep-interval 3600 ||
	{ echo "import: vimaged did not start" >&2; exit 1; }
now() { date +%s.%N; }
mibps() { python3 -c "import sys; print('%.1f' % ($1 / ($3 - $2)))"; }

for mib in $SIZES_MIB; do
	f=$WWW/img-$mib.raw
	head -c $((mib * 1048576)) /dev/urandom >"$f"
	sum=$(sha256sum "$f" | cut -d' ' -f1)
	cat "$f" >/dev/null # both runs start from the page cache

	# baseline: curl | curl into a blob upload of the same registry
	loc=$(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$PREG/v2/bench/base-$mib/blobs/uploads/" |
		tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
	case $loc in http*) ;; *) loc=http://127.0.0.1:$PREG$loc ;; esac
	t0=$(now)
	curl -s "http://127.0.0.1:$PWWW/img-$mib.raw" |
		curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/octet-stream' \
			-T - "$loc&digest=sha256:$sum" >"$T_TMP/base.code"
	t1=$(now)
	[ "$(cat "$T_TMP/base.code")" = 201 ] || { echo "import: baseline upload failed ($(cat "$T_TMP/base.code"))" >&2; exit 1; }
	base=$(mibps "$mib" "$t0" "$t1")

	t0=$(now)
	printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: img-%s, namespace: default}\nspec: {dataSource: {type: HTTP, http: {url: "http://127.0.0.1:%s/img-%s.raw", checksum: {sha256: "%s"}}}}\n' \
		"$mib" "$PWWW" "$mib" "$sum" | k apply -f - >/dev/null
	until [ "$(k get "vi/img-$mib" -o jsonpath='{.status.phase}')" = Ready ]; do
		case $(k get "vi/img-$mib" -o jsonpath='{.status.phase}') in Failed)
			echo "import: the import failed: $(k get "vi/img-$mib" -o jsonpath='{.status.conditions}')" >&2
			exit 1
			;;
		esac
		sleep 0.05
	done
	t1=$(now)
	vim=$(mibps "$mib" "$t0" "$t1")
	rss=$(awk '/VmHWM/ {printf "%d", $2 / 1024}' "/proc/$VIM_PID/status")
	ratio=$(python3 -c "print('%.2f' % ($vim / $base))")
	echo "size_mib=$mib baseline_mib_per_s=$base vimage_mib_per_s=$vim ratio=$ratio peak_rss_mib=$rss"
	rm -f "$f"
done
vim_stop
echo "import: ratio=$ratio mib_per_s=$vim rss_mib=$rss"
