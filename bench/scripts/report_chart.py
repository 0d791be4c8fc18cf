"""bench/results.svg: latency and throughput against concurrency (report.py)."""

from __future__ import annotations

import os

from report_summary import SERVICES


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
