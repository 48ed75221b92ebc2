"""One site's feedback page: its Table 4 row against the trial, its months,
mode and kinds of contact, its OTs, whether it needs attention and what
changed since the previous month.

Pure functions over the tables the main run wrote (schemas in
CONTRIBUTING.md): the site's numbers are read from the metrics stage's files,
never recomputed differently, so a page always agrees with ``site_metrics.csv``
and with the main report. The attention rules are :mod:`mentoring_eval.metrics`'s
and their words :mod:`mentoring_eval.report`'s. :func:`load_trial` is the I/O
edge. Nothing here reads free text: the mentors' notes never leave the clean
stage, and OTs' leave reasons (personal circumstances of an identifiable
colleague at a small site) are not shown on a site's page.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mentoring_eval import escape, metrics, provenance, report, stages
from mentoring_eval.errors import InputError
from mentoring_eval.metrics import DateLike
from mentoring_eval.paths import ProjectPaths
from mentoring_eval.rounding import ratio_half_up, round_half_up
from mentoring_eval.wording import number_range

KINDS = ("planned", "additional", "ad hoc")
MODE_NAMES = {"phone_minutes": "Phone", "teams_minutes": "Microsoft Teams", "written_minutes": "Written (email or SMS)"}
# What a site page reads from contacts.parquet: never the notes (not there),
# nor the mentor and OT codes of each contact (the page does not need them).
SITE_CONTACT_COLUMNS = ["date", "site", "mode", "minutes", "kind", "in_window"]
CLEAN_TABLES = ("sites", "participants", "ots", "competency")


@dataclass(frozen=True, eq=False)  # hashed by identity: one loaded trial, one cache entry
class Trial:
    """What every site page reads: the metrics stage's tables and the clean tables."""

    metrics: stages.SiteMetrics
    contacts: pd.DataFrame
    sites: pd.DataFrame
    participants: pd.DataFrame
    ots: pd.DataFrame
    competency: pd.DataFrame


_loaded: dict[tuple, Trial] = {}


def load_trial(processed_dir: str | Path) -> Trial:
    """The main run's outputs in ``processed_dir``.

    Kept for the life of the process, keyed by each file's size and
    modification time: the site runner executes the page once per site in
    one kernel, and a national log's contacts are read once, not once a site.
    A changed file is read again.
    """
    processed_dir = Path(processed_dir)
    files = [
        processed_dir / name
        for name in (*stages.FILE_NAMES.values(), "contacts.parquet", *(f"{table}.parquet" for table in CLEAN_TABLES))
    ]
    missing = [path.name for path in files if not path.exists()]
    if missing:
        raise InputError(f"{processed_dir}: {missing[0]} not found; run `python -m mentoring_eval run` first")
    key = (str(processed_dir.resolve()), *((path.stat().st_mtime_ns, path.stat().st_size) for path in files))
    if key not in _loaded:
        _loaded.clear()
        clean = {table: pd.read_parquet(processed_dir / f"{table}.parquet") for table in CLEAN_TABLES}
        contacts = pd.read_parquet(processed_dir / "contacts.parquet", columns=SITE_CONTACT_COLUMNS)
        _loaded[key] = Trial(stages.load_site_metrics(processed_dir), contacts, **clean)
    return _loaded[key]


# ---------------------------------------------------------------- the site and its row


def site_row(table4: pd.DataFrame, site: int, as_of: DateLike) -> pd.Series:
    """The site's row of Table 4; a site not in the run (unknown, or opened on
    or after the cut-off) is bad input."""
    rows = table4.loc[table4["site"] == int(site)]
    if rows.empty:
        raise InputError(
            f"site {site} is not in the run as of {metrics.as_timestamp(as_of):%Y-%m-%d} "
            f"(sites opened by then: {sites_in_words(table4['site'])})"
        )
    return rows.iloc[0]


def sites_in_words(sites: pd.Series) -> str:
    """``1–16``, ``1–3, 7 and 9``: a list of site numbers, runs collapsed."""
    numbers = sorted(int(site) for site in sites)
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return report.join_words(f"{run[0]}–{run[-1]}" if len(run) > 2 else ", ".join(map(str, run)) for run in runs)


