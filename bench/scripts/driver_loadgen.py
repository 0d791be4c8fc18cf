"""The HTTP load generators driver.py runs (oha, or wrk as a fallback). Standard library only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time


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
