"""Lines to the process's standard error in batches (``app/observability/stderr_batches.py``): every
line written, in order, within the delay, at exit too, and in a forked child."""

from __future__ import annotations

import io
import multiprocessing
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.observability import stderr_batches
from app.observability.stderr_batches import BatchedStderr
from tests.kit.threads import run_interleaved

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """The process's standard error, as the batches see it, replaced by a buffer."""
    buffer = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", buffer)
    yield buffer


def eventually(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.005)
    return False


def test_a_line_is_written_by_the_writer_thread_within_the_delay(stderr: io.StringIO) -> None:
    batches = BatchedStderr(delay=0.05)
    batches.put("one\n")
    batches.put("two\n")
    assert stderr.getvalue() == "" and batches.pending() == 2  # queued, not written by the caller
    began = time.monotonic()
    assert eventually(lambda: stderr.getvalue() == "one\ntwo\n")
    assert time.monotonic() - began < 2.0 and batches.pending() == 0
    batches.put("three\n")  # the writer waits for the next first line, and writes it too
    assert eventually(lambda: stderr.getvalue() == "one\ntwo\nthree\n")


def test_lines_from_many_threads_are_all_written_each_threads_in_its_order(stderr: io.StringIO) -> None:
    batches = BatchedStderr(delay=0.001)
    per_thread, threads = 2_000, 8

    def write(name: int) -> None:
        for i in range(per_thread):
            batches.put(f"{name} {i}\n")

    run_interleaved([threading.Thread(target=write, args=(n,)) for n in range(threads)])
    batches.flush()
    lines = stderr.getvalue().splitlines()
    assert len(lines) == per_thread * threads
    for name in range(threads):
        assert [line for line in lines if line.startswith(f"{name} ")] == [
            f"{name} {i}" for i in range(per_thread)
        ]


def test_with_no_delay_each_line_is_written_at_once(stderr: io.StringIO) -> None:
    batches = BatchedStderr(delay=0)
    batches.put("now\n")
    assert stderr.getvalue() == "now\n" and batches.pending() == 0


def test_a_full_queue_is_written_by_the_thread_that_fills_it(
    stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stderr_batches, "MAX_PENDING", 3)
    batches = BatchedStderr(delay=60)  # the writer thread would wait a minute
    for line in ("a\n", "b\n"):
        batches.put(line)
    assert stderr.getvalue() == ""
    batches.put("c\n")
    assert stderr.getvalue() == "a\nb\nc\n" and batches.pending() == 0


def test_a_closed_standard_error_costs_no_exception(stderr: io.StringIO) -> None:
    batches = BatchedStderr(delay=0.01)
    stderr.close()
    batches.put("lost\n")
    batches.flush()  # nowhere to write: dropped, the caller goes on
    assert batches.pending() == 0


def test_configure_writes_what_is_queued_before_the_delay_changes(stderr: io.StringIO) -> None:
    saved = stderr_batches.stderr_lines.delay
    try:
        stderr_batches.configure(60)
        stderr_batches.stderr_lines.put("queued\n")
        stderr_batches.configure(0)
        assert stderr.getvalue() == "queued\n"
        stderr_batches.stderr_lines.put("direct\n")
        assert stderr.getvalue() == "queued\ndirect\n"
    finally:
        stderr_batches.configure(saved)


def _run(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_what_is_queued_at_exit_is_written() -> None:
    result = _run(
        """
        from app.observability import stderr_batches
        stderr_batches.configure(60)  # the writer thread would not get to it
        for i in range(1000):
            stderr_batches.stderr_lines.put(f"line {i}\\n")
        """
    )
    assert result.returncode == 0
    assert result.stderr.splitlines() == [f"line {i}" for i in range(1000)]


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_a_forked_multiprocessing_child_writes_its_own_lines_when_it_ends() -> None:
    # A granian worker: a multiprocessing child, which ends without running atexit.
    result = _run(
        """
        import multiprocessing
        from app.observability import stderr_batches

        def child():
            stderr_batches.stderr_lines.put("from the child\\n")

        stderr_batches.configure(60)
        stderr_batches.stderr_lines.put("from the parent\\n")  # queued when the child forks
        process = multiprocessing.get_context("fork").Process(target=child)
        process.start()
        process.join()
        print("child exit", process.exitcode, flush=True)
        """
    )
    assert result.returncode == 0 and "child exit 0" in result.stdout
    # The child wrote its own line, and not the parent's queue a second time.
    assert result.stderr.splitlines() == ["from the child", "from the parent"]
