"""scripts/run.py, the supervisor behind `make run`, as a real process receiving real signals.

The programs it supervises are stand-ins (a tiny HTTP server for the web, sleepers printing a
banner for the worker and beat) so that the test is about the supervision, and quick."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE = """
import sys
sys.path.insert(0, "scripts")
import run

def programs(*, host, port, python):
    banner = (
        "import sys, time; print('lots of banner text'); print('celery@x ready.'); "
        "sys.stdout.flush(); time.sleep(600)"
    )
    beat = "import time; print('beat up', flush=True); time.sleep(600)"
    return [
        run.Program("worker", [python, "-c", banner], " ready."),
        run.Program("beat", [python, "-c", beat]),
        run.Program("web", [python, "-m", "http.server", "--bind", host, str(port)]),
    ]

run.programs = programs
sys.exit(run.main(sys.argv[1:]))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", FAKE, "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _read_until(proc: subprocess.Popen, text: str, timeout: float = 30) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if text in line:
            return lines
    raise AssertionError(f"{text!r} never came; got {lines}")


def _pids(lines: list[str]) -> dict[str, int]:
    found = {}
    for line in lines:
        if line.startswith("started "):
            name, pid = line.removeprefix("started ").split(" (pid ")
            found[name] = int(pid.rstrip(")"))
    return found


def _gone(pid: int, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_all_three_and_the_url_comes_last(signum):
    port = _free_port()
    proc = _start(port)
    try:
        lines = _read_until(proc, "Fairlabel is running on")
        # The URL follows the worker's banner instead of scrolling away under it.
        assert any("worker | celery@x ready." in line for line in lines)
        assert lines[-1] == f"Fairlabel is running on http://127.0.0.1:{port}/"
        pids = _pids(lines)
        assert set(pids) == {"worker", "beat", "web"}
        proc.send_signal(signum)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, rest
        assert "Stopped." in rest and "Segmentation" not in rest
        assert all(_gone(pid) for pid in pids.values()), pids
    finally:
        if proc.poll() is None:
            proc.kill()


def test_when_the_web_server_dies_the_worker_and_beat_are_stopped():
    port = _free_port()
    proc = _start(port)
    try:
        pids = _pids(_read_until(proc, "Fairlabel is running on"))
        os.kill(pids["web"], signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
        assert "web ended" in rest and proc.returncode != 0
        assert _gone(pids["worker"]) and _gone(pids["beat"])
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_busy_port_starts_nothing_and_says_so():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _start(port)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert f"Port {port} on 127.0.0.1 is already in use: nothing was started" in out
    assert "started " not in out and "Fairlabel is running" not in out
