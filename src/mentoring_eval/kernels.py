"""Kernels for the stage notebooks, started one stage ahead.

Every stage runs in a fresh kernel of its own. Starting one costs about a
second, and importing what the stage uses (pandas, pyarrow, matplotlib for
the figures) about as much again, before its first cell does any work. The
runner therefore starts the next stage's kernel while the current stage
runs, and has it import the modules the next notebook imports: on a machine
with a second core, that time overlaps the current stage's work instead of
adding to it.

The warm-up is silent (``silent=True``: no output, no execution count, no
history), so the executed notebook is the same: every cell still runs, its
imports included, and finds them done.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from jupyter_client import AsyncKernelManager

WARM_UP_TIMEOUT_SECONDS = 120

# What the stage kernels run with (the runner puts it in the environment they
# inherit; the benchmarks give it to the stage work they time). Each stage
# runs in a fresh process, where Arrow's default allocator (jemalloc) costs
# about 0.5 s of page faults on a million-contact log; the system allocator
# does not. Speed only: the outputs are the same bytes either way.
STAGE_KERNEL_ENVIRONMENT = {"ARROW_DEFAULT_MEMORY_POOL": "system"}


def notebook_imports(notebook: Path) -> list[str]:
    """The top-level ``import`` and ``from ... import`` lines of the
    notebook's code cells, in order."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    sources = [
        "".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"
    ]  # a list of lines, or one string
    return [line for source in sources for line in source.splitlines() if line.startswith(("import ", "from "))]


def notebook_kernel_name(notebook: Path) -> str:
    return json.loads(notebook.read_text(encoding="utf-8"))["metadata"]["kernelspec"]["name"]


def local_socket_folder() -> str:
    """A private folder for one kernel's sockets.

    Kernels talk to the runner over Unix sockets (ZeroMQ's ``ipc``
    transport) rather than TCP. With TCP, jupyter_client picks "free" ports
    by binding and releasing them, so two kernels started at the same moment
    (the next stage's kernel starts while this one does; tests run runs side
    by side) can both pick the same port. The second kernel then fails to
    bind and exits, and the run stops with "Kernel died before replying to
    kernel_info". A socket path in a folder of its own cannot be taken by
    another kernel. The path is absolute because the kernel runs in the
    notebook's folder and the runner in the user's.
    """
    return tempfile.mkdtemp(prefix="mentoring-eval-kernel-")


def ipc_kernel_manager(manager_class: type, kernel_name: str, socket_folder: str):
    """A ``manager_class`` (jupyter_client's ``KernelManager`` or
    ``AsyncKernelManager``) whose kernel listens on Unix sockets in ``socket_folder``."""
    return manager_class(kernel_name=kernel_name, transport="ipc", ip=os.path.join(socket_folder, "kernel"))


class StageKernel:
    """A kernel started for ``notebook``: in the notebook's folder (where
    papermill would start it), its standard error appended to ``kernel_log``,
    importing what the notebook imports in a background thread. When its
    stage comes, :meth:`wait_for_imports`, hand :attr:`manager` to papermill
    (``km=``), then :meth:`shutdown`."""

    def __init__(self, notebook: Path, kernel_log: Path):
        from jupyter_client import AsyncKernelManager
        from jupyter_client.utils import run_sync

        self._log: BinaryIO = open(kernel_log, "ab")  # noqa: SIM115  (closed by shutdown)
        self._sockets = local_socket_folder()
        self.manager: AsyncKernelManager = ipc_kernel_manager(
            AsyncKernelManager, notebook_kernel_name(notebook), self._sockets
        )
        run_sync(self.manager.start_kernel)(cwd=str(notebook.parent), stderr=self._log)
        self._stopping = threading.Event()
        self._warm_up = threading.Thread(
            target=self._import,
            args=("\n".join(notebook_imports(notebook)),),
            name=f"warm-up {notebook.name}",
            daemon=True,
        )
        self._warm_up.start()

    def _import(self, code: str) -> None:
        """Run the notebook's imports silently and wait for them to finish;
        any error is left for the notebook's own import cell to raise and
        report, as it would without the warm-up."""
        client = self.manager.blocking_client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=WARM_UP_TIMEOUT_SECONDS)
            msg_id = client.execute(code, silent=True, store_history=False)
            while not self._stopping.is_set():
                try:
                    reply = client.get_shell_msg(timeout=0.2)
                except queue.Empty:
                    continue
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
        except Exception:  # noqa: BLE001  (a kernel that died or hung is the notebook run's to report)
            pass
        finally:
            client.stop_channels()

    def wait_for_imports(self) -> None:
        """Block until the warm-up has run (or given up). Papermill's client
        asks the kernel for its info first, and the kernel answers only once
        the imports queued before that request are done: waiting here keeps
        that time out of papermill's 60-second start-up limit (a first import
        of matplotlib on a loaded machine can take longer)."""
        self._warm_up.join()

    def shutdown(self) -> None:
        """Stop the kernel (its notebook is done, or will not run)."""
        from jupyter_client.utils import run_sync

        if self._stopping.is_set():
            return
        self._stopping.set()
        try:
            run_sync(self.manager.shutdown_kernel)(now=True)
        finally:
            self._warm_up.join(timeout=5)
            self._log.close()
            shutil.rmtree(self._sockets, ignore_errors=True)
