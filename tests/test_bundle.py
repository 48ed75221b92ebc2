"""``bundle`` and ``verify``: one archive a reviewer can check, checked.

The bundles are made in a copy of the project as this working tree holds it
(a git clone with the working tree's files over it), with its own default
folders: a bundle holds only runs whose folders lie inside the project.
Every ``verify`` here reuses this test environment (``--reuse-env``, checked
against the pins); the whole fresh-environment verification runs only when
``MENTORING_EVAL_FRESH_VERIFY=1`` (a minute or more: it installs every pin).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mentoring_eval.bundle import MANIFEST, TOP, manifest_text, pin_files, uncommitted_changes, write_archive

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def project_copy(target: Path) -> Path:
    """A clone of the project with the working tree's files over it (what is
    being tested is the working tree, committed or not)."""
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source, copy = ROOT / name, target / name
        if source.is_file():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, copy)
        elif copy.exists():  # deleted in the working tree
            copy.unlink()
    return target


def command(project: Path, *arguments: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """``python -m mentoring_eval ...`` as a user types it in ``project``, with that project's code."""
    return subprocess.run(
        [sys.executable, "-m", "mentoring_eval", *arguments],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(project / "src")},
    )


def entries(archive: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(archive) as opened:
        return {info.filename.removeprefix(f"{TOP}/"): opened.read(info) for info in opened.infolist()}


def rewritten(archive: Path, target: Path, change, resign: bool) -> Path:
    """A copy of ``archive`` with ``change(files)`` applied; with ``resign`` its
    manifest is made again, as someone covering their tracks would."""
    files = entries(archive)
    listed = files.pop(MANIFEST)
    change(files)
    if resign:
        write_archive(files, target)
    else:
        with zipfile.ZipFile(target, "w") as opened:
            for name, data in sorted({**files, MANIFEST: listed}.items()):
                opened.writestr(f"{TOP}/{name}", data)
    return target


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("bundle")
    project = project_copy(base / "project")
    first = command(project, "bundle", "--renderer", "nbconvert", "--out", str(base / "first.zip"))
    second = command(project, "bundle", "--renderer", "nbconvert", "--out", str(base / "second.zip"))
    return {"base": base, "project": project, "first": first, "second": second, "archive": base / "first.zip"}


def verify(project: Path, archive: Path, *arguments: str) -> subprocess.CompletedProcess:
    return command(project, "verify", str(archive), "--reuse-env", sys.prefix, *arguments)


def test_a_bundle_holds_the_report_outputs_code_pins_and_the_shareable_records(made):
    assert made["first"].returncode == 0, made["first"].stderr
    files = entries(made["archive"])
    for name in (
        "README.txt",
        "bundle.json",
        "outputs/report/report.html",
        "outputs/report/notebooks/04_report.ipynb",
        "outputs/report/figures/dose_by_site.svg",
        "outputs/processed/site_metrics.csv",
        "outputs/processed/input_files.csv",
        "code/src/mentoring_eval/pipeline.py",
        "code/notebooks/01_clean.ipynb",
        "code/requirements.txt",
        "code/constraints.txt",
        "code/environment.yml",
        "code/_quarto.yml",
        "code/SOURCE_COMMIT",
        "records/mentoring_log.csv",
    ):
        assert name in files, name
    assert not [name for name in files if name.startswith(("code/tests/", "code/data/raw/"))]
    info = json.loads(files["bundle.json"])
    assert info["python"] and info["run"]["raw"] == "data/raw" and info["records"]["included"]
    assert {entry["file"] for entry in info["inputs"]} == {
        name.removeprefix("records/") for name in files if name.startswith("records/")
    }
    # every file but the manifest is in it, with its SHA-256
    manifest = files.pop(MANIFEST).decode()
    assert manifest == manifest_text(files)
    assert "records: included (the project's synthetic records" in made["first"].stdout


def test_two_bundles_of_the_same_run_are_byte_identical_and_name_no_folder_of_the_machine(made):
    assert made["second"].returncode == 0, made["second"].stderr
    assert "skipped (unchanged)" in made["second"].stdout
    assert (made["base"] / "first.zip").read_bytes() == (made["base"] / "second.zip").read_bytes()
    with zipfile.ZipFile(made["archive"]) as opened:
        assert {info.date_time for info in opened.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        names = [info.filename for info in opened.infolist()]
    assert names == sorted(names)
    for name, data in entries(made["archive"]).items():
        assert str(made["base"]).encode() not in data, name


def test_the_archive_verifies_identical_on_its_own_records_and_on_the_users(made):
    result = verify(made["project"], made["archive"], "--raw", str(made["project"] / "data" / "raw"))
    assert result.returncode == 0, result.stdout + result.stderr
    for group in ("processed outputs", "figures", "executed notebooks", "nbconvert report"):
        assert any(line.startswith(group) and "identical" in line for line in result.stdout.splitlines()), group
    assert "REPRODUCED" in result.stdout and "Traceback" not in result.stderr


def change_record(files: dict) -> None:
    files["records/sites.csv"] = files["records/sites.csv"].replace(b"\n", b"\r\n", 1)


def test_an_altered_archive_is_caught_by_its_manifest(made, tmp_path):
    for change, message in (
        (change_record, "records/sites.csv does not match its SHA-256 in the manifest"),
        (
            lambda f: f.pop("outputs/processed/site_metrics.csv"),
            "outputs/processed/site_metrics.csv is listed in its manifest but missing",
        ),
    ):
        result = verify(made["project"], rewritten(made["archive"], tmp_path / "altered.zip", change, resign=False))
        assert result.returncode == 2, result.stdout + result.stderr
        assert message in result.stderr and len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr


def test_a_record_changed_is_caught_against_the_archived_hashes_before_anything_runs(made, tmp_path):
    altered = rewritten(made["archive"], tmp_path / "altered.zip", change_record, resign=True)
    result = verify(made["project"], altered)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "error: the archive's records/sites.csv: its SHA-256 differs from the one the archived run recorded"
    )
    mine = tmp_path / "mine"
    shutil.copytree(made["project"] / "data" / "raw", mine)
    (mine / "ots.csv").write_bytes((mine / "ots.csv").read_bytes() + b"\n")
    result = verify(made["project"], made["archive"], "--raw", str(mine))
    assert result.returncode == 2 and result.stderr.strip().endswith(
        "mine/ots.csv: its SHA-256 differs from the one the archived run recorded"
    ), result.stderr


def test_an_output_changed_or_missing_with_the_manifest_made_again_is_caught_by_the_rerun(made, tmp_path):
    def change(files: dict) -> None:
        files["outputs/processed/site_metrics.csv"] = files["outputs/processed/site_metrics.csv"].replace(
            b"1490", b"1491"
        )
        del files["outputs/report/figures/mode_by_site.svg"]

    result = verify(made["project"], rewritten(made["archive"], tmp_path / "altered.zip", change, resign=True))
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("processed outputs") and "processed/site_metrics.csv: differs" in line for line in lines)
    assert any(
        line.startswith("figures")
        and "report/figures/mode_by_site.svg: made by the re-run, missing from the archive" in line
        for line in lines
    )
    assert any(line.startswith("executed notebooks") and "identical" in line for line in lines)
    assert "NOT REPRODUCED" in result.stdout and "Traceback" not in result.stderr


