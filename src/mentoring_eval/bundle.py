"""``python -m mentoring_eval bundle``: one archive of a run that a reviewer can check.

The run is brought up to date first (each stage skipped when unchanged, under
the run's lock: :mod:`mentoring_eval.runs`), then one zip is written holding
the rendered report, the site pages when they are current, the executed
notebooks, the processed outputs and the figures, the code at the run's
commit with its exact pins, the Python and Quarto versions, the input files'
SHA-256 and, only when they may be shared, the records themselves; a manifest
with every file's SHA-256 and a README for the person who opens it.
``python -m mentoring_eval verify`` (:mod:`mentoring_eval.verify`) re-runs it.

A plain zip, not MECA: see the README's "Checking a report". The same run
gives the same bytes: entries sorted, one fixed timestamp and permission, no
folder of the machine in any file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mentoring_eval import provenance, runs
from mentoring_eval.errors import InputError
from mentoring_eval.paths import shown
from mentoring_eval.pipeline import EXECUTED_FOLDER, RunSettings
from mentoring_eval.render import NBCONVERT_REPORT, QUARTO_OUTPUT, Rendered, find_quarto, render_with_nbconvert

FORMAT = "mentoring-eval bundle 1"
TOP = "mentoring-eval-bundle"  # every entry lies in this folder, so unzipping makes one folder
MANIFEST = "MANIFEST.sha256"  # `sha256sum -c MANIFEST.sha256` in the unzipped folder checks every other file
DESCRIPTION = "bundle.json"
README = "README.txt"
CODE, RECORDS, OUTPUTS = "code", "records", "outputs"
# What verify compares, byte for byte: group name -> folder inside outputs/.
COMPARED = {
    "processed outputs": "processed",
    "figures": "report/figures",
    "executed notebooks": f"report/{EXECUTED_FOLDER}",
    "nbconvert report": f"report/{NBCONVERT_REPORT}",
}
# Tracked files that are not the code that made the outputs: the records travel
# apart (shareable ones only), the tests and benchmarks made nothing.
NOT_CODE = ("data/raw/", "tests/", "benchmarks/")
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no clock in the archive
FILE_MODE = 0o644
DEFAULT_OUT = "mentoring-eval-bundle.zip"


@dataclass(frozen=True)
class Bundle:
    path: Path
    files: int
    records_included: bool
    uncommitted: tuple[str, ...]


# ---------------------------------------------------------------- the archive, deterministic


def zip_entry(name: str) -> zipfile.ZipInfo:
    """A zip entry that says nothing of the machine or the moment: fixed time,
    permissions and system, deflated."""
    info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    info.external_attr = (0o100000 | FILE_MODE) << 16  # a regular file, rw-r--r--
    info.create_system = 3  # Unix, whichever system wrote it
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def manifest_text(files: dict[str, bytes]) -> str:
    """``sha256sum`` format, sorted by name: every file of the archive but the manifest."""
    return "".join(f"{hashlib.sha256(files[name]).hexdigest()}  {name}\n" for name in sorted(files))


def write_archive(files: dict[str, bytes], target: Path) -> int:
    """Write ``files`` (name inside the archive's folder -> bytes) and their
    manifest as one zip at ``target``, replacing it only once complete;
    returns the number of entries."""
    everything = {**files, MANIFEST: manifest_text(files).encode()}
    scratch = target.with_name(f".{target.name}.tmp")
    with zipfile.ZipFile(scratch, "w") as archive:
        for name in sorted(everything):
            archive.writestr(zip_entry(f"{TOP}/{name}"), everything[name], compresslevel=9)
    os.replace(scratch, target)
    return len(everything)


# ---------------------------------------------------------------- what goes in


def _git(root: Path, *arguments: str) -> str:
    try:
        return subprocess.run(["git", *arguments], cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        raise InputError(f"{root}: not a git checkout; bundle takes the code from git (its files and commit)") from None


def is_code(name: str, run_folders: tuple[str, ...] = ()) -> bool:
    """Whether a file of the project is code: not under :data:`NOT_CODE`, a
    hidden folder or one of the run's own folders (records, outputs: a
    records folder inside the project must never travel as code)."""
    excluded = NOT_CODE + tuple(f"{folder.rstrip('/')}/" for folder in run_folders)
    return not name.startswith(excluded) and not any(part.startswith(".") for part in name.split("/")[:-1])


def code_files(root: Path, run_folders: tuple[str, ...]) -> list[str]:
    """The project's files as the working tree holds them: tracked ones and new
    ones git does not ignore (a new module is code too), minus what is not code
    (:func:`is_code`)."""
    listed = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    return sorted({name for name in listed if name and is_code(name, run_folders) and (root / name).is_file()})


def uncommitted_changes(root: Path, run_folders: tuple[str, ...]) -> tuple[str, ...]:
    """The archived files that differ from the commit (changed, added or new)."""
    fields = iter(_git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all").split("\0"))
    changed = set()
    for field in fields:
        if len(field) > 3:
            changed.add(field[3:])
            if field[0] in "RC":  # a rename or copy: the next field is where it came from
                next(fields, None)
    return tuple(sorted(name for name in changed if is_code(name, run_folders)))


def pin_files(names: list[str]) -> list[str]:
    """The exact pins at the project's root: whatever requirements, constraints,
    environment and lock files are there (a new lock is carried without a change here)."""
    return [
        name
        for name in names
        if "/" not in name
        and (name.startswith(("requirements", "constraints")) or name == "environment.yml" or name.endswith(".lock"))
    ]


def files_under(folder: Path, prefix: str) -> dict[str, Path]:
    """Every file under ``folder`` but hidden ones (state, logs, scratch) and
    failed notebooks, by ``prefix/relative path``."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(p.startswith(".") for p in relative.parts) and ".failed." not in path.name:
            found[f"{prefix}/{relative.as_posix()}"] = path
    return found


