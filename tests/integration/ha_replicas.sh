#!/usr/bin/env bash
# Three vimaged replicas on one etcd and one docker-registry (issue 17):
# one leads (controllers, importer, presence monitor), all serve the API.
# Real etcd, registry, kubectl, vimagectl; an HTTP source that logs every
# GET's start and end (slow_www.py) and a TCP balancer in front of the
# replicas (tcp_lb.py, the --external-url).  With --lease-ttl 4 every
# failover is asserted within ttl+2 s of the kill.
# The cases: one leader, tokens and watches across replicas, a registry
# notification through a follower, uploads and downloads through
# followers, kill -9 of the leader under five imports (no GET of an image
# twice at once, nothing Ready half-imported, an image waiting for its
# upload keeps its URL), SIGSTOP of the leader for 30 s (it comes back as
# a follower, its writes fenced), the seed scenario with the leader killed
# while the images are lost, a rolling restart under 20 imports,
# vimagectl status, and --store etcd refusing a managed registry.
. "$(dirname "$0")/lib.sh"

if [ "${VIMAGE_TEST_ETCD:-on}" != on ]; then
	ok "three replicas on etcd # SKIP VIMAGE_TEST_ETCD=off"
	exit 0
fi
TTL=4
G=virtualization.deckhouse.io
R=/apis/$G/v1alpha2/namespaces/default/virtualimages
VIM_STORE=etcd
VIM_ETCD_PREFIX=/vimage-ha-$$
CTL="$ROOT/$BUILD/vimagectl"
RS=$T_TMP/rs
etcd_start || {
	not_ok "etcd starts"
	exit 1
}

# ---- the registry (its notifications go to replica 1, a follower) ------------
VIM_PORTS=("$(free_port)" "$(free_port)" "$(free_port)")
ADDR=("127.0.0.1:${VIM_PORTS[0]}" "127.0.0.1:${VIM_PORTS[1]}" "127.0.0.1:${VIM_PORTS[2]}")
# a replica's id by default: this host's name and the port it listens on
H=$(hostname)
ID=("$H:${VIM_PORTS[0]}" "$H:${VIM_PORTS[1]}" "$H:${VIM_PORTS[2]}")
mkdir -p "$RS/r1"
NOTIFY=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$NOTIFY" >"$RS/r1/notify-token"
REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" "$(registry_notify_yaml "http://${ADDR[1]}/dvcr/events" "$NOTIFY")" || {
	not_ok "the registry starts"
	exit 1
}

# ---- the HTTP source: /slow/ paths at 256 KiB/s, the rest at once -------------
WWW=$T_TMP/www
WLOG=$T_TMP/www-gets.log
mkdir -p "$WWW"
head -c 1536K /dev/urandom >"$T_TMP/big.raw"
head -c 512K /dev/urandom >"$T_TMP/small.raw"
qemu-img convert -q -f raw -O qcow2 "$T_TMP/big.raw" "$WWW/big.qcow2"
qemu-img convert -q -f raw -O qcow2 "$T_TMP/small.raw" "$WWW/small.qcow2"
BIG=$(stat -c %s "$WWW/big.qcow2")
SMALL=$(stat -c %s "$WWW/small.qcow2")
# one file (a hard link) per image: the GET log is per path
for n in w1 $(seq -f sd%g 1 10); do ln "$WWW/small.qcow2" "$WWW/$n.qcow2"; done
for n in $(seq -f fo%g 1 5) st1 $(seq -f rr%g 1 20); do ln "$WWW/big.qcow2" "$WWW/$n.qcow2"; done
PWWW=$(free_port)
python3 "$ROOT/tests/integration/slow_www.py" "$WWW" "$PWWW" 262144 "$WLOG" >"$T_TMP/www.err" 2>&1 &
T_PIDS+=($!)
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$PWWW/small.qcow2" || not_ok "the HTTP source starts"

