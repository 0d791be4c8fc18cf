#!/usr/bin/env python3
"""Cold start alone: process start to the first 200 from PUT /predict (the driver's own
measure), for Lookout with one and with two sessions, optionally an earlier Lookout binary,
and the Python baseline, interleaved round by round so drift hits all of them alike. For
Lookout it also records when /readyz reports every session warm.

    bench/.venv/bin/python bench/scripts/coldstart.py --lookout target/release/lookout \
        [--before OLD_BINARY] [--rounds 5] --out bench/out/coldstart.json [--md bench/RESULTS.md]

(`BENCH_PARTS=coldstart make bench` runs it and writes its section of RESULTS.md.)

Inputs (the R50 model, its seeded weights, bench/out/inputs) are those `make bench` prepared.
Standard library only (plus the driver's helpers); loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import driver  # noqa: E402  (its Service, http and log helpers)
import report  # noqa: E402  (its section writer)

BEGIN = "<!-- coldstart.py: begin -->"
END = "<!-- coldstart.py: end -->"


def section(result: dict) -> str:
    s = result["summary"]
    L = [BEGIN, "## Cold start alone (`BENCH_PARTS=coldstart make bench`)", "",
         f"Run {result['started']}, {result['rounds']} rounds interleaved, {result['threads']} threads, "
         f"`{os.path.basename(result['model'])}`. First answer: spawning the process to the first "
         "200 from PUT /predict on the 640x480 body (polled every 50 ms), as in the load run above. "
         "Every session warm: when /readyz first says so (Lookout is ready with its first session "
         "and builds and warms the others once it has been idle for 1 s). Peak RSS: VmHWM half a "
         "second after that. Medians over the rounds; ratios from this run only. Where its date is "
         "later than the full run's at the top, this is the cold start of the build as it is now.", "",
         "| service | first answer | / baseline | every session warm | peak RSS |", "|---|---|---|---|---|"]
    for name, v in s.items():
        ratio = v.get("ratio_to_baseline")
        ready = v.get("all_sessions_ready_median_s")
        L.append(f"| {name} | {v['cold_start_median_s']:.2f} s | "
                 + (f"{ratio:.2f}x" if ratio is not None else "-") + " | "
                 + (f"{ready:.2f} s" if ready is not None else "-")
                 + f" | {v['peak_rss_median_mib']:,.0f} MiB |")
    L += ["", "Per round (s): " + "; ".join(
        f"{name}: " + ", ".join(f"{r['cold_start_s']:.2f}" for r in runs)
        for name, runs in result["runs"].items()), END]
    return "\n".join(L)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lookout", required=True)
    ap.add_argument("--before", help="an earlier lookout binary, measured with two sessions too")
    ap.add_argument("--before-label", default="before", help="what to call it (e.g. its commit)")
    ap.add_argument("--model", default="models/coco-fasterrcnn_resnet50_fpn.onnx")
    ap.add_argument("--weights", default="models/coco-fasterrcnn_resnet50_fpn.seed0.pt")
    ap.add_argument("--python", default="bench/.venv/bin/python")
    ap.add_argument("--body", default="bench/out/inputs/640x480.predict.json")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--out", default="bench/out/coldstart.json")
    ap.add_argument("--logs", default="bench/out/logs")
    ap.add_argument("--md", help="write this run's section into this RESULTS.md")
    a = ap.parse_args()
    os.makedirs(a.logs, exist_ok=True)
    with open(a.body, "rb") as f:
        body = f.read()

    def lookout(name: str, binary: str, sessions: int):
        return lambda: driver.lookout_service(name, binary, a.model, a.threads, sessions, a.logs)

    # name -> (how to start it, whether it is a Lookout, whose /readyz counts sessions)
    services = {
        "lookout, 2 sessions": (lookout("lookout-2", a.lookout, 2), True),
        "lookout, 1 session": (lookout("lookout-1", a.lookout, 1), True),
    }
    if a.before:
        services[f"{a.before_label}, 2 sessions"] = (lookout("before-2", a.before, 2), True)
    if not a.no_baseline:
        services["baseline"] = (
            lambda: driver.baseline_service(a.python, a.weights, a.threads, a.logs), False)

    runs: dict[str, list[dict]] = {name: [] for name in services}
    for r in range(a.rounds):
        for name, (make, is_lookout) in services.items():
            svc = make()
            t0 = svc.start()
            try:
                run = svc.wait_first_answer(t0, body, 240.0)
                if is_lookout:
                    run["all_sessions_ready_s"] = driver.all_sessions_ready_s(svc, t0, 240.0)
                time.sleep(0.5)
                run["peak_rss_kib"] = svc.peak_rss()
            finally:
                svc.stop()
            runs[name].append(run)
            extra = run.get("all_sessions_ready_s")
            driver.log(f"round {r + 1}: {name}: first answer {run['cold_start_s']:.2f} s"
                       + (f", every session warm {extra:.2f} s" if extra else ""))

    summary = {}
    for name, rs in runs.items():
        full = [x["all_sessions_ready_s"] for x in rs if x.get("all_sessions_ready_s")]
        summary[name] = {
            "cold_start_median_s": statistics.median(x["cold_start_s"] for x in rs),
            "all_sessions_ready_median_s": statistics.median(full) if full else None,
            "peak_rss_median_mib": statistics.median(x["peak_rss_kib"] for x in rs) / 1024,
        }
    if "baseline" in summary:
        base = summary["baseline"]["cold_start_median_s"]
        for s in summary.values():
            s["ratio_to_baseline"] = s["cold_start_median_s"] / base
    result = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "rounds": a.rounds,
              "threads": a.threads, "model": a.model, "runs": runs, "summary": summary}
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(summary, indent=1))
    if a.md:
        report.write_section_only(a.md, section(result), BEGIN, END, "cold-start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
