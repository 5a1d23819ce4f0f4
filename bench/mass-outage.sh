#!/usr/bin/env bash
# bench/mass-outage — the seed's disaster at scale (not run in CI; `make
# bench`): N Ready images (ObjectRef copies of one HTTP image: real
# imports, data shared by blob mounts), the DVCR storage moved away, held
# away, moved back.  Measures from the registry's own access log and the API:
#   detect_s    storage gone -> every image ImageLost
#   recover_s   storage back -> every image Ready
#   outage_rps  requests vimaged sent the registry per second while all
#               were lost (the hold window)
# and vimaged's peak RSS.  For the same timeline it computes what
# upstream's schedule would do (lifecycle.md): every Ready image checked
# once per 5 min (phases spread evenly), each lost image polling on the
# progressive backoff (15 s, then the time lost so far, at most 5 min).
# Last line:
#   mass-outage: images=N detect_s=N recover_s=N outage_rps=N upstream_recover_s=N upstream_outage_rps=N
# Targets: detect <= 15 s, recover <= 10 s, outage <= 2 req/s, RSS <= 200 MiB.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib.sh
N=${BENCH_OUTAGE_IMAGES:-10000}
HOLD=${BENCH_OUTAGE_HOLD_S:-60}

REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { echo "mass-outage: the registry did not start" >&2; exit 1; }
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/disk.qcow2" 16M
PWWW=$(free_port)
(cd "$WWW" && exec python3 -m http.server "$PWWW" --bind 127.0.0.1 >/dev/null 2>&1) &
T_PIDS+=($!)
vim_start "$T_TMP/data" --dvcr-url "http://127.0.0.1:$PREG" --import-workers 8 ||
	{ echo "mass-outage: vimaged did not start" >&2; exit 1; }
export VIM_URL VIM_TOKEN N HOLD PWWW
export REGLOG=$REG/log STORAGE=$REG/storage VIM_PID REG_PID

python3 - <<'PY'
import http.client, json, os, re, subprocess, sys, time, urllib.parse

url = urllib.parse.urlparse(os.environ["VIM_URL"])
tok = os.environ["VIM_TOKEN"]
n, hold = int(os.environ["N"]), int(os.environ["HOLD"])
G = "/apis/virtualization.deckhouse.io/v1alpha2"
conn = http.client.HTTPConnection(url.hostname, url.port)

def req(method, path, body=None):
    h = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
    conn.request(method, path, json.dumps(body) if body is not None else None, h)
    r = conn.getresponse()
    data = r.read()
    if r.status >= 300:
        sys.exit("mass-outage: %s %s: %d %s" % (method, path, r.status, data[:300]))
    return json.loads(data)

def vi(name, ds):
    return {"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualImage",
            "metadata": {"name": name, "namespace": "default"}, "spec": {"dataSource": ds}}

def phases():
    c, cont = {}, None
    while True:
        q = "?limit=5000" + ("&continue=" + urllib.parse.quote(cont) if cont else "")
        l = req("GET", G + "/namespaces/default/virtualimages" + q)
        for it in l["items"]:
            p = it.get("status", {}).get("phase", "")
            c[p] = c.get(p, 0) + 1
        cont = l["metadata"].get("continue")
        if not cont:
            return c

def wait_all(phase, limit_s, step=0.2):
    t0 = time.time()
    while time.time() - t0 < limit_s:
        c = phases()
        if c.get(phase, 0) == n + 1:
            return time.time() - t0
        time.sleep(step)
    sys.exit("mass-outage: not all %s after %d s: %s" % (phase, limit_s, c))

def reglines():
    with open(os.environ["REGLOG"], "rb") as f:
        return sum(1 for l in f if re.search(rb'"(GET|HEAD|PUT|POST|PATCH|DELETE) /v2/', l))

def cpu_s(pid):
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def rss(key="VmHWM"):
    for l in open("/proc/%s/status" % os.environ["VIM_PID"]):
        if l.startswith(key):
            return int(l.split()[1]) // 1024

req("POST", G + "/namespaces/default/virtualimages",
    vi("src", {"type": "HTTP", "http": {"url": "http://127.0.0.1:%s/disk.qcow2" % os.environ["PWWW"]}}))
t = time.time()
for i in range(n):
    req("POST", G + "/namespaces/default/virtualimages",
        vi("img-%05d" % i, {"type": "ObjectRef", "objectRef": {"kind": "VirtualImage", "name": "src"}}))
print("created %d images in %.1f s" % (n, time.time() - t), flush=True)
print("all Ready after %.1f s of imports (RSS now %d MiB, peak %d MiB)"
      % (wait_all("Ready", 1800, 2), rss("VmRSS"), rss()), flush=True)
time.sleep(3)

store = os.environ["STORAGE"]
t_gone = time.time()
os.rename(store, store + ".away")
detect = wait_all("ImageLost", 900)
print("all ImageLost %.1f s after the storage went (RSS now %d MiB, peak %d MiB)"
      % (detect, rss("VmRSS"), rss()), flush=True)
r0, t0 = reglines(), time.time()
time.sleep(hold)
outage_rps = (reglines() - r0) / (time.time() - t0)
t_back = time.time()
c_vim, c_reg, r_back = cpu_s(os.environ["VIM_PID"]), cpu_s(os.environ["REG_PID"]), reglines()
os.rename(store + ".away", store)
recover = wait_all("Ready", 900, 0.2)
print("all Ready %.1f s after the storage came back (CPU: vimaged %.1f s, registry %.1f s; %d registry requests)"
      % (recover, cpu_s(os.environ["VIM_PID"]) - c_vim, cpu_s(os.environ["REG_PID"]) - c_reg,
         reglines() - r_back), flush=True)
down = t_back - t_gone

# upstream on the same timeline: image i is checked at phase i*300/n of
# its 5-minute cycle (one manifest HEAD).  A check while the storage is
# away makes it lost; it then polls at interval max(15, min(lost for, 300))
# until a poll finds the data back.  Requests counted in vimaged's hold
# window [detect, down].
det_u, rec_u, reqs_u = 0.0, 0.0, 0
w0, w1 = detect, down
for i in range(n):
    ph = i * 300.0 / n
    if w0 <= ph <= w1:
        reqs_u += 1
    if ph >= down:
        continue  # its check came after the return: never noticed
    det_u = max(det_u, ph)
    t = ph
    while t < down:
        el = t - ph
        t += 15 if el < 15 else min(el, 300)
        if w0 <= t <= w1:
            reqs_u += 1
    rec_u = max(rec_u, t - down)
window = w1 - w0
up_rps = reqs_u / window if window > 0 else 0
print("upstream on this timeline: detect %.0f s, recover %.0f s, %.1f req/s during the outage"
      % (det_u, rec_u, up_rps))
print("vimaged peak RSS %d MiB" % rss())
print("mass-outage: images=%d detect_s=%.1f recover_s=%.1f outage_rps=%.2f upstream_recover_s=%.0f upstream_outage_rps=%.1f"
      % (n, detect, recover, outage_rps, rec_u, up_rps))
PY
rc=$?
vim_stop
exit $rc
