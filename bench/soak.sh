#!/usr/bin/env bash
# bench/soak — N minutes of mixed traffic against one real vimaged with its
# own real docker-registry on loopback (not run in CI; `make bench`), to
# see whether anything grows or breaks over time:
#   creates (HTTP imports from a local python3 http.server, Upload images
#   filled by `vimagectl upload`), merge patches and `kubectl label`,
#   LIST with selectors, GETs, deletes; several watches (curl ?watch=1
#   and `kubectl get -w`) restarted now and then; and one outage of the
#   registry's storage (moved away, a file in its place, then back) every few
#   minutes.
# It samples vimaged's RSS, open descriptors, threads and watch history
# length (the store keeps the last 10,000 changes: RSS grows until it is
# full, about 13 minutes of this traffic, then stays flat) every minute to a
# log (BENCH_SOAK_LOG, default build/bench/soak.log), counts errors
# (unexpected HTTP codes, failed commands, watches that broke, images
# not Ready once the traffic stopped and the registry is back) and ends
# with exactly one line:
#   soak: minutes=N rss_start_mib=N rss_end_mib=N fds_start=N fds_end=N threads_end=N errors=N
# BENCH_SOAK_MINUTES (30), BENCH_SOAK_OUTAGE_EVERY (5, minutes; 0 = none),
# BENCH_SOAK_OUTAGE_HOLD_S (20), BENCH_SOAK_IMAGES (40: live images kept).
set -u
cd "$(dirname "$0")/.."
. tests/integration/lib.sh
MINUTES=${BENCH_SOAK_MINUTES:-30}
EVERY=${BENCH_SOAK_OUTAGE_EVERY:-5}
HOLD=${BENCH_SOAK_OUTAGE_HOLD_S:-20}
IMAGES=${BENCH_SOAK_IMAGES:-40}
LOG=${BENCH_SOAK_LOG:-$BUILD/bench/soak.log}
mkdir -p "$(dirname "$LOG")"
: >"$LOG"

REG=$T_TMP/registry
PREG=$(free_port)
registry_start "$REG" "$PREG" || { echo "soak: the registry did not start" >&2; exit 1; }
WWW=$T_TMP/www
mkdir -p "$WWW"
qemu-img create -q -f qcow2 "$WWW/disk.qcow2" 16M
qemu-img create -q -f qcow2 "$T_TMP/upload.qcow2" 8M
www_start "$WWW" || { echo "soak: the HTTP server did not start" >&2; exit 1; }
vim_start "$T_TMP/data" --dvcr-url "http://127.0.0.1:$PREG" ${BENCH_VIMAGED_ARGS:-} ||
	{ echo "soak: vimaged did not start" >&2; exit 1; }

export VIM_URL VIM_TOKEN VIM_PID MINUTES EVERY HOLD IMAGES LOG WWW_PORT
export STORAGE=$REG/storage KUBECONFIG_FILE KCACHE=$T_TMP/kcache
export CTL="$ROOT/$BUILD/vimagectl" UPLOAD_FILE=$T_TMP/upload.qcow2 KUBECTL_BIN=${KUBECTL:-kubectl}

python3 - <<'PY'
import http.client, json, os, random, subprocess, sys, time, urllib.parse

url = urllib.parse.urlparse(os.environ["VIM_URL"])
tok = os.environ["VIM_TOKEN"]
pid = os.environ["VIM_PID"]
minutes = int(os.environ["MINUTES"])
every = int(os.environ["EVERY"])
hold = int(os.environ["HOLD"])
max_images = int(os.environ["IMAGES"])
logf = open(os.environ["LOG"], "a", buffering=1)
storage = os.environ["STORAGE"]
kube = [os.environ["KUBECTL_BIN"], "--kubeconfig", os.environ["KUBECONFIG_FILE"],
        "--cache-dir", os.environ["KCACHE"]]
src_url = "http://127.0.0.1:%s/disk.qcow2" % os.environ["WWW_PORT"]
G = "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualimages"
random.seed(13)

errors = 0
counts = {}

def log(msg):
    line = "%s %s" % (time.strftime("%H:%M:%S"), msg)
    logf.write(line + "\n")
    print(line, flush=True)

def error(msg):
    global errors
    errors += 1
    log("error: " + msg)

def sample():
    st = {}
    with open("/proc/%s/status" % pid) as f:
        for l in f:
            k, _, v = l.partition(":")
            st[k] = v.split()
    return (int(st["VmRSS"][0]) // 1024, len(os.listdir("/proc/%s/fd" % pid)),
            int(st["Threads"][0]))