def report_files(settings: RunSettings, rendered: Rendered, site_files: list[Path]) -> dict[str, Path]:
    """The report folder's part of the archive: figures, executed notebooks, the
    nbconvert report, Quarto's output when Quarto rendered this run, and the
    site pages when they are current."""
    report = settings.paths.report
    chosen = files_under(report / "figures", f"{OUTPUTS}/report/figures")
    chosen |= files_under(report / EXECUTED_FOLDER, f"{OUTPUTS}/report/{EXECUTED_FOLDER}")
    chosen[f"{OUTPUTS}/report/{NBCONVERT_REPORT}"] = report / NBCONVERT_REPORT
    if rendered.renderer == "quarto":
        chosen |= files_under(report / QUARTO_OUTPUT, f"{OUTPUTS}/report/{QUARTO_OUTPUT}")
    for path in site_files:
        chosen[f"{OUTPUTS}/report/{path.relative_to(report).as_posix()}"] = path
    return chosen


def quarto_version() -> str | None:
    quarto = find_quarto()
    if quarto is None:
        return None
    completed = subprocess.run([quarto, "--version"], capture_output=True, text=True)
    return completed.stdout.strip() or None


def inside_project(settings: RunSettings) -> dict[str, str]:
    """The run's folders as its notebooks name them; each must lie inside the
    project: a folder outside it is named by its absolute path, which a re-run
    on another machine cannot reproduce (nor should an archive carry it)."""
    folders = {name: getattr(settings.paths, name) for name in ("raw", "processed", "report")}
    named = {name: shown(folder, settings.paths.root) for name, folder in folders.items()}
    outside = [f"--{name} {folders[name]}" for name, shown_as in named.items() if Path(shown_as).is_absolute()]
    if outside:
        raise InputError(
            f"{outside[0]} is outside the project ({settings.paths.root}): a bundle can only hold a run whose "
            "folders lie inside it (the executed notebooks name any other folder by its absolute path, which "
            "verify cannot reproduce elsewhere); copy the records into the project, e.g. data/<trial>/"
        )
    return named


def records_decision(settings: RunSettings, include_records: bool) -> tuple[bool, str]:
    """Whether the records go in, and the line saying so. Only the project's
    own synthetic records (CC0) go in unasked: any other records may be
    participants' and travel only when the user says so."""
    from mentoring_eval.report import is_bundled_synthetic
    from mentoring_eval.synth import SYNTHETIC_MANIFEST

    shipped = (settings.paths.reference / SYNTHETIC_MANIFEST).read_text(encoding="utf-8")
    if is_bundled_synthetic(provenance.read_input_record(settings.paths.processed), shipped):
        return True, "records: included (the project's synthetic records, CC0: no real person is described)"
    if include_records:
        return True, "records: INCLUDED, as asked (--include-records): these are not the bundled synthetic records"
    return False, (
        "records: left out (not the bundled synthetic records: they may be participants' records); "
        "their SHA-256 are in bundle.json, and verify takes them with --raw DIR (--include-records puts them in)"
    )


def record_files(settings: RunSettings) -> dict[str, Path]:
    """The raw files the clean stage read, checked to be those bytes still."""
    recorded = provenance.read_input_record(settings.paths.processed)
    chosen = {}
    for name, digest in zip(recorded["file"], recorded["sha256"]):
        path = settings.paths.raw / name
        if not path.is_file() or provenance.sha256_of_file(path) != digest:
            raise InputError(f"{path}: changed since the run read it; run bundle again")
        chosen[f"{RECORDS}/{name}"] = path
    return chosen


def description(
    settings: RunSettings,
    folders: dict[str, str],
    renderer: str,
    records_included: bool,
    records_line: str,
    uncommitted: tuple[str, ...],
    pins: list[str],
) -> dict:
    """``bundle.json``: what the archive holds and how it was made; no date, no machine path."""
    recorded = provenance.read_input_record(settings.paths.processed)
    return {
        "format": FORMAT,
        "commit": provenance.git_commit(settings.paths.root),
        "uncommitted_changes": list(uncommitted),
        "python": platform.python_version(),
        "platform": f"{sys.platform}-{platform.machine()}",
        "quarto": quarto_version(),
        "run": {
            **folders,
            "as_of": settings.as_of.isoformat(),
            "expected_minutes": settings.expected_minutes,
            "renderer": renderer,
        },
        "records": {"included": records_included, "note": records_line},
        "inputs": [
            {"file": name, "bytes": int(size), "sha256": digest}
            for name, size, digest in zip(recorded["file"], recorded["bytes"], recorded["sha256"])
        ],
        "pins": pins,
        "compared": COMPARED,
    }


