#!/usr/bin/env bash
# `make run`: on a fresh Debian 12 machine, install what the service needs
# (saying what), build, and start vimaged in the foreground on the embedded
# defaults: SQLite under ./vimage-data, API on 127.0.0.1:8080 or the first
# free port after it.  Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
while read -r p; do
	case "$p" in "" | "#"*) continue ;; esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done <tools/packages.txt
if [ "${#missing[@]}" -ne 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "make run: missing Debian packages (${missing[*]}); run as root or: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "make run: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

make -s -j"$(nproc)" all

port=${VIMAGE_PORT:-8080}
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
data="$PWD/vimage-data"
cat <<MSG
vimaged: data in $data, API on http://127.0.0.1:$port
  ready (kubeconfig written, controllers up) when:  curl http://127.0.0.1:$port/readyz  says ok
  point kubectl at it:  export KUBECONFIG=$data/kubeconfig
  then try:             kubectl get vi -A;  kubectl explain vi.spec.dataSource
  see the point:        build/vimagectl demo   (in another terminal: an image lost and recovered)
Ctrl-C stops it (and the docker-registry it runs).
MSG
exec build/vimaged --data-dir "$data" --listen "127.0.0.1:$port"
