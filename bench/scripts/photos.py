#!/usr/bin/env python3
"""Big photos and the cores (issue #11): what a 12-megapixel photo costs Lookout next to the
same scene sent at the model's working size, the memory one in flight adds and whether it
comes back, and sessions x threads under concurrent load.

    python bench/scripts/photos.py --lookout target/release/lookout --out bench/out/photos.json
        [--model models/shapes.onnx] [--threads 2] [--pairs 8] [--burst 8]
        [--configs 1x2,2x1,2x2] [--levels 1,2,4,8] [--requests 1=24,2=24,4=32,8=48]
        [--r50 models/coco-fasterrcnn_resnet50_fpn.onnx --r50-requests 1=4,2=4,4=8,8=16]
        [--work bench/out/photos]

Needs numpy and Pillow (models/.venv has both): the inputs are drawn by
models/shapes/large_holdout.py and dataset.py (seeded) and encoded with Pillow:

* ``photo_12mp.jpg``: 4032x3024, quality 90, shapes of 60-200 px on the noisy grey;
* ``photo_working.jpg``: the same scene resized (Pillow LANCZOS) to 1333x1000, the shapes
  model's working size for it, quality 90;
* ``640x480.jpg``: a normal hold-out-style image, for the load matrix.

Steps, each on a fresh server (`lookout --sessions S --threads T`), answers checked:

1. **memory**: RSS after readiness (every session ready, no request yet: "cold"),
   then after two requests with the scene at the model's working size (normal traffic has
   then grown onnxruntime's arena to what the working size needs): that is the
   **pre-request level**. The peak resident set (VmHWM, reset through /proc/PID/clear_refs)
   while ONE 12 MP request is in flight, minus the pre-request level; then a burst of
   ``--burst`` concurrent 12 MP requests (twice each) and the RSS 3 s after it, against the
   pre-request level (and the cold one).
2. **ratio**: ``--pairs`` alternating single requests (12 MP, then the working-size scene) to
   `POST /v1/detect` (raw JPEG body); the median client time of each and their ratio, with
   the server's own ``timing_ms`` stages.
3. **matrix**: for each sessions x threads configuration, closed-loop load at each
   concurrency (a client thread per connection, keep-alive, ``--requests`` answers per step)
   with the 640x480 image: p50, p99, throughput (answers per second of the step).

Only 127.0.0.1 is used; every request has a timeout. Standard library plus numpy/Pillow.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from driver import every_session_warm  # the readiness rule, one copy (bench/scripts)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models" / "shapes"))

SEED = 20261212  # used nowhere else


def log(msg: str) -> None:
    print(f"[photos {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def compilers_running() -> int:
    n = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    n += f.read().strip() == "rustc"
            except OSError:
                pass
    return n


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def make_inputs(work: Path) -> dict:
    import numpy as np
    from PIL import Image

    import dataset
    import large_holdout

    work.mkdir(parents=True, exist_ok=True)
    big, objects = large_holdout.generate_large(SEED, 0, 4032, 3024, 60, 200, (10, 16))
    pil = Image.fromarray(big)

    def save(img, name):
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=90)
        (work / name).write_bytes(buf.getvalue())
        return len(buf.getvalue())

    sizes = {"photo_12mp.jpg": save(pil, "photo_12mp.jpg"),
             "photo_working.jpg": save(pil.resize((1333, 1000), Image.LANCZOS), "photo_working.jpg")}
    small, _ = dataset.generate(SEED, 1, width=640, height=480)
    sizes["640x480.jpg"] = save(Image.fromarray(np.asarray(small)), "640x480.jpg")
    return {"files": sizes, "objects_in_photo": len(objects)}


class Server:
    def __init__(self, lookout: str, model: str, sessions: int | None, threads: int | None,
                 log_path: Path):
        """`sessions` / `threads` None: Lookout's own default."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.cmd = [lookout, "--addr", f"127.0.0.1:{self.port}", "--model", model, "--log-format", "text"]
        if sessions is not None:
            self.cmd += ["--sessions", str(sessions)]
        if threads is not None:
            self.cmd += ["--threads", str(threads)]
        self.log = open(log_path, "ab")
        self.log.write(f"\n=== {time.strftime('%F %T')} {' '.join(self.cmd)}\n".encode())
        self.log.flush()
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lookout exited with {self.proc.returncode}; see {log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                answer = conn.getresponse()
                # Measured with every session built and warm, not while they are built.
                if answer.status == 200 and every_session_warm(answer.read()):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("lookout did not become ready in 120 s")

    def rss(self) -> int:
        return status_kib(self.proc.pid, "VmRSS")

    def peak(self) -> int:
        return status_kib(self.proc.pid, "VmHWM")

    def reset_peak(self) -> bool:
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, dict, float]:
    t = time.perf_counter()
    conn.request("POST", "/v1/detect", body=body, headers={"Content-Type": "image/jpeg"})
    r = conn.getresponse()
    data = r.read()
    ms = (time.perf_counter() - t) * 1000.0
    try:
        answer = json.loads(data) if r.status == 200 else {"problem": data[:300].decode("utf-8", "replace")}
    except ValueError:
        answer = {}
    return r.status, answer, ms


