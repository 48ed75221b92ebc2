"""The bundled synthetic RETAKE records, calibrated to the publication.

No individual RETAKE records are public. This generator writes the five files
of the input contract so that the pipeline, run on them, reproduces every
cell of the published Table 4 and the counts the text gives. It builds the
records *from* the published table and facts, by construction: each site's
in-window minutes are split into planned group sessions, additional sessions
and ad-hoc contacts that add up exactly to the published total, with exactly
the phone/Teams share that rounds to the published percentage.

The records are as messy as mentors' spreadsheets, and every mess is a trap
that changes at least one cell when handled naively: UK day-first slashed
dates, joint sessions crediting two sites, duplicate entries (some spelled
differently), invalid rows, contacts outside each site's window, participants
in the usual-care arm or randomised after the cut-off, an OT who starts after
the cut-off. Free-text notes hold invented personal details, so that tests can
prove the notes never leave the clean stage.

Run ``python -m mentoring_eval.synth`` to rewrite ``data/raw/``; the output is
seeded and byte-for-byte deterministic.
"""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import yaml

from mentoring_eval.paths import project_root
from mentoring_eval.provenance import sha256_of_file

SEED = 20180301
SYNTHETIC_MANIFEST = "synthetic_raw.sha256"  # in data/reference: what the shipped records hash to
RAW_FILES = ("competency.csv", "mentoring_log.csv", "ots.csv", "participants.csv", "sites.csv", "trial.yml")
# The trial description that travels with the records (mentoring_eval.trial):
# these are RETAKE's records, so the publication's content applies to them.
TRIAL_DESCRIPTION = """\
# Which trial these records belong to (see data/README.md, "trial.yml").
name: RETAKE
# How the protocol organised the mentoring, in the protocol's words: the
# report prints it as the protocol's description, never as a finding.
description: >-
  Six experienced mentors supported the OTs by monthly group calls (planned
  to last about 60 minutes, two sites per call), additional sessions for OTs
  who missed one, and ad-hoc contact by phone, email and SMS.
# The published process evaluation of this trial, which the project holds in
# data/reference/: its findings, and the check that the records reproduce it.
publication: craven-2021
"""
STUDY_END = date(2020, 4, 1)  # the publication's cut-off, "as of 1st April 2020"
TEAMS_FROM = date(2020, 1, 1)  # Teams replaced phone calls in 2020
PLANNED_SHARE = 0.7  # share of a site's phone/Teams minutes given in planned sessions

# Planned group sessions have "two sites attending each session" (footnote a).
SESSION_PAIRS = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10), (11, 12), (13, 14), (15, 16)]
# Six mentors; two left (long-term sickness, moving overseas) and handed over.
PAIR_MENTOR = {1: "M1", 3: "M2", 5: "M3", 7: "M4", 9: "M5", 11: "M6", 13: "M1", 15: "M2"}
MENTOR_HANDOVER = {"M3": (date(2019, 6, 30), "M5"), "M6": (date(2019, 11, 30), "M2")}

DATE_STYLES = ("iso", "dmy", "dmy2", "dd_mon_yyyy")
SITE_STYLES = ("{n}", "Site {n}", "site {n:02d}", "S{n}")
JOINT_SEPARATORS = ("; ", " & ", ", ", " and ")
PHONE_SPELLINGS = ("phone", "Phone", "telephone", "Tel", "teleconference", " Teleconference ")
TEAMS_SPELLINGS = ("Teams", "MS Teams", "microsoft teams", "Microsoft  Teams", "video", "teams")
WRITTEN_SPELLINGS = ("email", "e-mail", "Email", "sms", "SMS", "text")
MONTH_ABBREVIATIONS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()

