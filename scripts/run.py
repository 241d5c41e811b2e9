"""`make run`: the web server, a Celery worker and beat, supervised together.

- A busy port is found before anything starts: nothing is left running, and it says so.
- Each program's lines are shown with its name ("web | ..."); the URL is printed last, once
  the web server answers and the worker is ready, so it does not scroll away.
- Ctrl-C (SIGINT), SIGTERM or SIGHUP stop all three, the web server first; when one of them
  ends by itself, the others are stopped too: a worker never outlives the web server.
- Each program runs in its own process group, so the terminal's Ctrl-C reaches only this
  supervisor, which then stops them in order (no "kill 0" of make's own group).

Usage: python scripts/run.py [--host H] [--port P] [--python PATH]"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
GRACE_SECONDS = 20.0


@dataclass
class Program:
    name: str
    argv: list[str]
    ready_text: str | None = None  # a line that says the program is ready
    process: subprocess.Popen | None = None
    ready: threading.Event = field(default_factory=threading.Event)


def programs(*, host: str, port: int, python: str) -> list[Program]:
    celery = [python, "-m", "celery", "-A", "fairlabel"]
    return [
        Program("worker", [*celery, "worker", "--loglevel=INFO", "--concurrency=2"], " ready."),
        Program(
            "beat",
            [*celery, "beat", "--loglevel=INFO", "--schedule=var/celery/beat-schedule"],
        ),
        Program("web", [python, "manage.py", "runserver", f"{host}:{port}", "--noreload"]),
    ]


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # As the web server binds: connections of a server just stopped (TIME_WAIT) do not
        # make the port busy; a server listening on it does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Supervisor:
    def __init__(self, progs: list[Program], *, host: str, port: int, out=None) -> None:
        self.progs = progs
        self.host, self.port = host, port
        self.out = out or sys.stdout
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.reason = ""

    def say(self, text: str) -> None:
        with self.lock:
            self.out.write(text + "\n")
            self.out.flush()

    def _forward(self, prog: Program) -> None:
        width = max(len(p.name) for p in self.progs)
        if prog.process is None or prog.process.stdout is None:
            return
        for raw in prog.process.stdout:
            line = raw.rstrip("\n")
            if prog.ready_text and prog.ready_text in line:
                prog.ready.set()
            self.say(f"{prog.name:<{width}} | {line}")

    def start(self) -> None:
        for prog in self.progs:
            prog.process = subprocess.Popen(  # noqa: S603  (our own fixed commands)
                prog.argv,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                start_new_session=True,  # Ctrl-C reaches the supervisor only
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            self.say(f"started {prog.name} (pid {prog.process.pid})")
            threading.Thread(target=self._forward, args=(prog,), daemon=True).start()

    def wait_ready(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stopping.is_set():
            if self._ended() is not None:
                return False
            web_up = answers(self.host, self.port)
            others = all(p.ready.is_set() for p in self.progs if p.ready_text)
            if web_up and others:
                return True
            time.sleep(0.2)
        return answers(self.host, self.port)

    def _ended(self) -> Program | None:
        for prog in self.progs:
            if prog.process is not None and prog.process.poll() is not None:
                return prog
        return None

    def stop(self) -> None:
        """The web server first (no new requests), then the worker and beat."""
        order = sorted(self.progs, key=lambda p: p.name != "web")
        for prog in order:
            if prog.process is not None and prog.process.poll() is None:
                # The program itself, not its group: Celery's main process then shuts its pool
                # down warmly (a SIGTERM to each pool child is logged as an error).
                prog.process.terminate()
        deadline = time.monotonic() + GRACE_SECONDS
        for prog in order:
            if prog.process is None:
                continue
            try:
                prog.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                self.say(f"{prog.name} did not stop in {GRACE_SECONDS:.0f} s: killed")
                try:
                    os.killpg(prog.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                prog.process.wait()

    def run(self) -> int:
        def on_signal(signum, _frame):
            self.reason = signal.Signals(signum).name
            self.stopping.set()

        for signum in STOP_SIGNALS:
            signal.signal(signum, on_signal)
        self.start()
        if self.wait_ready():
            self.say("")
            self.say(f"Fairlabel is running on http://{self.host}:{self.port}/")
            self.say("Ctrl-C stops the web server, the worker and beat.")
        code = 0
        while not self.stopping.is_set():
            ended = self._ended()
            if ended is not None:
                code = ended.process.returncode or 1
                self.say(
                    f"{ended.name} ended (exit {ended.process.returncode}): stopping the others"
                )
                break
            self.stopping.wait(0.3)
        self.say("Stopping web, worker and beat…")
        self.stop()
        self.say("Stopped.")
        return 0 if self.reason else code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    if not port_free(args.host, args.port):
        print(
            f"Port {args.port} on {args.host} is already in use: nothing was started. "
            f"Stop what uses it, or run on another port: make run PORT={args.port + 1}",
            file=sys.stderr,
        )
        return 2
    (ROOT / "var" / "celery").mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor(
        programs(host=args.host, port=args.port, python=args.python),
        host=args.host,
        port=args.port,
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
