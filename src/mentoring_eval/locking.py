"""One run at a time per output folder: an operating-system lock.

Each output folder has a hidden lock file beside it (``data/.processed.lock``
for ``data/processed``), never inside it, so nothing a run writes, hashes or
compares ever sees one. A run holds ``flock`` on the lock file of every folder
it writes; the kernel drops the lock when the process ends, however it ends
(``kill -9`` included), so a lock is never stale.

Lock files are never removed: removing one while another process waits on it
would let a third process lock a new file of the same name, and two runs would
then hold "the" lock at once.

While a run holds the lock, the file holds its process id: another run names
it when it waits, and a run that finds an id left behind knows the run before
it died (a clean release empties the file) and waits for the notebook kernels
of that run to go too (:func:`await_orphaned_kernels`).

POSIX only (Linux, macOS): ``fcntl.flock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from mentoring_eval.errors import InputError

# A notebook kernel of a run that was killed lives on until ipykernel's parent
# poller notices, within about a second; wait this long at most, then stop it.
ORPHAN_GRACE_SECONDS = 10.0

# How often a waiting run tries the lock again: how late, at most, it notices
# that the holder is done, or that the user pressed Ctrl-C.
LOCK_POLL_SECONDS = 0.05


class FolderBusy(Exception):
    """Another run holds the folder's lock and the caller chose not to wait."""

    def __init__(self, folder: Path, holder: int | None):
        by = f"another run (PID {holder})" if holder else "another run"
        super().__init__(f"{folder}: {by} is using this output folder")
        self.folder, self.holder = folder, holder


def lock_file(folder: Path) -> Path:
    """The hidden lock file of an output folder: beside it, in its parent."""
    return folder.with_name(f".{folder.name}.lock")


def _recorded_pid(descriptor: int) -> int | None:
    text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def _record_pid(descriptor: int, pid: int | None) -> None:
    os.ftruncate(descriptor, 0)
    if pid is not None:
        os.pwrite(descriptor, f"{pid}\n".encode("ascii"), 0)


def _open_lock(folder: Path) -> int:
    path = lock_file(folder)
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise InputError(f"{path}: cannot create the output folder's lock file ({error.strerror})") from None


def _lock(folder: Path, descriptor: int, wait: bool, say: Callable[[str], None]) -> None:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        holder = _recorded_pid(descriptor)
    if not wait:
        raise FolderBusy(folder, holder)
    by = f" (PID {holder})" if holder else ""
    say(f"waiting for the run in progress{by} to finish with {folder}")
    # Not one blocking flock: a signal (Ctrl-C) that lands after Python's last
    # check for signals but before the flock system call starts does not
    # interrupt it, and the run then waits on, deaf to Ctrl-C, until the holder
    # is done (seen under load). Each short sleep ends, and Python then acts on
    # any signal that came meanwhile.
    while True:
        time.sleep(LOCK_POLL_SECONDS)
        with contextlib.suppress(BlockingIOError):
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return


@contextlib.contextmanager
def output_lock(folders: Iterable[Path], wait: bool = True, say: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the lock of every folder in ``folders`` for the ``with`` block.

    Locks are taken in one fixed order (by resolved path), so two runs that
    share some of their folders cannot each hold one and wait for the other.
    A folder held by another run: with ``wait``, say so in one line and wait
    for it; without, raise :class:`FolderBusy`. The folders' parents must
    exist (the lock files live there).
    """
    ordered = sorted({Path(folder).resolve() for folder in folders}, key=str)
    held: list[int] = []
    try:
        for folder in ordered:
            descriptor = _open_lock(folder)
            try:
                _lock(folder, descriptor, wait, say)
            except BaseException:
                os.close(descriptor)  # not ours: leave the holder's process id alone
                raise
            held.append(descriptor)
            left_behind = _recorded_pid(descriptor)
            if left_behind is not None and left_behind != os.getpid():
                await_orphaned_kernels(left_behind, say)
            _record_pid(descriptor, os.getpid())
        yield
    finally:
        for descriptor in reversed(held):
            with contextlib.suppress(OSError):
                _record_pid(descriptor, None)  # a clean release leaves no process id behind
            os.close(descriptor)  # closing the last descriptor releases the lock


def orphaned_kernels(dead_runner: int) -> list:
    """Notebook kernels still alive whose runner (``dead_runner``) is gone:
    jupyter_client tells each kernel its runner's process id
    (``JPY_PARENT_PID``); an orphan's parent is no longer that process."""
    try:
        import psutil  # ipykernel's own dependency, so always there with the kernels
    except ImportError:
        return []
    found = []
    for process in psutil.process_iter(["ppid"]):
        with contextlib.suppress(psutil.Error):
            if process.info["ppid"] != dead_runner and process.environ().get("JPY_PARENT_PID") == str(dead_runner):
                found.append(process)
    return found


def await_orphaned_kernels(dead_runner: int, say: Callable[[str], None], grace: float = ORPHAN_GRACE_SECONDS) -> None:
    """A killed run's kernels may still be finishing a cell that writes into
    the folders this run is about to restore: let them go first (they exit
    within about a second of their runner), and stop any still there after
    ``grace`` seconds."""
    orphans = orphaned_kernels(dead_runner)
    if not orphans:
        return
    say(f"waiting for {len(orphans)} notebook kernel(s) of an interrupted run (PID {dead_runner}) to exit")
    import psutil

    deadline = time.monotonic() + grace
    while orphans and time.monotonic() < deadline:
        _, orphans = psutil.wait_procs(orphans, timeout=0.2)
    for process in orphans:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(orphans, timeout=grace)