def page_title(site: int) -> str:
    return f"Mentoring at site {site}: feedback report"


def heading(site: int, table4: pd.DataFrame, as_of: DateLike) -> str:
    row = site_row(table4, site, as_of)
    return (
        f"Site {site} as of {report.long_date(as_of)}: {report.plural(int(row['months_in_study']), 'month')} in "
        f"the study, one of {report.plural(len(table4), 'site')} open by then. Every number on this page is the "
        "site's row of the trial's tables (`site_metrics.csv` and its companions), as in the main report."
    )


def data_statement(folders: ProjectPaths) -> str:
    """The main report's statement of where the records came from (synthetic or the user's own)."""
    manifest = (folders.reference / report.SYNTHETIC_MANIFEST).read_text(encoding="utf-8")
    return report.data_statement(report.is_bundled_synthetic(provenance.read_input_record(folders.processed), manifest))


# ---------------------------------------------------------------- Table 4 against the trial


def _number(value: float, decimals: int) -> str:
    """Half-up to ``decimals``, a trailing ``.0`` dropped unless ``decimals``
    is the column's own (a median of whole numbers may end in ``.5``)."""
    rounded = float(round_half_up(float(value), max(decimals, 1)))
    if decimals:
        return f"{rounded:.{decimals}f}"
    return f"{int(rounded)}" if rounded.is_integer() else f"{rounded:.1f}"


def table4_against_trial(table4: pd.DataFrame, site: int, as_of: DateLike) -> pd.DataFrame:
    """The site's Table 4 row beside the trial's median and range, column by
    column (``measure``, ``site``, ``trial_median``, ``trial_range``,
    ``against_median``), as text: the site's cells exactly as Table 4 prints them."""
    row = site_row(table4, site, as_of)
    rows = []
    for column, header in report.TABLE4_HEADERS.items():
        if column == "site":
            continue
        decimals = 1 if column == "pct_phone_teams" else 0
        values = table4[column].dropna().astype(float)
        mine = row[column]
        median = float(values.median()) if len(values) else np.nan
        rows.append(
            {
                "measure": header.split(" [")[0],
                "site": report.format_value(mine, decimals if not pd.isna(mine) else None),
                "trial_median": _number(median, decimals) if len(values) else "–",
                "trial_range": number_range(_number(values.min(), decimals), _number(values.max(), decimals))
                if len(values)
                else "–",
                "against_median": (
                    "–"
                    if pd.isna(mine) or not len(values)
                    else "above"
                    if mine > median
                    else "below"
                    if mine < median
                    else "at the median"
                ),
            }
        )
    return pd.DataFrame(rows)


TABLE4_AGAINST_TRIAL_HEADERS = {
    "measure": "Table 4 column",
    "site": "This site",
    "trial_median": "Trial median",
    "trial_range": "Trial range",
    "against_median": "Against the median",
}


def table4_against_trial_markdown(table4: pd.DataFrame, site: int, as_of: DateLike) -> str:
    table = table4_against_trial(table4, site, as_of)
    return report.captioned_table(
        report.markdown_table(table, TABLE4_AGAINST_TRIAL_HEADERS),
        (
            f"Site {site}'s row of Table 4 against the {report.plural(len(table4), 'site')} of the trial, "
            if len(table4) > 1
            else f"Site {site}'s row of Table 4 (the trial's only site, so its own median and range), "
        )
        + f"as of {report.long_date(as_of)}",
        "site-table4",
    )


# ---------------------------------------------------------------- months


def site_monthly(monthly: pd.DataFrame, site: int) -> pd.DataFrame:
    """The site's months in study: ``month`` (``YYYY-MM``), ``minutes``."""
    return monthly.loc[monthly["site"] == int(site), ["month", "minutes"]].reset_index(drop=True)


def site_months_banded(monthly: pd.DataFrame, site: int, expected_minutes: float) -> pd.DataFrame:
    """The site's months with each month's dose band (``below``, ``close``,
    ``above`` the expected minutes, as Table 4 bands a site's mean)."""
    months = site_monthly(monthly, site)
    whole = pd.Series(round_half_up(months["minutes"].to_numpy(float), 0), index=months.index)
    return months.assign(dose_band=metrics.dose_band(whole, expected_minutes))


