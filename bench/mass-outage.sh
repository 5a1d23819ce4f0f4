#!/usr/bin/env bash
# bench/mass-outage — the seed's disaster at scale (not run in CI; `make
# bench`): N Ready images (ObjectRef copies of one HTTP image: real
# imports, data shared by blob mounts), the DVCR storage moved away, held
# away, moved back.  Measures from the registry's own access log and the API:
#   detect_s    storage gone -> every image ImageLost
#   recover_s   storage back -> every image Ready
#   outage_rps  requests vimaged sent the registry per second while all
#               were lost (the hold window)
#   rss_mib     the highest peak RSS (VmHWM) of any replica
#   limit_s     the registry's own floor for the recovery's work, measured
#               right after it: each image's manifest GET and each distinct
#               blob's check (a 1-byte GET, a HEAD with --dvcr-trust-head)
#               once, replayed by curl --parallel --parallel-max 16 (the
#               least of BENCH_OUTAGE_FLOOR_RUNS runs, default 2)
#   recover_ratio  recover_s / limit_s
#   failover_s  (several replicas) the leader killed (-9) when about half
#               the images are Ready again -> another replica's /metrics
#               says vimage_leader 1; recover_s includes it
# For the same timeline it computes what upstream's schedule would do
# (lifecycle.md): every Ready image checked once per 5 min (phases spread
# evenly), each lost image polling on the progressive backoff (15 s, then
# the time lost so far, at most 5 min).
# Last line:
#   mass-outage: images=N detect_s=N recover_s=N outage_rps=N upstream_recover_s=N upstream_outage_rps=N rss_mib=N limit_s=N recover_ratio=N [replicas=N failover_s=N]
# Targets (printed, not enforced): detect <= 15 s, recover <= 10 s (<= 15 s
# with the failover), outage <= 2 req/s, RSS <= 200 MiB (one replica) or
# <= 250 MiB (each of several), recover_ratio <= 1.5.
# BENCH_OUTAGE_IMAGES (10000), BENCH_OUTAGE_HOLD_S (60): size and hold;
# BENCH_OUTAGE_CYCLES (1) repeats the outage on the same images, and the
# last line then gives the worst of the cycles.  BENCH_OUTAGE_DISTINCT=1
# gives each image its own 64 KiB of data (HTTP imports) instead of
# ObjectRef copies sharing one image's blobs: the recovery wave then has no
# blob to prove once for many images.
# BENCH_OUTAGE_REPLICAS (1): with more, that many vimaged replicas on one
# etcd (--store etcd, --lease-ttl BENCH_OUTAGE_LEASE_TTL, default 10); the
# bench talks to and watches a replica that does not lead, and kills the
# leader once per cycle while two replicas or more are left.
# BENCH_OUTAGE_STORE=etcd runs one replica on etcd too (default sqlite).
# BENCH_OUTAGE_KEEP=1 keeps the run's directory (logs) and prints its name.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/integration/lib.sh
N=${BENCH_OUTAGE_IMAGES:-10000}
HOLD=${BENCH_OUTAGE_HOLD_S:-60}
CYCLES=${BENCH_OUTAGE_CYCLES:-1}
DISTINCT=${BENCH_OUTAGE_DISTINCT:-0}
REPLICAS=${BENCH_OUTAGE_REPLICAS:-1}
STORE=${BENCH_OUTAGE_STORE:-sqlite}
[ "$REPLICAS" -gt 1 ] && STORE=etcd
TTL=${BENCH_OUTAGE_LEASE_TTL:-10}

REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { echo "mass-outage: the registry did not start" >&2; exit 1; }
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/disk.qcow2" 16M
PWWW=$(free_port)
(cd "$WWW" && exec python3 -m http.server "$PWWW" --bind 127.0.0.1 >/dev/null 2>&1) &
T_PIDS+=($!)
# shellcheck disable=SC2206  # BENCH_VIMAGED_ARGS is a list of words
FLAGS=(--dvcr-url "http://127.0.0.1:$PREG" --import-workers 8 ${BENCH_VIMAGED_ARGS:-})

