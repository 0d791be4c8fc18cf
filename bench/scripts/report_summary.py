"""The figures report.py computes from the driver's JSON: medians, per-round ratios, error
and shedding counts, floors; and the INT8 accuracy it quotes from models/shapes.report.md."""

from __future__ import annotations

import os
import re
import statistics

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
