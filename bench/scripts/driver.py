#!/usr/bin/env python3
"""Drives the benchmark: floors, then rounds of (Lookout, baseline) sessions, interleaved
A, B, A, B. Each session starts the service from nothing (cold start = process start to the
first 200 from PUT /predict), loads it with an HTTP load generator (oha, or wrk as a
fallback) at each concurrency on each image, records the Lookout stage histograms from
/metrics around every load step, and reads the process's peak RSS (VmHWM) before stopping it.
Everything is written to one JSON file that report.py turns into RESULTS.md and the chart.

Only loopback addresses are used; every load step is bounded in requests (-n) and in time
(per-request timeout and a wall-clock cap on the load generator), and the whole load phase has
a budget past which the remaining steps are skipped (and reported as skipped).

Run by bench/run.sh; standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def busy_compilers() -> int:
    """How many rustc processes run right now (the machine is shared with builds)."""
    n = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "rustc":
                    n += 1
        except OSError:
            pass
    return n


class CompilerWatch:
    """Samples every 2 s how many rustc processes run, so each step can say whether it
    shared the CPU with a build."""

    def __init__(self):
        import threading
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), busy_compilers()))
            self._stop.wait(2.0)

    def share(self, t0: float, t1: float) -> float:
        """Fraction of the samples in [t0, t1] that saw a rustc running."""
        xs = [n for t, n in self.samples if t0 <= t <= t1]
        return sum(1 for n in xs if n > 0) / len(xs) if xs else float(busy_compilers() > 0)

    def stop(self):
        self._stop.set()


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def proc_status(pid: int) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS", "Threads"):
                    v = value.strip().split()[0]
                    out[key] = int(v)
    except OSError:
        pass
    return out


def tree_pids(pid: int) -> list[int]:
    """The process and its descendants (the baseline is one process, but be sure)."""
    children: dict[int, list[int]] = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(p))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def http(method: str, url: str, body: bytes | None = None, timeout: float = 120.0,
         content_type: str = "application/json") -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# ---------------------------------------------------------------------------------------------
# Prometheus text from Lookout's /metrics: the sums and counts of its stage histograms.

STAGES = {
    "request": ("lookout_http_request_duration_seconds", 'route="/predict"'),
    "decode": ("lookout_decode_duration_seconds", None),
    "queue": ("lookout_queue_wait_seconds", None),
    "inference": ("lookout_inference_duration_seconds", None),
}


def scrape(base: str) -> dict:
    try:
        status, text = http("GET", base + "/metrics", timeout=10)
    except OSError:
        return {}
    if status != 200:
        return {}
    out = {}
    lines = text.decode("utf-8", "replace").splitlines()
    for stage, (name, label) in STAGES.items():
        for suffix in ("sum", "count"):
            total = 0.0
            pat = re.compile(rf"^{name}_{suffix}(\{{[^}}]*\}})?\s+([0-9.eE+-]+)$")
            for line in lines:
                m = pat.match(line)
                if m and (label is None or (m.group(1) and label in m.group(1))):
                    total += float(m.group(2))
            out[f"{stage}_{suffix}"] = total
    busy = 0.0
    for line in lines:
        if line.startswith("lookout_rejected_busy_total"):
            busy += float(line.split()[-1])
    out["rejected_busy"] = busy
    return out


def stage_means(before: dict, after: dict) -> dict:
    if not before or not after:
        return {}
    out = {}
    for stage in STAGES:
        n = after.get(f"{stage}_count", 0) - before.get(f"{stage}_count", 0)
        s = after.get(f"{stage}_sum", 0) - before.get(f"{stage}_sum", 0)
        out[f"{stage}_ms"] = (s / n * 1000.0) if n > 0 else None
        out[f"{stage}_n"] = n
    out["rejected_busy"] = after.get("rejected_busy", 0) - before.get("rejected_busy", 0)
    return out


# ---------------------------------------------------------------------------------------------
# Load generators. Both return {p50_ms, p99_ms, rps, ok, status, errors, wall_s}.

def run_oha(oha: str, url: str, body_path: str, n: int, c: int, cap_s: float,
            request_timeout_s: float) -> dict:
    cmd = [oha, "-n", str(n), "-c", str(c), "-m", "PUT", "-D", body_path,
           "-T", "application/json", "-t", f"{int(request_timeout_s)}s", "--no-tui",
           "--output-format", "json", "--worker-threads", "1", url]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=cap_s)
    except subprocess.TimeoutExpired:
        return {"error": f"oha passed its {cap_s:.0f} s cap", "wall_s": cap_s}
    wall = time.monotonic() - t0
    if p.returncode != 0:
        return {"error": f"oha exited {p.returncode}: {p.stderr.strip()[:400]}", "wall_s": wall}
    j = json.loads(p.stdout)
    pct = j.get("latencyPercentiles") or {}
    status = {str(k): int(v) for k, v in (j.get("statusCodeDistribution") or {}).items()}
    errors = {str(k): int(v) for k, v in (j.get("errorDistribution") or {}).items()}
    s = j.get("summary") or {}
    ok = status.get("200", 0)
    # oha reports seconds
    return {
        "p50_ms": pct["p50"] * 1000.0 if pct.get("p50") is not None else None,
        "p90_ms": pct["p90"] * 1000.0 if pct.get("p90") is not None else None,
        "p99_ms": pct["p99"] * 1000.0 if pct.get("p99") is not None else None,
        "mean_ms": (s.get("average") or 0) * 1000.0,
        "max_ms": (s.get("slowest") or 0) * 1000.0,
        # requestsPerSec counts every answer; throughput here counts successes only
        "rps": ok / s["total"] if s.get("total") else None,
        "oha_rps": s.get("requestsPerSec"),
        "ok": ok, "status": status, "errors": errors, "wall_s": wall,
        "total_s": s.get("total"),
    }


WRK_LUA = r"""
local f = io.open(os.getenv("BENCH_BODY"), "rb")
wrk.method = "PUT"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local limit = tonumber(os.getenv("BENCH_N"))
local answered = 0
response = function(status, headers, body)
  answered = answered + 1
  if answered >= limit then wrk.thread:stop() end
