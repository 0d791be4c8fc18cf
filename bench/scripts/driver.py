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
import signal
import statistics
import subprocess
import sys
import time

# The driver is split by concern into the driver_*.py modules beside this file; every name they
# hold is imported here too, so `import driver` (coldstart.py) and `from driver import ...`
# (flood.py, photos.py) find it where it always was.
from driver_host import (  # noqa: F401
    HERE, ROOT, CompilerWatch, busy_compilers, free_port, loadavg, log, proc_status, tree_pids)
from driver_http import STAGES, http, scrape, stage_means  # noqa: F401
from driver_loadgen import WRK_LUA, run_oha, run_wrk  # noqa: F401
from driver_services import (  # noqa: F401
    Service, all_sessions_ready_s, baseline_service, every_session_warm, lookout_service)


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
