"""A Docker engine and a local Debian base image for the compose cluster test.

``DockerEngine.ensure()`` uses the engine that answers ``docker info``; failing that it starts
``dockerd`` (as root) in the background and remembers its PID, so ``stop()`` stops only what it
started. ``ensure_debian_base()`` makes ``local/debian:bookworm`` with ``debootstrap`` from the
Debian mirror apt already uses, since no container registry is reachable here.

What cannot work on this machine raises ``EngineUnavailable`` with one line saying why; the test
turns that into a skip (the only test allowed to skip for its environment).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

BASE_IMAGE = "local/debian:bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
ENGINE_START_TIMEOUT_S = 60
PIDFILE = Path("/var/run/docker.pid")


class EngineUnavailable(RuntimeError):
    """This machine cannot run a Docker engine; the message says why in one line."""


def run(
    args: list[str],
    *,
    timeout: float = 600,
    check: bool = True,
    input_bytes: bytes | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise with its output in the message."""
    result = subprocess.run(args, capture_output=True, timeout=timeout, input=input_bytes, env=env)
    completed = subprocess.CompletedProcess(
        args, result.returncode, result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")
    )
    if check and completed.returncode != 0:
        output = (completed.stdout + completed.stderr).strip()[-3000:]
        raise RuntimeError(f"`{' '.join(args)}` exited with {completed.returncode}:\n{output}")
    return completed


def _engine_answers() -> bool:
    try:
        return run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@dataclass
class DockerEngine:
    """The engine the test talks to, and the ``dockerd`` process if the test started it."""

    log_path: Path
    started: subprocess.Popen[bytes] | None = field(default=None)

    def ensure(self) -> None:
        if shutil.which("docker") is None:
            raise EngineUnavailable("no Docker client on this machine (apt-get install docker.io docker-compose)")
        if _engine_answers():
            return
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise EngineUnavailable("no Docker engine answers and dockerd is not installed (apt-get install docker.io)")
        if os.geteuid() != 0:
            raise EngineUnavailable("no Docker engine answers and starting dockerd needs root")
        _remove_stale_pidfile()
        log = self.log_path.open("ab")
        self.started = subprocess.Popen([dockerd], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + ENGINE_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.started.poll() is not None:
                break
            if _engine_answers():
                return
            time.sleep(0.5)
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        self.stop()
        raise EngineUnavailable(f"dockerd did not come up within {ENGINE_START_TIMEOUT_S} s: {tail[0]}")

    def stop(self) -> None:
        """Stop the dockerd this object started (by its PID), and nothing else."""
        if self.started is None or self.started.poll() is not None:
            return
        self.started.send_signal(signal.SIGTERM)
        try:
            self.started.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.started.kill()
            self.started.wait(timeout=10)


def _remove_stale_pidfile() -> None:
    """A dockerd killed earlier leaves its PID file behind, and a new one refuses to start."""
    try:
        pid = int(PIDFILE.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        PIDFILE.unlink(missing_ok=True)
    except PermissionError:
        pass


def apt_mirror(sources: tuple[Path, ...] = (Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d"))) -> str:
    """The first Debian mirror in apt's sources (one-line or deb822 format), else deb.debian.org."""
    files: list[Path] = []
    for source in sources:
        if source.is_dir():
            files.extend(sorted(p for p in source.iterdir() if p.suffix in (".list", ".sources")))
        elif source.is_file():
            files.append(source)
    for path in files:
        text = path.read_text(errors="replace")
        for match in re.finditer(r"^\s*(?:deb\s+(?:\[[^]]*\]\s+)?|URIs:\s*)(\S+)", text, re.MULTILINE):
            uri = match.group(1)
            if uri.startswith(("http://", "https://")) and "security" not in uri:
                return uri.rstrip("/")
    return DEFAULT_MIRROR


def ensure_debian_base(image: str = BASE_IMAGE) -> bool:
    """Build ``image`` from debootstrap unless the engine has it; True when it had to be built."""
    if run(["docker", "image", "inspect", image], check=False, timeout=30).returncode == 0:
        return False
    if shutil.which("debootstrap") is None:
        raise RuntimeError(f"{image} is missing and debootstrap is not installed (apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="tradewind-rootfs-") as root:
        run(["debootstrap", "--variant=minbase", "bookworm", root, apt_mirror()], timeout=900)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        try:
            imported = subprocess.run(
                ["docker", "import", "-", image], stdin=tar.stdout, capture_output=True, timeout=300
            )
        finally:
            assert tar.stdout is not None
            tar.stdout.close()
            tar.wait(timeout=60)
        if imported.returncode != 0:
            raise RuntimeError(f"docker import of the Debian root failed: {imported.stderr.decode(errors='replace')}")
    return True