# ---- the balancer: the address clients use (--external-url) --------------------
PLB=$(free_port)
LB=http://127.0.0.1:$PLB
lb_to() { # I...: where the balancer sends the next connections
	local i
	for i in "$@"; do echo "${ADDR[$i]}"; done >"$T_TMP/lb.backends"
}
lb_to 0 1 2
python3 "$ROOT/tests/integration/tcp_lb.py" "$PLB" "$T_TMP/lb.backends" >"$T_TMP/lb.err" 2>&1 &
T_PIDS+=($!)

FLAGS=(--dvcr-url "http://127.0.0.1:$PREG" --lease-ttl "$TTL" --external-url "$LB"
	--storage-probe-interval 1 --import-workers 8)
if ! "$VIMAGED" --help 2>&1 | grep -q -- --external-url; then
	echo "# this vimaged has no --external-url: upload URLs name the replica that made them"
	FLAGS=("${FLAGS[@]:0:4}" "${FLAGS[@]:6}")
fi
vim_replicas_start 3 "$RS" "${FLAGS[@]}" || {
	not_ok "three replicas start on one etcd and one registry"
	for i in 0 1 2; do tail -n 20 "$RS/r$i/vimaged.log" 2>/dev/null | sed "s/^/# r$i: /"; done
	exit 1
}
ok "three replicas start on one etcd and one registry"

