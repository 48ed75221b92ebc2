"""The regression suite has teeth, and runs are byte-for-byte deterministic."""

import csv
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOG = "mentoring_log.csv"


def copy_project(target: Path) -> Path:
    """What nbval needs to run the notebooks elsewhere: the notebooks, the
    data, the project marker, the citation the report cites and the
    sanitiser (the package is installed)."""
    for name in ("pyproject.toml", "_quarto.yml", "CITATION.cff"):
        shutil.copy(ROOT / name, target / name)
    shutil.copytree(ROOT / "quarto", target / "quarto")
    shutil.copytree(ROOT / "notebooks", target / "notebooks")
    shutil.copytree(ROOT / "data" / "raw", target / "data" / "raw")
    shutil.copytree(ROOT / "data" / "reference", target / "data" / "reference")
    (target / "data" / "processed").mkdir()
    (target / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "nbval_sanitize.cfg", target / "tests" / "nbval_sanitize.cfg")
    return target


def change_one_session(log: Path) -> int:
    """Add five minutes to one single-site contact of mid-2019 (inside every
    site's window, so it is counted); returns its line."""
    text = log.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(text.splitlines()))
    for line, row in enumerate(rows[1:], start=2):
        date, site, minutes = row[0], row[1], row[5]
        if date.startswith("2019-06") and re.fullmatch(r"\s*(site\s*|s)?\d+\s*", site, re.I) and minutes.isdigit():
            row[5] = str(int(minutes) + 5)
            with open(log, "w", newline="", encoding="utf-8-sig") as handle:
                csv.writer(handle, lineterminator="\n").writerows(rows)
            return line
    raise AssertionError("no plain single-site contact of June 2019 to change")


def run_nbval(project: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "notebooks", "-q"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_one_changed_raw_record_fails_the_regression_run_and_names_the_cell(tmp_path):
    project = copy_project(tmp_path)
    change_one_session(project / "data" / "raw" / LOG)
    result = run_nbval(project)
    report = result.stdout + result.stderr
    assert result.returncode != 0, report[-3000:]
    # Table 4 moved: the site-metrics notebook names the cell, and so do the figures and the report.
    assert "02_site_metrics.ipynb::Cell" in report, report[-3000:]
    failed = [line for line in report.splitlines() if line.startswith("FAILED")]
    assert any("02_site_metrics.ipynb::Cell" in line for line in failed), failed
    assert any("03_figures.ipynb::Cell" in line for line in failed), failed


@pytest.mark.slow
def test_the_unchanged_copy_passes_the_same_regression_run(tmp_path):
    """The control: the copy itself, unchanged, passes (so the failure above is the change's)."""
    result = run_nbval(copy_project(tmp_path))
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def tree_digest(*folders: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder.parent)): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(".log")
    }


def test_two_full_runs_give_byte_identical_outputs(bundled_run):
    """The session's run of the bundled records (conftest.py): a first run, then
    ``--force`` into the same folders; every output the same bytes (the kernel's
    own log aside)."""
    first, second = (
        {name: digest for name, digest in files.items() if not name.endswith(".log")}
        for files in (bundled_run.after_first, bundled_run.after_forced)
    )
    assert first == second, sorted(name for name in first if first[name] != second.get(name))
    expected = {
        "processed/site_metrics.csv",
        "processed/contacts.parquet",
        "report/figures/dose_by_site.svg",
        "report/notebooks/04_report.ipynb",
        "report/report.html",
    }
    assert expected <= set(first)


def clone_of_this_checkout(target: Path) -> Path:
    """``git clone`` of this checkout, with its uncommitted changes to tracked
    files applied: the same commit (and the same edits) at another path."""
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)], check=True)
    changes = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=ROOT, check=True, capture_output=True).stdout
    if changes:
        subprocess.run(["git", "apply", "--whitespace=nowarn"], cwd=target, input=changes, check=True)
    return target


@pytest.mark.slow
def test_two_clones_at_different_paths_give_byte_identical_outputs(tmp_path):
    """No absolute path of the machine in any output: the executed notebooks'
    parameters and metadata, the run's fingerprints and the report name folders
    relative to the project. One clone's path has a space in it."""
    clones = [clone_of_this_checkout(tmp_path / "first"), clone_of_this_checkout(tmp_path / "second clone" / "x")]
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "mentoring_eval", "run", "--renderer", "nbconvert"],
            cwd=clone,
            env={**os.environ, "PYTHONPATH": str(clone / "src")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for clone in clones
    ]  # side by side: the two runs are independent
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, out + err
    first, second = (tree_digest(clone / "data" / "processed", clone / "report") for clone in clones)
    assert first == second, sorted(name for name in first if first[name] != second.get(name))
    expected = {
        "processed/site_metrics.csv",
        "processed/contacts.parquet",
        "report/figures/dose_by_site.svg",
        "report/notebooks/01_clean.ipynb",
        "report/notebooks/04_report.ipynb",
        "report/report.html",
    }
    assert expected <= set(first)
    for clone in clones:
        for notebook in (clone / "report" / "notebooks").glob("*.ipynb"):
            assert str(clone) not in notebook.read_text(encoding="utf-8"), notebook
