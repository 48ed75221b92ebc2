"""Benchmark of the clean stage on a national-scale mentoring log.

Generates (seeded, vectorised) a log of N contacts (default 1,000,000) at 200
sites, written with every spelling of the input contract, plus matching
sites, participants, OTs and competency files; then times a bare
``pyarrow.csv.read_csv`` of the log against the whole clean stage
(``run_clean_stage``: read, clean, write every output).

Each measurement runs in a fresh Python subprocess, so its peak memory is that
subprocess's own ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the peak
resident set size, interpreter and imports included).

Usage: ``python benchmarks/bench_clean.py [N_CONTACTS]``
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

OUT_DIR = Path(__file__).resolve().parent / "out" / "clean"
N_SITES = 200
SEED = 20180301
TARGET_RATIO = 3.0
TARGET_PEAK_MIB = 1024

DATE_SPELLINGS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d %b %Y")
MODE_SPELLINGS = (
    "phone", "Telephone", "tel", "teleconference", "teams", "MS Teams",
    "microsoft  teams", "Video", "email", "E-mail", "sms", "text", " Phone ",
)
MINUTES_SPELLINGS = (
    "60", "60 min", "45 mins", "1h", "1 hr", "1h30", "1:30", "1.5h", "30", "15 mins", "90",
)
KIND_SPELLINGS = ("", "planned", "planned", "additional", "ad hoc", "Ad-hoc", "adhoc")
MENTOR_SPELLINGS = ("M1", "M2", "M3", "M4", "M5", "M6", "m2", " M4 ")
NOTES = (
    "",
    "Discussed caseload and return-to-work planning with the OT.",
    "Group call; reviewed a client's phased return, employer meeting next week.",
    "OT on leave next month - check cover arrangements.",
    "Follow-up email about fatigue management resources.",
    'Client said "much better", will call back after the review',
)
# Values the clean stage must quarantine, each in one row in a thousand of its column.
BAD_VALUES = {
    "date": ("31/02/2019", "", "March 2019"),
    "site": ("Site 999", "", "Ward 3"),
    "mode": ("carrier pigeon", ""),
    "minutes": ("0", "600", "", "a while"),
    "kind": ("mandatory",),
}


def _column(rng: np.random.Generator, vocabulary: np.ndarray, codes: np.ndarray, bad: tuple[str, ...] = ()) -> pa.Array:
    """``vocabulary[codes]`` as an Arrow string array, with one row in a
    thousand replaced by one of the ``bad`` values (if any)."""
    if bad:
        rows = rng.choice(len(codes), len(codes) // 1000, replace=False)
        codes = codes.copy()
        codes[rows] = len(vocabulary) + rng.integers(0, len(bad), len(rows))
        vocabulary = np.concatenate([vocabulary, np.array(bad)])
    return pa.array(vocabulary).take(pa.array(codes))


def _drawn(rng: np.random.Generator, vocabulary: np.ndarray, n: int, bad: tuple[str, ...] = ()) -> pa.Array:
    """``n`` values drawn at random from ``vocabulary`` (see ``_column``)."""
    return _column(rng, vocabulary, rng.integers(0, len(vocabulary), n), bad)


def _site_vocabulary(rng: np.random.Generator) -> np.ndarray:
    """Every single-site spelling for each site, and a few thousand joint sessions."""
    sites = np.arange(1, N_SITES + 1).astype(str)
    padded = np.char.zfill(sites, 2)
    singles = np.concatenate([sites, "Site " + sites, "site " + padded, "S" + sites])
    firsts, seconds = rng.choice(singles, 3000), rng.choice(singles, 3000)
    separators = rng.choice(np.array(["; ", " & ", ", ", " and "]), 3000)
    joints = np.char.add(np.char.add(firsts, separators), seconds)
    # Joint sessions are about 5% of contacts: repeat the singles to weight them.
    return np.concatenate([np.tile(singles, 70), joints])


def _date_vocabulary() -> tuple[np.ndarray, np.ndarray]:
    """Each day from Feb 2018 to May 2020 in each date spelling, and its day."""
    days = pd.date_range("2018-02-01", "2020-05-31", freq="D")
    spelled = np.concatenate([days.strftime(fmt).to_numpy(str) for fmt in DATE_SPELLINGS])
    return spelled, np.tile(days.to_numpy(), len(DATE_SPELLINGS))


def generate_log(n_contacts: int, rng: np.random.Generator) -> pa.Table:
    """A mentoring log of ``n_contacts`` rows: contract spellings, ~0.5% bad
    rows, ~1% exact duplicates of earlier rows, sorted by date like a real log."""
    dates, days = _date_vocabulary()
    date_codes = rng.integers(0, len(dates), n_contacts)
    date_codes = date_codes[np.argsort(days[date_codes], kind="stable")]
    ot_codes = np.array([f"OT{site:03d}-{k}" for site in range(1, N_SITES + 1) for k in (1, 2, 3)])
    ot_pairs = np.char.add(np.char.add(ot_codes, ";"), rng.choice(ot_codes, len(ot_codes)))
    table = pa.table(
        {
            "Date": _column(rng, dates, date_codes, BAD_VALUES["date"]),
            "Site": _drawn(rng, _site_vocabulary(rng), n_contacts, BAD_VALUES["site"]),
            "Mentor": _drawn(rng, np.array(MENTOR_SPELLINGS), n_contacts),
            "OTs": _drawn(rng, np.concatenate([ot_codes, ot_pairs, [""]]), n_contacts),
            "Mode": _drawn(rng, np.array(MODE_SPELLINGS), n_contacts, BAD_VALUES["mode"]),
            "Minutes": _drawn(rng, np.array(MINUTES_SPELLINGS), n_contacts, BAD_VALUES["minutes"]),
            "Kind": _drawn(rng, np.array(KIND_SPELLINGS), n_contacts, BAD_VALUES["kind"]),
            "Notes": _drawn(rng, np.array(NOTES), n_contacts),
        }
    )
    # Duplicates: copies of rows a little earlier in the log.
    originals = rng.choice(n_contacts - 10, n_contacts // 100, replace=False)
    rows = np.arange(n_contacts)
    rows[originals + 5] = originals
    return table.take(pa.array(rows))


def _csv_fields(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Values as CSV fields, quoted only where they must be, as spreadsheets
    write them (pyarrow's writer quotes every string)."""
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(column, '"', '""'), '"', "")
    return pc.if_else(pc.match_substring_regex(column, '[,"\n]'), quoted, column)


