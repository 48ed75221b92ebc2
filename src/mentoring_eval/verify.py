"""``python -m mentoring_eval verify ARCHIVE``: re-run an archived run and
say whether every output comes out byte-identical.

From the archive alone (:mod:`mentoring_eval.bundle` wrote it): its manifest
is checked, its code unpacked into a temporary folder, a fresh Python
environment built from its pins (uv when there is one, pip otherwise; or an
existing environment reused, once checked to hold exactly the pins), the
archived pipeline run on the archived records (or the user's, checked against
the archived SHA-256 first), and the processed outputs, figures, executed
notebooks and nbconvert report compared with the archived ones, file by file.

It needs no package beyond the standard library to start: a reviewer runs it
with a bare Python, the archive's ``code/src`` on ``PYTHONPATH``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mentoring_eval.bundle import CODE, COMPARED, DESCRIPTION, MANIFEST, OUTPUTS, RECORDS, TOP
from mentoring_eval.errors import InputError
from mentoring_eval.provenance import input_files, sha256_of_file

IDENTICAL, DIFFERENT, CANNOT_JUDGE = 0, 1, 3
SHOWN_DIFFERENCES = 3  # the first differing files named per group
LOCK_FILE = "requirements.lock"  # installed with --require-hashes, and its copy left in the environment


class CannotJudge(Exception):
    """This machine cannot re-run the archive as it was made (exit status 3)."""


@dataclass(frozen=True)
class Verdict:
    group: str
    compared: int
    differing: tuple[str, ...]  # "name: what differs"

    @property
    def identical(self) -> bool:
        return not self.differing


# ---------------------------------------------------------------- the archive itself


def read_archive(archive: Path) -> dict[str, bytes]:
    """Every file of the archive (by its name inside the archive's folder),
    each checked against the manifest: a file missing, altered or unlisted is
    one line, exit status 2."""
    try:
        with zipfile.ZipFile(archive) as opened:
            files = {
                info.filename.removeprefix(f"{TOP}/"): opened.read(info)
                for info in opened.infolist()
                if not info.is_dir()
            }
    except (OSError, zipfile.BadZipFile) as error:
        raise InputError(f"{archive}: not a readable bundle ({error})") from None
    if MANIFEST not in files or DESCRIPTION not in files:
        raise InputError(f"{archive}: not a mentoring-eval bundle (no {MANIFEST} or {DESCRIPTION})")
    listed = {}
    for line in files.pop(MANIFEST).decode().splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    for name in sorted(listed):
        if name not in files:
            raise InputError(f"{archive}: {name} is listed in its manifest but missing from the archive")
        if hashlib.sha256(files[name]).hexdigest() != listed[name]:
            raise InputError(f"{archive}: {name} does not match its SHA-256 in the manifest (altered or damaged)")
    unlisted = sorted(files.keys() - listed.keys())
    if unlisted:
        raise InputError(f"{archive}: {unlisted[0]} is not in its manifest (added after the archive was made)")
    return files


def check_records(records: dict[str, bytes], inputs: list[dict], origin: str) -> None:
    """The records must be exactly those the archived run read: same names,
    same SHA-256. One line naming the first file that is not, exit status 2."""
    expected = {entry["file"]: entry["sha256"] for entry in inputs}
    for name in sorted(expected.keys() | records.keys()):
        if name not in records:
            raise InputError(f"{origin}/{name}: missing (the archived run read it)")
        if name not in expected:
            raise InputError(f"{origin}/{name}: not among the records the archived run read")
        if hashlib.sha256(records[name]).hexdigest() != expected[name]:
            raise InputError(f"{origin}/{name}: its SHA-256 differs from the one the archived run recorded")


def the_records(files: dict[str, bytes], info: dict, raw: Path | None) -> dict[str, bytes]:
    if raw is not None:
        if not raw.is_dir():
            raise InputError(f"{raw}: records folder not found")
        given = {path.name: path.read_bytes() for path in input_files(raw)}
        check_records(given, info["inputs"], str(raw))
        return given
    archived = {name.removeprefix(f"{RECORDS}/"): data for name, data in files.items() if name.startswith(RECORDS)}
    if not archived:
        raise InputError(
            "this archive holds no records (they were not the bundled synthetic ones, so they were left out): "
            "give them with --raw DIR"
        )
    check_records(archived, info["inputs"], f"the archive's {RECORDS}")
    return archived


# ---------------------------------------------------------------- the environment


def interpreter_version(python: Path | str) -> str:
    completed = subprocess.run(
        [str(python), "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True
    )
    if completed.returncode != 0:
        raise InputError(f"{python}: not a working Python")
    return completed.stdout.strip()


def same_python(archived: str, here: str) -> None:
    """The report names the Python version it ran with, and another minor
    version may compute differently: a different version cannot be judged."""
    if archived != here:
        minor = archived.rsplit(".", 1)[0] != here.rsplit(".", 1)[0]
        raise CannotJudge(
            f"the archive was made with Python {archived}, this Python is {here}: a re-run here would name another "
            f"Python in its report{' and may compute differently' if minor else ''}; verify with Python {archived} "
            "(run verify with it, or --reuse-env an environment of that version)"
        )


def pinned_versions(code: Path) -> dict[str, set[str]]:
    """name -> the versions pinned for it by every ``name==version`` line of
    requirements.txt (of the lock, when there is one: it pins every package,
    a package once per Python version or platform where they differ)."""
    source = code / LOCK_FILE if (code / LOCK_FILE).is_file() else code / "requirements.txt"
    pins: dict[str, set[str]] = {}
    for line in source.read_text(encoding="utf-8").splitlines():
        found = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)", line)
        if found:
            pins.setdefault(normalised_name(found[1]), set()).add(found[3])
    return pins


def normalised_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions(python: Path) -> dict[str, str]:
    listing = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, json; "
            "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))",
        ],
        capture_output=True,
        text=True,
    )
    if listing.returncode != 0:
        raise InputError(f"{python}: cannot list its installed packages")
    return {normalised_name(name): version for name, version in json.loads(listing.stdout).items()}


def environment_python(given: Path) -> Path:
    """The Python of an environment given as its folder or as its interpreter."""
    python = given / "bin" / "python" if given.is_dir() else given
    if not python.exists():
        raise InputError(f"{given}: no Python environment there (give its folder or its bin/python)")
    return python


def check_reused_environment(python: Path, code: Path) -> None:
    """An environment to reuse must hold every pin at its exact version (and,
    for a lock, the copy of that lock an install from it leaves behind)."""
    installed = installed_versions(python)
    locked = (code / LOCK_FILE).is_file()
    for name, versions in sorted(pinned_versions(code).items()):
        pinned = " or ".join(sorted(versions))
        if name in installed and installed[name] not in versions:
            raise InputError(f"{python}: {name} {installed[name]} is installed, the archive pins {pinned}")
        if name not in installed and not locked:  # a lock also pins other platforms' packages
            raise InputError(f"{python}: {name} is not installed, the archive pins {pinned}")
    if locked:
        prefix = subprocess.run([str(python), "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True)
        copy = Path(prefix.stdout.strip()) / LOCK_FILE
        if not copy.is_file() or sha256_of_file(copy) != sha256_of_file(code / LOCK_FILE):
            raise InputError(f"{python}: not installed from the archive's {LOCK_FILE} (no identical copy in {prefix})")


def find_uv() -> str | None:
    """uv on PATH, or the one the Makefile installs into the environment (.venv/uv)."""
    beside = Path(sys.prefix) / "uv" / "bin" / "uv"
    return shutil.which("uv") or (str(beside) if beside.exists() else None)


NO_WHEELS = re.compile(
    r"no matching distribution|could not find a version|no solution found|not available for|"
    r"doesn't have a (source distribution|wheel)|unsupported platform|is not a supported wheel",
    re.IGNORECASE,
)


def build_environment(code: Path, folder: Path, say: Callable[[str], None]) -> Path:
    """A fresh environment in ``folder`` from the archive's pins: the lock with
    every hash required when there is one, else requirements.txt within
    constraints.txt; uv when there is one, pip otherwise."""
    started = time.perf_counter()
    uv = find_uv()
    say(f"[environment] building a fresh one from the archive's pins with {'uv' if uv else 'pip'} (a minute or so)")
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True)
    python = folder / "bin" / "python"
    install = [uv, "pip", "install", "--python", str(python)] if uv else [str(python), "-m", "pip", "install"]
    # pip compiles every module as it installs; uv only when asked, and where
    # Python writes no bytecode (PYTHONDONTWRITEBYTECODE) each stage kernel would
    # compile pandas and the rest again.
    install += ["--quiet"] + (["--compile-bytecode"] if uv else ["--disable-pip-version-check"])
    pins = (
        ["--require-hashes", "-r", str(code / LOCK_FILE)]
        if (code / LOCK_FILE).is_file()
        else ["-r", str(code / "requirements.txt"), "-c", str(code / "constraints.txt")]
    )
    completed = subprocess.run(install + pins, capture_output=True, text=True)
    if completed.returncode != 0:
        output = completed.stdout + completed.stderr
        last = next((line.strip() for line in reversed(output.splitlines()) if line.strip()), "no output")
        if NO_WHEELS.search(output):
            raise CannotJudge(
                f"the archive's pins cannot be installed on this platform ({platform.platform()}): {last}"
            )
        raise CannotJudge(f"the environment could not be built from the archive's pins: {last}")
    if (code / LOCK_FILE).is_file():  # as the Makefile does: the report cites the lock its environment came from
        shutil.copyfile(code / LOCK_FILE, folder / LOCK_FILE)
    say(f"[environment] built in {time.perf_counter() - started:.1f} s")
    return python


# ---------------------------------------------------------------- the re-run and the comparison


def unpack(files: dict[str, bytes], records: dict[str, bytes], info: dict, folder: Path) -> Path:
    """The archived code in ``folder/code``, the records where the archived run read them."""
    code = folder / CODE
    for name, data in files.items():
        if name.startswith(f"{CODE}/"):
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    raw = code / info["run"]["raw"]
    shutil.rmtree(raw, ignore_errors=True)  # the code's own copy of the default records is not the run's
    raw.mkdir(parents=True)
    for name, data in records.items():
        (raw / name).write_bytes(data)
    return code


def rerun(python: Path, code: Path, info: dict, say: Callable[[str], None]) -> None:
    """The archived pipeline, with the archived parameters, into the archived folders (inside ``code``)."""
    run = info["run"]
    command = [str(python), "-m", "mentoring_eval", "run", "--renderer", "nbconvert", "--force"]
    command += ["--raw", run["raw"], "--processed", run["processed"], "--report", run["report"]]
    command += ["--as-of", run["as_of"], "--expected-minutes", str(run["expected_minutes"])]
    environment = {**os.environ, "PYTHONPATH": str(code / "src")}  # the archive's code, not an installed one
    say("[re-run] the archived pipeline on the records:")
    with tempfile.TemporaryFile("w+") as stderr:  # a file, not a pipe: a full pipe would stall the run
        process = subprocess.Popen(command, cwd=code, env=environment, stdout=subprocess.PIPE, stderr=stderr, text=True)
        for line in process.stdout:
            say(f"  {line.rstrip()}")
        process.wait()
        stderr.seek(0)
        errors = stderr.read()
    if process.returncode != 0:
        last = next((line for line in reversed(errors.splitlines()) if line.strip()), "no message")
        raise PipelineFailed(f"the archived pipeline failed here (exit {process.returncode}): {last}")


class PipelineFailed(Exception):
    """The archived pipeline did not run to the end here (exit status 1)."""


def compare(files: dict[str, bytes], code: Path, info: dict) -> list[Verdict]:
    """Each compared group of the archive against the re-run's files, byte for byte."""
    run = info["run"]
    remade_folders = {"processed": code / run["processed"], "report": code / run["report"]}
    verdicts = []
    for group, where in COMPARED.items():  # what this verifier compares, whatever the archive says
        top, _, rest = where.partition("/")
        remade_root = remade_folders[top] / rest if rest else remade_folders[top]
        prefix = f"{OUTPUTS}/{where}"
        archived = {name[len(prefix) :].lstrip("/"): data for name, data in files.items() if name.startswith(prefix)}
        if remade_root.is_file():
            remade = {"": remade_root.read_bytes()}
        elif remade_root.is_dir():
            remade = {
                path.relative_to(remade_root).as_posix(): path.read_bytes()
                for path in sorted(remade_root.rglob("*"))
                if path.is_file()
                and not any(p.startswith(".") for p in path.relative_to(remade_root).parts)
                and ".failed." not in path.name
            }
        else:
            remade = {}
        differing = []
        for name in sorted(archived.keys() | remade.keys()):
            shown = f"{where}/{name}".rstrip("/")
            if name not in remade:
                differing.append(f"{shown}: in the archive, not made by the re-run")
            elif name not in archived:
                differing.append(f"{shown}: made by the re-run, missing from the archive")
            elif archived[name] != remade[name]:
                differing.append(f"{shown}: differs")
        verdicts.append(Verdict(group, len(archived.keys() | remade.keys()), tuple(differing)))
    return verdicts


def verdict_line(verdict: Verdict) -> str:
    if verdict.identical:
        return f"{verdict.group:<20} identical ({verdict.compared} {'file' if verdict.compared == 1 else 'files'})"
    shown = "; ".join(verdict.differing[:SHOWN_DIFFERENCES])
    more = len(verdict.differing) - SHOWN_DIFFERENCES
    return f"{verdict.group:<20} DIFFERENT: {shown}" + (f" (and {more} more)" if more > 0 else "")


def verify(
    archive: Path, raw: Path | None = None, reuse_env: Path | None = None, say: Callable[[str], None] = print
) -> int:
    """Re-run ``archive`` and compare; returns the exit status (0 identical,
    1 different, 3 cannot judge; bad input raises :class:`InputError`)."""
    started = time.perf_counter()
    files = read_archive(archive)
    info = json.loads(files[DESCRIPTION])
    say(f"archive: {archive.name}, commit {info['commit']}, Python {info['python']}")
    say(f"[manifest] {len(files)} files, each matching its SHA-256")
    records = the_records(files, info, raw)
    origin = f"yours, from {raw}" if raw else "from the archive"
    say(f"[records] {len(records)} files ({origin}), each as the archived run read it")
    python = environment_python(reuse_env) if reuse_env else None
    same_python(info["python"], interpreter_version(python or sys.executable))
    with tempfile.TemporaryDirectory(prefix="mentoring-eval-verify-") as scratch:
        code = unpack(files, records, info, Path(scratch))
        if python is None:
            python = build_environment(code, Path(scratch) / "venv", say)
        else:
            check_reused_environment(python, code)
            say(f"[environment] reusing {reuse_env}: every pinned version checked")
        rerun(python, code, info, say)
        verdicts = compare(files, code, info)
    for verdict in verdicts:
        say(verdict_line(verdict))
    identical = all(verdict.identical for verdict in verdicts)
    outcome = "REPRODUCED: every output is byte-identical" if identical else "NOT REPRODUCED: see the files above"
    say(f"verdict: {outcome} ({time.perf_counter() - started:.0f} s)")
    return IDENTICAL if identical else DIFFERENT