def readme_text(info: dict) -> str:
    """The README for the person who opens the archive."""
    commit = info["commit"]
    changed = (
        f"\nThe code has UNCOMMITTED CHANGES against that commit; the files are as they were when bundled:"
        f" {', '.join(info['uncommitted_changes'])}.\n"
        if info["uncommitted_changes"]
        else ""
    )
    run = info["run"]
    return f"""A mentoring-eval report, with everything needed to check it
==========================================================

This archive holds one run of the mentoring-eval pipeline: the records as of
{run["as_of"]} (expected minutes per site per month: {run["expected_minutes"]}),
the code that processed them, the exact package versions it ran with, and
every output it made. Anyone can re-run it and check that each output comes
out the same, byte for byte.

Code: commit {commit}.{changed}
Made with Python {info["python"]} on {info["platform"]}; Quarto {info["quarto"] or "not installed (nbconvert rendered the report)"}.
{info["records"]["note"]}.

What is here
------------

- outputs/report/       the rendered report (report.html, one self-contained
                        page; quarto/index.html and quarto/report.pdf when
                        Quarto rendered it), figures/, the executed notebooks
                        (notebooks/) and, when current, the site pages (sites/)
- outputs/processed/    the processed outputs (Table 4 is site_metrics.csv;
                        input_files.csv is the SHA-256 of every input file)
- records/              the input records, when they may be shared
- code/                 the project at that commit: src/, notebooks/, the
                        pins ({", ".join(info["pins"])}), _quarto.yml
- bundle.json           how the run was made: commit, versions, parameters,
                        the input files' SHA-256
- MANIFEST.sha256       the SHA-256 of every other file
                        (check it: sha256sum -c MANIFEST.sha256)

Checking it
-----------

With Python {info["python"]} and this archive (call it bundle.zip):

    unzip bundle.zip
    PYTHONPATH={TOP}/code/src python3 -m mentoring_eval verify bundle.zip

verify builds a fresh Python environment from the archive's pins, re-runs the
archived pipeline on the archived records (or on yours: --raw DIR, checked
against the SHA-256 above first), and compares the processed outputs, the
figures, the executed notebooks and the nbconvert report with the archived
ones. Exit status 0: every file identical; 1: a file differs (the first ones
are named); 2: the archive or the records are not what it says; 3: it cannot
judge here (another Python version, or no wheels for this platform).
"""


# ---------------------------------------------------------------- the command


def make_bundle(
    settings: RunSettings,
    out: Path,
    renderer: str = "auto",
    force: bool = False,
    include_records: bool = False,
    say: Callable[[str], None] = print,
    wait: bool = True,
) -> Bundle:
    """Bring the run up to date and write its archive to ``out`` (all under the run's lock)."""
    from mentoring_eval.site_pages import current_site_files

    folders = inside_project(settings)
    root = settings.paths.root
    run_folders = tuple(folders.values())
    code = code_files(root, run_folders)  # before the run: not a git checkout is said at once
    uncommitted = uncommitted_changes(root, run_folders)
    with runs.exclusive_run(settings, wait, say):
        rendered = runs.run_and_render(settings, renderer, force, say)
        if rendered.renderer != "nbconvert":  # verify compares the nbconvert report: there must be one, current
            render_with_nbconvert(rendered_report_notebook(settings), settings.paths.report)
            say(f"[bundle] nbconvert report written beside the {rendered.renderer} render, for verify to compare")
        included, records_line = records_decision(settings, include_records)
        sites, site_files = current_site_files(settings, rendered.renderer)
        say(f"[bundle] site pages: {f'{len(sites)} current, included' if sites else 'none current, left out'}")
        chosen = report_files(settings, rendered, site_files)
        chosen |= files_under(settings.paths.processed, f"{OUTPUTS}/processed")
        chosen |= {f"{CODE}/{name}": root / name for name in code}
        if included:
            chosen |= record_files(settings)
        files = {name: path.read_bytes() for name, path in chosen.items()}
    info = description(settings, folders, rendered.renderer, included, records_line, uncommitted, pin_files(code))
    files[f"{CODE}/{provenance.SOURCE_COMMIT_FILE}"] = (info["commit"] + "\n").encode()
    files[DESCRIPTION] = (json.dumps(info, indent=2, sort_keys=True) + "\n").encode()
    files[README] = readme_text(info).encode()
    count = write_archive(files, out)
    say(records_line)
    if uncommitted:
        say(
            f"code: commit {info['commit']}, with uncommitted changes in {', '.join(uncommitted)} (archived as they are)"
        )
    return Bundle(out, count, included, uncommitted)


def rendered_report_notebook(settings: RunSettings) -> Path:
    from mentoring_eval.pipeline import STAGES, executed_notebook_path

    return executed_notebook_path(settings, STAGES[-1])