conn = None

def req(method, path, body=None, ctype="application/json", ok=(200,)):
    """One API call; an unexpected code or a broken connection is an error."""
    global conn
    counts[method] = counts.get(method, 0) + 1
    h = {"Authorization": "Bearer " + tok}
    if body is not None:
        h["Content-Type"] = ctype
    for attempt in (0, 1):
        try:
            if conn is None:
                conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
            conn.request(method, path, json.dumps(body) if body is not None else None, h)
            r = conn.getresponse()
            data = r.read()
            break
        except (OSError, http.client.HTTPException) as e:
            conn = None
            if attempt == 1:  # a dropped keep-alive is retried once
                error("%s %s: %s" % (method, path, e))
                return None, None
    if r.status not in ok:
        error("%s %s: HTTP %d %s" % (method, path, r.status, data[:200]))
        return r.status, None
    try:
        return r.status, json.loads(data) if data else None
    except ValueError:
        error("%s %s: not JSON: %r" % (method, path, data[:200]))
        return r.status, None

def run(argv, timeout):
    """A command; True when it exited 0 in time."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        return p.returncode == 0, p.stdout.decode(errors="replace").strip()
    except subprocess.TimeoutExpired:
        return False, "timed out after %d s" % timeout

def vi(name, ds, labels):
    return {"apiVersion": "virtualization.deckhouse.io/v1alpha2", "kind": "VirtualImage",
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"dataSource": ds}}

# ---- watches: curl ?watch=1 and kubectl get -w, each restarted after a
# random 20-60 s; one that ends early on its own (not by our timer) broke.
class Watch:
    def __init__(self, i):
        self.i, self.p = i, None

    def start(self, now):
        self.life = random.randint(20, 60)
        self.until = now + self.life
        if self.i % 3 == 2:
            argv = kube + ["get", "vi", "-n", "default", "-w", "--request-timeout=0"]
        else:
            argv = ["curl", "-sS", "-N", "-o", "/dev/null", "-H", "Authorization: Bearer " + tok,
                    "%s://%s:%d%s?watch=1&allowWatchBookmarks=true"
                    % (url.scheme, url.hostname, url.port, G)]
        self.p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        counts["watch"] = counts.get("watch", 0) + 1

    def tick(self, now, stop=False):
        if self.p is None:
            return self.start(now)
        rc = self.p.poll()
        if rc is not None:
            err = self.p.stderr.read().decode(errors="replace").strip()
            error("watch %d (%s) ended by itself after <%d s: exit %d %s"
                  % (self.i, self.p.args[0], self.life, rc, err[:200]))
            self.p = None
            if not stop:
                self.start(now)
        elif stop or now >= self.until:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
            self.p.stderr.close()
            self.p = None
            if not stop:
                self.start(now)

# ---- the outage: storage moved away for `hold` seconds, every `every` min.
# Imports and uploads that fail during it, and a grace time after it, are
# the outage working, not errors.
outage_until = 0.0
away = False

def storage_away():
    # A file where the directory was: the registry can neither read nor
    # recreate it, so nothing is written to a place that vanishes after.
    os.rename(storage, storage + ".away")
    open(storage, "w").close()

def storage_back():
    os.unlink(storage)
    os.rename(storage + ".away", storage)

def in_outage(now):
    return away or now < outage_until + 60

live = []      # names we created and did not delete, oldest first
uploads = {}   # name -> True once its upload succeeded
n_created = 0

def create(now):
    global n_created
    n_created += 1
    name = "soak-%d" % n_created
    upload = random.random() < 0.3 and not in_outage(now)
    ds = {"type": "Upload"} if upload else {"type": "HTTP", "http": {"url": src_url}}
    st, _ = req("POST", G, vi(name, ds, {"soak": "yes", "n": str(n_created % 5)}), ok=(201,))
    if st != 201:
        return
    live.append(name)
    if upload:
        ok, out = run([os.environ["CTL"], "--kubeconfig", os.environ["KUBECONFIG_FILE"], "upload",
                       "vi/" + name, os.environ["UPLOAD_FILE"]], 120)
        counts["upload"] = counts.get("upload", 0) + 1
        if ok:
            uploads[name] = True
        elif not in_outage(time.time()):
            error("vimagectl upload vi/%s: %s" % (name, out[-300:]))
        else:
            log("upload vi/%s failed in the outage (expected): %s" % (name, out[-120:]))

def delete_oldest():
    name = live.pop(0)
    uploads.pop(name, None)
    req("DELETE", G + "/" + name, ok=(200, 202))

def merge_patch():
    name = random.choice(live)
    req("PATCH", G + "/" + name, {"metadata": {"labels": {"patched": str(random.randint(0, 9))}}},
        ctype="application/merge-patch+json")

def kubectl_label():
    name = random.choice(live)
    counts["label"] = counts.get("label", 0) + 1
    ok, out = run(kube + ["label", "-n", "default", "vi/" + name, "soak-l=%d" % random.randint(0, 9),
                          "--overwrite"], 60)
    if not ok:
        error("kubectl label vi/%s: %s" % (name, out[-300:]))

def list_some():
    sel = random.choice(["soak=yes", "n in (1,2)", "patched", "!patched", "n!=3"])
    req("GET", G + "?limit=10&labelSelector=" + urllib.parse.quote(sel))

def get_one():
    req("GET", G + "/" + random.choice(live))

def watch_history():
    """vimaged's watch history length (bounded: it explains early RSS growth)."""
    text = ""
    try:
        c = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        c.request("GET", "/metrics", headers={"Authorization": "Bearer " + tok})
        text = c.getresponse().read().decode()
        c.close()
    except (OSError, http.client.HTTPException) as e:
        error("GET /metrics: %s" % e)
    for l in text.splitlines():
        if l.startswith("vimage_watch_history "):
            return int(float(l.split()[1]))
    return -1

