"""Runs of the pipeline shared by the tests, and the helpers to make more.

``run_cli`` runs the command as a user types it, into output folders the
test names; ``snapshot`` reads back every output file. ``PipelineRun`` is
the bundled records run three times (first, unchanged, forced) and is what
the session fixture ``bundled_run`` (``conftest.py``) gives; ``shared_run``
makes such a result once for the whole session, whichever xdist worker asks
first (a file lock), so that it is never made twice in parallel.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUNDLED_RAW = ROOT / "data" / "raw"

Snapshot = dict[str, bytes]  # "processed/..." or "report/..." -> the file's bytes


def cli_command(
    *args: str,
    processed: Path,
    report: Path,
    raw: Path | None = None,
    renderer: str = "nbconvert",
    subcommand: str = "run",
) -> list[str]:
    """The command (``run``, or ``subcommand``) as a user types it. The output
    folders are required arguments, so no run can write into the project's."""
    command = [
        sys.executable,
        "-m",
        "mentoring_eval",
        subcommand,
        "--processed",
        str(processed),
        "--report",
        str(report),
        "--renderer",
        renderer,
        *args,
    ]
    return command + ["--raw", str(raw)] if raw is not None else command


def run_cli(
    *args: str,
    processed: Path,
    report: Path,
    raw: Path | None = None,
    renderer: str = "nbconvert",
    env: dict[str, str] | None = None,
    timeout: int = 600,
    subcommand: str = "run",
) -> subprocess.CompletedProcess:
    """``python -m mentoring_eval run`` as a user types it, from the project
    folder. The output folders are required, so no test writes into the
    project's own."""
    return subprocess.run(
        cli_command(*args, processed=processed, report=report, raw=raw, renderer=renderer, subcommand=subcommand),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
    )


def snapshot(processed: Path, report: Path) -> Snapshot:
    """Every file under the two output folders, by ``processed/…`` and ``report/…``."""
    return {
        f"{name}/{path.relative_to(folder).as_posix()}": path.read_bytes()
        for name, folder in (("processed", processed), ("report", report))
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def digests(files: Snapshot) -> dict[str, str]:
    return {name: hashlib.sha256(content).hexdigest() for name, content in files.items()}


def shared_run(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], dict]) -> tuple[Path, dict]:
    """``make(folder)`` once per test session, for every xdist worker: returns
    the folder it filled and the JSON-able dict it returned (saved beside it)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's folder, above each worker's own
    folder, record = base / f"shared-{name}", base / f"shared-{name}.json"
    with open(base / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or the process dies
        if not record.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            result = make(folder)
            scratch = record.with_suffix(".tmp")
            scratch.write_text(json.dumps(result), encoding="utf-8")
            scratch.replace(record)
    return folder, json.loads(record.read_text(encoding="utf-8"))


def completed(result: dict) -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(result["args"], result["returncode"], result["stdout"], result["stderr"])


def recorded(result: subprocess.CompletedProcess) -> dict:
    return {"args": result.args, "returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


@dataclass(frozen=True)
class PipelineRun:
    """The bundled records, run three times into the same folders: a first run
    into empty folders, the same command again (nothing changed), and again
    with ``--force``. The folders hold the forced run's outputs."""

    raw: Path
    processed: Path
    report: Path
    first: subprocess.CompletedProcess
    unchanged: subprocess.CompletedProcess
    forced: subprocess.CompletedProcess
    after_first: dict[str, str]  # file -> SHA-256, after each run
    after_unchanged: dict[str, str]
    after_forced: dict[str, str]

    def page_text(self) -> str:
        return (self.report / "report.html").read_text(encoding="utf-8")


def make_bundled_run(folder: Path) -> dict:
    processed, report = folder / "processed", folder / "report"
    results, states = {}, {}
    for label, args in (("first", ()), ("unchanged", ()), ("forced", ("--force",))):
        result = run_cli(*args, processed=processed, report=report)
        assert result.returncode == 0, f"the {label} run of the bundled records failed:\n{result.stderr}"
        results[label] = recorded(result)
        states[label] = digests(snapshot(processed, report))
    return {"runs": results, "files": states}
