#!/usr/bin/env python3
"""Hostile load against a running Lookout release binary: what its memory does and what it
answers (make bench runs it through bench/flood.sh).

Two steps, each against a freshly started server with default settings:

1. flood: N clients at once send 40-megapixel JPEGs, 16-bit 4000x4000 PNGs (121 KB on the
   wire, 96 MB decoded), PNG headers claiming 100000x100000 pixels, PNGs whose colour profile
   inflates to 256 MiB and GIFs whose frame is 64 megapixels inside a 1x1 screen, for a fixed
   number of rounds. The server's resident memory is sampled every 10 ms (VmRSS) and its
   peak read at the end (VmHWM). Every answer must be 200, 413 or 503.
2. slow clients: S connections send their headers one byte a second while ordinary requests
   are timed; the slow connections must be cut at the header timeout and the ordinary
   requests must keep succeeding.

    python bench/scripts/flood.py --lookout target/release/lookout --model models/shapes.onnx \
        --out bench/out/flood.json [--clients 32 --rounds 3 --slow 200]
"""

from __future__ import annotations

import argparse
import collections
import http.client
import io
import json
import os
import select
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import zlib

from PIL import Image
import numpy as np

from driver import every_session_warm  # the readiness rule, one copy (bench/scripts)


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 4096)) + chunk(b"IEND", b""))


def png_iccp_bomb() -> bytes:
    raw = b"".join(b"\x00" + b"\x80" * 192 for _ in range(64))
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0)
    profile = zlib.compress(b"\x00" * (256 * 1024 * 1024), 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"iCCP", b"bomb\x00\x00" + profile)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def gif_big_frame() -> bytes:
    screen = b"GIF89a" + struct.pack("<HH", 1, 1) + bytes([0x80, 0, 0]) + b"\x00\x00\x00\xff\xff\xff"
    descriptor = b"\x2c" + struct.pack("<HHHH", 0, 0, 8000, 8000) + b"\x00"
    return screen + descriptor + b"\x02\x02\x4c\x01\x00\x3b"


def png16(width: int, height: int) -> bytes:
    # A smooth 16-bit gradient: compresses to ~100 KB, decodes to width*height*6 bytes.
    x = np.linspace(0, 65535, width, dtype=np.uint16)
    plane = np.broadcast_to(x, (height, width))
    image = Image.fromarray(np.ascontiguousarray(plane), mode="I;16")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def jpeg_40mp() -> bytes:
    width, height = 7300, 5475  # 39.97 megapixels
    rng = np.random.default_rng(0)
    base = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    pixels = np.clip(base + rng.normal(0, 12, (height, width, 3)), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=85)
    return out.getvalue()


def phone_photo() -> bytes:
    width, height = 4032, 3024
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pixels = np.stack([x / width * 255, y / height * 255, np.full_like(x, 128)], axis=-1)
    pixels[1000:2000, 1200:2600] = (220, 40, 40)  # a red rectangle the model knows
    pixels = np.clip(pixels + rng.normal(0, 6, pixels.shape), 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=90)
    return out.getvalue()


