#!/usr/bin/env python3
"""Turns the driver's JSON into bench/RESULTS.md and bench/results.svg.

    python bench/scripts/report.py --raw bench/out/raw.json --env bench/out/env.json \\
        --inputs bench/out/inputs --md bench/RESULTS.md --svg bench/results.svg \\
        [--cli bench/out/cli.json]
    python bench/scripts/report.py --cli bench/out/cli.json --md bench/RESULTS.md --cli-only
    python bench/scripts/report.py --photos bench/out/photos.json --md bench/RESULTS.md --photos-only

`--cli` adds the CLI section (bench/scripts/cli.py's JSON); `--cli-only` writes just that
section into an existing RESULTS.md (between its markers, else before "Machine and
versions"), leaving the rest of the file, from the last full run, as it was. `--photos` and
`--photos-only` do the same for the big-photo and sessions x threads section
(bench/scripts/photos.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics

TARGET_IMAGE = "640x480"
CLI_BEGIN = "<!-- cli.py: begin -->"
CLI_END = "<!-- cli.py: end -->"
PHOTOS_BEGIN = "<!-- photos.py: begin -->"
PHOTOS_END = "<!-- photos.py: end -->"
# issue #11's targets for the big-photo steps
PHOTO_RATIO_GOAL = 1.3
PHOTO_PEAK_GOAL_MB = 150
PHOTO_RETURN_GOAL = 1.10
SERVICES = ("lookout", "baseline")


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def f(x, digits=0, unit=""):
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}{unit}"


def ratio(a, b):
    return a / b if a is not None and b else None


def step(raw, rnd, svc, img, c):
    return raw["rounds"][rnd]["sessions"].get(svc, {}).get("steps", {}).get(f"{img}/c{c}")


def non_shed_errors(st) -> int:
    """Anything but 200 and 503 (deliberate shedding), plus transport errors."""
    if st is None:
        return 0
    if "error" in st:
        return st.get("n", 1)
    bad = sum(v for k, v in st["status"].items() if k not in ("200", "503"))
    return bad + sum(st["errors"].values())


def shed(st) -> int:
    return 0 if st is None or "error" in st else st["status"].get("503", 0)


def summarise(raw):
    cfg = raw["config"]
    rounds = range(len(raw["rounds"]))
    table = {}
    for img in cfg["images"]:
        for c in cfg["levels"]:
            for svc in SERVICES:
                sts = [step(raw, r, svc, img, c) for r in rounds]
                good = [s for s in sts if s and "error" not in s]
                table[(img, c, svc)] = {
                    "p50": med([s["p50_ms"] for s in good]),
                    "p99": med([s["p99_ms"] for s in good]),
                    "mean": med([s.get("mean_ms") for s in good]),
                    "rps": med([s["rps"] for s in good]),
                    "n": sum(s["n"] for s in good),
                    "ok": sum(s["ok"] for s in good),
                    "errors": sum(non_shed_errors(s) for s in sts),
                    "shed": sum(shed(s) for s in sts),
                    "rounds": len(good),
                    "compile_share": med([s.get("compile_share") for s in good]),
                    "stages": [s.get("stages") or {} for s in good],
                }
            # per-round ratios, then their median
            def per_round(key, num, den):
                out = []
                for r in rounds:
                    a, b = step(raw, r, num, img, c), step(raw, r, den, img, c)
                    if a and b and "error" not in a and "error" not in b:
                        out.append(ratio(a[key], b[key]))
                return med(out)
            table[(img, c, "ratio")] = {
                "p50": per_round("p50_ms", "lookout", "baseline"),
                "p99": per_round("p99_ms", "lookout", "baseline"),
                "rps": per_round("rps", "lookout", "baseline"),
            }
    return table


def session_values(raw, svc, key):
    return [r["sessions"].get(svc, {}).get(key) for r in raw["rounds"]]


def per_round_session_ratio(raw, key):
    out = []
    for r in raw["rounds"]:
        a = r["sessions"].get("lookout", {}).get(key)
        b = r["sessions"].get("baseline", {}).get(key)
        out.append(ratio(a, b))
    return med(out)


def floor_values(raw, img, key):
    """Per round: the mean of the floors measured before and after Lookout's session."""
    out = []
    for r in raw["rounds"]:
        xs = [r.get(k, {}).get(img, {}).get(key) for k in ("floor", "floor_after")]
        xs = [x for x in xs if x is not None]
        out.append(sum(xs) / len(xs) if xs else None)
    return out