def trial_months(monthly: pd.DataFrame) -> pd.PeriodIndex:
    """Every month of the trial's study period: from the first site's opening month to the last month in study."""
    months = pd.PeriodIndex(monthly["month"].astype(str), freq="M")
    return pd.period_range(months.min(), months.max(), freq="M") if len(months) else pd.PeriodIndex([], freq="M")


def ot_events(trial: Trial, site: int, as_of: DateLike) -> pd.DataFrame:
    """What happened to the site's OTs (those Table 4 counts) before the
    cut-off, month by month: ``ot_id``, ``month`` (``YYYY-MM``), ``event``
    (``started``, ``replacement started``, ``left, replaced``, ``left, not replaced``)."""
    cutoff = metrics.as_timestamp(as_of)
    ots = metrics.ots_in_window(trial.ots.loc[trial.ots["site"] == int(site)], trial.sites, cutoff)
    departures = trial.metrics.departures.loc[trial.metrics.departures["site"] == int(site)]
    replaced = dict(zip(departures["ot_id"], departures["replaced"].astype(bool)))
    joiners = set(departures["replaced_by"].astype(str)) - {""}
    started = pd.DataFrame(
        {
            "ot_id": ots["ot_id"].astype(str),
            "day": ots["started_on"],
            "event": ["replacement started" if ot in joiners else "started" for ot in ots["ot_id"]],
        }
    )
    gone = ots.loc[ots["left_on"].notna() & (ots["left_on"] < cutoff)]
    left = pd.DataFrame(
        {
            "ot_id": gone["ot_id"].astype(str),
            "day": gone["left_on"],
            "event": ["left, replaced" if replaced.get(ot) else "left, not replaced" for ot in gone["ot_id"]],
        }
    )
    events = pd.concat([started, left], ignore_index=True).sort_values(["day", "ot_id"], kind="stable")
    return pd.DataFrame(
        {
            "ot_id": events["ot_id"].to_numpy(),
            "month": metrics.month_label(metrics.month_number(events["day"])).to_numpy() if len(events) else [],
            "event": events["event"].to_numpy(),
        }
    )


def months_sentence(monthly: pd.DataFrame, site: int, expected_minutes: float) -> str:
    months = site_monthly(monthly, site)
    if months.empty:
        return "The site has no whole month in the study yet."
    minutes = months["minutes"].astype(float)
    if not (minutes > 0).any():
        return f"The site received no mentoring in any of its {report.plural(len(months), 'month')} in study."
    below = int((minutes < expected_minutes).sum())
    none = int((minutes == 0).sum())
    busiest = months.loc[minutes.idxmax()]
    in_months = {0: "no month", len(months): "every month"}
    return (
        f"Of its {report.plural(len(months), 'month')} in study, the site received less than the expected "
        f"{expected_minutes:g} minutes in {in_months.get(below, below)} and no mentoring at all in "
        f"{in_months.get(none, none)}; its busiest month was {_month_words(busiest['month'])} "
        f"({_number(busiest['minutes'], 0)} minutes)."
    )


def _month_words(month: str) -> str:
    return pd.Period(month, freq="M").strftime("%B %Y")


# ---------------------------------------------------------------- mode and kind


def mode_split(table4: pd.DataFrame, site: int, as_of: DateLike) -> pd.DataFrame:
    """Minutes by mode from the site's Table 4 row (``mode``, ``minutes``,
    ``share``: % of the site's minutes, one decimal half-up), then phone
    or Teams together, which is Table 4's percentage column."""
    row = site_row(table4, site, as_of)
    total = int(row["total_minutes"])
    minutes = [int(row[column]) for column in MODE_NAMES]
    shares = [ratio_half_up(100 * m, total, 1) if total else None for m in minutes]
    return pd.DataFrame(
        {
            "mode": [*MODE_NAMES.values(), "Phone or Microsoft Teams (Table 4)"],
            "minutes": [*minutes, minutes[0] + minutes[1]],
            "share": [*shares, None if pd.isna(row["pct_phone_teams"]) else float(row["pct_phone_teams"])],
        }
    )


