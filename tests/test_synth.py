"""The synthetic bundled records: deterministic, calibrated to the published
Table 4, planting every trap the data README lists (each naive handling
changes a Table 4 cell), spelling every form of the input contract, and
carrying invented personal details that never leave the clean stage."""

from __future__ import annotations

import dataclasses
import re
import shutil
from functools import partial
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import pytest

from mentoring_eval import clean, metrics, normalise, reproduction, synth
from mentoring_eval.inputs import LOG_COLUMNS, RawInputs, read_raw_inputs
from mentoring_eval.paths import project_root

ROOT = project_root()
RAW = ROOT / "data" / "raw"
REFERENCE = ROOT / "data" / "reference"
AS_OF = "2020-04-01"
CUT_OFF = pd.Timestamp(AS_OF)
NHS_NUMBER = re.compile(r"\d{3} \d{3} \d{4}")
SLASHED_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})\s*$")
SITE_SEPARATOR = re.compile(r"\s*(?:;|&|,|\sand\s)\s*")  # the contract's joint-session separators


class CleanTables(NamedTuple):
    """What Table 4 is computed from."""

    contacts: pd.DataFrame
    sites: pd.DataFrame
    participants: pd.DataFrame
    ots: pd.DataFrame


# --- the pipeline's own functions, end to end ----------------------------------


def clean_tables(raw: RawInputs) -> CleanTables:
    sites = clean.clean_sites(raw.sites)
    return CleanTables(
        contacts=clean.clean_log(raw.log, sites, AS_OF, raw.log_file).contacts,
        sites=sites,
        participants=clean.clean_participants(raw.participants, sites),
        ots=clean.clean_ots(raw.ots, sites),
    )


def table4_of(tables: CleanTables) -> pd.DataFrame:
    return metrics.table4(tables.contacts, tables.sites, tables.participants, tables.ots, AS_OF)


def mismatched_cells(table: pd.DataFrame, published: pd.DataFrame) -> list[str]:
    comparison = reproduction.compare_table4(table, published)
    wrong = comparison.loc[~comparison["match"]]
    return [f"site {r.site} {r.column}: {r.computed} (published {r.published})" for r in wrong.itertuples()]


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    return reproduction.load_published_table4(REFERENCE / "table4_published.csv")


@pytest.fixture(scope="module")
def raw() -> RawInputs:
    return read_raw_inputs(RAW)