# bench_start: the replicas (one on SQLite, or REPLICAS on one etcd), their
# URLs, PIDs, tokens and logs as space-separated lists for the Python part.
bench_start() {
	if [ "$STORE" = etcd ]; then
		vim_replicas_start "$REPLICAS" "$T_TMP/rs" "${FLAGS[@]}" --lease-ttl "$TTL" || return 1
	else
		vim_start "$T_TMP/data" "${FLAGS[@]}" || return 1
		VIM_URLS=("$VIM_URL") VIM_PIDS=("$VIM_PID") VIM_TOKENS=("$VIM_TOKEN") VIM_DIRS=("$T_TMP/data")
	fi
	local d
	VIMLOGS=
	for d in "${VIM_DIRS[@]}"; do VIMLOGS="$VIMLOGS $d/vimaged.log"; done
	VIM_URLS_S="${VIM_URLS[*]}" VIM_PIDS_S="${VIM_PIDS[*]}" VIM_TOKENS_S="${VIM_TOKENS[*]}"
}

# bench_stop: SIGTERM to every replica still running, and waits (30 s at
# most) until they are gone.  (They were disowned at the start: bash
# reports a child killed by a signal, the leader the bench kills -9, on its
# own stderr after the last line; so they are polled, not waited for.)
bench_stop() {
	local p i
	for p in "${VIM_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for i in $(seq 300); do
		for p in "${VIM_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && break; done
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.1
	done
}

bench_start || { echo "mass-outage: vimaged did not start" >&2; exit 1; }
for p in "${VIM_PIDS[@]}"; do disown "$p"; done
TRUST_HEAD=0
case " ${BENCH_VIMAGED_ARGS:-} " in *" --dvcr-trust-head "*) TRUST_HEAD=1 ;; esac
export N HOLD CYCLES DISTINCT PWWW WWW REPLICAS TRUST_HEAD VIM_URLS_S VIM_PIDS_S VIM_TOKENS_S VIMLOGS
export REGLOG=$REG/log STORAGE=$REG/storage REG_PID FLOOR_DIR=$T_TMP/floor FLOOR_RUNS=${BENCH_OUTAGE_FLOOR_RUNS:-2}

python3 - <<'PY'
import http.client, json, os, re, signal, subprocess, sys, threading, time, urllib.parse

n, hold = int(os.environ["N"]), int(os.environ["HOLD"])
cycles = int(os.environ["CYCLES"])
distinct = os.environ["DISTINCT"] == "1"
G = "/apis/virtualization.deckhouse.io/v1alpha2"
MANIFEST_ACCEPT = ("application/vnd.docker.distribution.manifest.v2+json, "
                   "application/vnd.docker.distribution.manifest.list.v2+json, "
                   "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json")

# The replicas, by index; "alive" drops the one the bench kills.  The bench
# talks to (and watches) the last one: with several, it does not lead at
# the start (replica 0 does), and it is never the one killed.
class Replica:
    def __init__(self, i, url, pid, tok):
        self.i, self.url, self.pid, self.tok = i, urllib.parse.urlparse(url), pid, tok
        self.alive, self.last_hwm, self.last_cpu, self.last_metrics = True, 0, 0.0, None

reps = [Replica(i, u, p, t) for i, (u, p, t) in enumerate(zip(
    os.environ["VIM_URLS_S"].split(), os.environ["VIM_PIDS_S"].split(), os.environ["VIM_TOKENS_S"].split()))]
me = reps[-1]
several = len(reps) > 1
conn = http.client.HTTPConnection(me.url.hostname, me.url.port)

def raw(method, path, body=None):
    """(status, body bytes) over the kept-alive connection to the bench's replica."""
    global conn
    h = {"Authorization": "Bearer " + me.tok, "Content-Type": "application/json"}
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
            conn = http.client.HTTPConnection(me.url.hostname, me.url.port)

def req(method, path, body=None):
    status, data = raw(method, path, body)
    if status >= 300:
        sys.exit("mass-outage: %s %s: %d %s" % (method, path, status, data[:300]))
    return json.loads(data)

