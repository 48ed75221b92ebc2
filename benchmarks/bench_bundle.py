"""Benchmark of ``bundle`` and ``verify`` on the bundled records.

The yardstick F is :mod:`bench_everyday`'s: papermill (already imported)
executing a one-cell notebook that imports pandas, matplotlib and pyarrow,
the fastest of ``--repeats``, measured in this run. Then, each the fastest of
``--repeats``, as a user types the commands (fresh processes, nbconvert):

- ``bundle --force``: every stage run, rendered, archived;
- ``bundle`` with the run up to date: every stage skipped, only the archive written;
- the archive's size;
- ``verify --reuse-env`` (this environment, checked against the pins): the re-run and the comparison;
- with ``--fresh-verify``, once: ``verify`` as a reviewer runs it, a bare
  Python with the archive's own code, building a fresh environment from the
  archive's pins (uv where there is one, pip otherwise: minutes, not seconds).

The run's folders are in ``benchmarks/out/bundle/`` (inside the project, as a
bundle needs; ignored by git, never the project's ``data/processed`` or ``report``).

Usage: ``.venv/bin/python benchmarks/bench_bundle.py [--repeats R] [--fresh-verify]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench_everyday import kernel_seconds, one_cell_notebook

BENCHMARKS = Path(__file__).resolve().parent
PROJECT = BENCHMARKS.parent
OUT = BENCHMARKS / "out" / "bundle"


def say(line: str) -> None:
    print(line, flush=True)


def timed(command: list[str], env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(
            f"{' '.join(command)} failed (exit {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
        )
    return seconds, done


def bundle_command(archive: Path, *extra: str) -> list[str]:
    folders = ["--processed", str(OUT / "processed"), "--report", str(OUT / "report"), "--renderer", "nbconvert"]
    return [sys.executable, "-m", "mentoring_eval", "bundle", *folders, "--out", str(archive), *extra]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fresh-verify", action="store_true", help="also time verify in a fresh environment (minutes)")
    args = parser.parse_args(argv)
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    archive = OUT / "bundle.zip"
    notebook = one_cell_notebook(OUT / "one_cell.ipynb")
    floors, forced, unchanged, verified = [], [], [], []
    for _ in range(args.repeats):  # alternating, so that each sees the same machine
        floors.append(kernel_seconds(notebook))
        forced.append(timed(bundle_command(archive, "--force"))[0])
        unchanged.append(timed(bundle_command(archive))[0])
        verified.append(
            timed([sys.executable, "-m", "mentoring_eval", "verify", str(archive), "--reuse-env", sys.prefix])[0]
        )
    f = min(floors)
    say(f"F (one kernel importing pandas, matplotlib, pyarrow): {f:.2f} s")
    say(f"bundle --force (every stage, nbconvert, the archive): {min(forced):.1f} s = {min(forced) / f:.1f} F")
    say(f"bundle, the run up to date (the archive only):        {min(unchanged):.1f} s = {min(unchanged) / f:.1f} F")
    with zipfile.ZipFile(archive) as opened:
        entries = len(opened.infolist())
    say(f"archive: {archive.stat().st_size / 1e6:.2f} MB, {entries} files")
    say(f"verify --reuse-env (re-run and compare):             {min(verified):.1f} s = {min(verified) / f:.1f} F")
    if args.fresh_verify:
        with tempfile.TemporaryDirectory(prefix="bench-verify-") as scratch:
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(scratch)
            bare = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", scratch)}
            bare["PYTHONPATH"] = str(Path(scratch) / "mentoring-eval-bundle" / "code" / "src")
            seconds, done = timed(
                [sys.base_prefix + "/bin/python3", "-m", "mentoring_eval", "verify", str(archive)], bare
            )
        say(f"verify in a fresh environment, from the archive alone: {seconds:.0f} s")
        say("".join(f"  | {line}\n" for line in done.stdout.splitlines()).rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