def e2e_over_floor(raw, img):
    """Lookout's c=1 p50 over the bare session.run median, per round (same round), median."""
    out = []
    floors = floor_values(raw, img, "session_run_median_ms")
    for i, r in enumerate(raw["rounds"]):
        st = step(raw, i, "lookout", img, 1)
        if st and "error" not in st and floors[i]:
            out.append(st["p50_ms"] / floors[i])
    return med(out), out


def int8_accuracy_quote(root) -> str:
    path = os.path.join(root, "models", "shapes.report.md")
    try:
        text = open(path).read()
    except OSError:
        return "(models/shapes.report.md not found: the shapes model's INT8 accuracy is not available)"
    m = re.search(r"## INT8.*?(?=\n## |\Z)", text, re.S)
    return m.group(0).strip() if m else "(no INT8 section in models/shapes.report.md)"


def chart(raw, table, floors, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    cfg = raw["config"]
    images, levels = cfg["images"], cfg["levels"]
    colours = {"lookout": "#1f77b4", "baseline": "#d62728"}
    names = {"lookout": "Lookout (Rust, onnxruntime)", "baseline": "baseline (FastAPI, PyTorch)"}
    fig, axes = plt.subplots(len(images), 2, figsize=(11, 4.2 * len(images)), squeeze=False)
    for row, img in enumerate(images):
        ax_l, ax_t = axes[row]
        for svc in SERVICES:
            p50 = [table[(img, c, svc)]["p50"] for c in levels]
            p99 = [table[(img, c, svc)]["p99"] for c in levels]
            rps = [table[(img, c, svc)]["rps"] for c in levels]
            to_s = lambda xs: [x / 1000 if x is not None else float("nan") for x in xs]
            ax_l.plot(levels, to_s(p50), "o-", color=colours[svc], label=f"{names[svc]} p50")
            ax_l.plot(levels, to_s(p99), "s--", color=colours[svc], alpha=0.7,
                      label=f"{names[svc]} p99")
            ax_t.plot(levels, [x if x is not None else float("nan") for x in rps], "o-",
                      color=colours[svc], label=names[svc])
        fl = floors.get(img)
        if fl:
            ax_l.axhline(fl / 1000, color="grey", linestyle=":", label="bare session.run (Rust)")
            ax_t.axhline(1000 / fl, color="grey", linestyle=":",
                         label="1 / bare session.run")
        for ax in (ax_l, ax_t):
            ax.set_xscale("log", base=2)
            ax.set_xticks(levels)
            ax.set_xticklabels([str(c) for c in levels])
            ax.set_xlabel("concurrent requests")
            ax.grid(True, alpha=0.3)
        ax_l.set_ylabel("latency (s)")
        ax_l.set_title(f"{img}: latency (median of rounds)")
        ax_l.set_ylim(bottom=0)
        ax_t.set_ylabel("throughput (successful requests/s)")
        ax_t.set_title(f"{img}: throughput (median of rounds)")
        ax_t.set_ylim(bottom=0)
        ax_l.legend(fontsize=7, loc="upper left")
        ax_t.legend(fontsize=7, loc="lower right")
    fig.suptitle("PUT /predict, R50-FPN Faster R-CNN, 2 threads each, same weights", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, format=os.path.splitext(path)[1][1:] or "svg")
    plt.close(fig)


def cli_section(cli: dict, own_run: bool) -> list[str]:
    """The CLI comparison: a folder through one `lookout detect` vs one call per image."""
    L = [CLI_BEGIN, "## CLI: `lookout detect` over a folder vs one call per image", ""]
    w = L.append
    if own_run:
        w(f"Measured by `BENCH_PARTS=cli make bench` (`bench/scripts/cli.py`) on {cli['date']}, "
          "separately from the load run above (whose numbers come from its own date).")
        w("")
    n = cli["images"]
    w(f"{n} images drawn by `models/shapes/dataset.py` (seed {cli['seed']}, PNG, "
      f"{cli['mean_megapixels']:.2f} MP on average, {cli['total_png_bytes'] / 1e6:.1f} MB in all), "
      f"model `{cli['model']}` ({cli['model_bytes']:,} bytes), {cli['threads']} intra-op threads, "
      f"`nproc` = {cli['nproc']}. **Folder**: `{cli['command_batch']}` (one process, one model load, "
      "images read and decoded while the model runs, results in order). **Calls**: "
      f"`{cli['command_sequential']}`, one after another, as a shell loop would. Wall clock "
      "from spawning to exit; rounds alternate which goes first; median over rounds.")
    w("")
    w("| | " + " | ".join(f"round {r['round']}" for r in cli["rounds"]) + " | median |")
    w("|---|" + "---|" * (len(cli["rounds"]) + 1))
    w(f"| folder, 1 call | " + " | ".join(f"{r['batch_s']:.2f} s" for r in cli["rounds"])
      + f" | {cli['batch_s']:.2f} s ({cli['batch_images_per_s']:.1f} images/s) |")
    w(f"| {n} calls | " + " | ".join(f"{r['sequential_s']:.2f} s" for r in cli["rounds"])
      + f" | {cli['sequential_s']:.2f} s ({cli['sequential_images_per_s']:.1f} images/s) |")
    w(f"| speed-up | " + " | ".join(f"{r['speedup']:.1f}x" for r in cli["rounds"])
      + f" | **{cli['speedup']:.1f}x** |")
    w("")
    busy = [r["round"] for r in cli["rounds"] if r["compilers_at_start"] or r["compilers_at_end"]]
    w(f"Each call pays process start, onnxruntime and model loading: "
      f"{cli['per_call_overhead_ms']:.0f} ms per image more than the folder run. Both found the "
      f"same detections in every image: {'yes' if cli['identical'] else '**NO**'}. "
      + (f"A Rust compiler was running at the start or end of round(s) "
         f"{', '.join(map(str, busy))} (the machine is shared), so absolute times are noisy; "
         "the two ways of each round ran under the same conditions."
         if busy else "No Rust compiler was running at the start or end of any round."))
    w("")
    w("The shapes model's own compute is small (tens of ms per image), so this shows what the "
      "folder run saves per image; with a model that takes a second per image (R50-FPN) the same "
      "saving is a smaller share.")
    w(CLI_END)
    return L


def photos_section(ph: dict, own_run: bool) -> list[str]:
    """Big photos (12 MP vs working size, memory) and sessions x threads."""
    L = [PHOTOS_BEGIN, "## Big photos and sessions x threads (issue #11)", ""]
    w = L.append
    if own_run:
        w(f"Measured by `BENCH_PARTS=photos make bench` (`bench/scripts/photos.py`) on "
          f"{ph['date']}, separately from the load run above (whose numbers come from its own date).")
        w("")
    files = ph["inputs"]["files"]
    p = ph["photo"]
    mib = lambda kib: kib / 1024
    w(f"Model `{ph['model']}` ({ph['model_bytes']:,} bytes), `nproc` = {ph['nproc']}. Inputs drawn "
      f"by `models/shapes/large_holdout.py` (seeded): a 4032x3024 JPEG ({files['photo_12mp.jpg']:,} "
      f"bytes, quality 90, noisy like a sensor) and the same scene resized to 1333x1000, the "
      f"model's working size for it ({files['photo_working.jpg']:,} bytes). `POST /v1/detect` "
      f"with the raw JPEG, one client, `--sessions 1 --threads {ph['threads']}`.")
    w("")
    ratio_ok = p["ratio"] <= PHOTO_RATIO_GOAL
    peak_mb = p["peak_added_kib"] * 1024 / 1e6
    ret = p["after_burst_over_idle"]
    w("| target | goal | measured | verdict |")
    w("|---|---|---|---|")
    w(f"| 12 MP photo end to end / the same scene at working size | <= {PHOTO_RATIO_GOAL}x | "
      f"{p['ratio']:.2f}x ({p['photo_ms']:.0f} ms vs {p['working_ms']:.0f} ms, medians of "
      f"{len(p['pairs'])} alternating pairs) | **{'met' if ratio_ok else 'MISSED'}** |")
    w(f"| peak RSS added by one 12 MP request in flight | <= {PHOTO_PEAK_GOAL_MB} MB | "
      f"{peak_mb:.0f} MB ({mib(p['idle_rss_kib']):.0f} -> {mib(p['single']['peak_rss_kib']):.0f} MiB) | "
      f"**{'met' if peak_mb <= PHOTO_PEAK_GOAL_MB else 'MISSED'}** |")
    w(f"| RSS 3 s after a burst of {p['burst']['c']} concurrent 12 MP requests (x2) / before | "
      f"<= {PHOTO_RETURN_GOAL:.2f}x | {ret:.2f}x ({mib(p['burst']['rss_after_kib']):.0f} MiB vs "
      f"{mib(p['idle_rss_kib']):.0f} MiB; burst peak {mib(p['burst']['peak_rss_kib']):.0f} MiB) | "
      f"**{'met' if ret <= PHOTO_RETURN_GOAL else 'MISSED'}** |")
    w("")
    r50 = ph.get("photo_r50")
    if r50:
        w(f"With `{r50['model']}` (inference ~1-2 s) the same pair takes {r50['photo_ms']:.0f} ms "
          f"vs {r50['working_ms']:.0f} ms: **{r50['ratio']:.2f}x** (medians of {r50['pairs']} pairs).")
        w("")
    w("Where the time goes (server `timing_ms`, medians):")
    w("")
    w("| | decode | queue | inference (tensor + model) | total (server) | client |")
    w("|---|---|---|---|---|---|")
    for key, name in (("photo", "12 MP photo"), ("working", "working-size scene")):
        w(f"| {name} | {p[key + '_decode_ms']:.1f} ms | {p[key + '_queue_ms']:.1f} ms | "
          f"{p[key + '_inference_ms']:.1f} ms | {p[key + '_total_ms']:.1f} ms | {p[key + '_ms']:.1f} ms |")
    w("")
    w(f"\"Before\" (the pre-request level) is the server's RSS after it has answered the "
      f"working-size scene twice, i.e. once normal traffic has grown onnxruntime's arena to what "
      f"the model's working size needs; straight after start (every session ready, no request yet) it was "
      f"{mib(p['cold_rss_kib']):.0f} MiB, and the burst left {p['after_burst_over_cold']:.2f}x that. "
      f"The 12 MP photo is decoded at half scale (2016x1512) and its tensor built at 1333x999, "
      f"so it needs what the working-size scene needs plus the compressed bytes and the "
      f"half-scale picture; the engine pins glibc's mmap threshold and trims its heaps after "
      f"large inputs, so those go back to the system (detector/src/memory.rs).")
    w("")
    for key, title in (("matrix", "shapes model"), ("matrix_r50", "R50-FPN (seeded random weights)")):
        rows = ph.get(key)
        if not rows:
            continue
        w(f"### Sessions x threads, {title}, {rows[0]['image']}")
        w("")
        w("Closed loop: c clients, each on its own keep-alive connection, send `POST /v1/detect` "
          "(raw JPEG) until the step's answers are in; throughput = answers / step wall time.")
        w("")
        w("| sessions x threads | c | requests | p50 | p99 | req/s | statuses | compilers |")
        w("|---|---|---|---|---|---|---|---|")
        for r in rows:
            for st in r["steps"]:
                w(f"| {r['config']} | {st['c']} | {st['n']} | {f(st['p50_ms'], 0, ' ms')} | "
                  f"{f(st['p99_ms'], 0, ' ms')} | {f(st['rps'], 2)} | "
                  f"{', '.join(f'{k}: {v}' for k, v in st['status'].items())} | "
                  f"{'yes' if st.get('compilers') else 'no'} |")
        w("")
        by = {r["config"]: {st["c"]: st for st in r["steps"]} for r in rows}
        if "1x2" in by and "2x1" in by:
            parts = []
            for c in sorted(set(by["1x2"]) & set(by["2x1"])):
                a, b = by["1x2"][c], by["2x1"][c]
                if a.get("rps") and b.get("rps"):
                    parts.append(f"c={c}: throughput {b['rps'] / a['rps']:.2f}x, p50 "
                                 f"{b['p50_ms'] / a['p50_ms']:.2f}x")
            w("2x1 relative to 1x2: " + "; ".join(parts) + ".")
            w("")
    w(f"Load average at start {ph.get('loadavg_start')}, at end {ph.get('loadavg_end')} "
      f"(the machine is shared with other engineers' builds; `compilers` says whether a Rust "
      f"compiler was running at the end of the step).")
    w(PHOTOS_END)
    return L


def write_section_only(md: str, section: str, begin: str, end: str, what: str) -> int:
    text = open(md).read() if os.path.exists(md) else "# Lookout benchmark results\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    elif "\n## Machine and versions" in text:
        head, tail = text.split("\n## Machine and versions", 1)
        text = head.rstrip("\n") + "\n\n" + section + "\n\n## Machine and versions" + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    with open(md, "w") as fh:
        fh.write(text)
    print(f"wrote the {what} section of {md}")
    return 0


def write_cli_only(cli_path: str, md: str) -> int:
    section = "\n".join(cli_section(json.load(open(cli_path)), own_run=True))
    return write_section_only(md, section, CLI_BEGIN, CLI_END, "CLI")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw")
    ap.add_argument("--env")
    ap.add_argument("--inputs")
    ap.add_argument("--md", required=True)
    ap.add_argument("--svg")
    ap.add_argument("--cli", help="bench/scripts/cli.py's JSON: adds the CLI section")
    ap.add_argument("--cli-only", action="store_true",
                    help="write only the CLI section into the existing --md")
    ap.add_argument("--photos", help="bench/scripts/photos.py's JSON: adds the big-photo section")
    ap.add_argument("--photos-only", action="store_true",
                    help="write only the big-photo section into the existing --md")
    ap.add_argument("--root", default=os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
    a = ap.parse_args()
    if a.photos_only:
        if not a.photos:
            ap.error("--photos-only needs --photos")
        section = "\n".join(photos_section(json.load(open(a.photos)), own_run=True))
        return write_section_only(a.md, section, PHOTOS_BEGIN, PHOTOS_END, "big-photo")
    if a.cli_only:
        if not a.cli:
            ap.error("--cli-only needs --cli")
        return write_cli_only(a.cli, a.md)
    missing = [k for k in ("raw", "env", "inputs", "svg") if getattr(a, k) is None]
    if missing:
        ap.error("needs " + ", ".join("--" + k for k in missing) + " (or --cli-only)")
    raw = json.load(open(a.raw))
    env = json.load(open(a.env))
    inputs = json.load(open(os.path.join(a.inputs, "inputs.json")))
    cfg = raw["config"]
    images, levels = cfg["images"], cfg["levels"]
    table = summarise(raw)
    floors = {img: med(floor_values(raw, img, "session_run_median_ms")) for img in images}
    chart(raw, table, floors, a.svg)

    L = []
    w = L.append
    w("# Lookout benchmark results")
    w("")
    w(f"Generated by `make bench` (`bench/run.sh`) on {env['date']}. Every number below comes "
      f"from this one run; rerun with `make bench`. Raw data: `bench/out/raw.json` (not committed).")
    w("")

    # ---- targets
    t_img = TARGET_IMAGE if TARGET_IMAGE in images else images[0]
    e2e_ratio, e2e_rounds = e2e_over_floor(raw, t_img)
    thr = table.get((t_img, 4, "ratio"), {}).get("rps")
    p99r = table.get((t_img, 8, "ratio"), {}).get("p99")
    rss_r = per_round_session_ratio(raw, "peak_rss_kib")
    cold_r = per_round_session_ratio(raw, "cold_start_s")
    lk_errors = sum(table[(img, c, "lookout")]["errors"] for img in images for c in levels)
    lk_shed = sum(table[(img, c, "lookout")]["shed"] for img in images for c in levels)
    bl_errors = sum(table[(img, c, "baseline")]["errors"] for img in images for c in levels)

    def verdict(ok):
        return "n/a" if ok is None else ("**met**" if ok else "**MISSED**")

    w(f"## Targets ({t_img}, Lookout vs baseline, same run; medians of per-round values)")
    w("")
    w("| target | goal | measured | verdict |")
    w("|---|---|---|---|")
    w(f"| Lookout p50 at c=1 / bare `session.run` (Rust floor, same round) | <= 1.05x | "
      f"{f(e2e_ratio, 3, 'x')} (rounds: {', '.join(f(x, 3) for x in e2e_rounds)}) | "
      f"{verdict(None if e2e_ratio is None else e2e_ratio <= 1.05)} |")
    w(f"| throughput at c=4, Lookout / baseline | >= 1.5x | {f(thr, 2, 'x')} | "
      f"{verdict(None if thr is None else thr >= 1.5)} |")
    w(f"| p99 latency at c=8, Lookout / baseline | <= 0.6x | {f(p99r, 2, 'x')} | "
      f"{verdict(None if p99r is None else p99r <= 0.6)} |")
    w(f"| Lookout errors other than 503 shedding (all steps, both images) | 0 | "
      f"{lk_errors} errors, {lk_shed} x 503 | {verdict(lk_errors == 0)} |")
    w(f"| peak RSS, Lookout / baseline | <= 0.7x | {f(rss_r, 2, 'x')} | "
      f"{verdict(None if rss_r is None else rss_r <= 0.7)} |")
    w(f"| cold start to first answer, Lookout / baseline | <= 0.5x | {f(cold_r, 2, 'x')} | "
      f"{verdict(None if cold_r is None else cold_r <= 0.5)} |")
    w("")
    if bl_errors:
        w(f"The baseline had {bl_errors} failed requests (non-200/503 or transport errors).")
        w("")

    # ---- load tables
    w("## Load: PUT /predict (same JSON body for both services)")
    w("")
    w(f"Load generator: {cfg['generator']['name']} ({env.get('generator_version', '?')}), "
      f"loopback, keep-alive, {len(raw['rounds'])} rounds interleaved A, B, A, B (each round: "
      "Rust floor, then Lookout started cold and loaded, then the baseline started cold and "
      "loaded). Latency and throughput are the median over rounds of each round's value; "
      "ratios are computed per round, then the median taken. Throughput counts successful "
      "answers per second of the load step.")
    w("")
    for img in images:
        meta = inputs.get(img, {})
        w(f"### {img} (JPEG {meta.get('jpeg_bytes', '?'):,} bytes, request body "
          f"{meta.get('body_bytes', '?'):,} bytes)")
        w("")
        w("| c | requests/round | Lookout p50 | Lookout p99 | Lookout req/s | baseline p50 | "
          "baseline p99 | baseline req/s | p50 ratio | p99 ratio | throughput ratio | "
          "Lookout 503 / errors | baseline errors |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for c in levels:
            lk, bl, rt = (table[(img, c, s)] for s in ("lookout", "baseline", "ratio"))
            w(f"| {c} | {cfg['requests'][img][str(c)] if str(c) in cfg['requests'][img] else cfg['requests'][img].get(c)} | "
              f"{f(lk['p50'])} ms | {f(lk['p99'])} ms | {f(lk['rps'], 3)} | "
              f"{f(bl['p50'])} ms | {f(bl['p99'])} ms | {f(bl['rps'], 3)} | "
              f"{f(rt['p50'], 2, 'x')} | {f(rt['p99'], 2, 'x')} | {f(rt['rps'], 2, 'x')} | "
              f"{lk['shed']} / {lk['errors']} | {bl['errors']} |")
        w("")
    shared = []
    for i, r in enumerate(raw["rounds"]):
        for svc in SERVICES:
            for key, st in (r["sessions"].get(svc, {}).get("steps") or {}).items():
                if (st.get("compile_share") or 0) > 0:
                    shared.append(f"round {i + 1} {svc} {key} ({st['compile_share'] * 100:.0f}%)")
        for img, fl in (r.get("floor") or {}).items():
            if (fl.get("compile_share") or 0) > 0:
                shared.append(f"round {i + 1} floor {img} ({fl['compile_share'] * 100:.0f}%)")
    if shared:
        w("Steps that overlapped a running Rust compiler (share of 2-second samples), less "
          "trustworthy: " + "; ".join(shared) + ".")
    else:
        w("No load step or floor overlapped a running Rust compiler (sampled every 2 s).")
    w("")
    w("![latency and throughput vs concurrency](results.svg)")
    w("")

    # ---- cold start and memory
    w("## Cold start and memory")
    w("")
    w("Cold start: from spawning the process to the first 200 answer of PUT /predict on the "
      "640x480 body (polled every 50 ms), i.e. imports, model load and the first inference "
      "(Lookout serves with its first session, built without a warm-up run, and builds and "
      "warms the others once idle; the load steps start when /readyz says every session is "
      "warm). Peak RSS: the process's VmHWM (/proc/PID/status) at the end of its "
      "session, after every load step on both images (concurrency up to 8).")
    w("")
    w("| | " + " | ".join(f"round {r['round']}" for r in raw["rounds"]) + " | median |")
    w("|---|" + "---|" * (len(raw["rounds"]) + 1))
    for svc in SERVICES:
        cs = session_values(raw, svc, "cold_start_s")
        w(f"| {svc} cold start | " + " | ".join(f(x, 2, " s") for x in cs) +
          f" | {f(med(cs), 2, ' s')} |")
    for svc in SERVICES:
        hw = [x / 1024 if x else None for x in session_values(raw, svc, "peak_rss_kib")]
        w(f"| {svc} peak RSS | " + " | ".join(f(x, 0, " MiB") for x in hw) +
          f" | {f(med(hw), 0, ' MiB')} |")
    for svc in SERVICES:
        ready = [x / 1024 if x else None for x in session_values(raw, svc, "rss_after_ready_kib")]
        w(f"| {svc} RSS after the first answer | " + " | ".join(f(x, 0, " MiB") for x in ready) +
          f" | {f(med(ready), 0, ' MiB')} |")
    w("")

    lk_cold = med(session_values(raw, "lookout", "cold_start_s"))
    bl_cold = med(session_values(raw, "baseline", "cold_start_s"))
    listen = med(session_values(raw, "lookout", "first_http_answer_s"))
    probe = raw.get("warm_up_probe") or {}
    off, on = probe.get("off") or {}, probe.get("on") or {}
    if lk_cold and bl_cold:
        w(f"Lookout answers HTTP (503 `loading` on /predict, /healthz) after {f(listen, 2, ' s')}; "
          "its first 200 comes after the model load and the first real inference.")
        if off.get("load_ms") and on.get("load_ms"):
            saved = (on["load_ms"] - off["load_ms"]) / 1000.0
            w("")
            w(f"The warm-up, measured with the Rust floor (640x480): `Engine::load` takes "
              f"{f(off['load_ms'])} ms without it and {f(on['load_ms'])} ms with it, while the "
              f"first detection after a load without warm-up takes {f(off.get('first_detect_ms'))} ms "
              f"against a steady-state {f(off.get('detect_median_ms'))} ms (with warm-up: first "
              f"{f(on.get('first_detect_ms'))} ms). "
              + (f"On this model and CPU the first run is no slower than the others (within "
                 f"10%), so the warm-up buys nothing and adds {f(saved, 2, ' s')} to the cold "
                 f"start. " if off.get("first_detect_ms") and off.get("detect_median_ms") and
                 off["first_detect_ms"] <= 1.1 * off["detect_median_ms"] else
                 f"The warm-up adds {f(saved, 2, ' s')} to the cold start. ")
              + "This is why the first session is not warmed up (the others are, when idle).")
        w("")

    # ---- floors and profile
    w("## The floor: the model's own compute, in-process")
    w("")
    w("Rust: `detector/examples/floor.rs` loads the .onnx through `detector::Engine` (1 session, "
      f"{cfg['threads']} intra-op threads, warm-up on) and times `detect_blocking` on the decoded "
      "image; `session.run` is the bare onnxruntime `Session::run`, tensor build and "
      "post-processing are timed separately. Python: onnxruntime `InferenceSession.run` on the "
      "same .onnx with the same threads (cross-check), and the baseline's eager "
      "`model([img])` under `torch.inference_mode()`.")
    w("")
    w("| image | Rust session.run (median of rounds) | Rust tensor build | Rust post-process | "
      "Rust JPEG decode | Python onnxruntime run | eager PyTorch model([img]) |")
    w("|---|---|---|---|---|---|---|")
    py = raw.get("py_floor", {})
    for img in images:
        p = py.get(img, {})
        ort_ms = (p.get("onnxruntime", {}).get(cfg["model"]) or {}).get("median_ms")
        torch_ms = (p.get("torch_eager") or {}).get("median_ms")
        w(f"| {img} | {f(floors[img])} ms "
          f"({', '.join(f(x) for x in floor_values(raw, img, 'session_run_median_ms'))}) | "
          f"{f(med(floor_values(raw, img, 'tensor_build_median_ms')), 1)} ms | "
          f"{f(med(floor_values(raw, img, 'postprocess_median_ms')), 2)} ms | "
          f"{f(med(floor_values(raw, img, 'decode_median_ms')), 1)} ms | "
          f"{f(ort_ms)} ms | {f(torch_ms)} ms |")
    w("")

    w("## Where Lookout's time goes")
    w("")
    w("Server-side means from Lookout's own /metrics histograms, diffed around each load step "
      "(median over rounds): `request` is the whole PUT /predict handler as axum sees it, "
      "`decode` the JPEG decode, `queue` the wait for the session, `inference` tensor build + "
      "`session.run` + post-processing; `other` = request - decode - queue - inference, i.e. "
      "reading the body, JSON parsing, base64 decoding, building and serialising the answer "
      "and thread hand-offs. `client` is the load generator's mean and p50 (compare the "
      "means: at c >= 2 the closed loop makes the median sit at the slow end).")
    w("")
    w("| image | c | client mean | client p50 | request | decode | queue | inference | other |")
    w("|---|---|---|---|---|---|---|---|---|")
    for img in images:
        for c in levels:
            lk = table[(img, c, "lookout")]
            st = lk["stages"]
            get = lambda k: med([s.get(k) for s in st])
            req, dec, q, inf = get("request_ms"), get("decode_ms"), get("queue_ms"), get("inference_ms")
            other = None if None in (req, dec, q, inf) else req - dec - q - inf
            w(f"| {img} | {c} | {f(lk['mean'])} ms | {f(lk['p50'])} ms | {f(req, 1)} ms | {f(dec, 1)} ms | "
              f"{f(q, 1)} ms | {f(inf, 1)} ms | {f(other, 1)} ms |")
    w("")
    prof_rows = []
    for r in raw["rounds"]:
        for img, rows in r["sessions"].get("lookout", {}).get("profile", {}).items():
            for row in rows:
                prof_rows.append((img, row))
    if prof_rows:
        w("POST /v1/detect with the raw JPEG (no base64, no JSON request), c=1, its "
          "`timing_ms` (median over all profile requests):")
        w("")
        w("| image | decode | queue | inference | total (server) | client |")
        w("|---|---|---|---|---|---|")
        for img in images:
            rows = [row for i, row in prof_rows if i == img]
            g = lambda k: med([row.get(k) for row in rows])
            w(f"| {img} | {f(g('decode'), 1)} ms | {f(g('queue'), 1)} ms | "
              f"{f(g('inference'), 1)} ms | {f(g('total'), 1)} ms | {f(g('client_ms'), 1)} ms |")
        w("")

    w("For the baseline, the same split is its c=1 p50 against its in-process eager "
      "`model([img])` time (the rest is base64, PIL decode, `ToTensor`, pydantic, FastAPI's "
      "thread pool and JSON):")
    w("")
    w("| image | baseline c=1 p50 | eager model([img]) in-process | overhead |")
    w("|---|---|---|---|")
    for img in images:
        p50 = table[(img, 1, "baseline")]["p50"]
        tm = (py.get(img, {}).get("torch_eager") or {}).get("median_ms")
        w(f"| {img} | {f(p50)} ms | {f(tm)} ms | {f(None if None in (p50, tm) else p50 - tm)} ms |")
    w("")

    # ---- int8
    w("## INT8 (dynamic quantisation)")
    w("")
    w("`models/export_coco.py --quantize` (and `models/quantize.py`) write an INT8 dynamically "
      "quantised copy (onnxruntime `quantize_dynamic`, QInt8 weights, activations quantised at "
      "run time).")
    w("")
    i8 = raw.get("int8_floor") or {}
    if i8:
        w("Speed on R50-FPN, Rust floor (`session.run` median of 3, same process settings, "
          "fp32 re-timed right after):")
        w("")
        w("| image | fp32 session.run | int8 session.run | int8 speed-up |")
        w("|---|---|---|---|")
        for img, d in i8.items():
            a32 = (d.get("fp32") or {}).get("session_run_median_ms")
            a8 = (d.get("int8") or {}).get("session_run_median_ms")
            w(f"| {img} | {f(a32)} ms | {f(a8)} ms | {f(ratio(a32, a8), 2, 'x')} |")
        w("")
        sizes = env.get("model_sizes", {})
        if sizes:
            w("Files: " + ", ".join(f"`{k}` {v / 1e6:.1f} MB" for k, v in sizes.items()) + ".")
            w("")
    else:
        w("(The INT8 R50 model was not timed in this run.)")
        w("")
    w("Accuracy: the R50 model here has seeded random weights, so its INT8 accuracy change "
      "means nothing; the accuracy change is measured on the trained shapes model. Quoted from "
      "`models/shapes.report.md`:")
    w("")
    for line in int8_accuracy_quote(a.root).splitlines():
        w("> " + line if line.strip() else ">")
    w("")

    # ---- big photos, sessions x threads
    if a.photos and os.path.exists(a.photos):
        for line in photos_section(json.load(open(a.photos)), own_run=False):
            w(line)
        w("")

    # ---- the CLI
    if a.cli and os.path.exists(a.cli):
        for line in cli_section(json.load(open(a.cli)), own_run=False):
            w(line)
        w("")

    # ---- machine
    w("## Machine and versions")
    w("")
    w(f"- date: {env['date']}; load phase {raw['started']} to {raw.get('finished', '?')} "
      f"({f(raw.get('elapsed_s'), 0, ' s')})")
    w(f"- CPU: {env['cpu_model']}; `nproc` = {env['nproc']}; memory {env['mem_total_gib']:.1f} GiB; "
      f"{env['kernel']}")
    share = raw.get("compile_share_overall")
    w(f"- other work on the machine: Rust compilers were running during "
      f"{f(None if share is None else share * 100, 0, '%')} of the load phase's 2-second samples "
      f"(the machine is shared with other engineers' builds); load average at start "
      f"{env.get('loadavg_start')}; waited {env.get('quiet_wait_s', 0)} s for a quiet machine "
      f"before starting ({env.get('quiet_note', '')}) and {f(raw.get('quiet_waited_s'), 0, ' s')} "
      f"between steps for compilers that started meanwhile")
    w(f"- Lookout: {env.get('lookout_version')} (git {env.get('git_rev')}), "
      f"`{cfg['lookout_flags']}`; onnxruntime {env.get('onnxruntime')} via `ort`; {env.get('rustc')}")
    w(f"- baseline: Python {env.get('python')}, torch {env.get('torch')}, torchvision "
      f"{env.get('torchvision')}, fastapi {env.get('fastapi')}, pydantic {env.get('pydantic')}, "
      f"uvicorn {env.get('uvicorn')}; `{cfg['baseline_flags']}`")
    w(f"- model: `{cfg['model']}` (torchvision fasterrcnn_resnet50_fpn, seeded random weights, "
      f"seed 0; the baseline loads `{cfg['weights']}`, the same state dict)")
    w(f"- requests per load step: " + "; ".join(
        f"{img}: " + ", ".join(f"c={c}: {n}" for c, n in cfg['requests'][img].items())
        for img in images) + f"; threshold 0.5 in every body")
    if raw.get("skipped"):
        w(f"- SKIPPED (time budget spent): {', '.join(raw['skipped'])}")
    w("")
    with open(a.md, "w") as fh:
        fh.write("\n".join(L))
    print(f"wrote {a.md} and {a.svg}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