def metrics_text(rep, timeout=5):
    """rep's /metrics on a connection of its own (the killer polls while
    the main thread talks); None when it does not answer."""
    try:
        c = http.client.HTTPConnection(rep.url.hostname, rep.url.port, timeout=timeout)
        c.request("GET", "/metrics", headers={"Authorization": "Bearer " + rep.tok})
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        return body if r.status == 200 else None
    except OSError:
        return None

def leads(rep, timeout=1):
    t = metrics_text(rep, timeout)
    return t is not None and re.search(r"^vimage_leader 1$", t, re.M) is not None

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
kill_at = [None]  # a Ready count at which the killer is woken (several replicas)
half = threading.Event()

def follow(rv):
    wc = http.client.HTTPConnection(me.url.hostname, me.url.port)
    wc.request("GET", G + "/namespaces/default/virtualimages?watch=1&resourceVersion=" + rv,
               headers={"Authorization": "Bearer " + me.tok})
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
            if kill_at[0] is not None and tally.get("Ready", 0) >= kill_at[0]:
                kill_at[0] = None
                half.set()

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

def replicas_cpu_s():
    """CPU of every replica, the killed one's as it was just before the kill."""
    return sum(cpu_s(r.pid) if r.alive else r.last_cpu for r in reps)

def machine_busy():
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(f) - f[3] - f[4], sum(f)

def metric_sums_of(rep):
    """(sum, count) of rep's reconcile and DVCR GET latency histograms."""
    text = metrics_text(rep) or ""
    out = {}
    for key, pat in (("reconcile", r'vimage_reconcile_duration_seconds_(sum|count)(?:\{\})? (\S+)'),
                     ("get", r'vimage_dvcr_request_duration_seconds_(sum|count)\{method="GET"\} (\S+)')):
        v = dict((m.group(1), float(m.group(2))) for m in re.finditer(pat, text))
        out[key] = (v.get("sum", 0.0), v.get("count", 0.0))
    return out

def metric_sums():
    """Summed over the replicas (the controllers run on the leader; after a
    failover, on two of them in turn), the killed one as of its kill."""
    out = {"reconcile": (0.0, 0.0), "get": (0.0, 0.0)}
    for r in reps:
        m = metric_sums_of(r) if r.alive else r.last_metrics
        for k in out:
            out[k] = (out[k][0] + m[k][0], out[k][1] + m[k][1])
    return out

def mean_ms(a, b, key):
    s, c = b[key][0] - a[key][0], b[key][1] - a[key][1]
    return 1000.0 * s / c if c else 0.0

def rss_of(rep, key="VmHWM"):
    if not rep.alive:
        return rep.last_hwm if key == "VmHWM" else 0
    for l in open("/proc/%s/status" % rep.pid):
        if l.startswith(key):
            return int(l.split()[1]) // 1024

def rss(key="VmHWM"):
    return max(rss_of(r, key) for r in reps)

def rss_all():
    return " ".join("r%d %d" % (r.i, rss_of(r)) for r in reps)

# ---- the leader killed in the middle of the recovery --------------------------
def kill_leader(out):
    """Waits for half, kills the leader (-9), and times until another
    replica's /metrics says vimage_leader 1: out["failover"]."""
    half.wait()
    lead = [r for r in reps if r.alive and leads(r, 5)]
    if len(lead) != 1 or lead[0] is me:
        print("mass-outage: no leader to kill (leaders: %s)" % [r.i for r in lead], flush=True)
        return
    v = lead[0]
    v.last_hwm, v.last_cpu, v.last_metrics = rss_of(v), cpu_s(v.pid), metric_sums_of(v)
    t_kill = time.time()
    os.kill(int(v.pid), signal.SIGKILL)
    v.alive = False
    out["killed"], out["at"], out["when"] = v.i, tally.get("Ready", 0), t_kill
    while True:
        for r in reps:
            if r.alive and leads(r):
                out["failover"], out["new"] = time.time() - t_kill, r.i
                return
        time.sleep(0.05)

