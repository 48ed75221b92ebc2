"""A national-scale synthetic mentoring log and its reference files, shared
by the benchmarks (``bench_clean.py``, ``bench_pipeline.py``).

Seeded and vectorised: ``generate_inputs(n, folder)`` writes a log of ``n``
contacts at ``N_SITES`` sites, in every spelling of the input contract (dates,
site lists and joint sessions, modes, minutes, kinds, mentors), with ~0.5% rows
the clean stage must quarantine and ~1% exact duplicates, sorted by date like a
real log; plus ``sites.csv`` (sites opening from March 2018 to April 2019),
``participants.csv`` (20 a site, both arms), ``ots.csv`` (three OTs a site,
some leaving with a reason, some of those replaced) and ``competency.csv``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

N_SITES = 200
SEED = 20180301

DATE_SPELLINGS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d %b %Y")
MODE_SPELLINGS = (
    "phone",
    "Telephone",
    "tel",
    "teleconference",
    "teams",
    "MS Teams",
    "microsoft  teams",
    "Video",
    "email",
    "E-mail",
    "sms",
    "text",
    " Phone ",
)
MINUTES_SPELLINGS = (
    "60",
    "60 min",
    "45 mins",
    "1h",
    "1 hr",
    "1h30",
    "1:30",
    "1.5h",
    "30",
    "15 mins",
    "90",
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
    ot_ids = np.array([f"OT{site:03d}-{k}" for site in sites for k in (1, 2, 3)])
    ots = pd.DataFrame(
        {"ot_id": ot_ids, "site": ot_site, "started_on": opened[ot_site - 1], "left_on": pd.NaT, "leave_reason": ""}
    )
    competency = pd.DataFrame(
        {"ot_id": ot_ids, "assessed_on": opened[ot_site - 1], "score": rng.integers(40, 101, len(ot_ids))}
    )
    # Turnover: the third OT of a quarter of the sites leaves, half of them replaced
    # by a fourth OT (drawn after everything above, which stays as it was).
    leaving = np.flatnonzero(rng.random(N_SITES) < 0.25)
    left_on = opened[leaving] + pd.to_timedelta(rng.integers(120, 600, len(leaving)), unit="D")
    reasons = rng.choice(np.array(["maternity leave", "New job", "clinical pressures ", "retired"]), len(leaving))
    leaver_rows = 3 * leaving + 2
    ots.loc[leaver_rows, "left_on"] = left_on
    ots.loc[leaver_rows, "leave_reason"] = reasons
    replaced = leaving[rng.random(len(leaving)) < 0.5]
    joiner_start = (
        ots.loc[3 * replaced + 2, "left_on"].to_numpy()
        + pd.to_timedelta(rng.integers(-30, 60, len(replaced)), unit="D").to_numpy()
    )
    joiners = pd.DataFrame(
        {
            "ot_id": [f"OT{site:03d}-4" for site in sites[replaced]],
            "site": sites[replaced],
            "started_on": joiner_start,
            "left_on": pd.NaT,
            "leave_reason": "",
        }
    )
    joiner_scores = pd.DataFrame(
        {
            "ot_id": joiners["ot_id"],
            "assessed_on": joiners["started_on"] + pd.Timedelta(days=14),
            "score": rng.integers(40, 101, len(joiners)),
        }
    )
    ots = pd.concat([ots, joiners], ignore_index=True).sort_values("ot_id", ignore_index=True)
    ots["started_on"] = ots["started_on"].dt.strftime("%Y-%m-%d")
    ots["left_on"] = ots["left_on"].dt.strftime("%Y-%m-%d").fillna("")
    ots.to_csv(folder / "ots.csv", index=False, lineterminator="\n")
    competency = pd.concat([competency, joiner_scores], ignore_index=True).sort_values("ot_id", ignore_index=True)
    competency["assessed_on"] = competency["assessed_on"].dt.strftime("%d %b %Y")
    competency.to_csv(folder / "competency.csv", index=False, lineterminator="\n")


def generate_inputs(n_contacts: int, raw: Path) -> float:
    """Write the log and the reference files into ``raw``; the log's MiB."""
    raw.mkdir(parents=True, exist_ok=True)
    for stale in raw.glob("mentoring_log.*"):
        stale.unlink()
    rng = np.random.default_rng(SEED)
    write_csv(generate_log(n_contacts, rng), raw / "mentoring_log.csv")
    write_reference_files(raw, rng)
    return (raw / "mentoring_log.csv").stat().st_size / 2**20