# ---- helpers ----------------------------------------------------------------------
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# within MS CMD...: CMD succeeds within MS milliseconds (polled every 0.1 s)
within() {
	local deadline=$(($(now_ms) + $1))
	shift
	while ! "$@" >/dev/null 2>&1; do
		[ "$(now_ms)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}
others() { # I: the other replicas' indexes
	local i
	for i in "${!VIM_URLS[@]}"; do [ "$i" != "$1" ] && echo "$i"; done
}
vi_http() { # NAME PATH (a YAML document: several make one stream)
	printf -- '---\napiVersion: %s/v1alpha2\nkind: VirtualImage\nmetadata: {name: %s, namespace: default}\nspec: {dataSource: {type: HTTP, http: {url: "http://127.0.0.1:%s%s"}}}\n' \
		"$G" "$1" "$PWWW" "$2"
}
vi_upload() { # NAME
	printf 'apiVersion: %s/v1alpha2\nkind: VirtualImage\nmetadata: {name: %s, namespace: default}\nspec: {dataSource: {type: Upload}}\n' "$G" "$1"
}
phase() { k get "vi/$1" -o jsonpath='{.status.phase}' 2>/dev/null; }
phase_is() { [ "$(phase "$1")" = "$2" ]; }
# table: "name phase storedBytes progress", one image a line
table() {
	k get vi -o jsonpath='{range .items[*]}{.metadata.name} {.status.phase} {.status.size.storedBytes} {.status.progress}{"\n"}{end}' 2>/dev/null
}
# all_are PHASE SIZE NAME...: every named image is in PHASE (and stores SIZE
# bytes, unless SIZE is -)
all_are() {
	local want=$1 size=$2 t n
	shift 2
	t=$(table) || return 1
	for n in "$@"; do
		if [ "$size" = - ]; then
			printf '%s\n' "$t" | grep -q "^$n $want " || return 1
		else
			printf '%s\n' "$t" | grep -q "^$n $want $size " || return 1
		fi
	done
}
gets() { grep -c "^start [0-9]* $1 " "$WLOG" || true; } # PATH-REGEX
gets_ge() { [ "$(gets "$1")" -ge "$2" ]; }                 # PATH-REGEX N
metric_is() { [ "$(vim_metric "$1" "$2")" = "$3" ]; }      # I NAME VALUE
log_has() { grep -q -- "$2" "${VIM_DIRS[$1]}/vimaged.log"; } # I TEXT
ctl() { "$CTL" --kubeconfig "${VIM_KUBECONFIGS[$1]}" "${@:2}"; } # I ARGS...
upload_path() { sed 's|^https*://[^/]*||'; }

# ---- one leader; every replica serves; one token works on all ----------------------
expect_eq "exactly one replica leads: the first started" 0 "$(vim_leaders | tr '\n' ' ' | sed 's/ $//')"
for i in 0 1 2; do
	check "replica $i: /readyz is ok" curl -fsS -m 2 "${VIM_URLS[$i]}/readyz"
done
expect_eq "the leader runs the controllers (vimage_controllers_up)" 1 "$(vim_metric 0 vimage_controllers_up)"
c1=$(vim_metric 1 vimage_controllers_up)
c2=$(vim_metric 2 vimage_controllers_up)
expect_eq "a follower does not" "0 0" "${c1:-0} ${c2:-0}"
check "the leader logs 'ha: leading'" log_has 0 'ha: leading'
check "a follower logs its id and campaigns, and does not lead" \
	sh -c "grep -q 'ha: replica ${ID[1]}, lease $TTL s, campaigning' '${VIM_DIRS[1]}/vimaged.log' &&
		! grep -q 'ha: leading' '${VIM_DIRS[1]}/vimaged.log'"
m=$(curl -s -m 2 -H "Authorization: Bearer ${VIM_TOKENS[2]}" "${VIM_URLS[2]}/metrics" | grep '^vimage_replica_start_time_seconds{')
expect_eq "a follower's /metrics sees three replicas" 3 "$(printf '%s\n' "$m" | grep -c .)"
expect_match "and the first one as the leader" "id=\"${ID[0]}\",.*role=\"leader\"" "$m"
expect_eq "the two others as followers" 2 "$(printf '%s\n' "$m" | grep -c 'role="follower"')"
TOK0=$(cat "${VIM_DIRS[0]}/token")
for i in 1 2; do
	check "replica 0's token works on replica $i (kubectl get)" \
		kubectl --kubeconfig "${VIM_KUBECONFIGS[$i]}" --cache-dir "$T_TMP/kc-tok" --token "$TOK0" get vi
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOK0" "${VIM_URLS[2]}$R")
expect_eq "and on the plain listener (curl)" 200 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer x$TOK0" "${VIM_URLS[2]}$R")
expect_eq "a token no replica made is refused" 401 "$code"

# ---- a watch on C sees what A creates; kubectl wait through B ------------------------
vim_use 2
watch_start "$T_TMP/watch-c.json" "$R?watch=1"
sleep 0.5
vim_use 0
vi_http w1 /w1.qcow2 | k apply -f - >/dev/null
check "a watch opened on replica 2 sees an image created through replica 0" \
	wait_for 5 grep -q '"name":"w1"' "$T_TMP/watch-c.json"
vim_use 1
check "kubectl wait through replica 1 sees it Ready" \
	k wait vi/w1 --for=jsonpath='{.status.phase}'=Ready --timeout=30s
kill "$WATCH_PID" 2>/dev/null

# ---- a registry notification sent to a follower reaches the leader -------------------
uid=$(k get vi/w1 -o jsonpath='{.metadata.uid}')
dig=$(curl -sI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
	-H 'Accept: application/vnd.oci.image.manifest.v1+json' \
	"http://127.0.0.1:$PREG/v2/vi/default/w1/manifests/$uid" | sed -n 's/^Docker-Content-Digest: *\(.*\)\r$/\1/Ip')
notes() { grep -c 'dvcr notification: 1 image' "${VIM_DIRS[0]}/vimaged.log" || true; }
notes_more() { [ "$(notes)" -gt "$1" ]; }
n=$(notes)
curl -s -o /dev/null -X DELETE "http://127.0.0.1:$PREG/v2/vi/default/w1/manifests/$dig"
check "a manifest deleted in the registry: ImageLost within 2 s (notified through replica 1)" \
	within 2000 phase_is w1 ImageLost
check "the leader's presence monitor took the notification" within 1000 notes_more "$n"

# ---- uploads and downloads through followers ------------------------------------
qemu-img create -q -f qcow2 "$T_TMP/up.qcow2" 16M
UPSIZE=$(stat -c %s "$T_TMP/up.qcow2")
vim_use 0
for n in up0 up1 up2 upa upb; do vi_upload "$n" | k apply -f - >/dev/null; done
check "upload images wait for their data" wait_for 15 all_are WaitForUserUpload - up0 up1 up2 upa upb
url1=$(k get vi/up1 -o jsonpath='{.status.imageUploadURLs.external}')
expect_match "the upload URL is built from --external-url" "^$LB/upload/[0-9a-f]{64}$" "$url1"
lb_to 1
out=$(ctl 1 upload vi/up1 "$T_TMP/up.qcow2" 2>&1)
expect_eq "vimagectl upload through a follower (the balancer sends it to replica 1) exits 0" 0 "$?"
printf '%s\n' "$out" | tail -n 2 | sed 's/^/#   /'
check "the image uploaded through a follower is Ready" wait_for 15 all_are Ready "$UPSIZE" up1
lb_to 0 1 2
url2=$(k get vi/up2 -o jsonpath='{.status.imageUploadURLs.external}')
out=$(curl -sS -T "$T_TMP/up.qcow2" "${VIM_URLS[2]}$(upload_path <<<"$url2")" 2>&1)
expect_match "curl -T of the upload URL's path to replica 2 is taken" '"status":"ok"' "$out"
check "and that image is Ready" wait_for 15 all_are Ready "$UPSIZE" up2
# (up0 is uploaded to the leader itself: the download case needs no forwarding)
url0=$(k get vi/up0 -o jsonpath='{.status.imageUploadURLs.external}')
curl -sS -T "$T_TMP/up.qcow2" "${VIM_URLS[0]}$(upload_path <<<"$url0")" >/dev/null 2>&1
check "an upload to the leader itself is Ready" wait_for 15 all_are Ready "$UPSIZE" up0
ctl 2 download vi/up0 -o "$T_TMP/back.qcow2" >"$T_TMP/download.out" 2>&1
expect_eq "vimagectl download through a follower exits 0" 0 "$?"
check "and the disk is byte-identical" cmp "$T_TMP/up.qcow2" "$T_TMP/back.qcow2"

# ---- vimagectl status through a follower ------------------------------------------
out=$(ctl 2 status 2>&1)
expect_match "vimagectl status through a follower has a replicas: section" '^replicas:' "$out"
n=0
for i in 0 1 2; do printf '%s\n' "$out" | grep -q "${ID[$i]}" && n=$((n + 1)); done
expect_eq "listing the three replicas" 3 "$n"
expect_match "and which one leads" "${ID[0]}.*leader" "$out"
printf '%s\n' "$out" | sed -n '/^replicas:/,$p' | sed 's/^/#   /'

# ---- kill -9 of the leader under five imports ----------------------------------------
L=$(vim_leader) || L=0
F=$(others "$L" | head -n1)
vim_use "$F"
watch_start "$T_TMP/watch-fo.json" "$R?watch=1"
FO="fo1 fo2 fo3 fo4 fo5"
for n in $FO; do vi_http "$n" "/slow/$n.qcow2"; done | k apply -f - >/dev/null
check "five imports are downloading" wait_for 15 gets_ge '/slow/fo[0-9]\.qcow2' 5
sleep 1
before=$(for i in $(others "$L"); do echo "$i=$(vim_metric "$i" vimage_leader_transitions_total)"; done)
t0=$(now_ms)
vim_replica_kill "$L"
NL=$(vim_wait_leader $((TTL + 2)) $(others "$L"))
rc=$?
echo "# kill -9 of replica $L: replica ${NL:-none} leads after $(($(now_ms) - t0)) ms"
expect_eq "kill -9 of the leader: another replica leads within ttl+2 s" 0 "$rc"
[ -n "$NL" ] || NL=$F
check "the new leader logs 'ha: leading'" wait_for 3 log_has "$NL" 'ha: leading'
was=$(printf '%s\n' "$before" | sed -n "s/^$NL=//p")
check "its vimage_leader_transitions_total grew" test "$(vim_metric "$NL" vimage_leader_transitions_total)" -gt "${was:-0}"
FOL=$(others "$L" | grep -vx "$NL" | head -n1)
vim_use "$NL"
# shellcheck disable=SC2086
check "all five imports end Ready, with the whole file's size" wait_for 60 all_are Ready "$BIG" $FO
kill "$WATCH_PID" 2>/dev/null
inflight=$(awk '$3 ~ /^\/slow\/fo/ { if ($1 == "start") { c[$3]++; if (c[$3] > m[$3]) m[$3] = c[$3] } else c[$3]-- }
	END { for (p in m) if (m[p] > 1) print p " had " m[p] " GETs at once" }' "$WLOG")
expect_eq "the source never served one image twice at once" "" "$inflight"
again=0
for n in $FO; do [ "$(gets "/slow/$n.qcow2")" -ge 2 ] && again=$((again + 1)); done
expect_eq "the imports cut by the kill ran again on the new leader" 5 "$again"
ready_sizes=$(jq -r 'select(.object.metadata.name | test("^fo[0-9]$")) | select(.object.status.phase == "Ready")
	| .object.status.size.storedBytes' "$T_TMP/watch-fo.json" 2>/dev/null | sort -u | tr '\n' ' ')
expect_eq "nothing was ever Ready with a partial size (every Ready event, watched on a survivor)" "$BIG " "$ready_sizes"
expect_eq "an image waiting for its upload keeps its URL across the failover" \
	"$LB" "$(k get vi/upa -o jsonpath='{.status.imageUploadURLs.external}' | sed 's|/upload/.*||')"
urla=$(k get vi/upa -o jsonpath='{.status.imageUploadURLs.external}')
urlb=$(k get vi/upb -o jsonpath='{.status.imageUploadURLs.external}')
out=$(curl -sS -T "$T_TMP/up.qcow2" "${VIM_URLS[$NL]}$(upload_path <<<"$urla")" 2>&1)
expect_match "its upload URL works through the new leader" '"status":"ok"' "$out"
out=$(curl -sS -T "$T_TMP/up.qcow2" "${VIM_URLS[$FOL]}$(upload_path <<<"$urlb")" 2>&1)
expect_match "and another's through the remaining follower" '"status":"ok"' "$out"
check "both uploaded images are Ready" wait_for 15 all_are Ready "$UPSIZE" upa upb
vim_replica_start "$L" || not_ok "the killed replica starts again"
sleep 1
expect_eq "it comes back as a follower" "$NL" "$(vim_leader)"

# ---- SIGSTOP of the leader for 30 s ------------------------------------------------
L=$(vim_leader) || L=$NL
F=$(others "$L" | head -n1)
vim_use "$F"
vi_http st1 /slow/st1.qcow2 | k apply -f - >/dev/null
check "an import is downloading on the leader" wait_for 15 gets_ge /slow/st1.qcow2 1
sleep 1
t0=$(now_ms)
kill -STOP "${VIM_PIDS[$L]}"
NL=$(vim_wait_leader $((TTL + 2)) $(others "$L"))
rc=$?
echo "# SIGSTOP of replica $L: replica ${NL:-none} leads after $(($(now_ms) - t0)) ms"
expect_eq "SIGSTOP of the leader: another replica leads within ttl+2 s" 0 "$rc"
[ -n "$NL" ] || NL=$F
vim_use "$NL"
check "the stopped leader's import is done by the new one" wait_for 25 all_are Ready "$BIG" st1
snap=$(table | sort)
left=$((t0 + 30000 - $(now_ms)))
[ "$left" -gt 0 ] && sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
kill -CONT "${VIM_PIDS[$L]}"
echo "# SIGCONT after $(($(now_ms) - t0)) ms"
check "the resumed replica is a follower (vimage_leader 0)" wait_for 5 metric_is "$L" vimage_leader 0
check "it logs 'ha: stepped down'" wait_for 5 log_has "$L" 'ha: stepped down'
check "its import's writes after it resumed were refused by the fence" \
	wait_for 5 log_has "$L" 'not written: the fence'
check "and counts the lost lease (vimage_lease_losses_total)" test "$(vim_metric "$L" vimage_lease_losses_total)" -ge 1
expect_eq "exactly one leader still, the new one" "$NL" "$(vim_leader)"
sleep 3
expect_eq "no image's status regressed once it resumed (its writes fenced)" "$snap" "$(table | sort)"

# ---- the seed scenario, the leader killed while the images are lost --------------------
SD=$(seq -f sd%g 1 10 | tr '\n' ' ')
vim_use "$(vim_leader || echo 0)"
for n in $SD; do vi_http "$n" "/$n.qcow2"; done | k apply -f - >/dev/null
# shellcheck disable=SC2086
check "ten images Ready" wait_for 40 all_are Ready "$SMALL" $SD
gets_sd=$(gets '/sd[0-9]*\.qcow2')
mv "$REG/storage" "$REG/storage.away"
# shellcheck disable=SC2086
check "the storage away: all ten ImageLost" wait_for 20 all_are ImageLost - $SD
L=$(vim_leader) || L=0
t0=$(now_ms)
vim_replica_kill "$L"
NL=$(vim_wait_leader $((TTL + 2)) $(others "$L"))
expect_eq "the leader killed while they are lost: another leads within ttl+2 s" 0 "$?"
echo "# replica ${NL:-none} leads after $(($(now_ms) - t0)) ms"
vim_use "${NL:-$(others "$L" | head -n1)}"
mv "$REG/storage.away" "$REG/storage"
# shellcheck disable=SC2086
check "the storage back: all ten Ready" wait_for 20 all_are Ready "$SMALL" $SD
check "the new leader proved them in one recovery wave, as its predecessor would have (vimage_presence_wave_checks_total > 0)" \
	test "$(vim_metric "${NL:-0}" vimage_presence_wave_checks_total)" -gt 0
ev=$(for n in $SD; do
	k get events --field-selector "involvedObject.name=$n,reason=VirtualImageLostRecovered" \
		-o jsonpath='{range .items[*]}{.count}{"\n"}{end}' | tr '\n' ' '
	echo
done | sort | uniq -c | sed 's/^ *//')
expect_eq "exactly one VirtualImageLostRecovered event each" "10 1 " "$ev"
expect_eq "nothing was imported again (the source's GETs)" "$gets_sd" "$(gets '/sd[0-9]*\.qcow2')"
vim_replica_start "$L" || not_ok "the killed replica starts again"

# ---- a rolling restart under 20 imports -----------------------------------------------
RR=$(seq -f rr%g 1 20 | tr '\n' ' ')
vim_use "$(vim_leader || echo 0)"
for n in $RR; do vi_http "$n" "/slow/$n.qcow2"; done | k apply -f - >/dev/null
check "the imports are downloading" wait_for 15 gets_ge '/slow/rr[0-9]*\.qcow2' 8
for i in 0 1 2; do
	if vim_is_leader "$i"; then
		# (measured from the signal, while it exits: a clean stop resigns first)
		t0=$(now_ms)
		kill -TERM "${VIM_PIDS[$i]}"
		# shellcheck disable=SC2046
		NL=$(vim_wait_leader 2 $(others "$i"))
		expect_eq "rolling restart: SIGTERM of the leader (replica $i) hands over within 2 s" 0 "$?"
		echo "# replica ${NL:-none} leads $(($(now_ms) - t0)) ms after replica $i's SIGTERM"
		vim_replica_stop "$i"
	else
		vim_replica_stop "$i"
	fi
	vim_replica_start "$i" || not_ok "replica $i starts again"
done
vim_use "$(vim_leader || echo 0)"
# shellcheck disable=SC2086
check "after the rolling restart all 20 imports are Ready" wait_for 90 all_are Ready "$BIG" $RR
expect_eq "and one replica leads" 1 "$(vim_leaders | grep -c .)"

# ---- --store etcd refuses a managed registry --------------------------------------
out=$(timeout 20 "$VIMAGED" --data-dir "$T_TMP/refused" --listen 127.0.0.1:0 --store etcd \
	--etcd-endpoints "$ETCD_ENDPOINTS" --etcd-prefix "/vimage-refused-$$" 2>&1)
rc=$?
expect_eq "--store etcd without --dvcr-url exits 2 with one line" "2 1" "$rc $(printf '%s\n' "$out" | grep -c .)"
expect_match "naming --dvcr-url" '--dvcr-url' "$out"

rcs=
for i in 0 1 2; do
	vim_replica_stop "$i"
	rcs="$rcs$?"
done
expect_eq "every replica exits 0 on SIGTERM" 000 "$rcs"
exit "$T_FAILED"