# ---- the registry's floor -------------------------------------------------------
def floor():
    """limit_s: the time a lean parallel client takes for the requests a
    recovery must make: each image's manifest GET (the repository and tag
    of its status.target.registryURL) and each distinct blob of those
    manifests checked once (a 1-byte GET, or a HEAD with
    --dvcr-trust-head, as vimaged checks them), with curl --parallel
    --parallel-max 16: the least of BENCH_OUTAGE_FLOOR_RUNS runs.  The
    manifests are read once untimed first, to learn the blobs."""
    d = os.environ["FLOOR_DIR"]
    os.makedirs(d, exist_ok=True)
    refs, cont = [], ""
    while True:  # pages, as a client lists 10,000 objects
        l = req("GET", G + "/namespaces/default/virtualimages?limit=1000" +
                ("&continue=" + urllib.parse.quote(cont) if cont else ""))
        for o in l["items"]:
            u = o["status"]["target"]["registryURL"]
            host, path = u.split("/", 1)
            repo, tag = path.rsplit(":", 1) if "@" not in path else path.split("@", 1)
            refs.append((host, repo, tag))
        cont = l["metadata"].get("continue", "")
        if not cont:
            break

    cpu = [0.0]  # curl's CPU in the last run

    def curl(cfg_lines, name):
        cfg = os.path.join(d, name)
        with open(cfg, "w") as f:
            f.write("\n".join(cfg_lines) + "\n")
        t0, c0 = time.time(), os.times()
        # (its stderr kept: curl 7.88 draws the parallel progress meter
        # whatever -s or "silent" says; shown if a request failed)
        p = subprocess.run(["curl", "--parallel", "--parallel-max", "16", "-K", cfg],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        c1 = os.times()
        cpu[0] = c1.children_user + c1.children_system - c0.children_user - c0.children_system
        return time.time() - t0, p.stdout.decode().split(), p.stderr.decode(errors="replace")

    def manifests(out):
        lines = ["silent", 'header = "Accept: %s"' % MANIFEST_ACCEPT, 'write-out = "%{http_code}\\n"']
        for i, (host, repo, tag) in enumerate(refs):
            lines += ['url = "http://%s/v2/%s/manifests/%s"' % (host, repo, tag), 'output = "%s"' % out(i)]
        return lines

    curl(manifests(lambda i: os.path.join(d, "m%d.json" % i)), "read.cfg")
    blobs = {}  # digest -> (host, repo) of the first manifest naming it
    for i, (host, repo, tag) in enumerate(refs):
        man = json.load(open(os.path.join(d, "m%d.json" % i)))
        for b in [man["config"]] + man.get("layers", []):
            blobs.setdefault(b["digest"], (host, repo))
    timed = manifests(lambda i: "/dev/null") + ["next", "silent", 'write-out = "%{http_code}\\n"']
    timed.append("head" if os.environ["TRUST_HEAD"] == "1" else 'range = "0-0"')
    for dg, (host, repo) in blobs.items():
        timed += ['url = "http://%s/v2/%s/blobs/%s"' % (host, repo, dg), 'output = "/dev/null"']
    tries = []  # (the least of FLOOR_RUNS: a floor, on a machine others share)
    for _ in range(int(os.environ["FLOOR_RUNS"])):
        c_reg = cpu_s(os.environ["REG_PID"])
        limit, codes, errs = curl(timed, "floor.cfg")
        tries.append((limit, cpu[0], cpu_s(os.environ["REG_PID"]) - c_reg))
        ok = sum(1 for c in codes if c in ("200", "206"))
        if ok != len(refs) + len(blobs):
            sys.exit("mass-outage: the floor's requests did not all succeed: %s\n%s"
                     % (sorted(set(codes)), errs[-2000:]))
    limit, curl_cpu, c_reg = min(tries)
    print("registry floor: %d manifest GETs and %d blob %s with curl --parallel-max 16, all 2xx, in %s s (the least: CPU curl %.1f s, registry %.1f s)"
          % (len(refs), len(blobs), "HEADs" if os.environ["TRUST_HEAD"] == "1" else "1-byte GETs",
             " and ".join("%.2f" % t[0] for t in tries), curl_cpu, c_reg), flush=True)
    return limit

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
print("created %d images in %.1f s through replica %d of %d" % (n, time.time() - t, me.i, len(reps)), flush=True)
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
    fo = {}
    if several and sum(1 for r in reps if r.alive) >= 2:
        half.clear()
        kill_at[0] = (n + 1) // 2
        killer = threading.Thread(target=kill_leader, args=(fo,), daemon=True)
        killer.start()
    else:
        killer = None
    t_back = time.time()
    c_vim, c_reg, r_back = replicas_cpu_s(), cpu_s(os.environ["REG_PID"]), reglines()
    c_me = cpu_s(os.getpid())
    busy0, m0 = machine_busy(), metric_sums()
    os.rename(store + ".away", store)
    recover = wait_all("Ready", 900)
    if killer:
        kill_at[0] = None
        half.set()  # (all Ready before the count was seen: the killer gives up)
        killer.join(60)
    busy1, m1 = machine_busy(), metric_sums()
    ts = sorted(became[k] - t_back for k in phase if k != "src")
    print("recovery spread: 10%% %.1f s, 50%% %.1f s, 90%% %.1f s, 99%% %.1f s, last %.1f s"
          % (tuple(ts[int(len(ts) * q)] for q in (0.1, 0.5, 0.9, 0.99)) + (ts[-1],)), flush=True)
    if "failover" in fo:
        print("leader r%d killed at %d Ready (%.1f s after the storage came back, %s UTC); r%d led %.1f s later"
              % (fo["killed"], fo["at"], fo["when"] - t_back, time.strftime("%H:%M:%S", time.gmtime(fo["when"])),
                 fo["new"], fo["failover"]), flush=True)
    print("all Ready %.1f s after the storage came back (CPU: vimaged %.1f s, registry %.1f s, this bench %.1f s, machine %.0f%% busy; %d registry requests)"
          % (recover, replicas_cpu_s() - c_vim, cpu_s(os.environ["REG_PID"]) - c_reg, cpu_s(os.getpid()) - c_me,
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
    limit = floor()  # (after the 10 s count: its requests are not vimaged's)
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
    return dict(detect=detect, recover=recover, rps=outage_rps, det_u=det_u, rec_u=rec_u, up_rps=up_rps,
                limit=limit, failover=fo.get("failover"))

# Each cycle is one more outage of the same images: one import phase,
# several samples of a figure the machine's noise moves by a second.
runs = [outage() for _ in range(cycles)]
worst = lambda k: max(r[k] for r in runs)
last = runs[-1]
ratio = max(r["recover"] / r["limit"] for r in runs)
if cycles > 1:
    print("%d outages: detect_s %s, recover_s %s, limit_s %s (the last line gives the worst; limit_s the least)"
          % (cycles, " ".join("%.1f" % r["detect"] for r in runs), " ".join("%.1f" % r["recover"] for r in runs),
             " ".join("%.2f" % r["limit"] for r in runs)))
relists = 0
for log in os.environ["VIMLOGS"].split():
    relists += sum(1 for l in open(log) if "relisting every object" in l)
print("vimaged peak RSS (MiB): %s; its caches listed again %d times" % (rss_all(), relists))
several_tail = ""
if several:
    fos = [r["failover"] for r in runs if r["failover"] is not None]
    several_tail = " replicas=%d failover_s=%s" % (len(reps), "%.1f" % max(fos) if fos else "none")
print("targets: detect_s <= 15, recover_s <= %d, outage_rps <= 2, rss_mib <= %d, recover_ratio <= 1.5"
      % (15 if several else 10, 250 if several else 200))
print("mass-outage: images=%d detect_s=%.1f recover_s=%.1f outage_rps=%.2f upstream_recover_s=%.0f upstream_outage_rps=%.1f rss_mib=%d limit_s=%.2f recover_ratio=%.2f%s"
      % (n, worst("detect"), worst("recover"), worst("rps"), last["rec_u"], last["up_rps"], rss(),
         min(r["limit"] for r in runs), ratio, several_tail))
PY
rc=$?
bench_stop
# BENCH_OUTAGE_KEEP=1: the registry's log, vimaged's and etcd's stay in T_TMP
[ "${BENCH_OUTAGE_KEEP:-0}" = 1 ] && T_FAILED=1
exit $rc