@pytest.fixture(scope="module")
def cleaned(raw: RawInputs) -> CleanTables:
    return clean_tables(raw)


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clean stage run on the bundled records, as the pipeline runs it."""
    folder = tmp_path_factory.mktemp("processed")
    clean.run_clean_stage(RAW, folder, AS_OF)
    return folder


@pytest.fixture(scope="module")
def raw_log() -> pd.DataFrame:
    """The bundled log exactly as written, notes included, headers tidied."""
    log = pd.read_csv(RAW / "mentoring_log.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    return log.rename(columns=lambda name: name.strip().lower())


# --- 1. determinism --------------------------------------------------------------


def generate_into(folder: Path) -> tuple[Path, Path]:
    """Run the generator into ``folder`` with a copy of the reference files
    (it writes its manifest there): the raw folder and the copied reference."""
    reference = folder / "reference"
    shutil.copytree(REFERENCE, reference)
    synth.generate(folder / "raw", reference)
    return folder / "raw", reference


def test_generator_rewrites_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    first_raw, first_reference = generate_into(tmp_path / "first")
    second_raw, _ = generate_into(tmp_path / "second")
    assert sorted(path.name for path in first_raw.iterdir()) == sorted(synth.RAW_FILES)
    for name in synth.RAW_FILES:
        generated = (first_raw / name).read_bytes()
        assert generated == (second_raw / name).read_bytes(), f"{name} differs between two runs"
        assert generated == (RAW / name).read_bytes(), f"{name} differs from the committed data/raw/{name}"
    manifest = (first_reference / synth.SYNTHETIC_MANIFEST).read_bytes()
    assert manifest == (REFERENCE / synth.SYNTHETIC_MANIFEST).read_bytes()


# --- 2. calibration --------------------------------------------------------------


def test_clean_stage_and_table4_reproduce_every_published_cell(processed: Path, published: pd.DataFrame) -> None:
    tables = CleanTables(*(pd.read_parquet(processed / f"{name}.parquet") for name in CleanTables._fields))
    verdict = reproduction.reproduction_verdict(reproduction.compare_table4(table4_of(tables), published))
    assert verdict["cells"] == 16 * 7 == 112
    assert verdict["all_match"], verdict["summary"]


def test_in_memory_clean_reproduces_the_table_the_traps_start_from(
    cleaned: CleanTables, published: pd.DataFrame
) -> None:
    assert mismatched_cells(table4_of(cleaned), published) == []


# --- 3. the traps: each naive handling changes at least one cell -------------------


def with_log(raw: RawInputs, **columns: pd.Series) -> RawInputs:
    """``raw`` with some log columns replaced (as plain text)."""
    text = {name: values.astype("str") for name, values in columns.items()}
    return dataclasses.replace(raw, log=raw.log.assign(**text))


def log_text(raw: RawInputs, column: str) -> pd.Series:
    return raw.log[column].astype("str")


def distinct_rows(log: pd.DataFrame) -> pd.DataFrame:
    """Every row distinct: its source line appended to its mentor code (still a code), so
    that the cleaner sees no duplicates at all."""
    return log.assign(mentor=log["mentor"].astype("str") + "-" + log["source_line"].astype("str"))


def month_first_dates(raw: RawInputs) -> pd.DataFrame:
    """Slashed dates read month-first: day and month swapped wherever the
    swapped date exists."""
    dates = log_text(raw, "date")
    swapped = dates.str.replace(SLASHED_DATE, lambda m: f"{m[2]}/{m[1]}/{m[3]}", regex=True)
    readable = normalise.parse_dates(swapped).notna()
    assert (readable & swapped.ne(dates)).any(), "no slashed date could be swapped"
    return table4_of(clean_tables(with_log(raw, date=swapped.where(readable, dates))))


def joint_credited_to_first_site(raw: RawInputs) -> pd.DataFrame:
    sites = log_text(raw, "site")
    joint = normalise.parse_sites(sites).map(lambda listed: listed is not None and len(listed) > 1)
    first = sites.map(lambda text: SITE_SEPARATOR.split(text.strip())[0])
    return table4_of(clean_tables(with_log(raw, site=first.where(joint, sites))))


def joint_minutes_split(cleaned: CleanTables) -> pd.DataFrame:
    contacts = cleaned.contacts
    sites_credited = contacts.groupby("source_line")["site"].transform("size")
    return table4_of(cleaned._replace(contacts=contacts.assign(minutes=contacts["minutes"] / sites_credited)))


def duplicates_counted(raw: RawInputs) -> pd.DataFrame:
    return table4_of(clean_tables(dataclasses.replace(raw, log=distinct_rows(raw.log))))


def only_identical_duplicates_removed(raw: RawInputs) -> pd.DataFrame:
    log = raw.log.astype({column: "str" for column in LOG_COLUMNS})
    unique = log.drop_duplicates(subset=list(LOG_COLUMNS), keep="first")
    assert len(unique) < len(log), "no byte-identical duplicate to remove"
    return table4_of(clean_tables(dataclasses.replace(raw, log=distinct_rows(unique))))


def out_of_window_counted(cleaned: CleanTables, flag: str) -> pd.DataFrame:
    """Minutes summed over the counted contacts and those flagged ``flag``
    (Table 4 itself refuses flags that disagree with the cut-off, so the
    naive total is summed here, and only the total minutes column is naive)."""
    contacts = cleaned.contacts
    naive_counted = contacts["in_window"] | contacts["window_flag"].eq(flag)
    assert not naive_counted.equals(contacts["in_window"]), f"no contact flagged {flag!r}"
    naive_total = contacts.loc[naive_counted].groupby("site")["minutes"].sum()
    table = table4_of(cleaned)
    return table.assign(total_minutes=table["site"].map(naive_total).round().astype("Int64"))


def window_from_opening_day(cleaned: CleanTables) -> pd.DataFrame:
    """Contacts dated before the site's opening day dropped."""
    contacts = cleaned.contacts
    opened_on = contacts["site"].map(cleaned.sites.set_index("site")["opened_on"])
    return table4_of(cleaned._replace(contacts=contacts.loc[contacts["date"] >= opened_on]))


