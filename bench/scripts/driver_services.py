"""The services under test, started and stopped as processes: Lookout and the baseline
(driver.py, coldstart.py). Standard library only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error

from driver_host import ROOT, free_port, proc_status, tree_pids
from driver_http import http


# ---------------------------------------------------------------------------------------------
# Services.

class Service:
    def __init__(self, name: str, cmd: list[str], env: dict, log_path: str, stop_signal: int):
        self.name, self.cmd, self.env, self.log_path = name, cmd, env, log_path
        self.stop_signal = stop_signal
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> float:
        cmd = [a.replace("{port}", str(self.port)) for a in self.cmd]
        self.log = open(self.log_path, "ab")
        self.log.write(f"\n=== {time.strftime('%F %T')} {' '.join(cmd)}\n".encode())
        self.log.flush()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        return t0

    def wait_first_answer(self, t0: float, body: bytes, limit_s: float) -> dict:
        """Polls PUT /predict until the first 200; returns the cold-start times."""
        first_listen = None
        attempts = 0
        while time.monotonic() - t0 < limit_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} while "
                                   f"starting; see {self.log_path}")
            attempts += 1
            try:
                status, _ = http("PUT", self.base + "/predict", body,
                                 timeout=max(1.0, limit_s - (time.monotonic() - t0)))
            except (OSError, urllib.error.URLError):
                time.sleep(0.05)
                continue
            if first_listen is None:
                first_listen = time.monotonic() - t0
            if status == 200:
                return {"cold_start_s": time.monotonic() - t0, "first_http_answer_s": first_listen,
                        "attempts": attempts, "rss_after_ready_kib": self.rss()}
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} gave no 200 from /predict within {limit_s:.0f} s; "
                           f"see {self.log_path}")

    def rss(self) -> int:
        return sum(proc_status(p).get("VmRSS", 0) for p in tree_pids(self.proc.pid))

    def peak_rss(self) -> int:
        return sum(proc_status(p).get("VmHWM", 0) for p in tree_pids(self.proc.pid))

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()
        self.proc = None


def lookout_service(name: str, binary: str, model: str, threads: int, sessions: int,
                    logs: str) -> Service:
    """Lookout as every bench step starts it (its log: `<logs>/<name>.log`)."""
    return Service(
        name,
        [binary, "--addr", "127.0.0.1:{port}", "--model", model, "--threads", str(threads),
         "--sessions", str(sessions), "--log-format", "text"],
        dict(os.environ), os.path.join(logs, f"{name}.log"), signal.SIGTERM)


def baseline_service(python: str, weights: str, threads: int, logs: str) -> Service:
    """The Python service Lookout replaces, one uvicorn worker with `threads` torch threads."""
    return Service(
        "baseline",
        [python, "-m", "uvicorn", "--app-dir", os.path.join(ROOT, "bench", "baseline"),
         "app:app", "--host", "127.0.0.1", "--port", "{port}", "--workers", "1",
         "--log-level", "warning"],
        dict(os.environ, BASELINE_WEIGHTS=weights, BASELINE_THREADS=str(threads)),
        os.path.join(logs, "baseline.log"), signal.SIGINT)


def all_sessions_ready_s(svc, t0: float, limit_s: float) -> float | None:
    """Seconds from process start until /readyz says every session of the default model is
    warm (Lookout serves with its first and builds the others when idle)."""
    while time.monotonic() - t0 < limit_s:
        try:
            status, body = http("GET", svc.base + "/readyz", None, timeout=5)
        except (OSError, urllib.error.URLError):
            status, body = 0, b""
        if status == 200 and every_session_warm(body):
            return time.monotonic() - t0
        time.sleep(0.05)
    return None


def every_session_warm(readyz_body: bytes) -> bool:
    """Whether a 200 /readyz body says the default model has every session warm (true for
    a server that does not say: it was ready with all of them)."""
    models = json.loads(readyz_body).get("models", [])
    model = next((m for m in models if m.get("default")), None)
    if model is None or "sessions" not in model:
        return True
    return model["sessions_ready"] >= model["sessions"]
