#!/usr/bin/env bash
# A registry that takes the image's bytes at a trickle must not hold an
# import slot for good either: the DVCR write fails on --import-min-rate,
# and the blame goes to the registry, not to the (fast) source.
. "$(dirname "$0")/lib.sh"

REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { not_ok "the registry starts"; exit 1; }
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/big.qcow2" 64M
qemu-io -c "write -P 0x5a 0 1M" "$WWW/big.qcow2" >/dev/null 2>&1 || true
www_start "$WWW"

# a proxy in front of the registry: answers pass at full speed, request
# bodies above 64 KiB per connection at ~400 B/s
PPROXY=$(free_port)
cat >"$T_TMP/proxy.py" <<'PY'
import asyncio, sys
listen, target = int(sys.argv[1]), int(sys.argv[2])
async def pipe(r, w, slow):
    sent = 0
    try:
        while True:
            data = await r.read(100 if slow and sent > 65536 else 65536)
            if not data:
                break
            w.write(data)
            await w.drain()
            sent += len(data)
            if slow and sent > 65536:
                await asyncio.sleep(0.25)
    except (ConnectionError, OSError):
        pass
    finally:
        w.close()
async def conn(cr, cw):
    try:
        sr, sw = await asyncio.open_connection("127.0.0.1", target)
    except OSError:
        cw.close()
        return
    await asyncio.gather(pipe(cr, sw, True), pipe(sr, cw, False))
async def main():
    srv = await asyncio.start_server(conn, "127.0.0.1", listen)
    async with srv:
        await asyncio.wait_for(srv.serve_forever(), 300)
asyncio.run(main())
PY
python3 "$T_TMP/proxy.py" "$PPROXY" "$PREG" >"$T_TMP/proxy.log" 2>&1 &
T_PIDS+=($!)
wait_for 10 curl -s -o /dev/null "http://127.0.0.1:$PPROXY/v2/" || not_ok "the proxy starts"

vim_start "$T_TMP/data" --dvcr-url "http://127.0.0.1:$PPROXY" --import-min-rate 1024 \
	--import-stall-window 2 || {
	not_ok "vimaged starts"
	exit 1
}
phase_is() { [ "$(k get "$1" -o jsonpath='{.status.phase}' 2>/dev/null)" = "$2" ]; }
ready_cond() { k get "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason} {.status.conditions[?(@.type=="Ready")].message}'; }

printf 'apiVersion: virtualization.deckhouse.io/v1alpha2\nkind: VirtualImage\nmetadata: {name: slowdvcr, namespace: default}\nspec: {dataSource: {type: HTTP, http: {url: "http://127.0.0.1:%s/big.qcow2"}}}\n' "$WWW_PORT" | k apply -f - >/dev/null
check "a registry taking ~400 B/s fails the attempt" wait_for 30 phase_is vi/slowdvcr Failed
expect_match "as transient, blaming the registry with the numbers" 'ProvisioningFailed Provisioning failed: .*PATCH .*the registry took [0-9]+ bytes in the last 2 s \(minimum 1024 B/s\): stalled' "$(ready_cond vi/slowdvcr)"

vim_stop
expect_eq "vimaged exits 0 on SIGTERM" 0 "$?"
exit "$T_FAILED"