def impossible_minutes_coerced(raw: RawInputs) -> pd.DataFrame:
    """Negative and over-long minutes read leniently: their absolute value,
    capped at the longest valid contact."""
    text = log_text(raw, "minutes")
    minutes = normalise.parse_minutes(text)
    impossible = (minutes < 0) | (minutes > clean.MAX_MINUTES)
    assert impossible.any(), "no negative or over-long minutes"
    coerced = minutes.abs().clip(upper=clean.MAX_MINUTES).map(lambda m: f"{m:.0f}")
    return table4_of(clean_tables(with_log(raw, minutes=coerced.where(impossible, text))))


def participants_of_any_date(cleaned: CleanTables) -> pd.DataFrame:
    participants = cleaned.participants
    late = participants["arm"].eq(metrics.ESSVR_ARM) & (participants["randomised_on"] >= CUT_OFF)
    assert late.any(), "no ESSVR participant randomised after the cut-off"
    earliest = participants["randomised_on"].min()
    return table4_of(cleaned._replace(participants=participants.assign(randomised_on=earliest)))


def participants_of_any_arm(cleaned: CleanTables) -> pd.DataFrame:
    participants = cleaned.participants
    assert (participants["arm"] != metrics.ESSVR_ARM).any(), "no usual-care participant"
    return table4_of(cleaned._replace(participants=participants.assign(arm=metrics.ESSVR_ARM)))


def ots_regardless_of_window(cleaned: CleanTables) -> pd.DataFrame:
    """Every OT listed counted, whenever they started or left."""
    ots = cleaned.ots
    return table4_of(cleaned._replace(ots=ots.assign(started_on=ots["started_on"].min(), left_on=pd.NaT)))


def python_round(cleaned: CleanTables) -> pd.DataFrame:
    """The per-month and per-OT averages rounded with Python's ``round()``."""
    table = table4_of(cleaned)

    def rounded(numerator: str, denominator: str) -> list[int]:
        return [round(n / d) for n, d in zip(table[numerator], table[denominator])]

    return table.assign(
        minutes_per_month=rounded("total_minutes", "months_in_study"),
        participants_per_ot=rounded("essvr_participants", "ots"),
    )


# Each naive handling, on the raw inputs or on the clean tables, and the
# Table 4 column it must change.
ON_RAW = {
    "month-first slashed dates": (month_first_dates, "total_minutes"),
    "joint session credited to its first site": (joint_credited_to_first_site, "total_minutes"),
    "duplicates counted": (duplicates_counted, "total_minutes"),
    "only byte-identical duplicates removed": (only_identical_duplicates_removed, "total_minutes"),
    "negative or over-long minutes coerced": (impossible_minutes_coerced, "total_minutes"),
}
ON_CLEAN = {
    "joint minutes split between sites": (joint_minutes_split, "total_minutes"),
    "contacts before the opening month counted": (
        partial(out_of_window_counted, flag=clean.BEFORE_OPENING),
        "total_minutes",
    ),
    "contacts on or after the cut-off counted": (
        partial(out_of_window_counted, flag=clean.ON_OR_AFTER_CUT_OFF),
        "total_minutes",
    ),
    "window from the opening day, not month": (window_from_opening_day, "total_minutes"),
    "ESSVR participants of any date counted": (participants_of_any_date, "essvr_participants"),
    "usual-care participants counted": (participants_of_any_arm, "essvr_participants"),
    "OTs counted regardless of window": (ots_regardless_of_window, "ots"),
    "Python round() instead of half-up": (python_round, "minutes_per_month"),
}


@pytest.mark.parametrize("trap", [*ON_RAW, *ON_CLEAN])
def test_each_naive_handling_changes_a_published_cell(
    trap: str, raw: RawInputs, cleaned: CleanTables, published: pd.DataFrame
) -> None:
    (naive, column), given = (ON_RAW[trap], raw) if trap in ON_RAW else (ON_CLEAN[trap], cleaned)
    changed = mismatched_cells(naive(given), published)
    assert any(f" {column}: " in cell for cell in changed), (
        f"handling '{trap}' naively changes no {column} cell; cells it changes: {changed or 'none'}"
    )


