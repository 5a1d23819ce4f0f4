#!/usr/bin/env bash
# A damaged database under the real vimaged: 137 images written through the
# API, one B-tree page of a copy overwritten with garbage (dd conv=notrunc).
# Starting on that copy is refused with one readable line; damage that comes
# while it runs makes LISTs fail (500, or a body that does not parse), never
# a short 200.  Also: kubectl pages one object at a time over 253-character
# names and ends.
. "$(dirname "$0")/lib.sh"

D=$T_TMP/data
vim_start "$D" --controllers off || { not_ok "vimaged starts"; exit 1; }
ok "vimaged starts on an empty data dir"

NOTE=$(head -c 1000 /dev/zero | tr '\0' 'n')
VIS=/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualimages
vi_json() {
	printf '{"apiVersion":"virtualization.deckhouse.io/v1alpha2","kind":"VirtualImage",'
	printf '"metadata":{"name":"%s","namespace":"default","labels":{"long":"%s"},' "$1" "${2:-no}"
	printf '"annotations":{"note":"%s"}},' "$NOTE"
	printf '"spec":{"storage":"ContainerRegistry","dataSource":{"type":"HTTP","http":{"url":"https://example.org/a.qcow2"}}}}'
}
made=0
for i in $(seq -w 1 137); do
	code=$(vi_json "img-$i" | api POST "$VIS" -o /dev/null -w '%{http_code}' \
		-H 'Content-Type: application/json' --data-binary @-)
	[ "$code" = 201 ] && made=$((made + 1))
done
expect_eq "137 images are created" 137 "$made"

# kubectl --chunk-size=1 over names of 253 characters: each once, and it ends
long=$(head -c 250 /dev/zero | tr '\0' 'x')
for s in aaa aab bba; do
	vi_json "$long$s" yes | api POST "$VIS" -o /dev/null -H 'Content-Type: application/json' --data-binary @-
done
out=$(timeout 60 "${KUBECTL:-kubectl}" --kubeconfig "$KUBECONFIG_FILE" get vi -l long=yes \
	--chunk-size=1 -o name 2>&1)
expect_eq "kubectl --chunk-size=1 over 253-character names sees each once and ends" 3 \
	"$(printf '%s\n' "$out" | grep -c '^virtualimage')"
expect_eq "... with no repeats" 3 "$(printf '%s\n' "$out" | grep '^virtualimage' | sort -u | wc -l)"
out=$(timeout 60 "${KUBECTL:-kubectl}" --kubeconfig "$KUBECONFIG_FILE" get vi --chunk-size=50 \
	-o name 2>&1)
expect_eq "kubectl --chunk-size=50 over all of them: 140 once each" 140 \
	"$(printf '%s\n' "$out" | grep '^virtualimage' | sort -u | wc -l)"

