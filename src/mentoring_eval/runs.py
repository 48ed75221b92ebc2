"""One engine for every command that writes a run's folders (``run``,
``sites``, ``bundle``, and ``verify``'s own run): fingerprints and the state
they are kept in, the stages run or skipped in order, the render, snapshots
that make a command all or nothing, and the lock.

Each stage is skipped when nothing it depends on has changed: its notebook,
its parameters, the package's code, and its inputs (the raw files for the
clean stage; the previous stage's fingerprint for the others, since every
stage's outputs are a deterministic function of what went into it). The
stages themselves (notebooks, parameters, executing one) are
:mod:`mentoring_eval.pipeline`.

A command that writes the folders runs inside :func:`exclusive_run`::

    with runs.exclusive_run(settings, wait, say):
        rendered = runs.run_and_render(settings, renderer, force, say)
        ...  # the command's own work, all or nothing with the run
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from mentoring_eval.errors import InputError
from mentoring_eval.kernels import StageKernel
from mentoring_eval.locking import output_lock
from mentoring_eval.pipeline import (
    EXECUTED_FOLDER,
    KERNEL_LOG,
    STAGES,
    RunSettings,
    Stage,
    execute_notebook,
    executed_notebook_path,
)
from mentoring_eval.provenance import installed_lock, raw_inputs_digest, recorded_inputs_digest, sha256_of_file
from mentoring_eval.render import QUARTO_TEMPLATE, Rendered, choose_renderer, render, retitle_notebook_file

STATE_FILE = ".pipeline-state.json"  # inside the report folder: each stage's fingerprint and the render's


# ---------------------------------------------------------------- fingerprints


CODE_SUFFIXES = (".py", ".scss", ".typ", ".css")


def package_code_digest(package: Path = Path(__file__).parent) -> str:
    """One digest of every module of the package, its subpackages (the
    charts) and its theme (the pages' SCSS and CSS, the PDFs' Typst rules)
    included: a code change reruns every stage. Files go in by their path
    inside the package, in sorted order, so the digest is the same in any
    checkout."""
    digest = hashlib.sha256()
    for module in sorted(path for path in package.rglob("*") if path.suffix in CODE_SUFFIXES):
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
            **({"also": also} if (also := stage.also_depends_on(settings)) else {}),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


# ---------------------------------------------------------------- state


def read_state(path: Path) -> dict:
    """A state file (fingerprints of what was made); {} when absent or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_state(path: Path, state: dict) -> None:
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(scratch, path)


# ---------------------------------------------------------------- the run


def run_stages(
    settings: RunSettings, force: bool = False, say: Callable[[str], None] = print
) -> tuple[list[Path], str]:
    """Run (or skip) every stage in order; returns the executed notebooks and
    the last stage's fingerprint. The output folders must exist
    (:func:`prepare_output_folders`)."""
    state_path = settings.paths.report / STATE_FILE
    state = {} if force else read_state(state_path)
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
    write_state(state_path, state)
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
    if stage is STAGES[-1]:  # the report is titled with the trial's name (Quarto and nbconvert read the title)
        retitle_notebook_file(target, settings.trial.report_title)
    if stage is STAGES[0]:  # the files as the clean stage hashed them, whatever they are now
        upstream = recorded_inputs_digest(settings.paths.processed)
        fingerprint = stage_fingerprint(stage, settings, upstream, code)
    state[stage.name] = fingerprint
    write_state(state_path, state)
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
        return run_and_render(settings, renderer, force, say)


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


def run_and_render(settings: RunSettings, renderer: str, force: bool, say: Callable[[str], None]) -> Rendered:
    executed, report_fingerprint = run_stages(settings, force, say)
    chosen, why = choose_renderer(renderer)
    state_path = settings.paths.report / STATE_FILE
    state = read_state(state_path)
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
    write_state(state_path, state)
    return rendered
