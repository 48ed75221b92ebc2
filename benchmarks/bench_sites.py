"""Benchmark of the site feedback pages (``python -m mentoring_eval sites``).

Aims (issue 14), as ratios to F measured in the same run: F is papermill,
already imported, executing a one-cell notebook that imports pandas,
matplotlib and pyarrow (the least one kernel per page would cost), best of three.

- every bundled site (16) executed and rendered with nbconvert: <= 8 F in all;
- 200 sites (the national-scale generator, ``synthetic_scale.py``): <= 60 F.

Each case first makes the main run (not timed), then times the whole
``sites`` command as a user types it, in a fresh process, with the site pages
removed so that every page is executed and rendered (the main run's stages
are unchanged, so the command skips them, as a monthly rerun of the pages
would). Best of ``--repeats`` runs. A rerun with nothing changed is timed too.

    python benchmarks/bench_sites.py [--contacts N] [--repeats N] [--out DIR]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill

from mentoring_eval.pipeline import stderr_to
from synthetic_scale import N_SITES, generate_inputs

BENCHMARKS = Path(__file__).resolve().parent
PROJECT = BENCHMARKS.parent
DEFAULT_OUT = BENCHMARKS / "out" / "sites"
AIM_BUNDLED, AIM_SCALE = 8.0, 60.0
ONE_CELL = "import pandas, matplotlib, pyarrow"


def say(line: str) -> None:
    print(line, flush=True)


def papermill_floor(folder: Path, repeats: int = 3) -> float:
    """F: papermill (imported above) executing a one-cell notebook importing
    pandas, matplotlib and pyarrow; the best of ``repeats``."""
    source, target = folder / "one_cell.ipynb", folder / "one_cell.out.ipynb"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(ONE_CELL)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, source)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        with stderr_to(folder / "kernel.log"):  # the kernel's start-up warnings, as the runner does
            papermill.execute_notebook(str(source), str(target), progress_bar=False, log_output=False)
        times.append(time.perf_counter() - started)
    return min(times)


def command(case: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "mentoring_eval",
        *extra,
        "--raw",
        str(case / "raw"),
        "--processed",
        str(case / "processed"),
        "--report",
        str(case / "report"),
        "--renderer",
        "nbconvert",
    ]


def run(arguments: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(arguments, cwd=PROJECT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(arguments[3:5])}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def time_site_pages(case: Path, repeats: int) -> dict:
    """The main run once (not timed), then the ``sites`` command with every page redone, best of ``repeats``."""
    run(command(case, "run"))
    times = []
    for _ in range(repeats):
        shutil.rmtree(case / "report" / "sites", ignore_errors=True)
        seconds, stdout = run(command(case, "sites"))
        if re.search(r"^\[site \d+/\d+\] .*skipped", stdout, re.MULTILINE):
            raise SystemExit(f"a site page was not redone:\n{stdout}")
        times.append(seconds)
    rerun, stdout = run(command(case, "sites"))
    pages = len(list((case / "report" / "sites").glob("site-*.html")))
    return {"seconds": min(times), "all": times, "pages": pages, "rerun": rerun}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts in the 200-site log (default 100,000)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per case, the best kept (default 3)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        scratch = Path(scratch)
        floor = papermill_floor(scratch)
        say(f"F (papermill, one cell importing pandas, matplotlib, pyarrow; best of 3): {floor:.2f} s")

        bundled = scratch / "bundled"
        shutil.copytree(PROJECT / "data" / "raw", bundled / "raw")
        result = time_site_pages(bundled, args.repeats)
        ratio = result["seconds"] / floor
        say(
            f"16 bundled sites, executed and rendered (nbconvert): {result['seconds']:.1f} s = {ratio:.1f} F "
            f"(aim <= {AIM_BUNDLED:g} F: {'met' if ratio <= AIM_BUNDLED else 'NOT met'}); "
            f"runs {', '.join(f'{s:.1f}' for s in result['all'])} s; {result['pages']} pages; "
            f"rerun with nothing changed {result['rerun']:.1f} s"
        )

        scale = scratch / "scale"
        mib = generate_inputs(args.contacts, scale / "raw")
        result = time_site_pages(scale, max(1, args.repeats - 2))
        ratio = result["seconds"] / floor
        say(
            f"{N_SITES} sites ({args.contacts:,} contacts, {mib:.0f} MiB log), executed and rendered (nbconvert): "
            f"{result['seconds']:.1f} s = {ratio:.1f} F (aim <= {AIM_SCALE:g} F: "
            f"{'met' if ratio <= AIM_SCALE else 'NOT met'}); {result['pages']} pages, "
            f"{result['seconds'] / max(result['pages'], 1):.2f} s a page; "
            f"rerun with nothing changed {result['rerun']:.1f} s"
        )
        floor_after = papermill_floor(scratch)
        say(
            f"F again after the runs: {floor_after:.2f} s (the machine's load moved it by "
            f"{100 * (floor_after - floor) / floor:+.0f}%)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