# Invented people and places: the kind of detail mentors write in notes.
INVENTED_NAMES = ("Jane Morrow", "Tom Hadley", "Priya Nair", "Gareth Lewis", "Ann Boyce")
INVENTED_NHS_NUMBERS = ("943 476 5919", "401 023 2137")
INVENTED_ADDRESSES = ("14 Elm Grove, Leeds LS6 2AB", "3 Mill Lane, Derby DE1 1QX")
ROUTINE_NOTES = (
    "Discussed caseload and employer contact.",
    "Went through trial paperwork, CRFs up to date.",
    "Reassured re: discharge timing; agreed follow-up.",
    "Talked through job demands analysis.",
    "Recruitment paused locally, agreed to prompt recruiters.",
    "Signposted to fit note guidance.",
    "",
)


@dataclass(frozen=True)
class SiteTarget:
    """One row of the published Table 4, as the generator must reproduce it."""

    site: int
    months_in_study: int
    total_minutes: int
    pct_phone_teams: float
    essvr_participants: int
    ots: int

    @property
    def opening_month(self) -> date:
        return add_months(month_start(STUDY_END), -self.months_in_study)

    @property
    def phone_teams_minutes(self) -> int:
        """Whole phone/Teams minutes whose share rounds (half-up) to the published one."""
        target = round(self.pct_phone_teams * 10)
        nearest = round(self.total_minutes * self.pct_phone_teams / 100)
        for candidate in sorted(range(nearest - 5, nearest + 6), key=lambda m: abs(m - nearest)):
            if 0 <= candidate <= self.total_minutes and _tenths_half_up(candidate, self.total_minutes) == target:
                return candidate
        raise ValueError(f"no whole-minute phone/Teams split gives {self.pct_phone_teams}% of {self.total_minutes}")


@dataclass(frozen=True)
class StaffingPlan:
    """What the text says of a site's OTs, turned into departures."""

    leave_reasons: tuple[str, ...] = ()  # one per departure
    replaced: bool = True
    low_competency: bool = False


@dataclass
class LogRow:
    """One mentoring contact as a mentor would record it (normalised values)."""

    day: date
    sites: tuple[int, ...]
    mentor: str
    ots: tuple[str, ...]
    mode: str  # phone | teams | written
    minutes: int
    kind: str  # planned | additional | ad hoc
    notes: str = ""
    invalid: str = ""  # what is wrong with a deliberately invalid row
    raw: dict[str, str] = field(default_factory=dict)  # spelled-out values

    def key(self) -> tuple:
        return (
            self.day,
            tuple(sorted(self.sites)),
            self.mentor,
            tuple(sorted(self.ots)),
            self.mode,
            self.minutes,
            self.kind,
        )


def _tenths_half_up(numerator: int, denominator: int) -> int:
    """100 * numerator / denominator in tenths, rounded half-up, in integers."""
    return (2000 * numerator + denominator) // (2 * denominator)


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, stop: date) -> list[date]:
    """First days of the months from ``first``'s month up to the month before ``stop``."""
    months, current = [], month_start(first)
    while current < month_start(stop):
        months.append(current)
        current = add_months(current, 1)
    return months


def partition(total: int, low: int, high: int, rng: np.random.Generator) -> list[int]:
    """Split ``total`` into whole pieces between ``low`` and ``high`` (``high >= 2 * low``);
    only the last piece may be smaller, when ``total`` itself is."""
    pieces, remaining = [], total
    while remaining > high:
        piece = int(rng.integers(low, high + 1))
        if remaining - piece < low:
            piece = remaining - low
        pieces.append(piece)
        remaining -= piece
    if remaining > 0:
        pieces.append(remaining)
    return pieces


# ---------------------------------------------------------------- reference data


def load_targets(reference_dir: Path) -> list[SiteTarget]:
    with open(reference_dir / "table4_published.csv", newline="", encoding="utf-8") as handle:
        return [
            SiteTarget(
                site=int(row["site"]),
                months_in_study=int(row["months_in_study"]),
                total_minutes=int(row["total_minutes"]),
                pct_phone_teams=float(row["pct_phone_teams"]),
                essvr_participants=int(row["essvr_participants"]),
                ots=int(row["ots"]),
            )
            for row in csv.DictReader(handle)
        ]


