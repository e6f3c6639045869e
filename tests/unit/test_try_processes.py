"""Every process a try starts dies with the try: the guardian between the worker and the task's
process stops what the task leaves behind, stops the try when asked, and stops it by itself when
the worker dies. Real processes, no sockets, no metastore."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tradewind.worker.guardian import GuardedTry, start_guarded
from tradewind.worker.process_tree import descendants


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_for(condition: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def run_to_end(guarded: GuardedTry, timeout: float = 20) -> str:
    """Wait for the guardian's exit; returns what the task process wrote to its result pipe."""
    import select

    deadline = time.monotonic() + timeout
    output = b""
    done = False
    os.set_blocking(guarded.result_fd, False)
    while not done:
        assert time.monotonic() < deadline, "the guardian did not exit"
        ready, _, _ = select.select([guarded.status_fd, guarded.result_fd, guarded.log_fd], [], [], 0.1)
        for fd in ready:
            if fd == guarded.status_fd:
                done = guarded.read_status() or done
            elif fd == guarded.result_fd:
                output += os.read(fd, 65536)
            else:
                os.read(fd, 65536)
    try:
        output += os.read(guarded.result_fd, 65536)
    except BlockingIOError:
        pass
    guarded.close()
    return output.decode()


def pids_in(text: str) -> list[int]:
    return [int(word) for word in text.split()]


def read_until(fd: int, enough: Callable[[bytes], bool], timeout: float = 10) -> bytes:
    """Read ``fd`` until ``enough(what was read)``; fail if the writer ends first or time runs out."""
    import select

    deadline = time.monotonic() + timeout
    data = b""
    while not enough(data):
        left = deadline - time.monotonic()
        assert left > 0, f"only {data!r} arrived in time"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 100)
            assert chunk, f"the writer ended after {data!r}"
            data += chunk
    return data


def leave_children(result_fd: int) -> None:
    """A task that starts a child, a child in its own session and a double-forked daemon, then ends."""
    plain = subprocess.Popen(["sleep", "60"])
    own_session = subprocess.Popen(["sleep", "61"], start_new_session=True)
    read_end, write_end = os.pipe()
    intermediate = os.fork()
    if intermediate == 0:
        os.setsid()
        if os.fork() == 0:
            os.write(write_end, f"{os.getpid()}".encode())
            time.sleep(62)
        os._exit(0)
    os.close(write_end)
    daemon = os.read(read_end, 32).decode()
    # As a daemonizing parent does: the intermediate is gone before the task goes on, so what the
    # task leaves behind is exactly the three processes named (not, under load, a fourth on its way out).
    os.waitpid(intermediate, 0)
    os.write(result_fd, f"{plain.pid} {own_session.pid} {daemon}".encode())


@pytest.mark.parametrize(
    ("parents", "root", "expected"),
    [
        ({2: 1, 3: 2, 4: 3, 5: 1}, 2, [3, 4]),
        ({2: 1, 3: 1, 4: 3, 6: 4, 7: 3}, 1, [2, 3, 4, 7, 6]),
        ({2: 1}, 9, []),
    ],
)
def test_descendants_are_found_parents_before_children(parents: dict[int, int], root: int, expected: list[int]):
    assert descendants(root, parents) == expected


def test_what_a_task_leaves_behind_dies_when_the_task_process_ends():
    def task(log_fd: int, result_fd: int) -> None:
        leave_children(result_fd)
        os._exit(0)

    guarded = start_guarded(task, orphan_grace=5, leftover_grace=0.5)
    left = pids_in(run_to_end(guarded))
    assert len(left) == 3 and not any(alive(pid) for pid in left)
    assert (guarded.report.exit_code, guarded.report.leftovers) == (0, 3)


def test_a_task_process_killed_with_sigkill_takes_everything_it_started_with_it():
    def task(log_fd: int, result_fd: int) -> None:
        leave_children(result_fd)
        os.write(result_fd, f" {os.getpid()}".encode())
        time.sleep(60)

    guarded = start_guarded(task, orphan_grace=5, leftover_grace=0.5)
    words = read_until(guarded.result_fd, lambda data: len(data.split()) >= 4)
    *children, task_pid = pids_in(words.decode())
    os.kill(task_pid, signal.SIGKILL)
    run_to_end(guarded)
    assert guarded.report.exit_code == -signal.SIGKILL
    assert not any(alive(pid) for pid in children)


def test_terminate_gives_on_kill_its_grace_then_kills_a_task_that_ignores_sigterm():
    def task(log_fd: int, result_fd: int) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.write(result_fd, b"ready")
        time.sleep(60)

    guarded = start_guarded(task, orphan_grace=5, leftover_grace=0.5)
    assert read_until(guarded.result_fd, lambda data: data == b"ready") == b"ready"
    asked = time.monotonic()
    guarded.terminate(0.5)
    run_to_end(guarded)
    assert guarded.report.exit_code == -signal.SIGKILL
    assert 0.4 < time.monotonic() - asked < 5


def test_a_guardian_whose_worker_died_stops_the_try_by_itself():
    """The 'worker' here is a process that starts a guarded try and is then SIGKILLed."""
    report_read, report_write = os.pipe()
    worker = os.fork()
    if worker == 0:
        try:

            def task(log_fd: int, result_fd: int) -> None:
                child = subprocess.Popen(["sleep", "60"], start_new_session=True)
                os.write(report_write, f"{os.getpid()} {child.pid}\n".encode())
                time.sleep(60)

            guarded = start_guarded(task, orphan_grace=0.5, leftover_grace=0.5)
            os.write(report_write, f"{guarded.pid}\n".encode())
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(report_write)
    text = read_until(report_read, lambda data: data.count(b"\n") >= 2)
    pids = pids_in(text.decode())
    os.kill(worker, signal.SIGKILL)
    os.waitpid(worker, 0)
    wait_for(lambda: not any(alive(pid) for pid in pids), 10)