def connect(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=300)


def concurrent(port: int, body: bytes, clients: int, total: int) -> dict:
    """Closed loop: `clients` threads on their own keep-alive connection send until `total`
    answers came back."""
    lock = threading.Lock()
    left = [total]
    lat, statuses = [], {}

    def work():
        conn = connect(port)
        while True:
            with lock:
                if left[0] <= 0:
                    break
                left[0] -= 1
            try:
                status, _, ms = post(conn, body)
            except OSError as e:
                status, ms = f"error {type(e).__name__}", None
                conn = connect(port)
            with lock:
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                if status == 200:
                    lat.append(ms)
        conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat.sort()
    pick = lambda q: lat[min(len(lat) - 1, int(round(q * (len(lat) - 1))))] if lat else None
    return {"c": clients, "n": total, "ok": len(lat), "status": statuses, "wall_s": wall,
            "rps": len(lat) / wall if wall > 0 else None, "p50_ms": pick(0.5), "p99_ms": pick(0.99),
            "mean_ms": statistics.fmean(lat) if lat else None}


def memory_and_ratio(a, work: Path, logs: Path) -> dict:
    photo = (work / "photo_12mp.jpg").read_bytes()
    working = (work / "photo_working.jpg").read_bytes()
    server = Server(a.lookout, a.model, 1, a.threads, logs / "lookout.log")
    out = {"config": f"1x{a.threads}", "compilers_at_start": compilers_running(),
           "loadavg_at_start": loadavg()}
    try:
        time.sleep(1.0)
        out["cold_rss_kib"] = server.rss()
        conn = connect(server.port)
        for _ in range(2):
            if post(conn, working)[0] != 200:
                raise RuntimeError("the working-size scene was not answered")
        time.sleep(2.0)
        idle = server.rss()
        out["idle_rss_kib"] = idle
        out["peak_reset"] = server.reset_peak()
        status, answer, ms = post(conn, photo)
        if status != 200:
            raise RuntimeError(f"12 MP request answered {status}: {answer}")
        out["single"] = {"client_ms": ms, "timing_ms": answer.get("timing_ms"),
                         "image": answer.get("image"), "detections": len(answer.get("detections", [])),
                         "peak_rss_kib": server.peak(), "rss_after_kib": server.rss()}
        out["peak_added_kib"] = out["single"]["peak_rss_kib"] - idle
        log(f"  one 12 MP request: {ms:.0f} ms, peak RSS +{out['peak_added_kib'] / 1024:.0f} MiB "
            f"over idle {idle / 1024:.0f} MiB")
        burst = concurrent(server.port, photo, a.burst, 2 * a.burst)
        time.sleep(3.0)
        out["burst"] = {**burst, "peak_rss_kib": server.peak(), "rss_after_kib": server.rss()}
        out["after_burst_over_idle"] = out["burst"]["rss_after_kib"] / idle
        out["after_burst_over_cold"] = out["burst"]["rss_after_kib"] / out["cold_rss_kib"]
        log(f"  burst of {a.burst} x 2: peak {out['burst']['peak_rss_kib'] / 1024:.0f} MiB, "
            f"{out['burst']['rss_after_kib'] / 1024:.0f} MiB 3 s later "
            f"({out['after_burst_over_idle']:.2f}x idle), statuses {burst['status']}")
        # Alternating single requests: the 12 MP photo, then the scene at working size.
        for body in (photo, working):
            post(conn, body)
        pairs = []
        for _ in range(a.pairs):
            s1, big, ms_big = post(conn, photo)
            s2, small, ms_small = post(conn, working)
            if s1 != 200 or s2 != 200:
                raise RuntimeError(f"ratio step answered {s1}/{s2}")
            pairs.append({"photo_ms": ms_big, "working_ms": ms_small,
                          "photo_timing": big.get("timing_ms"), "working_timing": small.get("timing_ms"),
                          "photo_image": big.get("image"), "working_image": small.get("image")})
        conn.close()
        out["pairs"] = pairs
        med = lambda k: statistics.median(p[k] for p in pairs)
        out["photo_ms"], out["working_ms"] = med("photo_ms"), med("working_ms")
        out["ratio"] = out["photo_ms"] / out["working_ms"]
        for stage in ("decode", "queue", "inference", "total"):
            out[f"photo_{stage}_ms"] = statistics.median(p["photo_timing"][stage] for p in pairs)
            out[f"working_{stage}_ms"] = statistics.median(p["working_timing"][stage] for p in pairs)
        log(f"  12 MP {out['photo_ms']:.0f} ms vs working size {out['working_ms']:.0f} ms: "
            f"{out['ratio']:.2f}x")
        out["peak_rss_end_kib"] = server.peak()
        out["compilers_at_end"] = compilers_running()
    finally:
        server.stop()
    return out