def write_csv(table: pa.Table, path: Path) -> None:
    """``table`` as a UTF-8 CSV file with minimal quoting."""
    fields = [_csv_fields(table.column(name)) for name in table.column_names]
    lines = pc.binary_join_element_wise(*fields, ",")
    path.write_text(",".join(table.column_names) + "\n" + "\n".join(lines.to_pylist()) + "\n", encoding="utf-8")


def write_reference_files(folder: Path, rng: np.random.Generator) -> None:
    """sites, participants, OTs and competency for the ``N_SITES`` sites."""
    sites = np.arange(1, N_SITES + 1)
    opened = pd.Timestamp("2018-03-01") + pd.to_timedelta(rng.integers(0, 420, N_SITES), unit="D")
    pd.DataFrame({"site": sites, "opened_on": opened.strftime("%Y-%m-%d")}).to_csv(
        folder / "sites.csv", index=False, lineterminator="\n"
    )
    participant_site = np.repeat(sites, 20)
    pd.DataFrame(
        {
            "participant_id": [f"P{i:05d}" for i in range(len(participant_site))],
            "site": participant_site,
            "arm": rng.choice(np.array(["ESSVR", "usual care", "essvr"]), len(participant_site)),
            "randomised_on": (opened[participant_site - 1] + pd.Timedelta(days=30)).strftime("%d/%m/%Y"),
        }
    ).to_csv(folder / "participants.csv", index=False, lineterminator="\n")
    ot_site = np.repeat(sites, 3)
    ot_ids = [f"OT{site:03d}-{k}" for site in sites for k in (1, 2, 3)]
    pd.DataFrame(
        {
            "ot_id": ot_ids,
            "site": ot_site,
            "started_on": opened[ot_site - 1].strftime("%Y-%m-%d"),
            "left_on": "",
            "leave_reason": "",
        }
    ).to_csv(folder / "ots.csv", index=False, lineterminator="\n")
    pd.DataFrame(
        {
            "ot_id": ot_ids,
            "assessed_on": opened[ot_site - 1].strftime("%d %b %Y"),
            "score": rng.integers(40, 101, len(ot_ids)),
        }
    ).to_csv(folder / "competency.csv", index=False, lineterminator="\n")


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
    for _ in range(repeats):
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    fastest = min(runs, key=lambda run: run["seconds"])
    return {**fastest, "all_seconds": [run["seconds"] for run in runs], "peak_mib": max(r["peak_mib"] for r in runs)}


