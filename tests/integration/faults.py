"""Fault injectors for the fault tests: a Redis server of the test's own on a free port (stopped
with ``shutdown nosave`` and started again empty), a TCP proxy that can cut a role off from a
server (refuse, or silently drop everything like a pulled cable), and a ledger that task commands
append to, to prove no two tries of a task ever ran at the same time.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

from cluster import wait_until

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class OwnRedis:
    """A redis-server only this test uses, on a port of its own, keeping nothing on disk."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        self.folder = folder
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = open(self.folder / f"redis-{self.port}.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self.answers, 10, lambda: f"redis-server on port {self.port} did not start")

    def answers(self) -> bool:
        result = subprocess.run([REDIS_CLI, "-p", str(self.port), "ping"], capture_output=True, text=True)
        return result.stdout.strip() == "PONG"

    def shutdown_nosave(self) -> None:
        """Stop the server and lose every message it held, as a crash of an unpersisted Redis does."""
        subprocess.run([REDIS_CLI, "-p", str(self.port), "shutdown", "nosave"], capture_output=True)
        assert self.process is not None
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a server; ``cut`` drops every byte both ways without closing a
    socket (a partition: peers see silence, not an error) and ``refuse`` closes everything (a
    server gone); ``heal`` forwards again."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.mode = "open"
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def url_for(self, url: str, original_port: int) -> str:
        return url.replace(f":{original_port}/", f":{self.port}/")

    def cut(self) -> None:
        self.mode = "cut"

    def refuse(self) -> None:
        with self._lock:
            self.mode = "refuse"
            for pair in self._pairs:
                for sock in pair:
                    _close(sock)
            for sock in self._held:
                _close(sock)
            self._pairs, self._held = [], []

    def heal(self) -> None:
        with self._lock:
            # What was held during a cut never reached the server; those connections are dead now.
            for sock in self._held:
                _close(sock)
            self._held = []
            self.mode = "open"

    def close(self) -> None:
        self._stop.set()
        self.refuse()
        _close(self.listener)

    def _serve(self) -> None:
        selector = selectors.DefaultSelector()
        self.listener.setblocking(False)
        selector.register(self.listener, selectors.EVENT_READ)
        registered: set[socket.socket] = set()
        while not self._stop.is_set():
            with self._lock:
                wanted = {s for pair in self._pairs for s in pair} if self.mode == "open" else set()
            for sock in registered - wanted:
                _unregister(selector, sock)
            for sock in wanted - registered:
                selector.register(sock, selectors.EVENT_READ)
            registered = wanted
            for key, _ in selector.select(timeout=0.05):
                if key.fileobj is self.listener:
                    self._accept()
                else:
                    self._forward(key.fileobj)  # type: ignore[arg-type]

    def _accept(self) -> None:
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        with self._lock:
            if self.mode == "refuse":
                _close(client)
            elif self.mode == "cut":
                self._held.append(client)
            else:
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    _close(client)
                    return
                self._pairs.append((client, upstream))

    def _forward(self, sock: socket.socket) -> None:
        with self._lock:
            pair = next((p for p in self._pairs if sock in p), None)
        if pair is None or self.mode != "open":
            return
        other = pair[1] if sock is pair[0] else pair[0]
        try:
            data = sock.recv(65536)
            if data:
                other.sendall(data)
                return
        except OSError:
            pass
        with self._lock:
            if pair in self._pairs:
                self._pairs.remove(pair)
        _close(sock)
        _close(other)


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


def _unregister(selector: selectors.BaseSelector, sock: socket.socket) -> None:
    try:
        selector.unregister(sock)
    except (KeyError, ValueError):
        pass


# --- the ledger ---------------------------------------------------------------------------------

#: A bash loop that appends "<try> <epoch seconds>" to LEDGER every 0.1 s for about SECONDS seconds,
#: after writing its parent's pid (the task's process) to LEDGER.pid.<try>.
LEDGER_COMMAND = (
    "echo $PPID > {ledger}.pid.{{{{ ti.try_number }}}}; "
    'for i in $(seq 1 {ticks}); do echo "{{{{ ti.try_number }}}} $(date +%s.%N)" >> {ledger}; sleep 0.1; done'
)


def ledger_command(ledger: Path, seconds: float, *, trap_term: bool = False) -> str:
    """A BashOperator command (a Jinja template) that ticks into ``ledger`` for ``seconds``."""
    command = LEDGER_COMMAND.format(ledger=ledger, ticks=int(seconds * 10))
    return ("trap '' TERM; " + command) if trap_term else command


def ticks_by_try(ledger: Path) -> dict[int, list[float]]:
    found: dict[int, list[float]] = defaultdict(list)
    if ledger.exists():
        for line in ledger.read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                found[int(parts[0])].append(float(parts[1]))
    return dict(found)


def assert_tries_never_overlapped(ledger: Path) -> dict[int, list[float]]:
    """Every try's ticks lie wholly before the next try's first tick; returns the ticks by try."""
    ticks = ticks_by_try(ledger)
    tries = sorted(ticks)
    for earlier, later in zip(tries, tries[1:], strict=False):
        assert max(ticks[earlier]) < min(ticks[later]), (
            f"try {earlier} was still ticking at {max(ticks[earlier]):.3f}, after try {later} started at "
            f"{min(ticks[later]):.3f}"
        )
    return ticks


def task_process_pid(ledger: Path, try_number: int, timeout: float = 30) -> int:
    path = Path(f"{ledger}.pid.{try_number}")
    wait_until(
        lambda: path.exists() and path.read_text().strip(),
        timeout,
        lambda: f"try {try_number} never started its command",
    )
    return int(path.read_text().strip())


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def sigkill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def now() -> float:
    return time.time()