end
done = function(summary, latency, requests)
  local p50 = latency:percentile(50)
  local p90 = latency:percentile(90)
  local p99 = latency:percentile(99)
  io.write(string.format('BENCHJSON {"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %f, "max_us": %d, "requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    p50, p90, p99, latency.mean, latency.max, summary.requests, summary.duration,
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.status,
    summary.errors.timeout))
end
"""


def run_wrk(wrk: str, url: str, body_path: str, n: int, c: int, cap_s: float,
            request_timeout_s: float, work_dir: str, expected_ms: float) -> dict:
    """The fallback generator. wrk has no request count: its Lua script stops the (single)
    thread after n answers, but wrk itself always runs for its -d duration, so -d is sized from
    the warm-up latency (n / c waves, x1.5) and the throughput is estimated by Little's law
    (c / mean latency, valid for a closed loop like this one)."""
    lua = os.path.join(work_dir, "put.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)
    waves = -(-n // c)
    duration = int(min(cap_s, max(5.0, waves * expected_ms / 1000.0 * 1.5 + 2)))
    env = dict(os.environ, BENCH_BODY=body_path, BENCH_N=str(n))
    cmd = [wrk, "-t", "1", "-c", str(c), "-d", f"{duration}s", "--timeout",
           f"{int(request_timeout_s)}s", "-s", lua, url]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=cap_s + 30, env=env)
    except subprocess.TimeoutExpired:
        return {"error": "wrk passed its cap", "wall_s": cap_s}
    wall = time.monotonic() - t0
    m = re.search(r"BENCHJSON (\{.*\})", p.stdout)
    if not m:
        return {"error": f"wrk: {p.stdout[-300:]} {p.stderr[-300:]}", "wall_s": wall}
    j = json.loads(m.group(1))
    bad = sum(j["errors"].values())
    ok = j["requests"] - j["errors"]["status"]
    mean_s = j["mean_us"] / 1e6
    return {"p50_ms": j["p50_us"] / 1000, "p90_ms": j["p90_us"] / 1000,
            "p99_ms": j["p99_us"] / 1000, "mean_ms": j["mean_us"] / 1000,
            "max_ms": j["max_us"] / 1000, "rps": (c / mean_s) if mean_s > 0 else None,
            "rps_method": "Little's law (wrk)",
            "ok": ok, "status": {"200": ok}, "errors": j["errors"] if bad else {},
            "wall_s": wall, "total_s": j["duration_us"] / 1e6}


# ---------------------------------------------------------------------------------------------
# Services.

class Service:
    def __init__(self, name: str, cmd: list[str], env: dict, log_path: str, stop_signal: int):
        self.name, self.cmd, self.env, self.log_path = name, cmd, env, log_path
        self.stop_signal = stop_signal
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        cmd = [a.replace("{port}", str(self.port)) for a in self.cmd]
        self.log = open(self.log_path, "ab")
        self.log.write(f"\n=== {time.strftime('%F %T')} {' '.join(cmd)}\n".encode())
        self.log.flush()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return t0

    def wait_first_answer(self, t0: float, body: bytes, limit_s: float) -> dict:
        """Polls PUT /predict until the first 200; returns the cold-start times."""
        first_listen = None
        attempts = 0
        while time.monotonic() - t0 < limit_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} while "
                                   f"starting; see {self.log_path}")
            attempts += 1
            try:
                status, _ = http("PUT", self.base + "/predict", body,
                                 timeout=max(1.0, limit_s - (time.monotonic() - t0)))
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
                continue
            if first_listen is None:
                first_listen = time.monotonic() - t0
            if status == 200:
                return {"cold_start_s": time.monotonic() - t0, "first_http_answer_s": first_listen,
                        "attempts": attempts, "rss_after_ready_kib": self.rss()}
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} gave no 200 from /predict within {limit_s:.0f} s; "
                           f"see {self.log_path}")

    def rss(self) -> int:
        return sum(proc_status(p).get("VmRSS", 0) for p in tree_pids(self.proc.pid))

    def peak_rss(self) -> int:
        return sum(proc_status(p).get("VmHWM", 0) for p in tree_pids(self.proc.pid))

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        self.proc = None


def lookout_service(name: str, binary: str, model: str, threads: int, sessions: int,
                    logs: str) -> Service:
    """Lookout as every bench step starts it (its log: `<logs>/<name>.log`)."""
    return Service(
        name,
        [binary, "--addr", "127.0.0.1:{port}", "--model", model, "--threads", str(threads),
         "--sessions", str(sessions), "--log-format", "text"],
        dict(os.environ), os.path.join(logs, f"{name}.log"), signal.SIGTERM)


def baseline_service(python: str, weights: str, threads: int, logs: str) -> Service:
    """The Python service Lookout replaces, one uvicorn worker with `threads` torch threads."""
    return Service(
        "baseline",
        [python, "-m", "uvicorn", "--app-dir", os.path.join(ROOT, "bench", "baseline"),
         "app:app", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1",
         "--log-level", "warning"],
        dict(os.environ, BASELINE_WEIGHTS=weights, BASELINE_THREADS=str(threads)),
        os.path.join(logs, "baseline.log"), signal.SIGINT)


def all_sessions_ready_s(svc, t0: float, limit_s: float) -> float | None:
    """Seconds from process start until /readyz says every session of the default model is
    warm (Lookout serves with its first and builds the others when idle)."""
    while time.monotonic() - t0 < limit_s:
        try:
            status, body = http("GET", svc.base + "/readyz", None, timeout=5)
        except (OSError, urllib.error.URLError):
            status, body = 0, b""
        if status == 200 and every_session_warm(body):
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def every_session_warm(readyz_body: bytes) -> bool:
    """Whether a 200 /readyz body says the default model has every session warm (true for
    a server that does not say: it was ready with all of them)."""
    models = json.loads(readyz_body).get("models", [])
    model = next((m for m in models if m.get("default")), None)
    if model is None or "sessions" not in model:
        return True
    return model["sessions_ready"] >= model["sessions"]


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lookout", required=True, help="the lookout binary")
    ap.add_argument("--model", required=True)
    ap.add_argument("--weights", required=True, help="the baseline's state dict")
    ap.add_argument("--python", required=True, help="python of bench/.venv")
    ap.add_argument("--inputs", required=True, help="dir with <image>.predict.json")
    ap.add_argument("--images", default="640x480,1920x1080")
    ap.add_argument("--levels", default="1,2,4,8")
    ap.add_argument("--requests", default="640x480:1=8,2=8,4=12,8=16;1920x1080:1=6,2=6,4=8,8=16",
                    help="requests per load step, per image and concurrency")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sessions", type=int, default=2, help="Lookout's sessions (its default: 2)")
    ap.add_argument("--oha")
    ap.add_argument("--wrk")
    ap.add_argument("--profile-requests", type=int, default=3,
                    help="POST /v1/detect requests per image for Lookout's timing_ms")
    ap.add_argument("--step-cap-s", type=float, default=420.0)
    ap.add_argument("--request-timeout-s", type=float, default=180.0)
    ap.add_argument("--start-limit-s", type=float, default=240.0)
    ap.add_argument("--budget-s", type=float, default=1500.0, help="for the whole load phase")
    ap.add_argument("--floor-bin", help="detector's floor example (the Rust floor)")
    ap.add_argument("--floor-runs", type=int, default=5)
    ap.add_argument("--py-floor-runs", type=int, default=4,
                    help="onnxruntime (Python) and eager torch runs per image, round 1 only")
    ap.add_argument("--int8-model", help="also time this model's Rust floor, last round only")
    ap.add_argument("--step-quiet-wait-s", type=float, default=300.0,
                    help="before each step, wait up to this long for running compilers to end")
    ap.add_argument("--quiet-wait-cap-s", type=float, default=1200.0,
                    help="most time spent waiting for compilers over the whole run")
    ap.add_argument("--services", default="lookout,baseline", help="for development")
    ap.add_argument("--out", required=True)
    ap.add_argument("--logs", required=True)
    a = ap.parse_args()
    if not a.oha and not a.wrk:
        ap.error("need --oha or --wrk")

    images = a.images.split(",")
    levels = [int(x) for x in a.levels.split(",")]
    nreq: dict[str, dict[int, int]] = {}
    for part in a.requests.split(";"):
        img, _, spec = part.partition(":")
        nreq[img] = {int(k): int(v) for k, v in (kv.split("=") for kv in spec.split(","))}
    bodies = {img: os.path.join(a.inputs, f"{img}.predict.json") for img in images}
    jpegs = {img: os.path.join(a.inputs, f"{img}.jpg") for img in images}
    os.makedirs(a.logs, exist_ok=True)

    threads = str(a.threads)
    services = {
        "lookout": lambda: lookout_service("lookout", a.lookout, a.model, a.threads, a.sessions,
                                           a.logs),
        "baseline": lambda: baseline_service(a.python, a.weights, a.threads, a.logs),
    }
    generator = {"name": "oha", "path": a.oha} if a.oha else {"name": "wrk", "path": a.wrk}

    # A SIGTERM (e.g. make interrupted) unwinds through the `finally` that stops the service.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    watch = CompilerWatch()
    result = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rounds": [],
              "config": {"images": images, "levels": levels, "requests": nreq,
                         "rounds": a.rounds, "threads": a.threads, "generator": generator,
                         "model": a.model, "weights": a.weights,
                         "lookout_flags": f"--threads {a.threads} --sessions {a.sessions} (queue depth default 16)",
                         "baseline_flags": f"uvicorn --workers 1, torch.set_num_threads({a.threads})"},
              "skipped": []}
    out_tmp = a.out + ".partial"

    def save():
        result["elapsed_s"] = time.monotonic() - started
        result["quiet_waited_s"] = waited["total"]
        with open(out_tmp, "w") as f:
            json.dump(result, f, indent=1)

    waited = {"total": 0.0}

    def active_s() -> float:
        """Time spent measuring, i.e. not waiting for other people's compilers."""
        return time.monotonic() - started - waited["total"]

    def wait_quiet(what: str) -> float:
        """Waits (bounded per step and in total) while a rustc runs; returns the seconds."""
        t0 = time.monotonic()
        limit = min(a.step_quiet_wait_s, a.quiet_wait_cap_s - waited["total"])
        announced = False
        while busy_compilers() > 0 and time.monotonic() - t0 < limit:
            if not announced:
                log(f"  a compiler is running: waiting up to {limit:.0f} s before {what}")
                announced = True
            time.sleep(5)
        w = time.monotonic() - t0
        waited["total"] += w
        if announced:
            log(f"  waited {w:.0f} s ({'quiet now' if busy_compilers() == 0 else 'still busy'})")
        return w

    def rust_floor(model: str, img: str, runs: int, extra: tuple = ()) -> dict:
        cmd = [a.floor_bin, "--model", model, "--image", jpegs[img], "--threads", threads,
               "--runs", str(runs), "--warmup", "1", *extra]
        quiet_waited = wait_quiet(f"the floor on {img}")
        t_start = time.monotonic()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                               timeout=a.step_cap_s)
        except subprocess.TimeoutExpired:
            return {"error": f"floor passed its {a.step_cap_s:.0f} s cap"}
        if p.returncode != 0:
            return {"error": p.stderr.strip()[-400:]}
        j = json.loads(p.stdout)
        j["compile_share"] = watch.share(t_start, time.monotonic())
        j["quiet_waited_s"] = quiet_waited
        log(f"  Rust floor {os.path.basename(model)} {img}: session.run median "
            f"{j['session_run_median_ms']:.0f} ms (tensor {j['tensor_build_median_ms']:.1f} ms, "
            f"post {j['postprocess_median_ms']:.2f} ms, decode {j['decode_median_ms']:.1f} ms)")
        return j

    def py_floor(img: str) -> dict:
        cmd = [a.python, os.path.join(HERE, "floor_py.py"), "--image", jpegs[img],
               "--onnx", a.model, "--torch-weights", a.weights, "--threads", threads,
               "--runs", str(a.py_floor_runs), "--warmup", "1"]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                               timeout=a.step_cap_s)
        except subprocess.TimeoutExpired:
            return {"error": f"python floor passed its {a.step_cap_s:.0f} s cap"}
        if p.returncode != 0:
            return {"error": p.stderr.strip()[-400:]}
        j = json.loads(p.stdout)
        log(f"  Python floors {img}: onnxruntime "
            f"{j['onnxruntime'][a.model]['median_ms']:.0f} ms, eager torch "
            f"{j['torch_eager']['median_ms']:.0f} ms")
        return j

    for r in range(a.rounds):
        rnd = {"round": r + 1, "sessions": {}, "floor": {}, "floor_after": {}}
        result["rounds"].append(rnd)
        if a.floor_bin:
            log(f"round {r + 1}: floors")
            for img in images:
                rnd["floor"][img] = rust_floor(a.model, img, a.floor_runs)
            save()
        if r == 0 and a.py_floor_runs > 0:
            result["py_floor"] = {img: py_floor(img) for img in images}
            save()
        for name in a.services.split(","):  # A, B in every round: A, B, A, B
            svc = services[name]()
            sess = {"compilers_at_start": busy_compilers(), "loadavg_at_start": loadavg(),
                    "steps": {}, "profile": {}}
            rnd["sessions"][name] = sess
            sess["quiet_waited_s"] = wait_quiet(f"starting {name}")
            log(f"round {r + 1}: starting {name} on {svc.base}")
            t0 = svc.start()
            try:
                with open(bodies[images[0]], "rb") as f:
                    first_body = f.read()
                sess.update(svc.wait_first_answer(t0, first_body, a.start_limit_s))
                log(f"  {name} answered its first /predict after {sess['cold_start_s']:.2f} s")
                # The load steps measure the steady state: every session built and warm.
                sess["all_sessions_ready_s"] = all_sessions_ready_s(svc, t0, a.start_limit_s)
                for img in images:
                    with open(bodies[img], "rb") as f:
                        body = f.read()
                    t_warm = time.monotonic()
                    status, _ = http("PUT", svc.base + "/predict", body, timeout=a.request_timeout_s)
                    warm_ms = (time.monotonic() - t_warm) * 1000.0
                    if status != 200:
                        raise RuntimeError(f"{name}: warm-up on {img} answered {status}")
                    for c in levels:
                        key = f"{img}/c{c}"
                        if active_s() > a.budget_s:
                            result["skipped"].append(f"round {r + 1} {name} {key}")
                            log(f"  budget spent: skipping {key}")
                            continue
                        n = nreq[img][c]
                        quiet_waited = wait_quiet(key)
                        before = scrape(svc.base) if name == "lookout" else {}
                        t_start = time.monotonic()
                        if generator["name"] == "oha":
                            step = run_oha(a.oha, svc.base + "/predict", bodies[img], n, c,
                                           a.step_cap_s, a.request_timeout_s)
                        else:
                            step = run_wrk(a.wrk, svc.base + "/predict", bodies[img], n, c,
                                           a.step_cap_s, a.request_timeout_s, a.logs, warm_ms)
                        after = scrape(svc.base) if name == "lookout" else {}
                        step.update({"n": n, "c": c, "compile_share": watch.share(t_start, time.monotonic()),
                                     "quiet_waited_s": quiet_waited,
                                     "stages": stage_means(before, after)})
                        sess["steps"][key] = step
                        if "error" in step:
                            log(f"  {key}: ERROR {step['error']}")
                        else:
                            log(f"  {key}: n={n} p50 {step['p50_ms']:.0f} ms, p99 "
                                f"{step['p99_ms']:.0f} ms, {step['rps']:.3f} req/s, "
                                f"status {step['status']} errors {step['errors']}")
                        save()
                    if name == "lookout" and a.profile_requests > 0:
                        with open(jpegs[img], "rb") as f:
                            jpeg = f.read()
                        prof = []
                        for _ in range(a.profile_requests):
                            t = time.monotonic()
                            status, text = http("POST", svc.base + "/v1/detect", jpeg,
                                                timeout=a.request_timeout_s,
                                                content_type="image/jpeg")
                            client_ms = (time.monotonic() - t) * 1000.0
                            if status == 200:
                                tm = json.loads(text).get("timing_ms", {})
                                prof.append({**tm, "client_ms": client_ms})
                        sess["profile"][img] = prof
                sess["peak_rss_kib"] = svc.peak_rss()
                sess["rss_at_end_kib"] = svc.rss()
                log(f"  {name}: peak RSS {sess['peak_rss_kib'] / 1024:.0f} MiB")
            except (KeyboardInterrupt, SystemExit):
                svc.stop()
                raise
            except Exception as e:  # recorded, the run goes on with the other service
                sess["error"] = f"{type(e).__name__}: {e}"
                log(f"  {name}: ERROR {sess['error']}")
            finally:
                svc.stop()
            save()
            if name == "lookout" and a.floor_bin:
                # Again right after Lookout's session: the round's floor is the mean of the
                # two, so slow drift of the machine does not land on one side of the ratio.
                log(f"round {r + 1}: floors again")
                for img in images:
                    rnd["floor_after"][img] = rust_floor(a.model, img, a.floor_runs)
                save()

    if a.int8_model and a.floor_bin:
        log("INT8 floors")
        result["int8_floor"] = {}
        for img in images:
            if active_s() > a.budget_s:
                result["skipped"].append(f"int8 floor {img}")
                continue
            result["int8_floor"][img] = {"int8": rust_floor(a.int8_model, img, 3),
                                         "fp32": rust_floor(a.model, img, 3)}
            save()

    if a.floor_bin and active_s() < a.budget_s:
        # What the engine's warm-up run costs at start and buys on the first request.
        log("warm-up probe")
        img = images[0]
        result["warm_up_probe"] = {
            "off": rust_floor(a.model, img, 3, ("--engine-warm-up", "0")),
            "on": rust_floor(a.model, img, 3, ("--engine-warm-up", "1")),
        }
        save()

    result["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    watch.stop()
    result["compile_share_overall"] = watch.share(started, time.monotonic())
    save()
    os.replace(out_tmp, a.out)
    log(f"load phase done in {time.monotonic() - started:.0f} s -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
