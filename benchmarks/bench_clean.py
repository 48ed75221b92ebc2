"""Benchmark of the clean stage on a national-scale mentoring log.

Generates (seeded, vectorised, by ``synthetic_scale.py``) a log of N contacts
(default 1,000,000) at 200 sites, written with every spelling of the input
contract, plus matching sites, participants, OTs and competency files; then
times a bare ``pyarrow.csv.read_csv`` of the log against the whole clean stage
(``run_clean_stage``: read, clean, write every output).

Each measurement runs in a fresh Python subprocess, so its peak memory is that
subprocess's own ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the peak
resident set size, interpreter and imports included).

Usage: ``python benchmarks/bench_clean.py [N_CONTACTS]``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from synthetic_scale import N_SITES

OUT_DIR = Path(__file__).resolve().parent / "out" / "clean"
TARGET_RATIO = 3.0
TARGET_PEAK_MIB = 1024


def measure(setup: str, statement: str, repeats: int = 3) -> dict:
    """Run ``setup`` then time ``statement`` (which sets ``result``), each
    repeat in a fresh interpreter; the fastest repeat's time, and the largest
    peak resident memory (``ru_maxrss``) of those subprocesses."""
    script = (
        "import json, resource, time\n"
        f"{setup}\n"
        "start = time.perf_counter()\n"
        f"{statement}\n"
        "seconds = time.perf_counter() - start\n"
        "peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(json.dumps({'seconds': seconds, 'peak_mib': peak_mib, 'result': result}))\n"
    )
    runs = []
    # As `python -m mentoring_eval run` starts its stages: with Arrow's system allocator.
    environment = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"}
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=environment
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    fastest = min(runs, key=lambda run: run["seconds"])
    return {**fastest, "all_seconds": [run["seconds"] for run in runs], "peak_mib": max(r["peak_mib"] for r in runs)}


def _seconds(measured: dict) -> str:
    return ", ".join(f"{seconds:.2f}" for seconds in measured["all_seconds"])


def main(n_contacts: int) -> None:
    raw, processed = OUT_DIR / "raw", OUT_DIR / "processed"
    # Every step runs in its own subprocess: on Linux a child started by a
    # large parent inherits the parent's ru_maxrss, so this process stays small.
    generated = measure(
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        "from pathlib import Path; from synthetic_scale import generate_inputs",
        f"result = generate_inputs({n_contacts}, Path({str(raw)!r}))",
        repeats=1,
    )
    print(
        f"generated {n_contacts:,} contacts at {N_SITES} sites ({generated['result']:.0f} MiB CSV) "
        f"in {generated['seconds']:.2f} s -> {raw}",
        flush=True,
    )

    bare = measure(
        "import pyarrow.csv as pacsv",
        f"result = pacsv.read_csv({str(raw / 'mentoring_log.csv')!r}).num_rows",
    )
    print(
        f"bare pyarrow.csv.read_csv: {bare['seconds']:.2f} s (best of {_seconds(bare)}), "
        f"{bare['result']:,} rows, peak {bare['peak_mib']:.0f} MiB",
        flush=True,
    )
    # The clean stage parses with newlines_in_values=True (notes typed in Excel
    # may hold line breaks); this is the bare parse with that one option.
    bare_newlines = measure(
        "import pyarrow.csv as pacsv",
        f"result = pacsv.read_csv({str(raw / 'mentoring_log.csv')!r}, "
        "parse_options=pacsv.ParseOptions(newlines_in_values=True)).num_rows",
    )
    print(
        f"bare pyarrow.csv.read_csv, newlines_in_values=True: {bare_newlines['seconds']:.2f} s "
        f"(best of {_seconds(bare_newlines)}), peak {bare_newlines['peak_mib']:.0f} MiB",
        flush=True,
    )

    clean = measure(
        "from mentoring_eval.clean import run_clean_stage",
        f"result = run_clean_stage({str(raw)!r}, {str(processed)!r}, '2020-04-01').summary",
    )
    summary = clean["result"]
    print(
        f"clean stage (run_clean_stage, outputs written): {clean['seconds']:.2f} s "
        f"(best of {_seconds(clean)}), peak {clean['peak_mib']:.0f} MiB; "
        f"rows_read {summary['rows_read']:,}, clean {summary['rows_clean']:,}, "
        f"quarantined {summary['rows_quarantined']:,}, duplicates {summary['duplicates_removed']:,}, "
        f"contacts {summary['contacts']:,}",
        flush=True,
    )

    ratio = clean["seconds"] / bare["seconds"]
    print(
        f"ratio clean / bare parse: {ratio:.2f} (aim <= {TARGET_RATIO:g}; "
        f"{clean['seconds'] / bare_newlines['seconds']:.2f} against the newline-safe parse); "
        f"clean stage peak memory {clean['peak_mib']:.0f} MiB (aim < {TARGET_PEAK_MIB} MiB; "
        "ru_maxrss of a fresh subprocess per measurement, imports excluded from the times)",
        flush=True,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
