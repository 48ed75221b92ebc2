"""Runs the four stage notebooks with papermill, incrementally.

Each stage is skipped when nothing it depends on has changed: its notebook,
its parameters, the package's code and the lock its environment was installed
from, and its inputs (the raw files for the clean stage; the previous stage's
fingerprint for the others, since every stage's outputs are a deterministic
function of what went into it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: importing it costs a second, and a no-change rerun needs none
    import nbformat

from mentoring_eval.errors import InputError
from mentoring_eval.kernels import StageKernel
from mentoring_eval.locking import output_lock
from mentoring_eval.paths import ProjectPaths, shown
from mentoring_eval.provenance import (
    INPUT_RECORD,
    installed_lock,
    raw_inputs_digest,
    recorded_inputs_digest,
    sha256_of_file,
)
from mentoring_eval.render import QUARTO_TEMPLATE, Rendered, choose_renderer, render

PUBLISHED_AS_OF = date(2020, 4, 1)  # the cut-off of the published Table 4
STATE_FILE = ".pipeline-state.json"
EXECUTED_FOLDER = "notebooks"  # inside the report folder
KERNEL_LOG = ".kernel-stderr.log"  # inside the report folder


@dataclass(frozen=True)
class RunSettings:
    """Everything a run depends on besides the files themselves."""

    paths: ProjectPaths
    as_of: date = PUBLISHED_AS_OF
    expected_minutes: int = 60

    @property
    def reference_table(self) -> Path | None:
        """The published Table 4 applies only to the bundled records at the
        publication's cut-off; any other run has nothing to reproduce."""
        bundled = self.paths.raw.resolve() == (self.paths.root / "data" / "raw").resolve()
        return self.paths.reference / "table4_published.csv" if bundled and self.as_of == PUBLISHED_AS_OF else None


@dataclass(frozen=True)
class Stage:
    name: str
    notebook: str
    parameters: Callable[[RunSettings], dict]
    outputs: Callable[[RunSettings], list[Path]] = field(default=lambda settings: [])


# Folders are passed to the notebooks as paths.shown gives them: relative to the
# project where they lie inside it, so executed notebooks and fingerprints do not
# depend on where the project was cloned (the notebooks resolve them against it).


def _folder(path: Path, s: RunSettings) -> str:
    return shown(path, s.paths.root)


def _clean_parameters(s: RunSettings) -> dict:
    return {
        "raw_dir": _folder(s.paths.raw, s),
        "processed_dir": _folder(s.paths.processed, s),
        "as_of": s.as_of.isoformat(),
    }


def _metrics_parameters(s: RunSettings) -> dict:
    # "published" is the notebook's own name for the bundled reference table.
    return {
        "processed_dir": _folder(s.paths.processed, s),
        "as_of": s.as_of.isoformat(),
        "expected_minutes": s.expected_minutes,
        "reference_table": "published" if s.reference_table else "",
    }


def _figures_parameters(s: RunSettings) -> dict:
    return {
        "processed_dir": _folder(s.paths.processed, s),
        "report_dir": _folder(s.paths.report, s),
        "expected_minutes": s.expected_minutes,
    }


def _report_parameters(s: RunSettings) -> dict:
    return {
        "raw_dir": _folder(s.paths.raw, s),
        "processed_dir": _folder(s.paths.processed, s),
        "report_dir": _folder(s.paths.report, s),
        "as_of": s.as_of.isoformat(),
        "expected_minutes": s.expected_minutes,
    }


STAGES = (
    Stage(
        "clean",
        "01_clean.ipynb",
        _clean_parameters,
        lambda s: [
            s.paths.processed / n for n in ("contacts.parquet", "quarantine.csv", "cleaning_summary.json", INPUT_RECORD)
        ],
    ),
    Stage(
        "site metrics", "02_site_metrics.ipynb", _metrics_parameters, lambda s: [s.paths.processed / "site_metrics.csv"]
    ),
    Stage("figures", "03_figures.ipynb", _figures_parameters, lambda s: [s.paths.report / "figures"]),
    Stage("report", "04_report.ipynb", _report_parameters),
)