vim_stop
# corrupt DB: overwrites the middle leaf page of the objects table
corrupt() {
	local db=$1 ps leaves page
	ps=$(sqlite3 "$db" 'PRAGMA page_size')
	leaves=$(sqlite3 "$db" "SELECT count(*) FROM dbstat WHERE name='objects' AND pagetype='leaf'")
	page=$(sqlite3 "$db" "SELECT pageno FROM dbstat WHERE name='objects' AND pagetype='leaf'
		ORDER BY pageno LIMIT 1 OFFSET $((leaves / 2))")
	[ -n "$page" ] || return 1
	head -c "$ps" /dev/urandom | dd of="$db" bs="$ps" seek=$((page - 1)) count=1 conv=notrunc 2>/dev/null
}

B=$T_TMP/broken
mkdir -p "$B"
cp "$D/vimage.db" "$D/token" "$D/notify-token" "$B/" 2>/dev/null
cp "$D/vimage.db" "$T_TMP/pristine.db"
check "a page of the copy is overwritten" corrupt "$B/vimage.db"

"$VIMAGED" --data-dir "$B" --listen 127.0.0.1:0 --controllers off >"$B/out.log" 2>&1 &
pid=$!
T_PIDS+=("$pid")
rc=0
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then rc=running; kill "$pid"; else wait "$pid"; rc=$?; fi
expect_match "vimaged refuses the corrupted copy (non-zero exit)" '^[1-9][0-9]*$' "$rc"
expect_eq "... with one line" 1 "$(grep -cv '^[0-9T:-]*Z info ' "$B/out.log")"
expect_match "... that names the file and says how to recover" \
	"^vimaged: $B/vimage.db is corrupted \(quick_check: .+\); restore it from a backup, or move it away to start empty; \`sqlite3 $B/vimage.db .recover\` may save objects$" \
	"$(grep -v '^[0-9T:-]*Z info ' "$B/out.log")"
expect_eq "... and does not touch it (no WAL made)" no "$([ -e "$B/vimage.db-wal" ] && echo yes || echo no)"

# the original, untouched, still starts and serves everything
vim_start "$D" --controllers off || not_ok "vimaged starts again on the healthy file"
expect_eq "the healthy file serves all 140 images" 140 \
	"$(k get vi -o name 2>/dev/null | grep -c '^virtualimage')"

# damage while it runs: quick_check at start cannot see it; lists must fail
corrupt "$D/vimage.db"
out=$(k get vi 2>&1)
rc=$?
expect_match "kubectl get over a corrupt page fails" '^[1-9]' "$rc"
expect_match "... with the store's reason (500)" 'malformed|InternalError|Internal' "$out"
# the damage is past the first objects: the 200 is out, so the reply is cut
# at the HTTP level (no last chunk) and curl reports a failed transfer (18)
code=$(api GET "/apis/virtualization.deckhouse.io/v1alpha2/virtualimages" -o "$T_TMP/list.json" \
	-w '%{http_code}' 2>/dev/null)
rc=$?
expect_eq "a streamed LIST that fails mid-stream is cut: curl sees a partial transfer (exit 18)" \
	"200 18" "$code $rc"
expect_match "... and the cut is in vimaged's log" 'reply cut after [0-9]+ bytes: .*list virtualimages: database disk image is malformed' \
	"$(cat "$D/vimaged.log")"
# a WATCH whose initial list fails: one ERROR event with a 500 Status, then the end
api GET "/apis/virtualization.deckhouse.io/v1alpha2/virtualimages?watch=true&timeoutSeconds=5" \
	-o "$T_TMP/watch.json" 2>/dev/null
expect_eq "a WATCH whose initial list fails ends with an ERROR event carrying a 500 Status" \
	"ERROR Status 500 InternalError" \
	"$(tail -n 1 "$T_TMP/watch.json" | jq -r '[.type, .object.kind, .object.code, .object.reason] | join(" ")' 2>&1)"
expect_match "... whose message is the store's" 'malformed' \
	"$(tail -n 1 "$T_TMP/watch.json" | jq -r .object.message 2>&1)"
expect_match "the failure is in vimaged's log" 'list virtualimages: database disk image is malformed' \
	"$(cat "$D/vimaged.log")"
vim_stop

# damage in the first page listed: nothing is sent yet, so it is a 500 Status
corrupt_first() {
	local db=$1 ps page
	ps=$(sqlite3 "$db" 'PRAGMA page_size')
	page=$(sqlite3 "$db" "SELECT pageno FROM dbstat WHERE name='objects' AND pagetype='leaf'
		ORDER BY path LIMIT 1")
	[ -n "$page" ] || return 1
	head -c "$ps" /dev/urandom | dd of="$db" bs="$ps" seek=$((page - 1)) count=1 conv=notrunc 2>/dev/null
}
F=$T_TMP/first
mkdir -p "$F"
cp "$T_TMP/pristine.db" "$F/vimage.db"
cp "$D/token" "$D/notify-token" "$F/" 2>/dev/null
vim_start "$F" --controllers off || not_ok "vimaged starts on a third healthy copy"
check "the first page listed is overwritten" corrupt_first "$F/vimage.db"
code=$(api GET "/apis/virtualization.deckhouse.io/v1alpha2/virtualimages" -o "$T_TMP/first.json" \
	-w '%{http_code}' 2>/dev/null)
rc=$?
expect_eq "a LIST that fails before its first object is a whole 500 Status" \
	"500 0 Status InternalError" \
	"$code $rc $(jq -r '[.kind, .reason] | join(" ")' "$T_TMP/first.json" 2>&1)"
expect_match "... naming the store's reason" 'list virtualimages: database disk image is malformed' \
	"$(jq -r .message "$T_TMP/first.json" 2>&1)"
vim_stop
exit "$T_FAILED"