# --- 4. the spellings of the contract, and the planted personal details ------------


def site_parts(site_text: pd.Series) -> pd.Series:
    return site_text.map(lambda text: SITE_SEPARATOR.split(text.strip())).explode()


CONTRACT_FORMS = {  # column -> form -> pattern a raw spelling must match in full
    "date": {
        "2019-03-14": r"\d{4}-\d{2}-\d{2}",
        "14/03/2019": r"\d{2}/\d{2}/\d{4}",
        "14/03/19": r"\d{2}/\d{2}/\d{2}",
        "14 Mar 2019": r"\d{1,2} [A-Z][a-z]{2} \d{4}",
    },
    "site part": {"7": r"\d+", "Site 7": r"Site \d+", "site 07": r"site 0\d", "S7": r"S\d+"},
    "minutes": {
        "60": r"\d+",
        "60 min": r"\d+ min",
        "45 mins": r"\d+ mins",
        "1h": r"\d+h",
        "1 hr": r"\d+ hr",
        "1h30": r"\d+h\d{2}",
        "1:30": r"\d+:\d{2}",
        "1.5h": r"\d+\.\d+h",
    },
    "kind": {"blank": r""},
}


@pytest.mark.parametrize(
    ("column", "form"), [(column, form) for column, forms in CONTRACT_FORMS.items() for form in forms]
)
def test_log_spells_every_contract_form(raw_log: pd.DataFrame, column: str, form: str) -> None:
    values = site_parts(raw_log["site"]) if column == "site part" else raw_log[column]
    assert values.str.fullmatch(CONTRACT_FORMS[column][form]).any(), f"no {column} spelled like {form!r}"


@pytest.mark.parametrize("separator", [";", "&", ",", " and "])
def test_log_joins_joint_sessions_with_every_separator(raw_log: pd.DataFrame, separator: str) -> None:
    joint = raw_log["site"].loc[normalise.parse_sites(raw_log["site"]).map(lambda s: s is not None and len(s) > 1)]
    assert joint.str.contains(separator, regex=False).any(), f"no joint session joined by {separator!r}"


def test_log_spells_every_contract_mode(raw_log: pd.DataFrame) -> None:
    spelled = set(normalise.spelling_key(raw_log["mode"]))
    assert set(normalise.MODES) <= spelled, f"never spelled: {sorted(set(normalise.MODES) - spelled)}"
    for mode in ("phone", "teams", "written"):
        spellings = raw_log["mode"].loc[normalise.parse_modes(raw_log["mode"]).eq(mode)]
        untidy = spellings.ne(normalise.spelling_key(spellings))
        assert untidy.any(), f"{mode}: no spelling in another case or spacing"


def planted_details(notes: pd.Series) -> dict[str, list[str]]:
    """The invented names, NHS-number-like strings and addresses in ``notes``."""
    text = "\n".join(notes)
    return {
        "name": [name for name in synth.INVENTED_NAMES if name in text],
        "NHS number": sorted(set(NHS_NUMBER.findall(text))),
        "address": [address for address in synth.INVENTED_ADDRESSES if address in text],
    }


def test_notes_hold_planted_personal_details(raw_log: pd.DataFrame) -> None:
    empty = [kind for kind, found in planted_details(raw_log["notes"]).items() if not found]
    assert not empty, f"notes hold no planted {', '.join(empty)}"


def readable_text(path: Path) -> str:
    """A clean-stage file as text: its bytes, and for Parquet (compressed)
    also every value of every column."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    if path.suffix == ".parquet":
        text += pd.read_parquet(path).to_csv(index=False)
    return text


def test_clean_outputs_never_hold_the_notes(processed: Path, raw_log: pd.DataFrame) -> None:
    planted = planted_details(raw_log["notes"])
    written = sorted(processed.iterdir())
    assert {path.name for path in written} >= {"contacts.parquet", "quarantine.csv", "cleaning_summary.json"}
    for path in written:
        text = readable_text(path)
        leaked = [s for found in planted.values() for s in found if s in text] + NHS_NUMBER.findall(text)
        assert not leaked, f"{path.name} holds notes: {leaked}"
