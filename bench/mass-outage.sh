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
# BENCH_OUTAGE_IMAGES (10000), BENCH_OUTAGE_HOLD_S (60): size and hold;
# BENCH_OUTAGE_CYCLES (1) repeats the outage on the same images, and the
# last line then gives the worst of the cycles.  BENCH_OUTAGE_DISTINCT=1
# gives each image its own 64 KiB of data (HTTP imports) instead of
# ObjectRef copies sharing one image's blobs: the recovery wave then has no
# blob to prove once for many images.
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib.sh
N=${BENCH_OUTAGE_IMAGES:-10000}
HOLD=${BENCH_OUTAGE_HOLD_S:-60}
CYCLES=${BENCH_OUTAGE_CYCLES:-1}
DISTINCT=${BENCH_OUTAGE_DISTINCT:-0}

REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { echo "mass-outage: the registry did not start" >&2; exit 1; }
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/disk.qcow2" 16M
PWWW=$(free_port)
(cd "$WWW" && exec python3 -m http.server "$PWWW" --bind 127.0.0.1 >/dev/null 2>&1) &
T_PIDS+=($!)
vim_start "$T_TMP/data" --dvcr-url "http://127.0.0.1:$PREG" --import-workers 8 ${BENCH_VIMAGED_ARGS:-} ||
	{ echo "mass-outage: vimaged did not start" >&2; exit 1; }
export VIM_URL VIM_TOKEN N HOLD CYCLES DISTINCT PWWW WWW
export REGLOG=$REG/log STORAGE=$REG/storage VIM_PID REG_PID VIMLOG=$T_TMP/data/vimaged.log

python3 - <<'PY'
import http.client, json, os, re, subprocess, sys, threading, time, urllib.parse

url = urllib.parse.urlparse(os.environ["VIM_URL"])
tok = os.environ["VIM_TOKEN"]
n, hold = int(os.environ["N"]), int(os.environ["HOLD"])
cycles = int(os.environ["CYCLES"])
distinct = os.environ["DISTINCT"] == "1"
G = "/apis/virtualization.deckhouse.io/v1alpha2"
conn = http.client.HTTPConnection(url.hostname, url.port)

def raw(method, path, body=None):
    """(status, body bytes) over the kept-alive connection."""
    global conn
    h = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
    # A kept-alive connection idle past vimaged's --http-idle-timeout (90 s:
    # the imports alone take longer) is closed by the server, as any HTTP
    # server does: open a new one, as Go's and curl's clients do.
    for attempt in (0, 1):
        try:
            conn.request(method, path, json.dumps(body) if body is not None else None, h)
            r = conn.getresponse()
            return r.status, r.read()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if attempt:
                raise
            conn.close()
            conn = http.client.HTTPConnection(url.hostname, url.port)

def req(method, path, body=None):
    status, data = raw(method, path, body)
    if status >= 300:
        sys.exit("mass-outage: %s %s: %d %s" % (method, path, status, data[:300]))
    return json.loads(data)

def vi(name, ds):
    return {"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualImage",
            "metadata": {"name": name, "namespace": "default"}, "spec": {"dataSource": ds}}

# Phases are followed through one watch, as `kubectl get -w` would: a
# list every 0.2 s would cost vimaged more CPU than the recovery itself.
# The counts are kept as events arrive: recounting 10,000 phases on each
# event cost this script more CPU than vimaged spent recovering.
phase, tally, changed = {}, {}, threading.Condition(threading.Lock())
waiting_for = [""]
became = {}  # name -> when it last entered its phase (for the recovery's spread)

def follow(rv):
    wc = http.client.HTTPConnection(url.hostname, url.port)
    wc.request("GET", G + "/namespaces/default/virtualimages?watch=1&resourceVersion=" + rv,
               headers={"Authorization": "Bearer " + tok})
    r = wc.getresponse()
    while True:
        line = r.readline()
        if not line:
            print("mass-outage: the watch ended", file=sys.stderr, flush=True)
            os._exit(1)
        ev = json.loads(line)
        if ev["type"] == "ERROR":
            print("mass-outage: watch error %s" % ev, file=sys.stderr, flush=True)
            os._exit(1)
        o = ev["object"]
        name = o["metadata"]["name"]
        with changed:
            was = phase.pop(name, None)
            if was is not None:
                tally[was] -= 1
            if ev["type"] != "DELETED":
                p = o.get("status", {}).get("phase", "")
                if was != p:
                    became[name] = time.time()
                phase[name] = p
                tally[p] = tally.get(p, 0) + 1
            if tally.get(waiting_for[0]) == n + 1:
                changed.notify_all()

def start_follow():
    l = req("GET", G + "/namespaces/default/virtualimages?limit=1")
    threading.Thread(target=follow, args=(l["metadata"]["resourceVersion"],), daemon=True).start()

def wait_all(p, limit_s):
    t0 = time.time()
    with changed:
        waiting_for[0] = p
        while tally.get(p, 0) != n + 1:
            left = limit_s - (time.time() - t0)
            if left <= 0:
                c = {}
                for v in phase.values():
                    c[v] = c.get(v, 0) + 1
                sys.exit("mass-outage: not all %s after %d s: %s" % (p, limit_s, c))
            changed.wait(min(left, 1.0))
    return time.time() - t0

def reglines():
    with open(os.environ["REGLOG"], "rb") as f:
        return sum(1 for l in f if re.search(rb'"(GET|HEAD|PUT|POST|PATCH|DELETE) /v2/', l))

