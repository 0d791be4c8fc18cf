"""The machine the benchmark runs on, for driver.py: the log, free ports, running compilers,
load average and /proc memory figures. Standard library only."""

from __future__ import annotations

import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def busy_compilers() -> int:
    """How many rustc processes run right now (the machine is shared with builds)."""
    n = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "rustc":
                    n += 1
        except OSError:
            pass
    return n


class CompilerWatch:
    """Samples every 2 s how many rustc processes run, so each step can say whether it
    shared the CPU with a build."""

    def __init__(self):
        import threading
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), busy_compilers()))
            self._stop.wait(2.0)

    def share(self, t0: float, t1: float) -> float:
        """Fraction of the samples in [t0, t1] that saw a rustc running."""
        xs = [n for t, n in self.samples if t0 <= t <= t1]
        return sum(1 for n in xs if n > 0) / len(xs) if xs else float(busy_compilers() > 0)

    def stop(self):
        self._stop.set()


def loadavg() -> list[float]:
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def proc_status(pid: int) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmHWM", "VmRSS", "Threads"):
                    v = value.strip().split()[0]
                    out[key] = int(v)
    except OSError:
        pass
    return out


def tree_pids(pid: int) -> list[int]:
    """The process and its descendants (the baseline is one process, but be sure)."""
    children: dict[int, list[int]] = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(p))
        except (OSError, ValueError, IndexError):
            pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out