def load_staffing(reference_dir: Path, targets: list[SiteTarget]) -> dict[int, StaffingPlan]:
    """Departures per site from the published facts and the table's OT counts.

    With 1-2 OTs in post at a time, every OT beyond the first two at a site is a
    replacement, so a site with n > 2 OTs lost n - 2 of them. The text's leave
    reasons (maternity leave 2, new job 6, clinical pressures 1) are dealt out to
    those departures; site 2's leaver, whom the text counts apart, has none.
    """
    facts = yaml.safe_load((reference_dir / "published_facts.yml").read_text(encoding="utf-8"))
    reasons: list[str] = []
    for reason, count in sorted(facts["leavers"]["reasons"].items()):
        reasons += [reason.replace("_", " ")] * int(count)
    turnover_sites = set(facts["turnover_sites"])
    unreplaced_site = int(facts["unreplaced_departure"]["site"])
    low_sites = set(facts["low_competency_sites"])
    # Deal reasons deterministically: new jobs first to the sites with most departures.
    departures = {t.site: max(t.ots - 2, 0) for t in targets if t.site in turnover_sites}
    reason_queue = sorted(reasons, key=lambda r: (r != "new job", r))
    plans: dict[int, StaffingPlan] = {}
    for site in sorted(departures, key=lambda s: (-departures[s], s)):
        taken, reason_queue = reason_queue[: departures[site]], reason_queue[departures[site] :]
        plans[site] = StaffingPlan(leave_reasons=tuple(taken), low_competency=site in low_sites)
    plans[unreplaced_site] = StaffingPlan(
        leave_reasons=("",), replaced=False, low_competency=unreplaced_site in low_sites
    )
    for target in targets:
        plans.setdefault(target.site, StaffingPlan(low_competency=target.site in low_sites))
    return plans


# ---------------------------------------------------------------- staffing


def random_day(first: date, stop: date, rng: np.random.Generator) -> date:
    """A day in [first, stop)."""
    return first + timedelta(days=int(rng.integers(0, (stop - first).days)))


def build_sites(targets: list[SiteTarget], rng: np.random.Generator) -> dict[int, date]:
    return {t.site: t.opening_month.replace(day=int(rng.integers(3, 26))) for t in targets}


def build_ots(
    targets: list[SiteTarget],
    plans: dict[int, StaffingPlan],
    opened: dict[int, date],
    facts: dict,
    rng: np.random.Generator,
) -> list[dict]:
    """OTs per site: two from the start, each departure followed by a replacement."""
    unreplaced_month = date.fromisoformat(facts["unreplaced_departure"]["month"] + "-01")
    rows: list[dict] = []
    for target in targets:
        plan = plans[target.site]
        start = opened[target.site] - timedelta(days=int(rng.integers(7, 30)))
        in_post = [{"site": target.site, "started_on": start, "left_on": None, "leave_reason": ""} for _ in range(2)]
        rows += in_post
        window = months_between(target.opening_month, STUDY_END)
        for index, reason in enumerate(plan.leave_reasons):
            if plan.replaced:
                # Spread departures over the site's time in study, leaving room for the replacement.
                position = (index + 1) * len(window) // (len(plan.leave_reasons) + 1)
                month = window[max(1, min(position, len(window) - 2))]
            else:
                month = unreplaced_month
            leaver = in_post[index % 2]
            leaver["left_on"] = month.replace(day=int(rng.integers(1, 28)))
            leaver["leave_reason"] = reason
            if plan.replaced:
                replacement = {
                    "site": target.site,
                    "left_on": None,
                    "leave_reason": "",
                    "started_on": leaver["left_on"] + timedelta(days=int(rng.integers(10, 40))),
                }
                in_post[index % 2] = replacement
                rows.append(replacement)
    # Traps: an OT who starts after the cut-off (not counted), one who leaves after it (counted).
    rows.append({"site": targets[-1].site, "started_on": date(2020, 5, 11), "left_on": None, "leave_reason": ""})
    stayer = next(r for r in rows if r["site"] == targets[2].site and r["left_on"] is None)
    stayer["left_on"], stayer["leave_reason"] = date(2020, 6, 19), "new job"
    rows.sort(key=lambda r: (r["site"], r["started_on"]))
    for number, row in enumerate(rows, start=1):
        row["ot_id"] = f"OT{number:02d}"
    return rows