# ---------------------------------------------------------------- fingerprints


def package_code_digest(package: Path = Path(__file__).parent) -> str:
    """One digest of every module of the package, its subpackages (the
    charts) included: a code change reruns every stage. Modules go in by
    their path inside the package, in sorted order, so the digest is the same
    in any checkout."""
    digest = hashlib.sha256()
    for module in sorted(package.rglob("*.py")):
        digest.update(module.relative_to(package).as_posix().encode())
        digest.update(module.read_bytes())
    return digest.hexdigest()


def code_digest(environment: Path | None = None) -> str:
    """What the stages run: the package's code (:func:`package_code_digest`)
    and the lock its Python environment was installed from
    (:func:`mentoring_eval.provenance.installed_lock`). A rebuilt environment
    from a new lock reruns every stage, so the outputs come from the new
    packages and the report names the lock that made it."""
    lock = installed_lock(environment)
    return f"{package_code_digest()} {lock.sha256 if lock else 'no lock'}"


def stage_fingerprint(stage: Stage, settings: RunSettings, upstream: str, code: str) -> str:
    notebook = settings.paths.notebooks / stage.notebook
    payload = json.dumps(
        {
            "notebook": sha256_of_file(notebook),
            "parameters": stage.parameters(settings),
            "code": code,
            "upstream": upstream,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


# ---------------------------------------------------------------- executed notebooks


def strip_run_metadata(notebook: nbformat.NotebookNode, root: Path) -> nbformat.NotebookNode:
    """Remove what differs between two runs of the same inputs (timings,
    absolute paths), so that executed notebooks are byte-identical."""
    papermill = notebook.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration", "environment_variables"):
        papermill.pop(key, None)
    for key in ("input_path", "output_path"):
        if papermill.get(key):
            papermill[key] = shown(Path(papermill[key]), root)
    for cell in notebook.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id
        cell.metadata.pop("execution", None)
        cell_papermill = cell.metadata.get("papermill")
        if cell_papermill is not None:
            for key in ("start_time", "end_time", "duration"):
                cell_papermill.pop(key, None)
    return notebook


class StageFailed(Exception):
    """A notebook raised: ``error_name`` and ``error_value`` are the notebook's error."""

    def __init__(self, stage: str, error_name: str, error_value: str, notebook: Path):
        super().__init__(f"{stage}: {error_name}: {error_value}")
        self.stage, self.error_name, self.error_value, self.notebook = stage, error_name, error_value, notebook


@contextlib.contextmanager
def stderr_to(log: Path) -> Iterator[None]:
    """Send this process's standard error, and so the kernel's (a child that
    inherits it), to ``log``: the kernel's start-up warnings are noise to a
    user; the notebook's own errors are reported from its outputs."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "ab") as handle:
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def execute_notebook(
    source: Path,
    target: Path,
    parameters: dict | None,
    root: Path,
    stage: str,
    kernel_log: Path,
    kernel: StageKernel | None = None,
) -> None:
    """Execute ``source`` into ``target`` in the notebook's own folder (as nbval
    and JupyterLab do); ``target`` is replaced only when execution succeeds.
    ``kernel``: one already started for this notebook (else papermill starts one)."""
    import nbformat
    import papermill  # imported here: starting it is slow and most commands skip it

    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.stem}.running.ipynb")
    if kernel is not None:
        kernel.wait_for_imports()
    try:
        with stderr_to(kernel_log):
            papermill.execute_notebook(
                str(source),
                str(scratch),
                parameters=parameters or None,
                cwd=str(source.parent),
                progress_bar=False,
                log_output=False,
                **({"km": kernel.manager} if kernel else {}),
            )
    except papermill.PapermillExecutionError as error:
        if error.ename == "InputError":  # the user's input: the one-line message says it all
            scratch.unlink(missing_ok=True)
            raise InputError(error.evalue) from None
        failed = target.with_name(f"{target.stem}.failed.ipynb")
        os.replace(scratch, failed)
        raise StageFailed(stage, error.ename, error.evalue, failed) from None
    notebook = nbformat.read(scratch, as_version=4)
    notebook.metadata.papermill["output_path"] = str(target)
    nbformat.write(strip_run_metadata(notebook, root), scratch)
    os.replace(scratch, target)


# ---------------------------------------------------------------- the run


def _read_state(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_state(path: Path, state: dict) -> None:
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(scratch, path)


def executed_notebook_path(settings: RunSettings, stage: Stage) -> Path:
    return settings.paths.report / EXECUTED_FOLDER / stage.notebook


def run_stages(
    settings: RunSettings, force: bool = False, say: Callable[[str], None] = print
) -> tuple[list[Path], str]:
    """Run (or skip) every stage in order; returns the executed notebooks and
    the last stage's fingerprint. The output folders must exist
    (:func:`prepare_output_folders`)."""
    state_path = settings.paths.report / STATE_FILE
    state = {} if force else _read_state(state_path)
    code = code_digest()
    # The clean stage hashes the raw files it reads (provenance.INPUT_RECORD). The
    # runner hashes them too only when a previous clean is there to compare with:
    # a first run of a national log reads its hundred megabytes once, not twice.
    if not settings.paths.raw.is_dir():
        raise InputError(f"{settings.paths.raw}: raw records folder not found")
    upstream = raw_inputs_digest(settings.paths.raw) if STAGES[0].name in state else None
    executed = []
    kernel_log = settings.paths.report / KERNEL_LOG
    ahead: StageKernel | None = None  # the next stage's kernel, started while this stage runs
    try:
        for number, stage in enumerate(STAGES, start=1):
            ahead, upstream = _run_or_skip(settings, state, code, number, stage, upstream, ahead, kernel_log, say)
            executed.append(executed_notebook_path(settings, stage))
    finally:
        if ahead is not None:
            ahead.shutdown()
    return executed, upstream


def _run_or_skip(
    settings: RunSettings,
    state: dict,
    code: str,
    number: int,
    stage: Stage,
    upstream: str | None,
    ahead: StageKernel | None,
    kernel_log: Path,
    say: Callable[[str], None],
) -> tuple[StageKernel | None, str | None]:
    """Run ``stage`` unless nothing it depends on changed; returns the kernel
    started for the next stage (if this one ran) and this stage's fingerprint."""
    state_path = settings.paths.report / STATE_FILE
    fingerprint = stage_fingerprint(stage, settings, upstream, code) if upstream else None
    target = executed_notebook_path(settings, stage)
    label = f"[{number}/{len(STAGES)}] {stage.name:<13}"
    outputs_present = target.exists() and all(p.exists() for p in stage.outputs(settings))
    if fingerprint and state.get(stage.name) == fingerprint and outputs_present:
        say(f"{label} skipped (unchanged)")
        if ahead is not None:  # started in vain: the stage before ran, yet this one's inputs are unchanged
            ahead.shutdown()
        return None, fingerprint
    started = time.perf_counter()
    # Invalidate before running: a failure must not leave a stale "done".
    state.pop(stage.name, None)
    _write_state(state_path, state)
    notebook = settings.paths.notebooks / stage.notebook
    kernel = ahead or StageKernel(notebook, kernel_log)
    following = STAGES.index(stage) + 1
    ahead = (
        StageKernel(settings.paths.notebooks / STAGES[following].notebook, kernel_log)
        if following < len(STAGES)
        else None
    )
    try:
        execute_notebook(
            notebook, target, stage.parameters(settings), settings.paths.root, stage.name, kernel_log, kernel
        )
    except BaseException:
        if ahead is not None:
            ahead.shutdown()
        raise
    finally:
        kernel.shutdown()
    if stage is STAGES[0]:  # the files as the clean stage hashed them, whatever they are now
        upstream = recorded_inputs_digest(settings.paths.processed)
        fingerprint = stage_fingerprint(stage, settings, upstream, code)
    state[stage.name] = fingerprint
    _write_state(state_path, state)
    say(f"{label} done in {time.perf_counter() - started:.1f} s")
    return ahead, fingerprint


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # a file system without hard links
        shutil.copy2(source, target)


def _snapshots(folders: list[Path]) -> dict[Path, Path]:
    """Each outermost folder and its snapshot's name, beside it."""
    outermost = [f for f in folders if not any(o != f and o in f.parents for o in folders)]
    return {folder: folder.with_name(f".{folder.name}.last-good") for folder in dict.fromkeys(outermost)}


# A snapshot is built under a temporary name and renamed once complete, and
# renamed again before it is removed after a success, so that the names a
# killed run leaves behind say how far it got.
def _being_built(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + ".partial")


def _being_discarded(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + ".discard")


def _restore(folder: Path, snapshot: Path) -> None:
    """Put ``folder`` back as ``snapshot`` holds it. Killed half-way, it is
    simply done again: the snapshot stays whole until the final rename."""
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(snapshot, folder)


def recover_interrupted_run(folders: list[Path], say: Callable[[str], None] = print) -> None:
    """Tidy what a run killed part-way (``kill -9``, a power cut) left beside
    the output folders; call it only while holding their locks
    (:func:`mentoring_eval.locking.output_lock`), when no run is writing.

    - A snapshot still being built: the folder itself was not yet touched;
      drop the partial copy.
    - A complete snapshot: the run died while writing, so the folder may be
      half-written; put the last good outputs back (the next stages then run
      or skip as usual).
    - A snapshot being discarded: the run had succeeded; drop what is left
      of the snapshots, keep its outputs.
    """
    snapshots = _snapshots(folders)
    succeeded = any(_being_discarded(snapshot).exists() for snapshot in snapshots.values())
    to_restore = {folder: snapshot for folder, snapshot in snapshots.items() if snapshot.is_dir() and not succeeded}
    if to_restore:
        say(
            f"an earlier run was interrupted: {' and '.join(map(str, to_restore))} put back as the last good run "
            "left them"
        )
    for folder, snapshot in snapshots.items():
        shutil.rmtree(_being_built(snapshot), ignore_errors=True)
        shutil.rmtree(_being_discarded(snapshot), ignore_errors=True)
        if folder in to_restore:
            _restore(folder, snapshot)
        else:
            shutil.rmtree(snapshot, ignore_errors=True)


@contextlib.contextmanager
def all_or_nothing(folders: list[Path], say: Callable[[str], None] = print) -> Iterator[None]:
    """A run changes its output folders only if the whole run succeeds.

    Each folder is snapshotted beside itself with hard links, which is
    instant: every writer of the pipeline replaces a file (write, then
    rename) rather than rewriting it, so a link keeps the old bytes. When
    the run fails, the folder is put back as it was, keeping only the failed
    notebooks written for inspection. What a killed run left behind is
    tidied first (:func:`recover_interrupted_run`); the caller holds the
    folders' locks.
    """
    recover_interrupted_run(folders, say)
    snapshots = _snapshots(folders)
    for folder, snapshot in snapshots.items():
        building = _being_built(snapshot)
        shutil.copytree(folder, building, copy_function=_link_or_copy)
        os.replace(building, snapshot)
    try:
        yield
    except BaseException:
        for folder, snapshot in snapshots.items():
            if not snapshot.is_dir():  # removed by hand mid-run: nothing to put back, keep what is there
                continue
            for failed in folder.rglob("*.failed.ipynb"):
                kept = snapshot / failed.relative_to(folder)
                kept.parent.mkdir(parents=True, exist_ok=True)
                os.replace(failed, kept)
            _restore(folder, snapshot)
        raise
    # Mark every snapshot as done with before removing any: a run killed in
    # between is then known to have succeeded, not half-restored.
    discarded = []
    for snapshot in snapshots.values():
        with contextlib.suppress(FileNotFoundError):
            os.replace(snapshot, _being_discarded(snapshot))
            discarded.append(_being_discarded(snapshot))
    for snapshot in discarded:
        shutil.rmtree(snapshot, ignore_errors=True)


def remove_scratch_notebooks(report: Path) -> None:
    """Executed notebooks in the making (``.<stage>.running.ipynb``) that a
    killed run left in the report folder."""
    for scratch in (report / EXECUTED_FOLDER).glob(".*.running.ipynb"):
        scratch.unlink(missing_ok=True)


def prepare_output_folders(settings: RunSettings) -> None:
    for folder in (settings.paths.processed, settings.paths.report):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError(f"{folder}: cannot create the output folder ({error.strerror})") from None
        if not os.access(folder, os.W_OK):
            raise InputError(f"{folder}: output folder is not writable")


def run_pipeline(
    settings: RunSettings,
    renderer: str = "auto",
    force: bool = False,
    say: Callable[[str], None] = print,
    wait: bool = True,
) -> Rendered:
    """Every stage, then the render, each skipped when nothing it depends on
    changed; all or nothing: a failure leaves the last good outputs as they were.

    One run at a time per output folder: a run that shares a folder with a
    run in progress waits for it (``wait``), or raises
    :class:`mentoring_eval.locking.FolderBusy`.
    """
    with exclusive_run(settings, wait, say):
        return _run_and_render(settings, renderer, force, say)


@contextlib.contextmanager
def exclusive_run(settings: RunSettings, wait: bool = True, say: Callable[[str], None] = print) -> Iterator[None]:
    """What every command writing the output folders runs inside (``run``,
    ``sites``): the folders made, locked against other runs, put right after
    a killed run, and changed only if the whole command succeeds."""
    prepare_output_folders(settings)
    folders = [settings.paths.processed, settings.paths.report]
    with output_lock(folders, wait=wait, say=say):
        recover_interrupted_run(folders, say)
        remove_scratch_notebooks(settings.paths.report)
        with all_or_nothing(folders, say):
            yield


def _run_and_render(settings: RunSettings, renderer: str, force: bool, say: Callable[[str], None]) -> Rendered:
    executed, report_fingerprint = run_stages(settings, force, say)
    chosen, why = choose_renderer(renderer)
    state_path = settings.paths.report / STATE_FILE
    state = _read_state(state_path)
    # The Quarto project's options (layout, formats) are part of what is rendered.
    template = settings.paths.root / QUARTO_TEMPLATE
    options = sha256_of_file(template) if chosen == "quarto" and template.is_file() else ""
    render_key = hashlib.sha256(f"{report_fingerprint}:{chosen}:{options}".encode()).hexdigest()
    previous = state.get("render", {})
    if (
        not force
        and previous.get("key") == render_key
        and previous.get("outputs")
        and all((settings.paths.report / p).exists() for p in previous["outputs"])
    ):
        say(f"[render] {chosen} skipped (unchanged)")
        return Rendered(chosen, tuple(settings.paths.report / p for p in previous["outputs"]), why)
    started = time.perf_counter()
    rendered = render(executed[-1], settings.paths.report, settings.paths.root, chosen)
    say(f"[render] {rendered.renderer} ({why}) in {time.perf_counter() - started:.1f} s")
    state["render"] = {
        "key": render_key,
        "outputs": [str(p.relative_to(settings.paths.report)) for p in rendered.outputs],
    }
    _write_state(state_path, state)
    return rendered