def _seconds(measured: dict) -> str:
    return ", ".join(f"{seconds:.2f}" for seconds in measured["all_seconds"])


def generate_inputs(n_contacts: int, raw: Path) -> float:
    """Write the log and the reference files into ``raw``; the log's MiB."""
    raw.mkdir(parents=True, exist_ok=True)
    for stale in raw.glob("mentoring_log.*"):
        stale.unlink()
    rng = np.random.default_rng(SEED)
    write_csv(generate_log(n_contacts, rng), raw / "mentoring_log.csv")
    write_reference_files(raw, rng)
    return (raw / "mentoring_log.csv").stat().st_size / 2**20


def main(n_contacts: int) -> None:
    raw, processed = OUT_DIR / "raw", OUT_DIR / "processed"
    # Every step runs in its own subprocess: on Linux a child started by a
    # large parent inherits the parent's ru_maxrss, so this process stays small.
    generated = measure(
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        "from pathlib import Path; from bench_clean import generate_inputs",
        f"result = generate_inputs({n_contacts}, Path({str(raw)!r}))",
        repeats=1,
    )
    print(f"generated {n_contacts:,} contacts at {N_SITES} sites ({generated['result']:.0f} MiB CSV) "
          f"in {generated['seconds']:.2f} s -> {raw}", flush=True)

    bare = measure(
        "import pyarrow.csv as pacsv",
        f"result = pacsv.read_csv({str(raw / 'mentoring_log.csv')!r}).num_rows",
    )
    print(f"bare pyarrow.csv.read_csv: {bare['seconds']:.2f} s (best of {_seconds(bare)}), "
          f"{bare['result']:,} rows, peak {bare['peak_mib']:.0f} MiB", flush=True)
    # The clean stage parses with newlines_in_values=True (notes typed in Excel
    # may hold line breaks); this is the bare parse with that one option.
    bare_newlines = measure(
        "import pyarrow.csv as pacsv",
        f"result = pacsv.read_csv({str(raw / 'mentoring_log.csv')!r}, "
        "parse_options=pacsv.ParseOptions(newlines_in_values=True)).num_rows",
    )
    print(f"bare pyarrow.csv.read_csv, newlines_in_values=True: {bare_newlines['seconds']:.2f} s "
          f"(best of {_seconds(bare_newlines)}), peak {bare_newlines['peak_mib']:.0f} MiB", flush=True)

    clean = measure(
        "from mentoring_eval.clean import run_clean_stage",
        f"result = run_clean_stage({str(raw)!r}, {str(processed)!r}, '2020-04-01').summary",
    )
    summary = clean["result"]
    print(f"clean stage (run_clean_stage, outputs written): {clean['seconds']:.2f} s "
          f"(best of {_seconds(clean)}), peak {clean['peak_mib']:.0f} MiB; "
          f"rows_read {summary['rows_read']:,}, clean {summary['rows_clean']:,}, "
          f"quarantined {summary['rows_quarantined']:,}, duplicates {summary['duplicates_removed']:,}, "
          f"contacts {summary['contacts']:,}", flush=True)

    ratio = clean["seconds"] / bare["seconds"]
    print(f"ratio clean / bare parse: {ratio:.2f} (aim <= {TARGET_RATIO:g}; "
          f"{clean['seconds'] / bare_newlines['seconds']:.2f} against the newline-safe parse); "
          f"clean stage peak memory {clean['peak_mib']:.0f} MiB (aim < {TARGET_PEAK_MIB} MiB; "
          "ru_maxrss of a fresh subprocess per measurement, imports excluded from the times)", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