class Server:
    def __init__(self, binary: str, model: str, port: int, extra: list[str]):
        env = dict(os.environ, RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [binary, "--addr", f"127.0.0.1:{port}", "--model", model, *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self.port = port
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/readyz")
                answer = c.getresponse()
                # Measured with every session built and warm, not while they are built.
                if answer.status == 200 and every_session_warm(answer.read()):
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("lookout did not become ready")

    def status(self, field: str) -> int:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def post(port: int, body: bytes, content_type: str, timeout: float = 120) -> int:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("POST", "/v1/detect", body=body, headers={"Content-Type": content_type})
        r = c.getresponse()
        r.read()
        return r.status
    except OSError as e:
        return -1 if "reset" in str(e).lower() or "broken" in str(e).lower() else -2


def flood(a, inputs: dict[str, bytes]) -> dict:
    server = Server(a.lookout, a.model, a.port, [])
    idle = server.status("VmRSS")
    samples: list[int] = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(server.status("VmRSS"))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    mix = (["jpeg_40mp"] * 4 + ["png16_4000"] * 2 + ["png_claims_10gp", "png_iccp_bomb", "gif_64mp_frame"])
    answers: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    lock = threading.Lock()
    started = time.monotonic()

    def client(i: int):
        for r in range(a.rounds):
            name = mix[(i + r) % len(mix)]
            ctype = "image/gif" if name.startswith("gif") else ("image/jpeg" if name.startswith("jpeg") else "image/png")
            status = post(a.port, inputs[name], ctype)
            with lock:
                answers[name][status] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(a.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    time.sleep(1.0)
    settled = server.status("VmRSS")
    stop.set()
    sampler.join()
    hwm = server.status("VmHWM")
    server.stop()
    statuses = collections.Counter()
    for c in answers.values():
        statuses.update(c)
    return {
        "clients": a.clients, "rounds": a.rounds, "seconds": round(elapsed, 1),
        "idle_rss_mb": round(idle / 2**20), "peak_rss_mb": round(max(samples + [hwm]) / 2**20),
        "after_rss_mb": round(settled / 2**20),
        "answers": {k: dict(v) for k, v in answers.items()},
        "statuses": dict(statuses),
        "only_200_413_503": set(statuses) <= {200, 413, 503},
        "input_bytes": {k: len(v) for k, v in inputs.items()},
    }


def slow_clients(a, photo: bytes) -> dict:
    server = Server(a.lookout, a.model, a.port + 1, ["--header-timeout-secs", str(a.header_timeout)])
    port = server.port
    conns = []
    for _ in range(a.slow):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(True)
        conns.append(s)
    cut_after: list[float] = []
    started = time.monotonic()
    alive = list(conns)
    head = b"POST /v1/detect HTTP/1.1\r\nHost: localhost\r\nX-Slow: " + b"a" * 1000
    latencies, ok, failed = [], 0, 0
    i = 0
    while alive and time.monotonic() - started < a.header_timeout * 3:
        still = []
        for s in alive:
            try:
                # Closed by the server? (readable with nothing to read)
                readable, _, _ = select.select([s], [], [], 0)
                if readable and s.recv(4096) == b"":
                    raise ConnectionResetError
                s.send(head[i:i + 1] if i < len(head) else b"a")
                still.append(s)
            except OSError:
                cut_after.append(time.monotonic() - started)
        alive = still
        i += 1
        t0 = time.monotonic()
        status = post(port, photo, "image/jpeg", timeout=30)
        if status == 200:
            ok += 1
            latencies.append(time.monotonic() - t0)
        else:
            failed += 1
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
    for s in conns:
        s.close()
    server.stop()
    return {
        "slow_connections": a.slow, "header_timeout_s": a.header_timeout,
        "cut": len(cut_after), "still_open_at_end": len(alive),
        "cut_after_s_median": round(statistics.median(cut_after), 1) if cut_after else None,
        "ordinary_ok": ok, "ordinary_failed": failed,
        "ordinary_p50_ms": round(statistics.median(latencies) * 1000) if latencies else None,
    }


BEGIN = "<!-- flood.py: begin -->"
END = "<!-- flood.py: end -->"


def section(r: dict, budgets: dict) -> str:
    f, s = r["flood"], r["slow"]
    L = [BEGIN, "## Hostile load: decompression bombs, 40-megapixel photos, slow clients", ""]
    w = L.append
    w(f"Measured by `BENCH_PARTS=flood make bench` (`bench/scripts/flood.py`) on {r['date']}, against "
      "the release binary with its default limits and the shapes model. The promise in the README: "
      f"the server stays within its model memory + the body budget ({budgets['body_mib']} MiB) + the "
      f"image budget ({budgets['image_mib']} MiB) and answers a flood only with 200, 413 or 503.")
    w("")
    w(f"**Flood**: {f['clients']} clients at once, {f['rounds']} requests each, cycling through:")
    w("")
    w("| input | bytes on the wire | answers |")
    w("|---|---|---|")
    names = {
        "jpeg_40mp": "JPEG 7300x5475 (40 MP)",
        "png16_4000": "16-bit PNG 4000x4000 (96 MB decoded)",
        "png_claims_10gp": "PNG header claiming 100000x100000",
        "png_iccp_bomb": "PNG with a colour profile inflating to 256 MiB",
        "gif_64mp_frame": "GIF: 1x1 screen, 8000x8000 frame",
    }
    for key, label in names.items():
        answers = ", ".join(f"{n} x {st}" for st, n in sorted(f["answers"].get(key, {}).items()))
        w(f"| {label} | {f['input_bytes'][key]:,} | {answers} |")
    w("")
    w(f"| server memory (VmRSS) | MiB |")
    w("|---|---|")
    w(f"| idle, model loaded | {f['idle_rss_mb']} |")
    w(f"| peak during the flood | **{f['peak_rss_mb']}** |")
    w(f"| 1 s after the flood | {f['after_rss_mb']} |")
    w("")
    ok = "yes" if f["only_200_413_503"] else "**NO**"
    w(f"Only 200, 413 and 503: {ok} ({', '.join(f'{n} x {st}' for st, n in sorted(f['statuses'].items()))}); "
      f"{f['seconds']} s in all.")
    w("")
    w(f"**Slow clients**: {s['slow_connections']} connections send their request headers one byte a "
      f"second (header timeout {s['header_timeout_s']} s) while an ordinary 12 MP JPEG request is sent "
      f"every second: {s['cut']} slow connections were cut (median after {s['cut_after_s_median']} s), "
      f"{s['still_open_at_end']} still open at the end; ordinary requests: {s['ordinary_ok']} answered, "
      f"{s['ordinary_failed']} failed, p50 {s['ordinary_p50_ms']} ms.")
    w(END)
    return "\n".join(L)


def write_section(md: str, text: str) -> None:
    body = open(md).read() if os.path.exists(md) else "# Lookout benchmark results\n"
    if BEGIN in body and END in body:
        head, rest = body.split(BEGIN, 1)
        body = head + text + rest.split(END, 1)[1]
    elif "\n## Machine and versions" in body:
        head, tail = body.split("\n## Machine and versions", 1)
        body = head.rstrip("\n") + "\n\n" + text + "\n\n## Machine and versions" + tail
    else:
        body = body.rstrip("\n") + "\n\n" + text + "\n"
    with open(md, "w") as fh:
        fh.write(body)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--lookout", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--photo", help="an ordinary JPEG for the slow-client step (default: a generated 12 MP photo)")
    p.add_argument("--out", required=True)
    p.add_argument("--port", type=int, default=3977)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--slow", type=int, default=200)
    p.add_argument("--header-timeout", type=int, default=10)
    p.add_argument("--md", help="write the section into this RESULTS.md")
    a = p.parse_args()
    print("[flood] making inputs", file=sys.stderr)
    inputs = {
        "jpeg_40mp": jpeg_40mp(),
        "png16_4000": png16(4000, 4000),
        "png_claims_10gp": png_claiming(100_000, 100_000),
        "png_iccp_bomb": png_iccp_bomb(),
        "gif_64mp_frame": gif_big_frame(),
    }
    print(f"[flood] flood: {a.clients} clients x {a.rounds} rounds", file=sys.stderr)
    result = {"flood": flood(a, inputs)}
    print(f"[flood] slow clients: {a.slow}", file=sys.stderr)
    photo = open(a.photo, "rb").read() if a.photo else phone_photo()
    result["slow"] = slow_clients(a, photo)
    result["date"] = time.strftime("%Y-%m-%d")
    json.dump(result, open(a.out, "w"), indent=1)
    if a.md:
        write_section(a.md, section(result, {"body_mib": 256, "image_mib": 1024}))
        print(f"[flood] wrote the section of {a.md}", file=sys.stderr)
    print(json.dumps(result, indent=1))
    return 0 if result["flood"]["only_200_413_503"] else 1


if __name__ == "__main__":
    sys.exit(main())
