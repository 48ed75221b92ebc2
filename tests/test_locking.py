"""The output folders' lock: one run at a time, released when a process dies.

``flock`` locks belong to an open file, not to a process, so two
``output_lock`` calls in one test process contend exactly as two runs do.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from mentoring_eval import locking
from mentoring_eval.errors import InputError
from mentoring_eval.locking import FolderBusy, output_lock


def folder(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.mkdir()
    (path / "table.csv").write_text("a\n1\n", encoding="utf-8")
    return path


def test_a_held_folder_refuses_a_run_that_will_not_wait_naming_the_holder(tmp_path):
    processed = folder(tmp_path, "processed")
    with output_lock([processed], say=print):
        with pytest.raises(FolderBusy) as busy, output_lock([processed], wait=False):
            pytest.fail("a second holder got the lock")
    assert busy.value.holder == os.getpid()
    assert f"PID {os.getpid()}" in str(busy.value) and str(processed) in str(busy.value)


def test_a_run_sharing_only_one_folder_is_refused_too(tmp_path):
    processed, report, other = folder(tmp_path, "processed"), folder(tmp_path, "report"), folder(tmp_path, "other")
    with output_lock([processed, report]):
        with pytest.raises(FolderBusy), output_lock([other, report], wait=False):
            pass
        with output_lock([other], wait=False):  # nothing shared: no wait
            pass


def test_a_waiting_run_says_so_once_and_goes_on_when_the_holder_is_done(tmp_path):
    report = folder(tmp_path, "report")
    said: list[str] = []
    order: list[str] = []
    held, waiting = threading.Event(), threading.Event()

    def holder() -> None:
        with output_lock([report]):
            held.set()
            # Until the waiter says it waits, not for a fixed time: on a loaded
            # machine the waiter may come late, and would then not wait at all.
            waiting.wait(60)
            order.append("holder done")

    def say(line: str) -> None:
        said.append(line)
        waiting.set()

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(60)
    with output_lock([report], say=say):
        order.append("waiter in")
    thread.join(60)
    assert order == ["holder done", "waiter in"]
    assert said == [f"waiting for the run in progress (PID {os.getpid()}) to finish with {report}"]


def test_the_lock_files_are_hidden_beside_the_folders_and_the_folders_untouched(tmp_path):
    processed = folder(tmp_path, "processed")
    before = sorted(processed.iterdir())
    with output_lock([processed]):
        assert sorted(processed.iterdir()) == before
    assert locking.lock_file(processed) == tmp_path / ".processed.lock"
    assert locking.lock_file(processed).exists()  # kept: removing it would let two runs lock two files
    assert locking.lock_file(processed).read_text() == ""  # a clean release leaves no process id behind


def test_runs_locking_the_same_folders_in_opposite_orders_do_not_deadlock(tmp_path):
    first, second = folder(tmp_path, "a"), folder(tmp_path, "b")
    finished: list[str] = []

    def run(folders: list[Path], name: str) -> None:
        for _ in range(30):
            with output_lock(folders, say=lambda line: None):
                pass
        finished.append(name)

    threads = [
        threading.Thread(target=run, args=([first, second], "forwards")),
        threading.Thread(target=run, args=([second, first], "backwards")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(finished) == ["backwards", "forwards"]


HOLD_AND_SLEEP = """
import sys, time
from pathlib import Path
from mentoring_eval.locking import output_lock
with output_lock([Path(sys.argv[1])]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    processed = folder(tmp_path, "processed")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_AND_SLEEP, str(processed)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(FolderBusy):
            with output_lock([processed], wait=False):
                pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        with output_lock([processed], wait=False, say=lambda line: None):  # the kernel released it
            assert locking.lock_file(processed).read_text().strip() == str(os.getpid())
    finally:
        holder.kill()
        holder.wait()


WAIT_WHILE_ANOTHER_THREAD_TAKES_CTRL_C = """
import signal, sys, threading
from pathlib import Path
from mentoring_eval.locking import output_lock
# Ctrl-C that lands just before the lock wait's system call starts runs
# Python's handler without interrupting that call. Made certain here: the
# main thread blocks the signal, so another thread takes it.
threading.Thread(target=threading.Event().wait, daemon=True).start()
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
try:
    with output_lock([Path(sys.argv[1])], say=lambda line: print(line, flush=True)):
        pass
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_ends_the_wait_even_when_it_does_not_interrupt_the_lock_system_call(tmp_path):
    processed = folder(tmp_path, "processed")
    with output_lock([processed], say=lambda line: None):
        waiter = subprocess.Popen(
            [sys.executable, "-c", WAIT_WHILE_ANOTHER_THREAD_TAKES_CTRL_C, str(processed)],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert waiter.stdout.readline().startswith("waiting for the run in progress")
            waiter.send_signal(signal.SIGINT)
            assert waiter.wait(timeout=30) == 130
        finally:  # a waiter deaf to Ctrl-C fails the test (TimeoutExpired), then goes
            waiter.kill()
            waiter.wait()


def test_an_unwritable_place_for_the_lock_file_is_a_one_line_input_error(tmp_path):
    with pytest.raises(InputError, match="lock file"):
        with output_lock([tmp_path / "no" / "such" / "parent"]):
            pass


def dead_process_id() -> int:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(finished.stdout)


def test_the_kernels_of_a_killed_run_are_gone_before_the_next_run_goes_on():
    dead_runner = dead_process_id()
    # A kernel that outlives its runner and does not notice (ipykernel's own
    # parent poller would end it within a second): the lock waits, then stops it.
    orphan = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], env={**os.environ, "JPY_PARENT_PID": str(dead_runner)}
    )
    try:
        deadline = time.monotonic() + 10
        while not locking.orphaned_kernels(dead_runner) and time.monotonic() < deadline:
            time.sleep(0.05)  # until the child has its environment
        assert [p.pid for p in locking.orphaned_kernels(dead_runner)] == [orphan.pid]
        said: list[str] = []
        locking.await_orphaned_kernels(dead_runner, said.append, grace=0.3)
        assert not psutil.pid_exists(orphan.pid)  # stopped (and reaped) after the grace period
        assert said == [f"waiting for 1 notebook kernel(s) of an interrupted run (PID {dead_runner}) to exit"]
    finally:
        orphan.kill()
        orphan.wait()


def test_a_kernel_whose_runner_is_alive_is_not_an_orphan():
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], env={**os.environ, "JPY_PARENT_PID": str(os.getpid())}
    )
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).environ().get("JPY_PARENT_PID") != str(os.getpid()):
            assert time.monotonic() < deadline, "the child never started"
            time.sleep(0.05)
        assert locking.orphaned_kernels(os.getpid()) == []
    finally:
        child.kill()
        child.wait()
