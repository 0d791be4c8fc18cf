"""HTTP for driver.py: the loopback request helper and Lookout's /metrics stage histograms.
Standard library only."""

from __future__ import annotations

import re
import urllib.error
import urllib.request


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