def build_competency(ots: list[dict], plans: dict[int, StaffingPlan], rng: np.random.Generator) -> list[dict]:
    """One written assessment per OT some weeks after starting; sites the text
    names for low scores have one OT scoring below 60, who is reassessed."""
    rows: list[dict] = []
    flagged: set[int] = set()
    for ot in ots:
        assessed = ot["started_on"] + timedelta(days=int(rng.integers(40, 90)))
        if ot["left_on"] is not None and assessed >= ot["left_on"]:
            assessed = ot["left_on"] - timedelta(days=7)
        if assessed >= STUDY_END:
            continue  # started too late to be assessed before the cut-off
        site = ot["site"]
        if plans[site].low_competency and site not in flagged:
            flagged.add(site)
            rows.append({"ot_id": ot["ot_id"], "assessed_on": assessed, "score": int(rng.integers(38, 58))})
            reassessed = assessed + timedelta(days=120)
            if reassessed < STUDY_END and (ot["left_on"] is None or reassessed < ot["left_on"]):
                rows.append({"ot_id": ot["ot_id"], "assessed_on": reassessed, "score": int(rng.integers(62, 72))})
        else:
            rows.append({"ot_id": ot["ot_id"], "assessed_on": assessed, "score": int(rng.integers(66, 95))})
    return sorted(rows, key=lambda r: (r["assessed_on"], r["ot_id"]))


