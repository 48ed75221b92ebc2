"""Valid trials drawn from the whole input contract, and what is true of each.

A trial is generated from a ``Scenario`` (the shape of the trial: how many
sites, which edge it stands on) and a seed (every other detail). Each is
written to a raw folder in the spellings the contract allows (``data/README.md``),
as CSV or with an ``.xlsx`` log, and ``truth`` computes its Table 4 and the
log's reconciliation in plain Python from the generator's own records —
never through ``mentoring_eval.metrics`` — so that the pipeline is checked
against an independent reckoning.

Hypothesis draws scenarios and seeds (``tests/test_any_trial.py``); any case
is replayed from the line a failing test prints::

    .venv/bin/python tests/trials.py SCENARIO_JSON SEED FOLDER
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sys
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

# A string planted in every note: it must never reach any output.
NOTE_MARKER = "Zebulon Quartermaine NHS 943 476 5919"
MODE_SPELLINGS = {
    "phone": ("phone", "Telephone", "TEL", "teleconference", " Phone "),
    "teams": ("teams", "MS Teams", "microsoft  teams", "Video", "Microsoft Teams"),
    "written": ("email", "E-mail", "sms", "Text", "SMS"),
}
KIND_SPELLINGS = {
    "planned": ("", "planned", "Planned "),
    "additional": ("additional", "Additional"),
    "ad hoc": ("ad hoc", "Ad-hoc", "adhoc", "AD HOC"),
}
SITE_SEPARATORS = ("; ", " & ", ", ", " and ", ";")
LEAVE_REASONS = ("maternity leave", "new job", "clinical pressures", "")
# Rows the clean stage must quarantine, one value of one column each.
BAD_VALUES = {
    "date": ("", "31/02/2019", "March 2019", "2019-13-01"),
    "site": ("Site 999", "", "Ward 3"),
    "mode": ("face to face", "", "carrier pigeon"),
    "minutes": ("", "0", "-15", "600", "a while"),
    "kind": ("mandatory",),
}


@dataclass(frozen=True)
class Scenario:
    """The shape of a trial: the edges Hypothesis steers towards."""

    n_sites: int = 4
    contacts: str = "normal"  # normal | joint only | outside window only | few
    leavers: str = "mixed"  # none | unreplaced | same day | mixed
    dose: str = "mixed"  # high (no site below) | low | mixed
    competency: str = "mixed"  # high | low | none | mixed
    cut_off: str = "first of month"  # first of month | between months | first open month | after last record
    empty_sites: bool = False  # some sites with no contacts, OTs, scores or participants
    unopened_sites: bool = False  # sites listed that open on or after the cut-off
    log_format: str = "csv"  # csv | xlsx
    bad_rows: int = 0
    duplicates: int = 0


@dataclass(frozen=True)
class Contact:
    date: dt.date
    sites: tuple[int, ...]
    mentor: str
    ots: tuple[str, ...]
    mode: str  # phone | teams | written
    minutes: int
    kind: str  # planned | additional | ad hoc

    def key(self) -> tuple:
        """What the clean stage compares to find duplicates (notes aside)."""
        return (self.date, self.sites, self.mentor, tuple(sorted(self.ots)), self.mode, self.minutes, self.kind)


@dataclass(frozen=True)
class OT:
    ot_id: str
    site: int
    started_on: dt.date
    left_on: dt.date | None
    leave_reason: str


@dataclass
class Trial:
    scenario: Scenario
    seed: int
    as_of: dt.date
    sites: dict[int, dt.date]  # site -> opened_on
    participants: list[tuple[str, int, str, dt.date]]  # id, site, arm, randomised_on
    ots: list[OT]
    competency: list[tuple[str, dt.date, int]]
    contacts: list[Contact]
    duplicate_of: list[int] = field(default_factory=list)  # indices of contacts logged twice
    bad_rows: list[dict[str, str]] = field(default_factory=list)

    @property
    def open_sites(self) -> list[int]:
        return sorted(site for site, opened in self.sites.items() if opened < self.as_of)

    def replay_line(self) -> str:
        return f"tests/trials.py '{json.dumps(asdict(self.scenario))}' {self.seed} FOLDER"


# ---------------------------------------------------------------- dates


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def month_index(day: dt.date) -> int:
    return day.year * 12 + day.month - 1


def random_day(rng: random.Random, first: dt.date, last: dt.date) -> dt.date:
    """A day from ``first`` to ``last`` inclusive."""
    return first + dt.timedelta(days=rng.randint(0, max((last - first).days, 0)))


# ---------------------------------------------------------------- the trial


def generate_trial(scenario: Scenario, seed: int) -> Trial:
    """A valid trial of the scenario's shape; every other choice from ``seed``."""
    rng = random.Random(seed)
    site_numbers = sorted(rng.sample(range(1, 100), scenario.n_sites))
    first_opening = dt.date(2018, rng.randint(1, 12), rng.randint(1, 28))
    opened = {site: random_day(rng, first_opening, first_opening + dt.timedelta(days=420)) for site in site_numbers}
    opened[site_numbers[0]] = first_opening

    last_opening = max(opened.values())
    if scenario.cut_off == "first open month":
        # The cut-off falls in the month the first site opened: that site has
        # no whole month in study yet.
        as_of = first_opening + dt.timedelta(days=rng.randint(1, 3))
        if as_of.month != first_opening.month:
            as_of = first_opening
            opened[site_numbers[0]] = first_opening = first_opening.replace(day=1)
            as_of = first_opening + dt.timedelta(days=1)
    else:
        as_of = add_months(last_opening, rng.randint(1, 14))
        if scenario.cut_off == "between months":
            as_of = as_of.replace(day=rng.randint(2, 28))
    if scenario.unopened_sites and len(site_numbers) > 1:
        for site in rng.sample(site_numbers[1:], max(1, len(site_numbers) // 4)):
            opened[site] = as_of + dt.timedelta(days=rng.randint(0, 60))
    open_sites = sorted(site for site, day in opened.items() if day < as_of)
    empty = set(rng.sample(open_sites, len(open_sites) // 3)) if scenario.empty_sites else set()

    trial = Trial(scenario, seed, as_of, opened, [], [], [], [])
    _add_participants(trial, rng, empty)
    _add_ots(trial, rng, empty)
    _add_competency(trial, rng)
    _add_contacts(trial, rng, empty)
    _add_duplicates_and_bad_rows(trial, rng)
    return trial


def _add_participants(trial: Trial, rng: random.Random, empty: set[int]) -> None:
    number = 0
    for site, opened in trial.sites.items():
        if site in empty:
            continue
        for _ in range(rng.randint(0, 8)):
            number += 1
            randomised = random_day(rng, opened, trial.as_of + dt.timedelta(days=40))
            arm = rng.choice(("ESSVR", "usual care"))
            trial.participants.append((f"P{number:04d}", site, arm, randomised))


def _add_ots(trial: Trial, rng: random.Random, empty: set[int]) -> None:
    leavers = trial.scenario.leavers
    number = 0
    for site, opened in sorted(trial.sites.items()):
        if site in empty:
            continue
        for _ in range(rng.randint(1, 2)):
            number += 1
            started = random_day(rng, opened - dt.timedelta(days=200), opened + dt.timedelta(days=30))
            ot_id = f"OT{number:03d}"
            leaves = leavers != "none" and (leavers != "mixed" or rng.random() < 0.4)
            left_on = None
            reason = ""
            if leaves and started + dt.timedelta(days=31) < trial.as_of:
                left_on = random_day(
                    rng, max(started, opened) + dt.timedelta(days=30), trial.as_of - dt.timedelta(days=1)
                )
                left_on = max(left_on, started)
                reason = rng.choice(LEAVE_REASONS)
            trial.ots.append(OT(ot_id, site, started, left_on, reason))
            replaced = left_on is not None and (leavers == "same day" or (leavers == "mixed" and rng.random() < 0.5))
            if replaced:
                number += 1
                trial.ots.append(OT(f"OT{number:03d}", site, left_on, None, ""))


def _add_competency(trial: Trial, rng: random.Random) -> None:
    style = trial.scenario.competency
    if style == "none":
        return
    for ot in trial.ots:
        if rng.random() < 0.2:
            continue  # an OT never assessed
        for _ in range(rng.randint(1, 2)):
            assessed = random_day(rng, ot.started_on, ot.started_on + dt.timedelta(days=300))
            low = style == "low" or (style == "mixed" and rng.random() < 0.3)
            score = rng.randint(20, 59) if low else rng.randint(60, 100)
            trial.competency.append((ot.ot_id, assessed, score))


def _site_ots(trial: Trial, site: int) -> list[str]:
    return [ot.ot_id for ot in trial.ots if ot.site == site]


def _add_contacts(trial: Trial, rng: random.Random, empty: set[int]) -> None:
    scenario = trial.scenario
    mentors = [f"M{n}" for n in range(1, rng.randint(1, 6) + 1)]
    sites = sorted(trial.sites)
    with_contacts = [site for site in sites if site not in empty]
    seen: set[tuple] = set()

    def log(contact: Contact) -> None:
        if contact.key() not in seen:  # two equal contacts would be one contact logged twice
            seen.add(contact.key())
            trial.contacts.append(contact)

    def contact_on(day: dt.date, site_list: tuple[int, ...], minutes: int, kind: str) -> Contact:
        present = [ot for site in site_list for ot in _site_ots(trial, site)]
        ots = tuple(rng.sample(present, rng.randint(0, min(2, len(present)))))
        mode = rng.choice(("phone", "phone", "teams", "written"))
        return Contact(day, site_list, rng.choice(mentors), ots, mode, minutes, kind)

    for site in with_contacts:
        opened = trial.sites[site]
        start = month_start(opened)
        if scenario.contacts == "outside window only":
            before = start - dt.timedelta(days=rng.randint(1, 60))
            after = trial.as_of + dt.timedelta(days=rng.randint(0, 60))
            for day in (before, after):
                log(contact_on(day, (site,), rng.choice((30, 60, 90)), "planned"))
            continue
        month = start
        while month < trial.as_of:
            last_day = min(add_months(month, 1) - dt.timedelta(days=1), trial.as_of - dt.timedelta(days=1))
            high = scenario.dose == "high" or (scenario.dose == "mixed" and rng.random() < 0.5)
            if scenario.contacts == "few" and rng.random() < 0.7:
                month = add_months(month, 1)
                continue
            # A high dose is at least the expected 60 minutes in every month.
            for minutes in (rng.choice((60, 75, 90)),) if high else (rng.choice((15, 20, 30)),):
                day = random_day(rng, month, last_day)
                partners = [other for other in with_contacts if other != site]
                joint = scenario.contacts == "joint only" or (partners and rng.random() < 0.3)
                site_list = (site,)
                if joint:
                    # a joint session with a partner site (or, with no partner
                    # at hand, with a site listed that has not opened)
                    partner = rng.choice(partners) if partners else None
                    if partner is not None:
                        site_list = tuple(rng.sample([site, partner], 2))
                log(contact_on(day, site_list, minutes, "planned"))
            if rng.random() < 0.3:
                day = random_day(rng, month, last_day)
                log(contact_on(day, (site,), rng.choice((10, 15, 45)), rng.choice(("additional", "ad hoc"))))
            month = add_months(month, 1)
        if rng.random() < 0.3:  # one contact after the cut-off, kept but not counted
            log(contact_on(trial.as_of + dt.timedelta(days=rng.randint(0, 20)), (site,), 30, "ad hoc"))
    if not trial.contacts:  # a log needs at least one usable row
        site = with_contacts[0] if with_contacts else sites[0]
        log(contact_on(trial.as_of + dt.timedelta(days=3), (site,), 30, "planned"))
    rng.shuffle(trial.contacts)
    trial.contacts.sort(key=lambda c: c.date)


def _add_duplicates_and_bad_rows(trial: Trial, rng: random.Random) -> None:
    scenario = trial.scenario
    trial.duplicate_of = [rng.randrange(len(trial.contacts)) for _ in range(scenario.duplicates)]
    for _ in range(scenario.bad_rows):
        column = rng.choice(sorted(BAD_VALUES))
        trial.bad_rows.append({"column": column, "value": rng.choice(BAD_VALUES[column])})


# ---------------------------------------------------------------- what is true of it


def half_up(value: Fraction, decimals: int = 0) -> Fraction:
    scale = Fraction(10) ** decimals
    scaled = value * scale
    return Fraction(int(scaled + Fraction(1, 2)) if scaled >= 0 else -int(-scaled + Fraction(1, 2))) / scale


def truth_table4(trial: Trial) -> list[dict[str, object]]:
    """Table 4 by the design's definitions, one dict per open site; None for NA."""
    rows = []
    for site in trial.open_sites:
        opened = trial.sites[site]
        window_start = month_start(opened)
        months = month_index(trial.as_of) - month_index(opened)
        credited = [c for c in trial.contacts if site in c.sites and window_start <= c.date < trial.as_of]
        total = Fraction(sum(c.minutes for c in credited))
        spoken = Fraction(sum(c.minutes for c in credited if c.mode in ("phone", "teams")))
        participants = sum(
            1 for _, s, arm, day in trial.participants if s == site and arm == "ESSVR" and day < trial.as_of
        )
        ots = sum(
            1
            for ot in trial.ots
            if ot.site == site and ot.started_on < trial.as_of and (ot.left_on is None or ot.left_on >= window_start)
        )
        rows.append(
            {
                "site": site,
                "months_in_study": months,
                "total_minutes": int(half_up(total)),
                "pct_phone_teams": float(half_up(100 * spoken / total, 1)) if total else None,
                "essvr_participants": participants,
                "ots": ots,
                "minutes_per_month": int(half_up(total / months)) if months else None,
                "participants_per_ot": int(half_up(Fraction(participants, ots))) if ots else None,
            }
        )
    return rows


def truth_reconciliation(trial: Trial) -> dict[str, int]:
    rows_read = len(trial.contacts) + len(trial.duplicate_of) + len(trial.bad_rows)
    return {
        "rows_read": rows_read,
        "rows_clean": len(trial.contacts),
        "rows_quarantined": len(trial.bad_rows),
        "duplicates_removed": len(trial.duplicate_of),
    }


# ---------------------------------------------------------------- written as users write it


def spell_date(day: dt.date, rng: random.Random) -> str:
    form = rng.randrange(4)
    if form == 0:
        return day.isoformat()
    if form == 1:
        return f"{day.day:02d}/{day.month:02d}/{day.year}"
    if form == 2:
        return f"{day.day}/{day.month}/{day.year % 100:02d}"
    return f"{day.day} {day.strftime('%b')} {day.year}"


def spell_site(site: int, rng: random.Random) -> str:
    return rng.choice((str(site), f"Site {site}", f"site {site:02d}", f"S{site}", f"  {site} "))


def spell_sites(sites: tuple[int, ...], rng: random.Random) -> str:
    return rng.choice(SITE_SEPARATORS).join(spell_site(site, rng) for site in sites)


def spell_minutes(minutes: int, rng: random.Random) -> str:
    hours, rest = divmod(minutes, 60)
    spellings = [str(minutes), f"{minutes} min", f"{minutes} mins"]
    if hours and not rest:
        spellings += [f"{hours}h", f"{hours} hr"]
    if hours and rest:
        spellings += [f"{hours}h{rest:02d}", f"{hours}:{rest:02d}"]
    if minutes % 30 == 0 and minutes >= 30:
        spellings.append(f"{minutes / 60:g}h")
    return rng.choice(spellings)


def spell_mentor(mentor: str, rng: random.Random) -> str:
    return rng.choice((mentor, mentor.lower(), f" {mentor} "))


def log_rows(trial: Trial, rng: random.Random) -> list[dict[str, str]]:
    """The log's rows as a mentor typed them: every contact, its re-typed
    duplicates right after it, and the bad rows at random places."""

    def typed(contact: Contact) -> dict[str, str]:
        return {
            "date": spell_date(contact.date, rng),
            "site": spell_sites(contact.sites, rng),
            "mentor": spell_mentor(contact.mentor, rng),
            "ots": "; ".join(rng.choice((ot, ot.lower())) for ot in contact.ots),
            "mode": rng.choice(MODE_SPELLINGS[contact.mode]),
            "minutes": spell_minutes(contact.minutes, rng),
            "kind": rng.choice(KIND_SPELLINGS[contact.kind]),
            "notes": rng.choice(("", NOTE_MARKER, f"Called {NOTE_MARKER}, re: phased return")),
        }

    rows = []
    for index, contact in enumerate(trial.contacts):
        rows.append(typed(contact))
        rows += [typed(contact) for duplicate in trial.duplicate_of if duplicate == index]
    for bad in trial.bad_rows:
        row = typed(trial.contacts[rng.randrange(len(trial.contacts))])
        row[bad["column"]] = bad["value"]
        rows.insert(rng.randint(0, len(rows)), row)
    return rows


def _write_csv(path: Path, header: list[str], rows: list[list[str]], rng: random.Random) -> None:
    # Headers in any case with spaces around, as the contract allows; now and
    # then a byte-order mark, as Excel writes.
    shown = [rng.choice((name, name.upper(), f" {name.title()} ")) for name in header]
    encoding = "utf-8-sig" if rng.random() < 0.3 else "utf-8"
    with path.open("w", encoding=encoding, newline="") as file:
        writer = csv.writer(file)
        writer.writerow(shown)
        writer.writerows(rows)


def write_trial(trial: Trial, folder: Path) -> Path:
    """The trial's five files in ``folder`` (made), spelled from the trial's seed."""
    rng = random.Random(trial.seed + 1)
    folder.mkdir(parents=True, exist_ok=True)
    _write_csv(
        folder / "sites.csv",
        ["site", "opened_on"],
        [[spell_site(site, rng), spell_date(day, rng)] for site, day in sorted(trial.sites.items())],
        rng,
    )
    _write_csv(
        folder / "participants.csv",
        ["participant_id", "site", "arm", "randomised_on"],
        [
            [pid, spell_site(site, rng), rng.choice((arm, arm.upper(), arm.lower())), spell_date(day, rng)]
            for pid, site, arm, day in trial.participants
        ],
        rng,
    )
    _write_csv(
        folder / "ots.csv",
        ["ot_id", "site", "started_on", "left_on", "leave_reason"],
        [
            [
                ot.ot_id,
                spell_site(ot.site, rng),
                spell_date(ot.started_on, rng),
                spell_date(ot.left_on, rng) if ot.left_on else "",
                ot.leave_reason,
            ]
            for ot in trial.ots
        ],
        rng,
    )
    _write_csv(
        folder / "competency.csv",
        ["ot_id", "assessed_on", "score"],
        [[ot_id, spell_date(day, rng), str(score)] for ot_id, day, score in trial.competency],
        rng,
    )
    rows = log_rows(trial, rng)
    columns = ["date", "site", "mentor", "ots", "mode", "minutes", "kind", "notes"]
    if trial.scenario.log_format == "xlsx":
        _write_xlsx(folder / "mentoring_log.xlsx", columns, rows, trial, rng)
    else:
        _write_csv(folder / "mentoring_log.csv", columns, [[row[c] for c in columns] for row in rows], rng)
    return folder


def _write_xlsx(path: Path, columns: list[str], rows: list[dict[str, str]], trial: Trial, rng: random.Random) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(columns)
    for row in rows:
        cells: list[object] = [row[c] for c in columns]
        try:  # a real date cell now and then, as a spreadsheet stores a typed date
            day = dt.date.fromisoformat(row["date"])
            if rng.random() < 0.5:
                cells[0] = dt.datetime(day.year, day.month, day.day)
        except ValueError:
            pass
        sheet.append(cells)
    workbook.save(path)


if __name__ == "__main__":
    scenario_json, seed, folder = sys.argv[1:4]
    written = write_trial(generate_trial(Scenario(**json.loads(scenario_json)), int(seed)), Path(folder))
    print(f"wrote {written}")