def cpu_s(pid):
    f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def machine_busy():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(f) - f[3] - f[4], sum(f)

def metric_sums():
    """(sum, count) of vimaged's reconcile and DVCR GET latency histograms."""
    text = raw("GET", "/metrics")[1].decode()
    out = {}
    for key, pat in (("reconcile", r'vimage_reconcile_duration_seconds_(sum|count)(?:\{\})? (\S+)'),
                     ("get", r'vimage_dvcr_request_duration_seconds_(sum|count)\{method="GET"\} (\S+)')):
        v = dict((m.group(1), float(m.group(2))) for m in re.finditer(pat, text))
        out[key] = (v.get("sum", 0.0), v.get("count", 0.0))
    return out

def mean_ms(a, b, key):
    s, c = b[key][0] - a[key][0], b[key][1] - a[key][1]
    return 1000.0 * s / c if c else 0.0

def rss(key="VmHWM"):
    for l in open("/proc/%s/status" % os.environ["VIM_PID"]):
        if l.startswith(key):
            return int(l.split()[1]) // 1024

start_follow()
req("POST", G + "/namespaces/default/virtualimages",
    vi("src", {"type": "HTTP", "http": {"url": "http://127.0.0.1:%s/disk.qcow2" % os.environ["PWWW"]}}))
t = time.time()
if distinct:  # each image its own data: nothing for a wave to share
    os.makedirs(os.path.join(os.environ["WWW"], "d"), exist_ok=True)
for i in range(n):
    if distinct:
        with open(os.path.join(os.environ["WWW"], "d", "%05d.img" % i), "wb") as f:
            f.write(b"%08d" % i * 8192)
        ds = {"type": "HTTP", "http": {"url": "http://127.0.0.1:%s/d/%05d.img" % (os.environ["PWWW"], i)}}
    else:
        ds = {"type": "ObjectRef", "objectRef": {"kind": "VirtualImage", "name": "src"}}
    req("POST", G + "/namespaces/default/virtualimages", vi("img-%05d" % i, ds))
print("created %d images in %.1f s" % (n, time.time() - t), flush=True)
print("all Ready after %.1f s of imports (RSS now %d MiB, peak %d MiB)"
      % (wait_all("Ready", 1800), rss("VmRSS"), rss()), flush=True)
time.sleep(3)

store = os.environ["STORAGE"]

def outage():
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
    c_me = cpu_s(os.getpid())
    busy0, m0 = machine_busy(), metric_sums()
    os.rename(store + ".away", store)
    recover = wait_all("Ready", 900)
    busy1, m1 = machine_busy(), metric_sums()
    ts = sorted(became[k] - t_back for k in phase if k != "src")
    print("recovery spread: 10%% %.1f s, 50%% %.1f s, 90%% %.1f s, 99%% %.1f s, last %.1f s"
          % (tuple(ts[int(len(ts) * q)] for q in (0.1, 0.5, 0.9, 0.99)) + (ts[-1],)), flush=True)
    print("all Ready %.1f s after the storage came back (CPU: vimaged %.1f s, registry %.1f s, this bench %.1f s, machine %.0f%% busy; %d registry requests)"
          % (recover, cpu_s(os.environ["VIM_PID"]) - c_vim, cpu_s(os.environ["REG_PID"]) - c_reg, cpu_s(os.getpid()) - c_me,
             100.0 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]), reglines() - r_back), flush=True)
    r_settle = reglines()
    time.sleep(10)
    with open(os.environ["REGLOG"], "rb") as f:
        tail = [l for l in f if re.search(rb'"(GET|HEAD|PUT|POST|PATCH|DELETE) /v2/', l)][r_settle:]
    kinds = {}
    for l in tail:
        m = re.search(rb'"(\w+) /v2/.*?/(manifests|blobs)/', l)
        k = (m.group(1) + b" " + m.group(2)).decode() if m else "other"
        kinds[k] = kinds.get(k, 0) + 1
    print("while recovering: a reconcile took %.2f ms and a registry GET %.2f ms on average"
          % (mean_ms(m0, m1, "reconcile"), mean_ms(m0, m1, "get")), flush=True)
    print("registry requests in the 10 s after all were Ready: %d %s" % (len(tail), kinds), flush=True)
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
    return detect, recover, outage_rps, det_u, rec_u, up_rps

# Each cycle is one more outage of the same images: one import phase,
# several samples of a figure the machine's noise moves by a second.
runs = [outage() for _ in range(cycles)]
detect, recover, outage_rps = (max(r[i] for r in runs) for i in range(3))
det_u, rec_u, up_rps = runs[-1][3:]
if cycles > 1:
    print("%d outages: detect_s %s, recover_s %s (the last line gives the worst)"
          % (cycles, " ".join("%.1f" % r[0] for r in runs), " ".join("%.1f" % r[1] for r in runs)))
relists = sum(1 for l in open(os.environ["VIMLOG"]) if "relisting every object" in l)
print("vimaged peak RSS %d MiB; its caches listed again %d times" % (rss(), relists))
print("mass-outage: images=%d detect_s=%.1f recover_s=%.1f outage_rps=%.2f upstream_recover_s=%.0f upstream_outage_rps=%.1f"
      % (n, detect, recover, outage_rps, rec_u, up_rps))
PY
rc=$?
vim_stop
exit $rc