def counted_site_contacts(trial: Trial, site: int, as_of: DateLike) -> pd.DataFrame:
    """The site's contacts Table 4 counts (the in-window flags checked against ``as_of``)."""
    contacts = trial.contacts.loc[trial.contacts["site"] == int(site)]
    return metrics.counted_contacts(contacts, trial.sites, as_of)


def contacts_by_kind(counted: pd.DataFrame) -> pd.DataFrame:
    """Counted contacts and their minutes by kind (``kind``, ``contacts``,
    ``minutes``), every kind shown, then the total. A joint session is one
    contact of the site, credited its full minutes."""
    kind = counted["kind"].astype(str)
    grouped = pd.DataFrame(
        {
            "contacts": kind.value_counts().reindex(list(KINDS), fill_value=0),
            "minutes": counted["minutes"].groupby(kind).sum().reindex(list(KINDS), fill_value=0.0),
        }
    )
    grouped.loc["total"] = [len(counted), float(counted["minutes"].sum())]
    return pd.DataFrame(
        {
            "kind": grouped.index.astype(str),
            "contacts": grouped["contacts"].astype("int64").to_numpy(),
            "minutes": ratio_half_up(grouped["minutes"].to_numpy(float), 1, 0).astype("int64"),
        }
    )


def check_against_site_metrics(by_kind: pd.DataFrame, table4: pd.DataFrame, site: int, as_of: DateLike) -> None:
    """The page's contacts must add up to the site's Table 4 minutes: a page
    that disagreed with ``site_metrics.csv`` would be worse than none."""
    total = int(by_kind.loc[by_kind["kind"] == "total", "minutes"].iloc[0])
    expected = int(site_row(table4, site, as_of)["total_minutes"])
    if total != expected:
        raise ValueError(
            f"site {site}: its contacts add up to {total} minutes, site_metrics.csv says {expected}; "
            "the processed files are not from one run"
        )


def mode_and_kind_markdown(table4: pd.DataFrame, by_kind: pd.DataFrame, site: int, as_of: DateLike) -> str:
    modes = mode_split(table4, site, as_of)
    kinds = by_kind.assign(kind=by_kind["kind"].str.replace("total", "all kinds"))
    return "\n\n".join(
        [
            report.captioned_table(
                report.markdown_table(
                    modes,
                    {"mode": "Mode", "minutes": "Minutes", "share": "% of the site's minutes"},
                    decimals={"share": 1},
                ),
                f"Site {site}'s mentoring by mode",
                "site-mode",
            ),
            report.captioned_table(
                report.markdown_table(kinds, {"kind": "Kind of contact", "contacts": "Contacts", "minutes": "Minutes"}),
                f"Site {site}'s contacts by kind (planned group calls, additional sessions, ad-hoc contact)",
                "site-kind",
            ),
        ]
    )


# ---------------------------------------------------------------- OTs


def trial_mean_competency(trial: Trial, as_of: DateLike) -> float | None:
    """Mean of every assessment score before the cut-off of the OTs of the
    sites in the run, one decimal half-up (as the site profile rounds)."""
    cutoff = metrics.as_timestamp(as_of)
    in_run = trial.ots.loc[trial.ots["site"].isin(metrics.study_sites(trial.sites, cutoff)["site"]), ["ot_id"]]
    scores = trial.competency.loc[trial.competency["assessed_on"] < cutoff].merge(in_run, on="ot_id")["score"]
    return float(ratio_half_up(float(scores.sum()), len(scores), 1)) if len(scores) else None