def test_another_python_cannot_be_judged_and_a_wrong_environment_is_refused(made, tmp_path):
    def other_python(files: dict) -> None:
        info = json.loads(files["bundle.json"])
        files["bundle.json"] = json.dumps({**info, "python": "3.10.4"}).encode()

    result = verify(made["project"], rewritten(made["archive"], tmp_path / "py.zip", other_python, resign=True))
    assert result.returncode == 3, result.stdout + result.stderr
    assert (
        result.stderr.startswith("cannot judge: the archive was made with Python 3.10.4")
        and "compute differently" in result.stderr
    )

    def other_pin(files: dict) -> None:
        pins = files["code/requirements.txt"].decode().splitlines()
        first = next(i for i, line in enumerate(pins) if "==" in line and not line.startswith("#"))
        name = pins[first].split("==")[0]
        pins[first] = f"{name}==0.0.1"
        files["code/requirements.txt"] = ("\n".join(pins) + "\n").encode()
        files.pop("code/requirements.lock", None)

    result = verify(made["project"], rewritten(made["archive"], tmp_path / "pin.zip", other_pin, resign=True))
    assert result.returncode == 2 and "the archive pins 0.0.1" in result.stderr, result.stdout + result.stderr


def test_records_that_are_not_the_bundled_synthetic_ones_stay_out_unless_asked(made):
    project = made["project"]
    other = project / "data" / "other-trial"
    shutil.copytree(project / "data" / "raw", other)
    log = other / "mentoring_log.csv"
    last_line = log.read_bytes().rstrip(b"\r\n").rsplit(b"\n", 1)[-1]
    log.write_bytes(log.read_bytes() + last_line + b"\n")  # a duplicate row: valid, not the shipped records
    folders = ("--raw", str(other), "--processed", str(project / "data" / "processed-other"))
    folders += ("--report", str(project / "report-other"), "--renderer", "nbconvert")
    result = command(project, "bundle", *folders, "--out", str(made["base"] / "real.zip"))
    assert result.returncode == 0, result.stderr
    assert "records: left out (not the bundled synthetic records" in result.stdout
    files = entries(made["base"] / "real.zip")
    assert not [name for name in files if name.startswith("records/")]
    assert not [name for name, data in files.items() if data == log.read_bytes()]
    assert not json.loads(files["bundle.json"])["records"]["included"]
    result = verify(project, made["base"] / "real.zip")
    assert result.returncode == 2 and "give them with --raw DIR" in result.stderr, result.stderr
    result = command(project, "bundle", *folders, "--include-records", "--out", str(made["base"] / "flagged.zip"))
    assert result.returncode == 0, result.stderr
    assert "records: INCLUDED, as asked (--include-records)" in result.stdout
    assert entries(made["base"] / "flagged.zip")["records/mentoring_log.csv"] == log.read_bytes()


