#!/usr/bin/env python3
"""Every feature at the mission's size (issue #19): the R50-FPN Faster R-CNN, in Lookout's
DEFAULT configuration (no --sessions, --threads or deadline flags), one client at a time.

    python bench/scripts/real.py --lookout target/release/lookout \
        --model models/coco-fasterrcnn_resnet50_fpn.onnx --out bench/out/real.json [--md bench/RESULTS.md]
        [--work bench/out/real] [--photos 20] [--batch 16] [--rounds 3]

Steps, each answer's status recorded (the point: none is a 503 or a 504):

1. a 12 MP phone-size JPEG (4032x3024) through ``POST /v1/detect`` (raw body), the page's
   upload call ``/api/detect_upload`` (multipart, as the scripted page sends it) and the
   JavaScript-off form ``POST /detect`` (multipart, answered with the page), ``--rounds``
   times each, interleaved; the median time of each;
2. the same photo with ``tile=auto``: time, and the ``tiles`` the answer reports;
3. a batch of ``--batch`` different 12 MP photos in one ``POST /v1/detect/batch``;
4. ``lookout detect`` over a folder of ``--photos`` 12 MP photos (the CLI, its defaults).

The photos are drawn by models/shapes/large_holdout.py (seeded; coloured shapes on noise,
encoded by Pillow at quality 90, about 3-4 MB each). The R50 model has seeded random weights,
so what it detects is meaningless; the cost of each run is the real model's. Only 127.0.0.1
is used; every request has a timeout.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from photos import Server  # the server launcher, one copy (bench/scripts)
from report import write_section_only  # the section writer, one copy (bench/scripts)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models" / "shapes"))

SEED = 20261203  # used nowhere else
BEGIN = "<!-- real.py: begin -->"
END = "<!-- real.py: end -->"


def log(msg: str) -> None:
    print(f"[real {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def make_photos(work: Path, count: int) -> list[Path]:
    from PIL import Image

    import large_holdout

    work.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = work / f"photo_{i:02d}.jpg"
        if not path.exists():
            pixels, _ = large_holdout.generate_large(SEED, i, 4032, 3024, 60, 200, (10, 16))
            buf = io.BytesIO()
            Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
            path.write_bytes(buf.getvalue())
        paths.append(path)
    return paths


def multipart(files: list[tuple[str, str, bytes]], fields: dict[str, str] | None = None) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in (fields or {}).items():
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode())
    for field, filename, data in files:
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                  f"filename=\"{filename}\"\r\nContent-Type: image/jpeg\r\n\r\n".encode())
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def send(port: int, path: str, body: bytes, content_type: str) -> tuple[int, bytes, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t = time.perf_counter()
    conn.request("POST", path, body=body, headers={"Content-Type": content_type})
    r = conn.getresponse()
    data = r.read()
    ms = (time.perf_counter() - t) * 1000.0
    conn.close()
    return r.status, data, ms


def med(xs):
    return statistics.median(xs) if xs else None


def run(a) -> dict:
    work = Path(a.work)
    photos = make_photos(work / "photos", max(a.photos, a.batch))
    photo = photos[0].read_bytes()
    sizes = [p.stat().st_size for p in photos]
    log(f"{len(photos)} photos of 4032x3024, {min(sizes) / 1e6:.1f}-{max(sizes) / 1e6:.1f} MB")
    out: dict = {"model": a.model, "model_bytes": os.path.getsize(a.model),
                 "photo_bytes": sizes, "loadavg_start": open("/proc/loadavg").read().split()[:3]}
    # Lookout's defaults: no --sessions or --threads.
    server = Server(a.lookout, a.model, None, None, work / "lookout.log")
    try:
        doors = {
            "/v1/detect": lambda: send(server.port, "/v1/detect", photo, "image/jpeg"),
            "/api/detect_upload": lambda: send(server.port, "/api/detect_upload",
                                               *multipart([("image", "photo.jpg", photo)])),
            "/detect (no JavaScript)": lambda: send(server.port, "/detect",
                                                    *multipart([("image", "photo.jpg", photo)])),
        }
        plain = {door: {"ms": [], "status": []} for door in doors}
        for r in range(a.rounds):
            for door, call in doors.items():
                status, body, ms = call()
                plain[door]["ms"].append(ms)
                plain[door]["status"].append(status)
                if door == "/v1/detect" and status == 200:
                    plain[door]["server_timing_ms"] = json.loads(body)["timing_ms"]
                log(f"{door}: {status} in {ms:.0f} ms")
        out["plain"] = {d: {"p50_ms": med(v["ms"]), **v} for d, v in plain.items()}

        tiled = []
        for r in range(a.rounds):
            status, body, ms = send(server.port, "/v1/detect?tile=auto", photo, "image/jpeg")
            answer = json.loads(body) if status == 200 else {"problem": body[:300].decode("utf-8", "replace")}
            tiled.append({"status": status, "ms": ms, "tiles": answer.get("tiles"),
                          "timing_ms": answer.get("timing_ms"), "problem": answer.get("problem")})
            log(f"tile=auto: {status} in {ms:.0f} ms, tiles {answer.get('tiles')}")
        out["tiled"] = {"p50_ms": med([t["ms"] for t in tiled]), "runs": tiled}

        body, ctype = multipart([("image", p.name, p.read_bytes()) for p in photos[:a.batch]])
        status, data, ms = send(server.port, "/v1/detect/batch", body, ctype)
        answer = json.loads(data) if status == 200 else {}
        items = [i.get("status") for i in answer.get("results", [])]
        out["batch"] = {"images": a.batch, "status": status, "ms": ms, "item_status": items,
                        "body_bytes": len(body)}
        log(f"batch of {a.batch}: {status} in {ms:.0f} ms, items {items}")
    finally:
        server.stop()

    folder = work / "photos"
    t = time.perf_counter()
    cli = subprocess.run([a.lookout, "detect", str(folder), "--model", a.model], cwd=ROOT,
                         capture_output=True, timeout=3600)
    ms = (time.perf_counter() - t) * 1000.0
    try:
        results = json.loads(cli.stdout)
    except ValueError:
        results = []
    out["cli"] = {"photos": len(list(folder.glob("*.jpg"))), "exit": cli.returncode, "ms": ms,
                  "results": len(results), "stderr_tail": cli.stderr.decode("utf-8", "replace")[-300:]}
    log(f"CLI over {out['cli']['photos']} photos: exit {cli.returncode} in {ms / 1000:.1f} s")
    out["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
    statuses = ([s for v in plain.values() for s in v["status"]] + [t["status"] for t in tiled]
                + [out["batch"]["status"]] + [s for s in items if s is not None])
    out["none_503_504"] = not any(s in (503, 504) for s in statuses) and cli.returncode == 0
    return out


def section(r: dict) -> str:
    L = [BEGIN, "## The R50-FPN through every door (issue #19)", ""]
    w = L.append
    w(f"`BENCH_PARTS=real make bench` (bench/scripts/real.py): the seeded-weights R50-FPN "
      f"({r['model_bytes'] / 2**20:.0f} MiB) served by `lookout --model PATH` with nothing else "
      f"(two sessions, the cores shared, the 30 s request deadline and 60 s for a tiled request), "
      f"one client at a time, 4032x3024 JPEGs "
      f"of {min(r['photo_bytes']) / 1e6:.1f}-{max(r['photo_bytes']) / 1e6:.1f} MB.")
    w("")
    w("| what | answers | median time |")
    w("|---|---|---|")
    for door, v in r["plain"].items():
        w(f"| 12 MP photo, `{door}` | {', '.join(map(str, v['status']))} | {v['p50_ms'] / 1000:.2f} s |")
    t = r["tiled"]
    tiles = [x["tiles"] for x in t["runs"] if x.get("tiles")]
    desc = ""
    if tiles:
        x = tiles[-1]
        desc = f" ({x['count']} tiles of {x['width']}x{x['height']}, {x['skipped']} skipped)"
    w(f"| 12 MP photo, `/v1/detect?tile=auto`{desc} | {', '.join(str(x['status']) for x in t['runs'])} "
      f"| {t['p50_ms'] / 1000:.2f} s |")
    b = r["batch"]
    ok = sum(1 for s in b["item_status"] if s == 200)
    w(f"| batch of {b['images']} photos, `/v1/detect/batch` ({b['body_bytes'] / 2**20:.0f} MiB) | {b['status']} "
      f"({ok}/{b['images']} items 200) | {b['ms'] / 1000:.1f} s ({b['ms'] / 1000 / max(b['images'], 1):.2f} s a photo) |")
    c = r["cli"]
    w(f"| `lookout detect` over a folder of {c['photos']} photos | exit {c['exit']}, {c['results']} results "
      f"| {c['ms'] / 1000:.1f} s ({c['ms'] / 1000 / max(c['photos'], 1):.2f} s a photo, model load included) |")
    w("")
    w("No 503 or 504 anywhere." if r["none_503_504"] else "**Some answer was a 503/504 or the CLI failed: see the JSON.**")
    st = r["plain"]["/v1/detect"].get("server_timing_ms")
    if st:
        w(f"One plain 12 MP request as the server counts it: decode {st['decode']:.0f} ms, "
          f"inference {st['inference']:.0f} ms, total {st['total']:.0f} ms.")
    if tiles:
        w("Tiling is planned against the deadline: after the whole image's run (within the request "
          "deadline), the tiles that fit in 80% of what is left of the tiled request's deadline "
          "(`--tile-deadline-secs`) at the model's measured cost per tile run: fewer, larger tiles "
          "for a slow model. The answer's `tiles` says what ran.")
    w(f"Load average at start {r['loadavg_start']}, at end {r['loadavg_end']} (above 2: other "
      f"builds were running on the 2 cores, so the times are upper bounds).")
    w(END)
    return "\n".join(L)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lookout", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--md")
    p.add_argument("--work", default=str(ROOT / "bench" / "out" / "real"))
    p.add_argument("--photos", type=int, default=20)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--report-only", action="store_true",
                   help="rewrite the section from --out's JSON without measuring")
    a = p.parse_args()
    result = json.loads(Path(a.out).read_text()) if a.report_only else run(a)
    Path(a.out).write_text(json.dumps(result, indent=1))
    if a.md:
        write_section_only(a.md, section(result), BEGIN, END, "R50 through every door")
    return 0 if result["none_503_504"] else 1


if __name__ == "__main__":
    sys.exit(main())
