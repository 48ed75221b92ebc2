"""Benchmark of everyday use: the bundled report, forced and unchanged, against
the cost of one notebook kernel.

The yardstick F is measured in this run, on this machine: papermill (already
imported) executing a one-cell notebook that imports pandas, matplotlib and
pyarrow, the fastest of ``--repeats``. Four stages need four kernels, so about
4F is the floor of a forced run. Then, each the fastest of ``--repeats``:

- a forced run of the bundled records as a user types it (a fresh Python
  process, the runner's own imports included)::

      python -m mentoring_eval run --renderer none --force --processed P --report R

  with each stage's time as the command prints it;
- a no-change rerun (the same command without ``--force``: every stage skipped);
- the figures stage at national scale: the same forced run on a generated
  log at 200 sites (``synthetic_scale.py``, ``--national-contacts`` contacts,
  default 10,000), its figures stage against the bundled run's 16 sites;
- the work inside the kernels (the stage functions the notebooks call, timed
  in one process after its imports; ``bench_pipeline.STAGE_WORK``), to show
  how much of each stage is the kernel's start and imports.

F, the forced runs and the national runs alternate, so that all of them see
the same machine; other work on a shared machine moves every number, which
is why only the fastest of each counts and every aim is a ratio to F.

Aims (issue 12): forced run ≤ 5F; no-change rerun ≤ 0.3 s; figures stage at
200 sites ≤ 1.5 × at 16 sites. Outputs go to ``benchmarks/out/everyday/``
(never the project's ``data/processed`` or ``report``).

Usage: ``.venv/bin/python benchmarks/bench_everyday.py [--repeats R] [--national-contacts N] [--out DIR]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_pipeline import RENDER_LINE, STAGE_LINE, STAGE_WORK, generate

BENCHMARKS = Path(__file__).resolve().parent
PROJECT = BENCHMARKS.parent
DEFAULT_OUT = BENCHMARKS / "out" / "everyday"
AIM_FORCED_F = 5.0
AIM_RERUN_SECONDS = 0.3
AIM_NATIONAL_FIGURES = 1.5

KERNEL_CELL = "import pandas, matplotlib, pyarrow"


def say(line: str) -> None:
    print(line, flush=True)


def one_cell_notebook(path: Path) -> Path:
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(KERNEL_CELL)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def kernel_seconds(notebook: Path) -> float:
    """F once: papermill (imported by the caller) executing the one-cell notebook."""
    import papermill

    started = time.perf_counter()
    papermill.execute_notebook(
        str(notebook),
        str(notebook.with_name("executed.ipynb")),
        progress_bar=False,
        log_output=False,
        cwd=str(notebook.parent),
    )
    return time.perf_counter() - started


def run_command(raw: Path | None, case: Path, *, force: bool, fresh: bool) -> dict:
    """The real command into ``case/processed`` and ``case/report``: its wall
    time and the seconds it printed for each stage."""
    processed, report = case / "processed", case / "report"
    if fresh:
        for folder in (processed, report):
            shutil.rmtree(folder, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "mentoring_eval",
        "run",
        "--renderer",
        "none",
        "--processed",
        str(processed),
        "--report",
        str(report),
    ]
    command += ["--raw", str(raw)] if raw else []
    command += ["--force"] if force else []
    started = time.perf_counter()
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the pipeline failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    stages = {}
    for line in done.stdout.splitlines():
        match = STAGE_LINE.match(line) or RENDER_LINE.match(line)
        if match:
            stages[(match.groupdict().get("stage") or "render").strip()] = float(match["seconds"] or 0.0)
    return {"seconds": seconds, "stages": stages}


def stage_work(raw: Path, case: Path) -> dict[str, float]:
    """The stage functions in one fresh process (imports not counted)."""
    processed, report = case / "work" / "processed", case / "work" / "report"
    for folder in (processed, report):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-c", STAGE_WORK, str(raw), str(processed), str(report)],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def fastest(runs: list[dict]) -> dict:
    """The fastest run's wall time, and each stage's fastest time over all runs."""
    return {
        "seconds": min(run["seconds"] for run in runs),
        "all": [round(run["seconds"], 2) for run in runs],
        "stages": {stage: min(run["stages"][stage] for run in runs) for stage in runs[0]["stages"]},
    }


def verdict(value: float, aim: float) -> str:
    return "met" if value <= aim else "NOT MET"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--national-contacts", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    bundled_raw = PROJECT / "data" / "raw"
    national_raw = out / "national" / "raw"

    started = time.perf_counter()
    import papermill  # noqa: F401  (F is measured with papermill already imported, as the runner has it)

    say(f"papermill imported in {time.perf_counter() - started:.2f} s")
    say(f"generating a {args.national_contacts:,}-contact log at 200 sites ...")
    generate(args.national_contacts, national_raw)
    notebook = one_cell_notebook(out / "kernel" / "one_cell.ipynb")

    f_runs, forced, national = [], [], []
    for repeat in range(1, args.repeats + 1):
        f_runs.append(kernel_seconds(notebook))
        forced.append(run_command(None, out / "bundled", force=True, fresh=repeat == 1))
        national.append(run_command(national_raw, out / "national", force=True, fresh=repeat == 1))
        say(
            f"round {repeat}: F {f_runs[-1]:.2f} s, forced run {forced[-1]['seconds']:.2f} s, "
            f"200 sites {national[-1]['seconds']:.2f} s"
        )
    rerun = fastest([run_command(None, out / "bundled", force=False, fresh=False) for _ in range(args.repeats)])
    work = [stage_work(bundled_raw, out / "bundled") for _ in range(args.repeats)]
    national_work = [stage_work(national_raw, out / "national") for _ in range(args.repeats)]
    work = {stage: min(run[stage] for run in work) for stage in work[0]}
    national_work = {stage: min(run[stage] for run in national_work) for stage in national_work[0]}

    f = min(f_runs)
    forced, national = fastest(forced), fastest(national)
    figures_ratio = national["stages"]["figures"] / forced["stages"]["figures"]
    say("")
    say(f"F (papermill, one cell: {KERNEL_CELL}): {f:.2f} s, fastest of {[round(s, 2) for s in f_runs]}")
    say("")
    say("| stage | bundled (16 sites) | × F | work in the kernel | 200 sites | work in the kernel |")
    say("|---|---:|---:|---:|---:|---:|")
    for stage, seconds in forced["stages"].items():
        say(
            f"| {stage} | {seconds:.2f} s | {seconds / f:.2f} | {work.get(stage, 0):.2f} s "
            f"| {national['stages'][stage]:.2f} s | {national_work.get(stage, 0):.2f} s |"
        )
    say(
        f"| **whole command** | **{forced['seconds']:.2f} s** | **{forced['seconds'] / f:.2f}** | "
        f"{sum(work.values()):.2f} s | {national['seconds']:.2f} s | {sum(national_work.values()):.2f} s |"
    )
    say("")
    say(
        f"forced run, bundled records:   {forced['seconds']:.2f} s = {forced['seconds'] / f:.2f} F "
        f"(aim ≤ {AIM_FORCED_F:g} F: {verdict(forced['seconds'] / f, AIM_FORCED_F)}); runs {forced['all']}"
    )
    say(
        f"no-change rerun:               {rerun['seconds']:.2f} s "
        f"(aim ≤ {AIM_RERUN_SECONDS} s: {verdict(rerun['seconds'], AIM_RERUN_SECONDS)}); runs {rerun['all']}"
    )
    say(
        f"figures stage, 200 / 16 sites: {national['stages']['figures']:.2f} / {forced['stages']['figures']:.2f} s "
        f"= {figures_ratio:.2f} (aim ≤ {AIM_NATIONAL_FIGURES}: {verdict(figures_ratio, AIM_NATIONAL_FIGURES)}); "
        f"in-kernel work {national_work['figures']:.2f} / {work['figures']:.2f} s"
    )
    results = {
        "F": f,
        "F_runs": f_runs,
        "forced": forced,
        "rerun": rerun,
        "national": national,
        "work": work,
        "national_work": national_work,
        "figures_ratio": figures_ratio,
        "national_contacts": args.national_contacts,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