def test_current_site_pages_are_bundled_and_stale_ones_are_not(made):
    """After ``sites``, the pages are current and go in; once the run has
    changed (another expected dose), they are no longer current and stay out."""
    project, archive = made["project"], made["base"] / "sites.zip"
    pages = command(project, "sites", "--renderer", "nbconvert", "--site", "2")
    assert pages.returncode == 0, pages.stderr
    result = command(project, "bundle", "--renderer", "nbconvert", "--out", str(archive))
    assert result.returncode == 0 and "[bundle] site pages: 1 current, included" in result.stdout, result.stderr
    names = set(entries(archive))
    assert {"outputs/report/sites/index.html", "outputs/report/sites/site-2.html"} <= names
    assert "outputs/report/sites/notebooks/site-2.ipynb" in names
    result = command(project, "bundle", "--renderer", "nbconvert", "--expected-minutes", "45", "--out", str(archive))
    assert result.returncode == 0 and "[bundle] site pages: none current, left out" in result.stdout, result.stderr
    assert not [name for name in entries(archive) if "/sites/" in name]


def test_a_run_with_folders_outside_the_project_is_refused_in_one_line(made, tmp_path):
    result = command(made["project"], "bundle", "--processed", str(tmp_path / "p"), "--out", str(tmp_path / "x.zip"))
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "is outside the project" in result.stderr and not (tmp_path / "x.zip").exists()


@pytest.mark.skipif(
    os.environ.get("MENTORING_EVAL_FRESH_VERIFY") != "1",
    reason="the whole fresh-environment verify installs every pin (a minute or more): "
    "set MENTORING_EVAL_FRESH_VERIFY=1 to run it",
)
def test_a_fresh_environment_from_the_archive_alone_reproduces_every_output(made, tmp_path):
    """As a reviewer runs it: a bare Python, the archive's own code, nothing of this checkout."""
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(made["archive"]) as opened:
        opened.extractall(unpacked)
    result = subprocess.run(
        [sys.base_prefix + "/bin/python3", "-m", "mentoring_eval", "verify", str(made["archive"])],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1800,
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "PYTHONPATH": str(unpacked / TOP / "code" / "src"),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[environment] built in" in result.stdout and "REPRODUCED" in result.stdout


def test_manifest_lines_are_what_sha256sum_checks():
    assert manifest_text({"b": b"2", "a": b"1"}) == (
        f"{hashlib.sha256(b'1').hexdigest()}  a\n{hashlib.sha256(b'2').hexdigest()}  b\n"
    )


def test_every_pin_and_lock_file_at_the_root_is_carried_as_a_pin():
    names = ["README.md", "constraints.txt", "environment.yml", "requirements-uv.lock", "requirements.lock"]
    names += ["requirements.txt", "src/mentoring_eval/x.lock", "uv.lock"]
    assert pin_files(names) == [
        "constraints.txt",
        "environment.yml",
        "requirements-uv.lock",
        "requirements.lock",
        "requirements.txt",
        "uv.lock",
    ]


def test_uncommitted_changes_name_each_changed_file_once_renames_included(tmp_path):
    def git(*arguments: str) -> None:
        subprocess.run(["git", *arguments], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("x = 1\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.py").write_text("")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "first")
    git("mv", "a.py", "renamed.py")
    (tmp_path / "b.py").write_text("x = 2\n")
    (tmp_path / "new.py").write_text("")
    (tmp_path / "tests" / "t.py").write_text("changed")
    assert uncommitted_changes(tmp_path, ()) == ("b.py", "new.py", "renamed.py")


def test_a_lock_may_pin_a_package_once_per_python_and_each_pin_is_allowed(tmp_path):
    from mentoring_eval.verify import pinned_versions

    (tmp_path / "requirements.lock").write_text(
        "# make lock\n"
        "numpy==2.3.1 ; python_full_version < '3.12' \\\n    --hash=sha256:00\n"
        "numpy==2.4.0 ; python_full_version >= '3.12' \\\n    --hash=sha256:11\n"
        "Jupyter_Client==8.6.3 \\\n    --hash=sha256:22\n    # via papermill\n"
    )
    (tmp_path / "requirements.txt").write_text("pandas==3.0.1\n")
    assert pinned_versions(tmp_path) == {"numpy": {"2.3.1", "2.4.0"}, "jupyter-client": {"8.6.3"}}
    (tmp_path / "requirements.lock").unlink()
    assert pinned_versions(tmp_path) == {"pandas": {"3.0.1"}}