def phases():
    _, l = req("GET", G)
    return {o["metadata"]["name"]: o.get("status", {}).get("phase", "")
            for o in (l or {}).get("items", [])}

watches = [Watch(i) for i in range(4)]
t0 = time.time()
end = t0 + minutes * 60
next_sample = t0
next_outage = t0 + every * 60 if every > 0 else float("inf")
rss0, fds0, thr0 = sample()
log("start: rss_mib=%d fds=%d threads=%d" % (rss0, fds0, thr0))
minute = 0
while time.time() < end:
    now = time.time()
    if now >= next_sample:
        if minute > 0:
            rss, fds, thr = sample()
            log("minute %d: rss_mib=%d fds=%d threads=%d watch_history=%d live=%d errors=%d ops=%s"
                % (minute, rss, fds, thr, watch_history(), len(live), errors,
                   json.dumps(counts, sort_keys=True)))
        minute += 1
        next_sample += 60
    if not away and now >= next_outage and end - now > hold + 10:
        storage_away()
        away, back_at = True, now + hold
        log("outage: storage moved away for %d s" % hold)
    if away and now >= back_at:
        storage_back()
        away, outage_until = False, now
        next_outage = now + every * 60
        log("outage: storage back")
    for w in watches:
        w.tick(now)
    if len(live) < 3:
        create(now)
        continue
    r = random.random()
    if r < 0.25:
        create(now)
    elif r < 0.40:
        merge_patch()
    elif r < 0.48:
        kubectl_label()
    elif r < 0.70:
        list_some()
    elif r < 0.88:
        get_one()
    else:
        delete_oldest()
    while len(live) > max_images:
        delete_oldest()
    time.sleep(0.2)

if away:
    storage_back()
    log("outage: storage back (at the end)")
for w in watches:
    w.tick(time.time(), stop=True)

# Settle: with the registry back, every image we keep must become Ready
# (an HTTP import retried after the outage, an upload done, a lost image
# recovered).  An Upload image whose upload failed in the outage still
# waits for its data: that is not a fault.
deadline = time.time() + 240
while True:
    ph = phases()
    stuck = {n: p for n, p in ph.items() if p != "Ready" and
             not (p == "WaitForUserUpload" and n not in uploads)}
    if not stuck or time.time() > deadline:
        break
    time.sleep(2)
for n, p in sorted(stuck.items()):
    error("vi/%s is %s %d s after the traffic stopped" % (n, p or "(no phase)", 240))
rss1, fds1, thr1 = sample()
log("end: rss_mib=%d fds=%d threads=%d watch_history=%d live=%d ops=%s"
    % (rss1, fds1, thr1, watch_history(), len(live), json.dumps(counts, sort_keys=True)))
print("soak: minutes=%d rss_start_mib=%d rss_end_mib=%d fds_start=%d fds_end=%d threads_end=%d errors=%d"
      % (minutes, rss0, rss1, fds0, fds1, thr1, errors), flush=True)
PY
