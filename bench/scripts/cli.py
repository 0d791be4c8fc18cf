#!/usr/bin/env python3
"""`lookout detect` over a folder of N images vs N sequential `lookout detect FILE` calls.

    python bench/scripts/cli.py --lookout target/release/lookout --out bench/out/cli.json
                                [--model models/shapes.onnx] [--images 100] [--rounds 3]
                                [--threads 2] [--work bench/out/cli]

Needs numpy only (models/shapes/dataset.py draws the images; they are written as PNG with
``dataset.png_bytes``). Each round times both ways, in alternating order, by wall clock from
spawning the first process to the last one's exit, and checks that both found exactly the same
detections in every image. Nothing listens on the network.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models" / "shapes"))
import dataset  # noqa: E402

SEED = 4242  # not a training seed (1000..), not the hold-out one (20261124)


def compilers_running() -> bool:
    try:
        out = subprocess.run(["pgrep", "-x", "rustc"], capture_output=True)
        return out.returncode == 0
    except FileNotFoundError:
        return False


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def by_file(results: list[dict]) -> dict[str, list]:
    return {Path(r["file"]).name: r["detections"] for r in results}


def batch(lookout: str, folder: Path, common: list[str], env: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    out = subprocess.run([lookout, "detect", str(folder), "--progress", "quiet", *common],
                         capture_output=True, env=env, check=True)
    secs = time.perf_counter() - t0
    return secs, by_file(json.loads(out.stdout))


def sequential(lookout: str, files: list[Path], common: list[str], env: dict) -> tuple[float, dict]:
    found = {}
    t0 = time.perf_counter()
    for path in files:
        out = subprocess.run([lookout, "detect", str(path), *common],
                             capture_output=True, env=env, check=True)
        found[path.name] = json.loads(out.stdout)["detections"]
    secs = time.perf_counter() - t0
    return secs, found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lookout", required=True)
    ap.add_argument("--model", default=str(ROOT / "models/shapes.onnx"))
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", default=str(ROOT / "bench/out/cli"))
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    folder = Path(a.work) / "images"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    pixels = 0
    for i in range(a.images):
        img, _ = dataset.generate(SEED, i)
        pixels += img.shape[0] * img.shape[1]
        (folder / f"{i:04d}.png").write_bytes(dataset.png_bytes(img))
    files = sorted(folder.glob("*.png"))
    total_bytes = sum(p.stat().st_size for p in files)
    common = ["--model", a.model, "--threads", str(a.threads)]
    env = dict(os.environ)
    version = subprocess.run([a.lookout, "--version"], capture_output=True, text=True).stdout.strip()

    # One untimed call first: page cache, onnxruntime's library.
    subprocess.run([a.lookout, "detect", str(files[0]), *common], capture_output=True, env=env,
                   check=True)
    rounds = []
    for r in range(a.rounds):
        order = ("batch", "sequential") if r % 2 == 0 else ("sequential", "batch")
        row = {"round": r + 1, "order": list(order), "compilers_at_start": compilers_running(),
               "loadavg_start": loadavg()}
        found = {}
        for way in order:
            print(f"[cli bench] round {r + 1}: {way}", file=sys.stderr)
            if way == "batch":
                row["batch_s"], found["batch"] = batch(a.lookout, folder, common, env)
            else:
                row["sequential_s"], found["sequential"] = sequential(a.lookout, files, common, env)
        row["compilers_at_end"] = compilers_running()
        row["identical"] = found["batch"] == found["sequential"]
        row["detections"] = sum(len(d) for d in found["batch"].values())
        row["speedup"] = row["sequential_s"] / row["batch_s"]
        rounds.append(row)
        print(f"[cli bench] round {r + 1}: folder {row['batch_s']:.2f} s, "
              f"{a.images} calls {row['sequential_s']:.2f} s ({row['speedup']:.1f}x), "
              f"identical detections: {row['identical']}", file=sys.stderr)

    med = lambda k: statistics.median(x[k] for x in rounds)
    shown = f"--model {os.path.relpath(a.model, ROOT)} --threads {a.threads}"
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "lookout": a.lookout, "lookout_version": version, "model": os.path.relpath(a.model, ROOT),
        "model_bytes": os.path.getsize(a.model), "images": a.images, "seed": SEED,
        "mean_megapixels": pixels / a.images / 1e6, "total_png_bytes": total_bytes,
        "threads": a.threads, "rounds": rounds,
        "batch_s": med("batch_s"), "sequential_s": med("sequential_s"), "speedup": med("speedup"),
        "batch_images_per_s": a.images / med("batch_s"),
        "sequential_images_per_s": a.images / med("sequential_s"),
        "per_call_overhead_ms": (med("sequential_s") - med("batch_s")) / a.images * 1000.0,
        "identical": all(x["identical"] for x in rounds),
        "nproc": len(os.sched_getaffinity(0)),
        "command_batch": f"lookout detect DIR --progress quiet {shown}",
        "command_sequential": f"lookout detect FILE {shown}",
    }
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"[cli bench] folder: {result['batch_images_per_s']:.1f} images/s; sequential calls: "
          f"{result['sequential_images_per_s']:.1f} images/s; {result['speedup']:.1f}x "
          f"-> {a.out}", file=sys.stderr)
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
