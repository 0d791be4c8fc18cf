"""The RESULTS.md sections that other scripts also write on their own (the CLI and big-photo
sections), and the writer that puts one section into an existing RESULTS.md (report.py,
coldstart.py, real.py, stream.py)."""

from __future__ import annotations

import json
import os

from report_summary import f

CLI_BEGIN = "<!-- cli.py: begin -->"
CLI_END = "<!-- cli.py: end -->"
PHOTOS_BEGIN = "<!-- photos.py: begin -->"
PHOTOS_END = "<!-- photos.py: end -->"
# issue #11's targets for the big-photo steps
PHOTO_RATIO_GOAL = 1.3
PHOTO_PEAK_GOAL_MB = 150
PHOTO_RETURN_GOAL = 1.10


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