def build_participants(targets: list[SiteTarget], opened: dict[int, date], rng: np.random.Generator) -> list[dict]:
    """ESSVR participants as published, plus usual-care participants and
    ESSVR participants randomised after the cut-off (neither counted)."""
    rows: list[dict] = []
    for target in targets:
        arms = ["ESSVR"] * target.essvr_participants + ["usual care"] * int(
            rng.integers(target.essvr_participants // 2, target.essvr_participants + 3)
        )
        for arm in arms:
            rows.append(
                {"site": target.site, "arm": arm, "randomised_on": random_day(opened[target.site], STUDY_END, rng)}
            )
        for _ in range(int(rng.integers(0, 3))):
            rows.append(
                {"site": target.site, "arm": "ESSVR", "randomised_on": random_day(STUDY_END, date(2020, 9, 1), rng)}
            )
    rows.sort(key=lambda r: (r["randomised_on"], r["site"], r["arm"]))
    arm_spellings = {
        "ESSVR": ("ESSVR", "ESSVR", "essvr", "Essvr"),
        "usual care": ("usual care", "Usual care", "USUAL CARE"),
    }
    for number, row in enumerate(rows, start=1):
        row["participant_id"] = f"P{number:04d}"
        spellings = arm_spellings[row["arm"]]
        row["arm"] = spellings[int(rng.integers(0, len(spellings)))]
    return rows


# ---------------------------------------------------------------- the mentoring log


def mentor_for(site: int, day: date) -> str:
    pair_first = next(a for a, b in SESSION_PAIRS if site in (a, b))
    mentor = PAIR_MENTOR[pair_first]
    handover = MENTOR_HANDOVER.get(mentor)
    return handover[1] if handover and day > handover[0] else mentor


def ots_in_post(ots: list[dict], site: int, day: date) -> list[str]:
    return [
        ot["ot_id"]
        for ot in ots
        if ot["site"] == site and ot["started_on"] <= day and (ot["left_on"] is None or ot["left_on"] > day)
    ]


def phone_or_teams(day: date, rng: np.random.Generator) -> str:
    if day >= TEAMS_FROM:
        return "teams" if rng.random() < 0.85 else "phone"
    return "phone"


def routine_note(rng: np.random.Generator) -> str:
    return ROUTINE_NOTES[int(rng.integers(0, len(ROUTINE_NOTES)))]


def planned_sessions(
    targets: dict[int, SiteTarget],
    ots: list[dict],
    unreplaced_site: int,
    unreplaced_month: date,
    rng: np.random.Generator,
) -> list[LogRow]:
    """Monthly group sessions per pair of sites; a site attends as many as its
    budget of phone/Teams minutes allows; both attending make a joint session."""
    attended: dict[int, set[date]] = {}
    for site, target in targets.items():
        months = months_between(target.opening_month, STUDY_END)
        sessions = min(len(months), int(PLANNED_SHARE * target.phone_teams_minutes / 70))
        weights = np.array([0.25 if (site == unreplaced_site and m >= unreplaced_month) else 1.0 for m in months])
        chosen = rng.choice(len(months), size=sessions, replace=False, p=weights / weights.sum())
        attended[site] = {months[i] for i in chosen}
    rows: list[LogRow] = []
    for pair in SESSION_PAIRS:
        for month in sorted(attended[pair[0]] | attended[pair[1]]):
            day = month + timedelta(days=int(rng.integers(7, 20)))
            sites = tuple(s for s in pair if month in attended[s])
            minutes = int(rng.choice([45, 60, 60, 60, 60, 75, 90]))
            present = [ot for s in sites for ot in ots_in_post(ots, s, day) if rng.random() < 0.85]
            rows.append(
                LogRow(
                    day,
                    sites,
                    mentor_for(sites[0], day),
                    tuple(present),
                    phone_or_teams(day, rng),
                    minutes,
                    "planned",
                    routine_note(rng),
                )
            )
    return rows


def top_up_contacts(
    target: SiteTarget, planned_minutes: int, ots: list[dict], rng: np.random.Generator
) -> list[LogRow]:
    """Additional sessions and ad-hoc contacts that bring the site exactly to its
    published total and phone/Teams share."""
    phone_teams_left = target.phone_teams_minutes - planned_minutes
    written = target.total_minutes - target.phone_teams_minutes
    if phone_teams_left < 0:
        raise ValueError(f"site {target.site}: planned sessions exceed its phone/Teams minutes")
    first, rows = target.opening_month, []
    for minutes in partition(phone_teams_left, 15, 60, rng):
        day = random_day(first, STUDY_END, rng)
        kind = "additional" if minutes >= 30 else "ad hoc"
        present = ots_in_post(ots, target.site, day)[:1]
        rows.append(
            LogRow(
                day,
                (target.site,),
                mentor_for(target.site, day),
                tuple(present),
                phone_or_teams(day, rng),
                minutes,
                kind,
                routine_note(rng),
            )
        )
    for minutes in partition(written, 5, 15, rng):
        day = random_day(first, STUDY_END, rng)
        present = ots_in_post(ots, target.site, day)[:1]
        rows.append(
            LogRow(
                day,
                (target.site,),
                mentor_for(target.site, day),
                tuple(present),
                "written",
                minutes,
                "ad hoc",
                routine_note(rng),
            )
        )
    return rows


def out_of_window_contacts(
    targets: dict[int, SiteTarget], opened: dict[int, date], ots: list[dict], rng: np.random.Generator
) -> list[LogRow]:
    """Contacts the study window excludes (set-up calls before the opening month,
    sessions on or after the cut-off), and in-window ones that a naive reading
    would exclude (before the opening *day* but in the opening month)."""
    rows: list[LogRow] = []
    for site in sorted(targets)[::3]:
        day = targets[site].opening_month - timedelta(days=int(rng.integers(3, 20)))
        rows.append(
            LogRow(
                day, (site,), mentor_for(site, day), (), "phone", 30, "additional", "Set-up call before site opened."
            )
        )
    for site in sorted(targets)[1::4]:
        day = STUDY_END + timedelta(days=int(rng.integers(0, 20)))
        if site == sorted(targets)[1]:
            day = STUDY_END  # the cut-off day itself is outside
        rows.append(
            LogRow(
                day,
                (site,),
                mentor_for(site, day),
                tuple(ots_in_post(ots, site, day)[:1]),
                "teams",
                60,
                "planned",
                routine_note(rng),
            )
        )
    return rows


def check_day_first_trap(rows: list[LogRow], targets: dict[int, SiteTarget]) -> None:
    """Make sure reading slashed dates month-first moves at least one counted
    contact out of its window (so that mistake changes a Table 4 cell)."""
    for row in rows:
        if row.day.day <= 12 and row.day.day != row.day.month and len(row.sites) == 1:
            swapped = date(row.day.year, row.day.day, row.day.month)
            opening = targets[row.sites[0]].opening_month
            if (opening <= row.day < STUDY_END) and not (opening <= swapped < STUDY_END):
                row.raw["date_style"] = "dmy"
                return
    raise ValueError("no contact can carry the day-first trap")


def invalid_rows(targets: dict[int, SiteTarget], rng: np.random.Generator) -> list[LogRow]:
    """Rows a mentor might type that the clean stage must quarantine."""
    site = sorted(targets)
    day = date(2019, 5, 14)
    return [
        LogRow(day, (site[0],), "M1", (), "phone", 60, "planned", raw={"date": ""}, invalid="missing date"),
        LogRow(
            day, (site[1],), "M1", (), "phone", 45, "additional", raw={"date": "31/02/2019"}, invalid="impossible date"
        ),
        LogRow(day, (site[2],), "M2", (), "phone", 30, "ad hoc", raw={"site": "Site 17"}, invalid="unknown site"),
        LogRow(day, (site[3],), "M2", (), "phone", 60, "planned", raw={"mode": "face to face"}, invalid="unknown mode"),
        LogRow(day, (site[4],), "M3", (), "phone", 60, "planned", raw={"minutes": ""}, invalid="missing minutes"),
        LogRow(day, (site[5],), "M3", (), "phone", 60, "planned", raw={"minutes": "0"}, invalid="zero minutes"),
        LogRow(day, (site[6],), "M4", (), "written", 10, "ad hoc", raw={"minutes": "-15"}, invalid="negative minutes"),
        LogRow(day, (site[7],), "M4", (), "phone", 60, "planned", raw={"minutes": "6000"}, invalid="absurd minutes"),
    ]


def plant_personal_details(rows: list[LogRow], rng: np.random.Generator) -> None:
    """Invented names, NHS-number-like strings and addresses in some notes."""
    picks = rng.choice(len(rows), size=12, replace=False)
    for count, index in enumerate(sorted(int(i) for i in picks)):
        name = INVENTED_NAMES[count % len(INVENTED_NAMES)]
        detail = [
            f"{name} (NHS no {INVENTED_NHS_NUMBERS[count % 2]}) discussed; phased return.",
            f"Visit to {name} at {INVENTED_ADDRESSES[count % 2]}, employer meeting booked.",
            f"{name}'s manager unsupportive; OT to call back.",
        ][count % 3]
        rows[index].notes = detail


def with_duplicates(
    spelled: list[tuple[LogRow, dict[str, str]]], genuine: int, rng: np.random.Generator
) -> list[tuple[LogRow, dict[str, str]]]:
    """Entries a mentor logged twice, among the first ``genuine`` rows: half
    copied exactly, half re-typed with other spellings of the same values."""
    picks = sorted(int(i) for i in rng.choice(genuine, size=14, replace=False))
    copies = []
    for count, index in enumerate(picks):
        row, line = spelled[index]
        copies.append((row, spell_row(row, rng) if count % 2 else dict(line)))
    return spelled + copies


# ---------------------------------------------------------------- spelling it out


def spell_date(day: date, style: str) -> str:
    return {
        "iso": day.isoformat(),
        "dmy": f"{day.day:02d}/{day.month:02d}/{day.year}",
        "dmy2": f"{day.day:02d}/{day.month:02d}/{day.year % 100:02d}",
        "dd_mon_yyyy": f"{day.day} {MONTH_ABBREVIATIONS[day.month - 1]} {day.year}",
    }[style]


def spell_minutes(minutes: int, rng: np.random.Generator) -> str:
    hours, rest = divmod(minutes, 60)
    options = [str(minutes), f"{minutes} min", f"{minutes} mins"]
    if hours and not rest:
        options += [f"{hours}h", f"{hours} hr"]
    if hours and rest:
        options += [f"{hours}:{rest:02d}", f"{hours}h{rest:02d}"]
    if hours and rest == 30:
        options.append(f"{minutes / 60:g}h")
    return options[int(rng.integers(0, len(options)))]


def spell_row(row: LogRow, rng: np.random.Generator) -> dict[str, str]:
    def pick(options: tuple[str, ...]) -> str:
        return options[int(rng.integers(0, len(options)))]

    date_style = row.raw.get("date_style") or pick(DATE_STYLES)
    site_style = pick(SITE_STYLES)
    modes = {"phone": PHONE_SPELLINGS, "teams": TEAMS_SPELLINGS, "written": WRITTEN_SPELLINGS}[row.mode]
    kind = {
        "planned": pick(("planned", "Planned", "")),
        "additional": pick(("additional", "Additional")),
        "ad hoc": pick(("ad hoc", "Ad hoc", "AD HOC")),
    }[row.kind]
    spelled = {
        "date": spell_date(row.day, date_style),
        "site": pick(JOINT_SEPARATORS).join(site_style.format(n=s) for s in row.sites),
        "mentor": row.mentor,
        "ots": ";".join(row.ots),
        "mode": pick(modes),
        "minutes": spell_minutes(row.minutes, rng),
        "kind": kind,
        "notes": row.notes,
    }
    spelled.update({k: v for k, v in row.raw.items() if k in spelled})
    return spelled


# ---------------------------------------------------------------- writing


def write_csv(path: Path, header: list[str], rows: list[list[str]], bom: bool = False) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(("\ufeff" if bom else "").encode("utf-8") + buffer.getvalue().encode("utf-8"))


def iso(day: date | None) -> str:
    return "" if day is None else day.isoformat()


def generate(raw_dir: Path, reference_dir: Path, seed: int = SEED) -> None:
    """Write the five raw files into ``raw_dir``, calibrated to ``reference_dir``."""
    rng = np.random.default_rng(seed)
    target_list = load_targets(reference_dir)
    facts = yaml.safe_load((reference_dir / "published_facts.yml").read_text(encoding="utf-8"))
    plans = load_staffing(reference_dir, target_list)
    targets = {t.site: t for t in target_list}
    opened = build_sites(target_list, rng)
    ots = build_ots(target_list, plans, opened, facts, rng)
    competency = build_competency(ots, plans, rng)
    participants = build_participants(target_list, opened, rng)

    unreplaced_site = int(facts["unreplaced_departure"]["site"])
    unreplaced_month = date.fromisoformat(facts["unreplaced_departure"]["month"] + "-01")
    counted = planned_sessions(targets, ots, unreplaced_site, unreplaced_month, rng)
    planned_minutes = {site: sum(r.minutes for r in counted if site in r.sites) for site in targets}
    for site, target in targets.items():
        counted += top_up_contacts(target, planned_minutes[site], ots, rng)
    counted = _make_distinct(counted, rng)
    _early_in_opening_month(counted, targets, opened, rng)
    check_day_first_trap(counted, targets)
    plant_personal_details(counted, rng)
    rows = counted + out_of_window_contacts(targets, opened, ots, rng) + invalid_rows(targets, rng)
    spelled = with_duplicates([(row, spell_row(row, rng)) for row in rows], len(counted), rng)
    # Roughly chronological, as a mentor's spreadsheet is; a copy follows its original.
    spelled.sort(key=lambda pair: (pair[0].day, pair[0].mentor, pair[0].sites, pair[0].minutes))

    raw_dir.mkdir(parents=True, exist_ok=True)
    write_csv(
        raw_dir / "sites.csv", ["site", "opened_on"], [[str(site), iso(day)] for site, day in sorted(opened.items())]
    )
    write_csv(
        raw_dir / "participants.csv",
        ["participant_id", "site", "arm", "randomised_on"],
        [[p["participant_id"], str(p["site"]), p["arm"], iso(p["randomised_on"])] for p in participants],
    )
    write_csv(
        raw_dir / "ots.csv",
        ["ot_id", "site", "started_on", "left_on", "leave_reason"],
        [[o["ot_id"], str(o["site"]), iso(o["started_on"]), iso(o["left_on"]), o["leave_reason"]] for o in ots],
    )
    write_csv(
        raw_dir / "competency.csv",
        ["ot_id", "assessed_on", "score"],
        [[c["ot_id"], iso(c["assessed_on"]), str(c["score"])] for c in competency],
    )
    # Mentors' spreadsheets come out of Excel: a byte-order mark and untidy headers.
    header = ["Date", " Site", "Mentor", "OTs", "Mode ", "Minutes", "Kind", "Notes"]
    write_csv(
        raw_dir / "mentoring_log.csv",
        header,
        [
            [line[k] for k in ("date", "site", "mentor", "ots", "mode", "minutes", "kind", "notes")]
            for _, line in spelled
        ],
        bom=True,
    )
    (raw_dir / "trial.yml").write_text(TRIAL_DESCRIPTION, encoding="utf-8")
    write_manifest(raw_dir, reference_dir / SYNTHETIC_MANIFEST)


def write_manifest(raw_dir: Path, manifest: Path) -> None:
    """SHA-256 of each file written, so the report can tell the shipped
    synthetic records from a user's own."""
    lines = [f"{sha256_of_file(raw_dir / name)}  {name}" for name in RAW_FILES]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _make_distinct(rows: list[LogRow], rng: np.random.Generator) -> list[LogRow]:
    """Genuine contacts must not look like duplicates of each other: move a
    clashing contact to another day in the same month."""
    seen: set[tuple] = set()
    for row in rows:
        while row.key() in seen:
            row.day = row.day.replace(day=int(rng.integers(1, 29)))
        seen.add(row.key())
    return rows


def _early_in_opening_month(
    rows: list[LogRow], targets: dict[int, SiteTarget], opened: dict[int, date], rng: np.random.Generator
) -> None:
    """Move one contact of some sites to their opening month, before the opening
    day: counted (the window starts with the month), though a naive
    ``date >= opened_on`` would drop it."""
    for site in sorted(targets)[::4]:
        own = [r for r in rows if r.sites == (site,) and r.kind != "planned"]
        if own and opened[site].day > 2:
            own[0].day = opened[site].replace(day=int(rng.integers(1, opened[site].day)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mentoring_eval.synth", description=__doc__.split("\n\n")[0])
    root = project_root()
    parser.add_argument("--raw", type=Path, default=root / "data" / "raw", help="folder to write (default: data/raw)")
    parser.add_argument(
        "--reference",
        type=Path,
        default=root / "data" / "reference",
        help="published Table 4 and facts (default: data/reference)",
    )
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    generate(args.raw, args.reference, args.seed)
    print(f"wrote the synthetic records to {args.raw}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