def ratio_only(a, model: str, work: Path, logs: Path, pairs: int) -> dict:
    """The 12 MP / working-size ratio alone, for another model."""
    photo = (work / "photo_12mp.jpg").read_bytes()
    working = (work / "photo_working.jpg").read_bytes()
    server = Server(a.lookout, model, 1, a.threads, logs / "lookout.log")
    try:
        conn = connect(server.port)
        post(conn, working)
        times = []
        for _ in range(pairs):
            s1, _, big = post(conn, photo)
            s2, _, small = post(conn, working)
            if s1 != 200 or s2 != 200:
                raise RuntimeError(f"answered {s1}/{s2}")
            times.append((big, small))
        conn.close()
    finally:
        server.stop()
    photo_ms = statistics.median(t[0] for t in times)
    working_ms = statistics.median(t[1] for t in times)
    log(f"  {os.path.basename(model)}: 12 MP {photo_ms:.0f} ms vs working size {working_ms:.0f} ms")
    return {"model": os.path.relpath(model, ROOT), "pairs": len(times), "photo_ms": photo_ms,
            "working_ms": working_ms, "ratio": photo_ms / working_ms}


def matrix(a, model: str, image: Path, levels: list[int], requests: dict, configs: list[str],
           logs: Path) -> list[dict]:
    body = image.read_bytes()
    out = []
    for cfg in configs:
        sessions, threads = (int(v) for v in cfg.split("x"))
        server = Server(a.lookout, model, sessions, threads, logs / "lookout.log")
        entry = {"config": cfg, "sessions": sessions, "threads": threads, "model": model,
                 "image": image.name, "steps": [], "compilers_at_start": compilers_running()}
        try:
            conn = connect(server.port)
            for _ in range(2):
                post(conn, body)
            conn.close()
            entry["idle_rss_kib"] = server.rss()
            for c in levels:
                step = concurrent(server.port, body, c, requests[c])
                step["compilers"] = compilers_running()
                entry["steps"].append(step)
                log(f"  {cfg} c={c}: p50 {step['p50_ms']:.0f} ms, p99 {step['p99_ms']:.0f} ms, "
                    f"{step['rps']:.2f} req/s {step['status']}")
            entry["peak_rss_kib"] = server.peak()
        finally:
            server.stop()
        out.append(entry)
    return out


def parse_requests(spec: str) -> dict:
    return {int(k): int(v) for k, v in (kv.split("=") for kv in spec.split(","))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lookout", required=True)
    ap.add_argument("--model", default=str(ROOT / "models" / "shapes.onnx"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--burst", type=int, default=8)
    ap.add_argument("--configs", default="1x2,2x1,2x2")
    ap.add_argument("--levels", default="1,2,4,8")
    ap.add_argument("--requests", default="1=24,2=24,4=32,8=48")
    ap.add_argument("--r50", help="also run the matrix with this R50 model, if it exists")
    ap.add_argument("--r50-requests", default="1=4,2=4,4=8,8=16")
    ap.add_argument("--r50-image", default="640x480.jpg")
    ap.add_argument("--work", default=str(ROOT / "bench" / "out" / "photos"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    work = Path(a.work)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    levels = [int(v) for v in a.levels.split(",")]
    configs = a.configs.split(",")
    started = time.monotonic()
    result = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "nproc": len(os.sched_getaffinity(0)),
              "threads": a.threads, "model": os.path.relpath(a.model, ROOT),
              "model_bytes": os.path.getsize(a.model), "levels": levels,
              "requests": parse_requests(a.requests), "configs": configs,
              "loadavg_start": loadavg()}
    log("drawing the inputs")
    result["inputs"] = make_inputs(work)
    log("memory and the 12 MP / working-size ratio")
    result["photo"] = memory_and_ratio(a, work, logs)
    log(f"sessions x threads with {os.path.basename(a.model)}")
    result["matrix"] = matrix(a, a.model, work / "640x480.jpg", levels, parse_requests(a.requests),
                              configs, logs)
    if a.r50 and os.path.exists(a.r50):
        log(f"12 MP / working size with {os.path.basename(a.r50)}")
        result["photo_r50"] = ratio_only(a, a.r50, work, logs, pairs=3)
        log(f"sessions x threads with {os.path.basename(a.r50)}")
        result["matrix_r50"] = matrix(a, a.r50, work / a.r50_image, levels,
                                      parse_requests(a.r50_requests), configs, logs)
    result["elapsed_s"] = time.monotonic() - started
    result["loadavg_end"] = loadavg()
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    log(f"done in {result['elapsed_s']:.0f} s -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