def site_ots(trial: Trial, site: int, as_of: DateLike) -> pd.DataFrame:
    """The site's OTs counted in Table 4, by code, in order of starting:
    ``ot_id``, ``in_post_from``, ``in_post_to`` (``in post`` when still in post at
    the cut-off), ``replaced_by`` (the joiner's code, ``not replaced``, or ``–``
    when the OT has not left), ``replaces``, ``scores`` (assessments before the
    cut-off, in date order), ``against_trial_mean`` (the OT's mean score less
    the trial's)."""
    cutoff = metrics.as_timestamp(as_of)
    ots = metrics.ots_in_window(trial.ots.loc[trial.ots["site"] == int(site)], trial.sites, cutoff)
    ots = ots.sort_values(["started_on", "ot_id"], kind="stable")
    departures = trial.metrics.departures
    departures = departures.loc[departures["site"] == int(site)]
    replaced_by = dict(
        zip(
            departures["ot_id"],
            np.where(departures["replaced"].astype(bool), departures["replaced_by"].astype(str), "not replaced"),
        )
    )
    replaces = {
        joiner: leaver for leaver, joiner in zip(departures["ot_id"], departures["replaced_by"].astype(str)) if joiner
    }
    scores = trial.competency.loc[
        (trial.competency["assessed_on"] < cutoff) & trial.competency["ot_id"].isin(ots["ot_id"])
    ].sort_values(["ot_id", "assessed_on"], kind="stable")
    by_ot = scores.groupby("ot_id")["score"]
    trial_mean = trial_mean_competency(trial, cutoff)
    left = ots["left_on"].notna() & (ots["left_on"] < cutoff)
    return pd.DataFrame(
        {
            "ot_id": ots["ot_id"].astype(str).to_numpy(),
            "in_post_from": [report.long_date(day) for day in ots["started_on"]],
            "in_post_to": [report.long_date(day) if gone else "in post" for day, gone in zip(ots["left_on"], left)],
            "replaced_by": [replaced_by.get(ot, "–") for ot in ots["ot_id"]],
            "replaces": [replaces.get(ot, "–") for ot in ots["ot_id"]],
            "scores": [
                ", ".join(_number(s, 0) for s in by_ot.get_group(ot)) if ot in by_ot.groups else "not assessed"
                for ot in ots["ot_id"]
            ],
            "against_trial_mean": [
                _signed(ratio_half_up(float(by_ot.get_group(ot).sum()), by_ot.get_group(ot).size, 1) - trial_mean)
                if ot in by_ot.groups and trial_mean is not None
                else "–"
                for ot in ots["ot_id"]
            ],
        }
    )


def _signed(difference: float) -> str:
    rounded = float(round_half_up(difference, 1))
    return f"{'+' if rounded > 0 else '−' if rounded < 0 else '±'}{abs(rounded):.1f}"


SITE_OTS_HEADERS = {
    "ot_id": "OT",
    "in_post_from": "In post from",
    "in_post_to": "To",
    "replaced_by": "Replaced by",
    "replaces": "Replaces",
    "scores": "Competency score(s)",
    "against_trial_mean": "Mean against the trial's",
}


def ots_markdown(trial: Trial, site: int, as_of: DateLike) -> str:
    ots = site_ots(trial, site, as_of)
    trial_mean = trial_mean_competency(trial, as_of)
    mean_words = f"{trial_mean:.1f}" if trial_mean is not None else "not available (no assessments yet)"
    intro = (
        f"{report.plural(len(ots), 'OT')} delivered the intervention at site {site} during its study "
        f"window (Table 4's OT column). The trial's mean competency score is {mean_words}; a score below "
        f"{metrics.DEFAULT_LOW_SCORE_THRESHOLD} counts as low. OTs appear by code only."
    )
    if ots.empty:
        return intro
    return (
        intro
        + "\n\n"
        + report.captioned_table(
            report.markdown_table(ots, SITE_OTS_HEADERS),
            f"Site {site}'s OTs, as of {report.long_date(as_of)}",
            "site-ots",
        )
    )


# ---------------------------------------------------------------- attention


def site_attention(attention: pd.DataFrame, site: int) -> pd.DataFrame:
    """The site's rows of the trial's attention table (``reason``, ``detail``)."""
    return attention.loc[attention["site"] == int(site), ["reason", "detail"]].reset_index(drop=True)


def attention_markdown(attention: pd.DataFrame, site: int, as_of: DateLike, expected_minutes: int) -> str:
    """Whether the site needs attention, in the main report's words."""
    rows = site_attention(attention, site)
    rules = report.attention_rules(expected_minutes)
    if rows.empty:
        return f"As of {report.long_date(as_of)}, site {site} does not need attention. {rules}"
    return (
        f"As of {report.long_date(as_of)}, site {site} needs attention "
        f"({report.plural(len(rows), 'rule')} fired). {rules}\n\n"
        + report.captioned_table(
            report.markdown_table(rows, report.ATTENTION_HEADERS),
            f"Why site {site} needs attention as of {report.long_date(as_of)}",
            "site-attention",
        )
    )


