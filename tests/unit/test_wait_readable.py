"""A worker with many slots holds many descriptors: its supervisors and its tries' guardians wait
on pipes whose numbers may lie past 1024, where ``select()`` cannot look."""

from __future__ import annotations

import os
import resource

import pytest

from tradewind.worker.guardian import wait_readable

HIGH_FD = 1500


@pytest.fixture
def high_pipe():  # type: ignore[no-untyped-def]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= HIGH_FD:
        pytest.fail(f"this machine allows only {hard} descriptors per process; the test needs {HIGH_FD + 1}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, HIGH_FD + 1), hard))
    read_end, write_end = os.pipe()
    high = os.dup2(read_end, HIGH_FD)
    os.close(read_end)
    yield high, write_end
    for fd in (high, write_end):
        try:
            os.close(fd)
        except OSError:
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_pipe_numbered_past_1024_is_read_when_data_arrives_and_at_its_end(high_pipe) -> None:  # type: ignore[no-untyped-def]
    high, write_end = high_pipe
    assert wait_readable([high], 0) == []
    os.write(write_end, b"log line\n")
    assert wait_readable([high], 1) == [high]
    assert os.read(high, 100) == b"log line\n"
    os.close(write_end)
    assert wait_readable([high], 1) == [high], "the end of the pipe wakes the reader too"
    assert os.read(high, 100) == b""


def test_nothing_ready_waits_the_timeout_and_returns_nothing(high_pipe) -> None:  # type: ignore[no-untyped-def]
    high, _ = high_pipe
    assert wait_readable([high], 0.05) == []