# ---------------------------------------------------------------- since the previous month


def previous_cutoff(as_of: DateLike) -> pd.Timestamp:
    """The cut-off of last month's run: one calendar month earlier."""
    return metrics.as_timestamp(as_of) - pd.DateOffset(months=1)


@dataclass(frozen=True)
class SiteAsOf:
    """One site's Table 4 row and attention rows at some cut-off (``row`` None
    when the site had not opened by then)."""

    row: pd.Series | None
    attention: pd.DataFrame


def site_as_of(trial: Trial, site: int, main_as_of: DateLike, as_of: DateLike, expected_minutes: int) -> SiteAsOf:
    """The site's Table 4 row and attention flags at an earlier cut-off
    ``as_of``, with the records as they stand now (:func:`trial_as_of`)."""
    table4, attention = trial_as_of(
        trial, metrics.as_timestamp(main_as_of), metrics.as_timestamp(as_of), expected_minutes
    )
    rows = table4.loc[table4["site"] == int(site)]
    return SiteAsOf(
        rows.iloc[0] if len(rows) else None, attention.loc[attention["site"] == int(site)].reset_index(drop=True)
    )


@functools.lru_cache(maxsize=2)
def trial_as_of(
    trial: Trial, main_as_of: pd.Timestamp, as_of: pd.Timestamp, expected_minutes: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 4 and the attention table of the whole trial at an earlier
    cut-off ``as_of``: the metrics stage's own functions, the contacts counted
    up to that date. Computed once for every site (kept while the kernel runs
    the pages of one run), which at 200 sites costs what one site would."""
    if as_of > main_as_of:
        raise ValueError("an earlier cut-off must not be after the run's")
    opened = trial.contacts["site"].map(trial.sites.set_index("site")["opened_on"] < as_of).fillna(False)
    # In the run's window, before the earlier cut-off, at a site open by then:
    # the window of the earlier cut-off, as the clean stage would have flagged it.
    contacts = trial.contacts.assign(
        in_window=trial.contacts["in_window"].astype(bool) & (trial.contacts["date"] < as_of) & opened.astype(bool)
    )
    table4 = metrics.table4(
        contacts, trial.sites, trial.participants, trial.ots, as_of, expected_minutes=expected_minutes
    )
    monthly = metrics.monthly_minutes(contacts, trial.sites, as_of)
    profile = metrics.site_profile(trial.sites, trial.ots, trial.competency, as_of)
    return table4, metrics.sites_needing_attention(table4, monthly, profile, as_of, expected_minutes)


NEWS_MEASURES = {
    "total_minutes": "Total mentoring (minutes)",
    "minutes_per_month": "Mean mentoring per month (minutes)",
    "essvr_participants": "ESSVR participants",
    "ots": "OTs delivering the intervention",
}


def changes_since_previous_month(trial: Trial, site: int, as_of: DateLike, expected_minutes: int) -> str:
    """What a monthly run adds to last month's: the month's minutes, the
    Table 4 cells that moved, flags raised and cleared, OTs who came and went."""
    table4 = trial.metrics.table4
    now = site_row(table4, site, as_of)
    before_cutoff = previous_cutoff(as_of)
    before = site_as_of(trial, site, as_of, before_cutoff, expected_minutes)
    since = f"since {report.long_date(before_cutoff)}"
    if before.row is None:
        opened = trial.sites.loc[trial.sites["site"] == int(site), "opened_on"].iloc[0]
        return (
            f"Site {site} opened on {report.long_date(opened)}, after the previous month's cut-off "
            f"({report.long_date(before_cutoff)}): this is its first report."
        )
    parts = [_last_month_sentence(trial.metrics.monthly, site, expected_minutes)]
    moved = pd.DataFrame(
        [
            {
                "measure": label,
                "before": report.format_value(before.row[column]),
                "now": report.format_value(now[column]),
                "change": _change(before.row[column], now[column]),
            }
            for column, label in NEWS_MEASURES.items()
        ]
    )
    parts.append(
        report.captioned_table(
            report.markdown_table(
                moved,
                {
                    "measure": "Table 4 column",
                    "before": report.long_date(before_cutoff),
                    "now": report.long_date(as_of),
                    "change": "Change",
                },
            ),
            f"Site {site}'s Table 4 cells, {since}",
            "site-news",
        )
    )
    parts.append(_flag_changes(before.attention, site_attention(trial.metrics.attention, site), since))
    parts.append(_ot_changes(trial, site, before_cutoff, as_of))
    return "\n\n".join(part for part in parts if part)


def _change(before: object, now: object) -> str:
    if pd.isna(before) or pd.isna(now):
        return "–"
    difference = float(now) - float(before)
    return "no change" if difference == 0 else f"{'+' if difference > 0 else '−'}{_number(abs(difference), 0)}"


def _last_month_sentence(monthly: pd.DataFrame, site: int, expected_minutes: float) -> str:
    months = site_monthly(monthly, site)
    if months.empty:
        return ""
    last = months.iloc[-1]
    sentence = (
        f"In {_month_words(last['month'])}, the last whole month, the site received "
        f"{_number(last['minutes'], 0)} minutes of mentoring (expected {expected_minutes:g})"
    )
    if len(months) > 1:
        previous = months.iloc[-2]
        sentence += f", against {_number(previous['minutes'], 0)} in {_month_words(previous['month'])}"
    return sentence + "."


def _flag_changes(before: pd.DataFrame, now: pd.DataFrame, since: str) -> str:
    before_reasons, now_reasons = set(before["reason"]), set(now["reason"])
    raised = [reason for reason in now["reason"] if reason not in before_reasons]
    cleared = sorted(before_reasons - now_reasons)
    kept = [reason for reason in now["reason"] if reason in before_reasons]
    if not raised and not cleared:
        return (
            "Attention flags: none then or now."
            if not kept
            else f"Attention flags unchanged {since}: still {report.join_words(kept)}."
        )
    words = []
    if raised:
        words.append(f"raised {since}: {report.join_words(raised)}")
    if cleared:
        words.append(f"cleared {since}: {report.join_words(cleared)}")
    if kept:
        words.append(f"still: {report.join_words(kept)}")
    return "Attention flags " + "; ".join(words) + "."


def _ot_changes(trial: Trial, site: int, since: pd.Timestamp, as_of: DateLike) -> str:
    cutoff = metrics.as_timestamp(as_of)
    ots = trial.ots.loc[trial.ots["site"] == int(site)]
    started = ots.loc[(ots["started_on"] >= since) & (ots["started_on"] < cutoff)].sort_values(["started_on", "ot_id"])
    left = ots.loc[(ots["left_on"] >= since) & (ots["left_on"] < cutoff)].sort_values(["left_on", "ot_id"])
    events = [
        f"{escape.markdown(ot)} started on {report.long_date(day)}"
        for ot, day in zip(started["ot_id"], started["started_on"])
    ]
    events += [
        f"{escape.markdown(ot)} left on {report.long_date(day)}" for ot, day in zip(left["ot_id"], left["left_on"])
    ]
    return (
        "OTs: " + report.join_words(events) + "."
        if events
        else f"No OT started or left {f'since {report.long_date(since)}'}."
    )


# ---------------------------------------------------------------- the index of site pages


def index_table(table4: pd.DataFrame, attention: pd.DataFrame) -> pd.DataFrame:
    """Every site's headline numbers and attention flags, by site: ``site``,
    ``months_in_study``, ``total_minutes``, ``minutes_per_month``,
    ``pct_phone_teams``, ``ots``, ``dose_band``, ``attention`` (the reasons, ``; ``-joined)."""
    flags = attention.groupby("site")["reason"].agg("; ".join)
    return (
        table4[["site", "months_in_study", "total_minutes", "minutes_per_month", "pct_phone_teams", "ots", "dose_band"]]
        .assign(attention=lambda t: [flags.get(site, "") for site in t["site"]])
        .sort_values("site", kind="stable")
        .reset_index(drop=True)
    )
