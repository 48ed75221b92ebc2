"""The report's words and tables, computed from the stage outputs.

Every number in the report's prose comes from here, formatted from the data:
none is typed. Tables are Markdown (pipe tables), which Quarto turns into
real tables for both HTML and Typst PDF, and nbconvert renders as HTML.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mentoring_eval import escape
from mentoring_eval.metrics import DEFAULT_CLOSE_MARGIN, DEFAULT_REPLACEMENT_LEAD_DAYS
from mentoring_eval.provenance import LOCK_FILE, FileDigest, cited_publication
from mentoring_eval.rounding import ratio_half_up
from mentoring_eval.synth import SYNTHETIC_MANIFEST  # noqa: F401  (the report looks it up in data/reference)
from mentoring_eval.trial import TrialDescription
from mentoring_eval.wording import capitalised, join_words, number_range, plural, sites_phrase

if TYPE_CHECKING:  # the stages module (and what it imports) only for type checkers: the clean notebook needs none of it
    from collections.abc import Collection

    from mentoring_eval.stages import SiteMetrics

TABLE4_HEADERS = {
    "site": "Site",
    "months_in_study": "Months in study",
    "total_minutes": "Total mentoring (minutes) [a]",
    "pct_phone_teams": "% by phone or Microsoft Teams",
    "essvr_participants": "ESSVR participants [b]",
    "ots": "OTs delivering the intervention [c]",
    "minutes_per_month": "Mean mentoring per month (minutes)",
    "participants_per_ot": "ESSVR participants per OT",
}
# The published Table 4's footnotes: RETAKE's protocol and staffing, so they
# are printed for RETAKE's records only.
TABLE4_FOOTNOTES = (
    "[a] Planned sessions were expected to last about 60 minutes, with two sites attending each; "
    "each site attending is credited the session's full minutes, so the column's total exceeds "
    "the mentoring time actually given.",
    "[b] Each ESSVR participant was seen by an OT for up to 12 months after randomisation.",
    "[c] One or two OTs delivered the intervention per site at any one time, depending on how long "
    "it took to replace OTs who left.",
)
# The same columns as the pipeline defines them, for any trial's records.
TABLE4_DEFINITIONS = (
    "[a] Minutes of the contacts within the site's study window; each site attending a joint session is "
    "credited the session's full minutes, so the column's total exceeds the mentoring time actually given.",
    "[b] ESSVR-arm participants randomised at the site before the cut-off.",
    "[c] OTs of the site whose time in post overlaps its study window.",
)


# ---------------------------------------------------------------- formatting


def format_value(value: object, decimals: int | None = None) -> str:
    """A cell as the report prints it: blank for missing, thousands unseparated."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if decimals is not None and isinstance(value, (int, float)):
        return f"{value:.{decimals}f}"
    return str(value)


LINE_CHARACTERS = 95  # about the characters in a line of the report's text (A4, 2 cm margins, 10 pt)
NARROW_TABLE = 72  # Pandoc's default --columns: a table no wider is sized to its content
SHORT_CELL = 20  # a column whose cells are all this short is given its widest cell: one line each


def column_weights(cells: list[list[str]], line: int = LINE_CHARACTERS) -> list[int]:
    """Each column's share of a wide table's width, as a count of dashes.

    Pandoc sizes the columns of a pipe table wider than 72 characters by the
    dashes of its separator line (Quarto's HTML and Typst PDF alike). A column
    of short cells (numbers, codes) gets its widest cell, so each fits on one
    line; the columns of longer text share the rest of the line in proportion
    to their typical cell. Every column gets at least its longest word, so no
    word runs into the next column. Two characters a column are the cell's
    padding."""
    header, body = cells[0], cells[1:] or [[""] * len(cells[0])]
    longest_word = [
        max((len(word) for text in column for word in text.split()), default=1) + 2 for column in zip(header, *body)
    ]
    widest = [max(len(text) for text in column) + 2 for column in zip(*body)]
    typical = [sum(len(text) for text in column) / len(column) + 2 for column in zip(*body)]
    if max(sum(len(text) + 3 for text in row) + 1 for row in cells) <= NARROW_TABLE:
        return [3] * len(header)  # no line of the table is wider: Pandoc sizes it to its content
    short = [w <= SHORT_CELL + 2 for w in widest]
    fixed = sum(max(w, word) for w, word, is_short in zip(widest, longest_word, short) if is_short)
    flexible = sum(t for t, is_short in zip(typical, short) if not is_short)
    rest = max(line - fixed, 0)
    return [
        max(word, w if is_short else round(rest * t / flexible))
        for w, word, t, is_short in zip(widest, longest_word, typical, short)
    ]


HTML_TAG = re.compile(r"</?[a-z][^>]*>", re.IGNORECASE)
MARKDOWN_LINK = re.compile(r"\[((?:\\.|[^\\\]])*)\]\([^)]*\)")


def as_shown(markdown: str) -> str:
    """Markdown's text as a reader sees it: links' text without their targets, no HTML tags, unescaped."""
    return re.sub(r"\\(.)", r"\1", HTML_TAG.sub("", MARKDOWN_LINK.sub(r"\1", markdown)))


# A cell that states only numbers: a number (signed, with a decimal point or
# a percent sign) or a range of two.
_NUMBER = r"[+−-]?\d+(?:\.\d+)?%?"
NUMBER_TEXT = re.compile(rf"{_NUMBER}(?:–{_NUMBER})?")


def markdown_table(
    table: pd.DataFrame,
    headers: dict[str, str] | None = None,
    decimals: dict[str, int] | None = None,
    markup: Collection[str] = (),
) -> str:
    """A pipe table; numeric columns right-aligned (numbers, or text that is
    only numbers: ``22.5``, ``8–25``, ``−7.1``), so that their digits line up. Every cell is text, never
    markup (``escape.markdown``: codes, file names, anything from the
    records shows as typed), but in the columns named in ``markup``, whose
    cells are Markdown already (a link, made by the caller, who escaped its
    text). A column without a header given is headed by its name, capitalised."""
    headers = headers or {}
    decimals = decimals or {}
    columns = list(table.columns)

    def cell(value: object, column: str) -> str:
        return format_value(value, decimals.get(column))

    numeric = {
        c: c not in markup
        and (
            (pd.api.types.is_numeric_dtype(table[c]) and not pd.api.types.is_bool_dtype(table[c]))
            or (len(table) > 0 and all(NUMBER_TEXT.fullmatch(cell(v, c)) for v in table[c]))
        )
        for c in columns
    }

    rows = [[str(headers.get(c, str(c)[:1].upper() + str(c)[1:])) for c in columns]]
    rows += [[cell(v, c) for v, c in zip(row, columns)] for row in table.itertuples(index=False)]
    shown = [rows[0]] + [[as_shown(text) if c in markup else text for text, c in zip(row, columns)] for row in rows[1:]]
    separator = [  # sized by the text as shown, not by its escapes or link targets
        "-" * weight + ":" if numeric[c] else ":" + "-" * weight for c, weight in zip(columns, column_weights(shown))
    ]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(separator) + "|"]
    lines += [
        "| " + " | ".join(text if c in markup else escape.markdown(text) for text, c in zip(row, columns)) + " |"
        for row in rows[1:]
    ]
    return "\n".join(lines)


def long_date(day: date | str) -> str:
    day = pd.Timestamp(day)
    return f"{day.day} {day.strftime('%B %Y')}"


# ---------------------------------------------------------------- tables


def table4_markdown(table4: pd.DataFrame) -> str:
    """Table 4 as published: its eight columns and headers."""
    return markdown_table(table4[list(TABLE4_HEADERS)], TABLE4_HEADERS, decimals={"pct_phone_teams": 1})


def table4_notes(trial: TrialDescription) -> str:
    """The publication's footnotes for its own trial's records; the pipeline's definitions for any other."""
    return "\n\n".join(TABLE4_FOOTNOTES if trial.is_reference_trial else TABLE4_DEFINITIONS)


def reconciliation_table(summary: dict) -> pd.DataFrame:
    """Rows read = clean + quarantined + duplicates removed, shown as a check."""
    accounted = summary["rows_clean"] + summary["rows_quarantined"] + summary["duplicates_removed"]
    return pd.DataFrame(
        {
            "rows": [
                "read from the log",
                "clean",
                "quarantined",
                "duplicates removed",
                "accounted for (clean + quarantined + duplicates)",
            ],
            "count": [
                summary["rows_read"],
                summary["rows_clean"],
                summary["rows_quarantined"],
                summary["duplicates_removed"],
                accounted,
            ],
        }
    )


def quarantine_reasons_table(summary: dict) -> pd.DataFrame:
    reasons = summary.get("quarantine_by_reason", {})
    return (
        pd.DataFrame({"reason": list(reasons), "rows": list(reasons.values())}, dtype=object)
        .astype({"rows": "int64"})
        .sort_values(["rows", "reason"], ascending=[False, True], ignore_index=True)
    )


def quarantine_markdown(summary: dict) -> str:
    """The rows quarantined by reason, or a sentence when there were none (never an empty table)."""
    reasons = quarantine_reasons_table(summary)
    if reasons.empty:
        return "No row of the log was quarantined."
    return captioned_table(markdown_table(reasons), "Rows quarantined, by reason", "quarantine")


# ---------------------------------------------------------------- prose


def dose_sentence(table4: pd.DataFrame, expected_minutes: int) -> str:
    """How many sites were below, close to and above the expected minutes."""
    ordered = table4.dropna(subset=["minutes_per_month"]).sort_values(["minutes_per_month", "site"])
    without_average = len(table4) - len(ordered)
    not_yet = (
        f" {capitalised(sites_phrase(table4.loc[table4['minutes_per_month'].isna(), 'site']))} "
        f"{'has' if without_average == 1 else 'have'} no whole month in the study yet."
        if without_average
        else ""
    )
    if ordered.empty:
        return ("No site has a whole month in the study yet, so none has a monthly average." + not_yet).strip()
    if len(ordered) == 1:
        only = ordered.iloc[0]
        where = {"above": "more than", "close": "close to", "below": "less than"}[only["dose_band"]]
        return (
            f"Site {only['site']} received {only['minutes_per_month']} minutes of mentoring a month on average, "
            f"{where} the expected {expected_minutes}." + not_yet
        )
    bands = {band: ordered[ordered["dose_band"] == band] for band in ("below", "close", "above")}
    parts = []
    if len(bands["above"]):
        above = bands["above"]["minutes_per_month"]
        parts.append(
            f"{plural(len(above), 'site')} received more than the expected {expected_minutes} minutes a month ("
            + (
                f"site {bands['above']['site'].iloc[0]}: {above.iloc[0]}"
                if len(above) == 1
                else f"site averages {number_range(str(above.min()), str(above.max()))}"
            )
            + ")"
        )
    expected = f"the expected {expected_minutes} minutes a month"
    if len(bands["close"]):
        parts.append(
            f"{plural(len(bands['close']), 'site')} close to {'it' if parts else expected} "
            f"({sites_phrase(bands['close']['site'])})"
        )
    if len(bands["below"]):
        below = bands["below"]
        parts.append(
            f"{plural(len(below), 'site')} less{'' if parts else ' than ' + expected} ("
            + join_words(f"site {s}: {m}" for s, m in zip(below["site"], below["minutes_per_month"]))
            + ")"
        )
    least = ordered.loc[ordered["minutes_per_month"] == ordered["minutes_per_month"].min()]
    return (
        f"Of the {plural(len(ordered), 'site')} with a monthly average, " + join_words(parts) + ". "
        f"{capitalised(sites_phrase(least['site']))} received the least, "
        f"{least['minutes_per_month'].iloc[0]} minutes a month on average." + not_yet
    )


def delivery_paragraph(delivery: dict[str, int], trial: TrialDescription) -> str:
    """What the records say was delivered, then, where the trial description
    gives it, how the protocol organised mentoring (in its own words)."""
    if not delivery["contacts"]:
        recorded = "No mentoring contact was recorded within the sites' study windows yet."
    else:
        kinds = join_words(
            plural(delivery[kind], noun)
            for kind, noun in (
                ("planned", "planned session"),
                ("additional", "additional session"),
                ("ad hoc", "ad-hoc contact"),
            )
            if delivery[kind]
        )
        joint = delivery["joint"]
        recorded = (
            f"Within the sites' study windows, {plural(delivery['mentors'], 'mentor')} recorded "
            f"{plural(delivery['contacts'], 'contact')}: {kinds}. "
            + (
                f"{plural(joint, 'contact was a joint session', 'contacts were joint sessions')} of several sites, "
                "each site attending credited the session's full minutes."
                if joint
                else "No contact was a joint session of several sites."
            )
        )
    protocol = (
        f" The protocol of {escape.markdown(trial.called)}, as its trial description gives it: "
        f"{escape.markdown(trial.description)}"
        if trial.description
        else ""
    )
    return recorded + protocol


def competency_introduction(trial: TrialDescription, facts: dict | None) -> str:
    text = (
        "@fig-competency sets each site's mean written competency-assessment score (0–100) against the "
        "mentoring the site received."
    )
    if trial.is_reference_trial and facts:
        text += (
            " The publication reports low scores on the competency assessment among the known reasons for "
            f"additional support ({sites_phrase(facts['low_competency_sites'])})."
        )
    return text


def turnover_introduction(trial: TrialDescription, facts: dict | None) -> str:
    text = (
        "@fig-turnover compares the mentoring of sites where an OT left, with and without a replacement, with "
        "that of sites where none did."
    )
    if trial.is_reference_trial and facts:
        text += (
            f" The publication reports that OT turnover at {plural(len(facts['turnover_sites']), 'site')} "
            f"({sites_phrase(facts['turnover_sites'])}) meant that replacement OTs needed more support, being new "
            "to the trial and to delivering the intervention."
        )
    return text


def summary_paragraph(site_metrics: SiteMetrics, cleaning: dict, as_of: str, expected_minutes: int) -> str:
    table4 = site_metrics.table4
    attention_sites = sorted(site_metrics.attention["site"].unique().tolist())
    verdict = reproduction_sentence(site_metrics)
    share = phone_teams_share(table4)
    lines = [
        f"As of {long_date(as_of)}, {plural(len(table4), 'site')} had opened, with "
        f"{plural(int(table4['ots'].sum()), 'OT')} delivering the intervention to "
        f"{plural(int(table4['essvr_participants'].sum()), 'ESSVR participant')}. "
        f"The mentoring log held {plural(cleaning['rows_read'], 'row')}; "
        + (
            f"{int(table4['total_minutes'].sum()):,} site-minutes of mentoring were given within the "
            f"sites' study windows, {format_value(share, 1)}% of them by phone or Microsoft Teams."
            if share is not None
            else "no mentoring was given within the sites' study windows yet."
        ),
        dose_sentence(table4, expected_minutes),
        (
            "Sites needing attention now: " + join_words(attention_sites) + " (see the section below)."
            if attention_sites
            else "No site needs attention now by the report's three rules."
        ),
    ]
    if verdict:
        lines.append(verdict)
    return "\n\n".join(lines)


def phone_teams_share(table4: pd.DataFrame) -> float | None:
    """The phone/Teams share of all site-minutes, rounded as Table 4 rounds."""
    total = int(table4["total_minutes"].sum())
    if not total:
        return None
    spoken = int(table4["phone_minutes"].sum() + table4["teams_minutes"].sum())
    return ratio_half_up(100 * spoken, total, 1)


def reproduction_sentence(site_metrics: SiteMetrics) -> str:
    """The verdict on the publication, or '' when there is nothing to compare."""
    comparison = site_metrics.reproduction
    if comparison.empty:
        return ""
    matched = int(comparison["match"].sum())
    claims = site_metrics.claims
    agreeing = int(claims["agrees"].sum())
    verdict = "every" if matched == len(comparison) else f"{matched} of {len(comparison)}"
    return (
        f"The records reproduce {verdict} cell of the published Table 4 ({matched} of {len(comparison)}), "
        f"and {agreeing} of the {plural(len(claims), 'count')} the published text gives; "
        f"the {len(claims) - agreeing} that differ are where the publication contradicts itself."
    )


ATTENTION_HEADERS = {"site": "Site", "reason": "Why", "detail": "Detail"}


def attention_rules(expected_minutes: int) -> str:
    """The three rules of metrics.sites_needing_attention, as the report states
    them (the site pages say them in the same words)."""
    return (
        f"The rules: mean mentoring below the expected {expected_minutes} minutes a month over the last "
        "three months in study; an OT who left and was not replaced; low competency scores without more "
        "than the expected mentoring."
    )


def attention_markdown(attention: pd.DataFrame, as_of: str, expected_minutes: int) -> str:
    """Who needs attention now, and why: what a trial manager acts on."""
    rules = attention_rules(expected_minutes)
    if attention.empty:
        return f"As of {long_date(as_of)}, no site needs attention. {rules}"
    table = markdown_table(attention, ATTENTION_HEADERS)
    sites = sorted(attention["site"].unique().tolist())
    return (
        f"As of {long_date(as_of)}, {plural(len(sites), 'site needs', 'sites need')} attention "
        f"(sites {join_words(sites)}). {rules}\n\n"
        + captioned_table(table, f"Sites needing attention as of {long_date(as_of)}", "attention")
    )


# Relative to the executed report notebook (<report>/notebooks/), as every path
# the report writes; each renderer rebases it for where its page lands.
SITE_INDEX_LINK = "../sites/index.html"


def site_pages_sentence() -> str:
    """Where the per-site feedback pages are (``python -m mentoring_eval sites`` makes them)."""
    return (
        f"Each site's own page (its Table 4 row against the trial, its months, OTs and flags, and what changed "
        f"since the previous month) is listed in the [site feedback pages]({SITE_INDEX_LINK}), made by "
        "`python -m mentoring_eval sites`."
    )


def group_mean_sentence(groups: pd.DataFrame, factor: str, with_words: str, without_words: str) -> str:
    """Mean minutes a month of the sites ``with_words`` against those
    ``without_words``, saying so when a group has no site with a monthly
    average (never a mean of nothing)."""
    by_group = groups.set_index(["factor", "group"])
    with_it, without = by_group.loc[(factor, "with")], by_group.loc[(factor, "without")]
    n_with, n_without = int(with_it["n_sites"]), int(without["n_sites"])

    def mean(group: pd.Series) -> str:
        return format_value(group["mean_minutes_per_month"], 1)

    if n_with and n_without:
        return (
            f"Sites {with_words} received on average {mean(with_it)} minutes a month ({plural(n_with, 'site')}), "
            f"against {mean(without)} at the {plural(n_without, 'site')} {without_words}."
        )
    if not (n_with or n_without):
        return "No site has a monthly average yet to compare."
    present, words, absent = (with_it, with_words, without_words) if n_with else (without, without_words, with_words)
    return (
        f"Sites {words} received on average {mean(present)} minutes a month "
        f"({plural(int(present['n_sites']), 'site')}); no site {absent} has a monthly average to compare."
    )


def association_sentence(site_metrics: SiteMetrics) -> str:
    row = site_metrics.association.iloc[0]
    comparison = group_mean_sentence(
        site_metrics.groups,
        "low competency scores",
        "with low competency-assessment scores",
        "without low scores",
    )
    if pd.isna(row["rho"]):
        return (
            f"{comparison} Spearman's rank correlation of mean minutes per month with mean competency score "
            f"was not computed ({plural(int(row['n']), 'site')} with both values; it needs at least 3, and "
            "variation in each)."
        )
    return (
        f"{comparison} Across the {plural(int(row['n']), 'site')} with both values, Spearman's rank "
        f"correlation of mean minutes per month with mean competency score is "
        f"{format_value(row['rho'], 2)} (p = {format_value(row['p_value'], 2)}, {row['p_value_method']}): "
        f"{row['interpretation']}."
    )


def turnover_sentence(site_metrics: SiteMetrics) -> str:
    departures = site_metrics.departures
    unreplaced = departures[~departures["replaced"].astype(bool)]
    reasons = departures["leave_reason"].fillna("not recorded").value_counts().sort_index()
    comparison = group_mean_sentence(site_metrics.groups, "OT turnover", "with OT turnover", "without turnover")
    if departures.empty:
        return f"No OT left during the study. {comparison}"
    return (
        f"{plural(len(departures), 'OT')} left during the study at "
        f"{plural(departures['site'].nunique(), 'site')} ("
        + join_words(f"{escape.markdown(reason)}: {count}" for reason, count in reasons.items())
        + "); "
        + (
            join_words(f"site {s} ({m})" for s, m in zip(unreplaced["site"], unreplaced["month"]))
            + (" never replaced the OT who left. " if len(unreplaced) == 1 else " never replaced the OTs who left. ")
            if len(unreplaced)
            else "every leaver was replaced. "
        )
        + comparison
    )


def mode_sentence(table4: pd.DataFrame) -> str:
    """How mentoring was given: the phone/Teams share across sites, in words
    that follow the numbers (mostly spoken only where it was)."""
    shares = table4.dropna(subset=["pct_phone_teams"])
    if shares.empty:
        return "No mentoring has been recorded in the sites' study windows yet."
    lowest = shares.sort_values(["pct_phone_teams", "site"]).iloc[0]
    share_range = number_range(
        format_value(shares["pct_phone_teams"].min(), 1), format_value(shares["pct_phone_teams"].max(), 1)
    )
    mostly_spoken = int((shares["pct_phone_teams"] > 50).sum())
    every = "at the one site with mentoring" if len(shares) == 1 else "at every site with mentoring"
    lead = (
        f"More than half of the mentoring was given by phone or Microsoft Teams {every}"
        if mostly_spoken == len(shares)
        else f"Half of the mentoring or less was given by phone or Microsoft Teams {every}"
        if mostly_spoken == 0
        else f"More than half of the mentoring was given by phone or Microsoft Teams at {mostly_spoken} of the "
        f"{plural(len(shares), 'site')} with mentoring"
    )
    written = int(table4["written_minutes"].sum())
    teams = int(table4["teams_minutes"].sum())
    return (
        f"{lead} "
        f"({share_range}% by site"
        + (f"; lowest at site {lowest['site']}" if len(shares) > 1 else "")
        + f"), the remainder by email or SMS ({written:,} site-minutes in all). "
        f"Teams accounted for {teams:,} site-minutes."
    )


def cleaning_sentence(cleaning: dict) -> str:
    balanced = (
        cleaning["rows_read"] == cleaning["rows_clean"] + cleaning["rows_quarantined"] + cleaning["duplicates_removed"]
    )
    return (
        f"{cleaning['rows_read']:,} rows were read from {cleaning['source_file']}: {cleaning['rows_clean']:,} clean, "
        f"{cleaning['rows_quarantined']:,} quarantined and {cleaning['duplicates_removed']:,} duplicates removed "
        f"({'every row is accounted for' if balanced else 'ROWS ARE UNACCOUNTED FOR'}). Joint sessions give "
        f"{cleaning['contacts']:,} site credits, of which {cleaning['out_of_window']:,} fall outside their "
        "site's study window and are not counted."
    )


# ---------------------------------------------------------------- figures and captions
# Quarto cross-references: a figure is `![caption](path){#fig-name}`, a table
# is followed by `: caption {#tbl-name}`; prose refers to them as @fig-name.
# render.resolve_cross_references does the numbering where Quarto is absent.

FIGURES_FROM_EXECUTED_REPORT = "../figures"  # the runner writes the report to <report>/notebooks/


def figure_markdown(name: str, label: str, figure_index: dict[str, dict[str, str]]) -> str:
    entry = figure_index[name]
    alt = escape.markdown_attribute(entry["alt_text"])
    return f'![{entry["caption"]}]({FIGURES_FROM_EXECUTED_REPORT}/{name}.svg){{#fig-{label} fig-alt="{alt}"}}'


def captioned_table(markdown: str, caption: str, label: str, notes: str = "") -> str:
    """A pipe table with its Quarto caption and label; notes go under it."""
    return f"{markdown}\n\n: {caption} {{#tbl-{label}}}" + (f"\n\n{notes}" if notes else "")


# ---------------------------------------------------------------- where the data came from


def is_bundled_synthetic(input_hashes: pd.DataFrame, manifest: str) -> bool:
    """True when the inputs are exactly the synthetic records the project ships
    (every file and hash as ``synth`` wrote them)."""
    shipped = dict(reversed(line.split(maxsplit=1)) for line in manifest.splitlines() if line.strip())
    given = dict(zip(input_hashes["file"], input_hashes["sha256"]))
    return given == shipped


def data_statement(synthetic: bool) -> str:
    if synthetic:
        return (
            "**The records behind this report are synthetic.** No individual-level RETAKE records are "
            "public; the project ships invented records, calibrated so that the pipeline reproduces every "
            "cell of the published Table 4 and the counts in the published text. No real person, OT, "
            "mentor or site is described. Run it on real records with `--raw DIR`."
        )
    return (
        "The records behind this report are the user's own (not the project's bundled synthetic records); "
        "the provenance section lists each input file with its SHA-256."
    )


def limitations_text(
    table4: pd.DataFrame, low_score_threshold: int, expected_minutes: int, trial: TrialDescription
) -> str:
    reasons = (
        "the publication's qualitative findings offer reasons"
        if trial.is_reference_trial
        else "interviews or other qualitative data would be needed"
    )
    return "\n".join(
        [
            f"- **{plural(len(table4), 'site')}.** Comparisons between sites are associations, not effects: sites that needed more "
            "support were given more, so more mentoring alongside lower competency says who was helped, not "
            "whether the help worked. No p-value here is confirmatory.",
            "- **Minutes are as mentors logged them.** Unlogged contacts, and time spent preparing, are missing; "
            "a contact's minutes are the mentor's estimate.",
            "- **Joint sessions are credited in full to every site attending** (as in the publication), so the sum of "
            "the sites' minutes exceeds the time mentors spent.",
            f"- **Expected dose.** The expected {expected_minutes} minutes per site per month is the protocol's planned "
            f"session length; close to expected means within {DEFAULT_CLOSE_MARGIN} minutes of it.",
            f"- **Low competency** means any written assessment score below {low_score_threshold}: the assessment's "
            "pass mark is not published, so this threshold is the project's choice.",
            "- **Turnover** counts OTs who left before the cut-off; a leaver counts as replaced when another OT "
            f"started at the site from {DEFAULT_REPLACEMENT_LEAD_DAYS} days before the departure on.",
            f"- **What it cannot say:** why sites differ ({reasons}), or anything about participants' return to work.",
        ]
    )


def parameters_table(parameters: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame({"parameter": list(parameters), "value": [str(v) for v in parameters.values()]})


# ---------------------------------------------------------------- sections


def qualitative_markdown(findings: pd.DataFrame) -> str:
    shown = findings.assign(
        reported=[f"{n} of {of} {group}" for n, of, group in zip(findings["n"], findings["of"], findings["group"])]
    )
    return markdown_table(
        shown[["theme", "npt_construct", "finding", "reported"]],
        {"theme": "Theme", "npt_construct": "NPT construct", "finding": "Finding", "reported": "Reported by"},
    )


def qualitative_section(findings: pd.DataFrame) -> str:
    """The publication's qualitative findings with counts, as a section (RETAKE's records only)."""
    return (
        "## Qualitative findings at a glance\n\n"
        "How many of the OTs and mentors interviewed for the published process evaluation reported each finding "
        "for which the published results give a count (@tbl-qualitative).\n\n"
        + captioned_table(
            qualitative_markdown(findings), "Findings reported by the OTs and mentors interviewed", "qualitative"
        )
    )


def reproduction_section(site_metrics: SiteMetrics) -> str:
    """The reproduction of the publication, as a section (RETAKE's records only)."""
    return "## Reproduction of the publication\n\n" + reproduction_markdown(site_metrics)


def reproduction_markdown(site_metrics: SiteMetrics) -> str:
    """The cell-by-cell verdict and the text's claims, disagreements first."""
    comparison, claims = site_metrics.reproduction, site_metrics.claims
    if comparison.empty:
        return (
            "The published Table 4 gives the sites as of its own cut-off, 1 April 2020; at this run's cut-off "
            "there is nothing to reproduce."
        )
    parts = [reproduction_sentence(site_metrics)]
    mismatched = comparison[~comparison["match"].astype(bool)]
    if len(mismatched):
        parts.append(
            captioned_table(
                markdown_table(mismatched), "Cells of Table 4 that differ from the publication", "mismatches"
            )
        )
    ordered = claims.assign(order=claims["agrees"].astype(bool)).sort_values("order", kind="stable")
    parts.append(
        captioned_table(
            markdown_table(
                ordered[["claim", "published", "computed", "agrees", "note"]],
                {
                    "claim": "The published text says",
                    "published": "Text",
                    "computed": "Records",
                    "agrees": "Agree",
                    "note": "Note",
                },
            ),
            "The counts in the published text, recomputed from the records",
            "claims",
        )
    )
    return "\n\n".join(parts)


def author_initials(author: dict) -> str:
    """A Citation File Format person as the publication's reference list
    writes them, Vancouver style: "Cripps RL" for family-names Cripps,
    given-names "R. L." (or "Rachel Louise")."""
    initials = "".join(part[0] for part in author.get("given-names", "").replace(".", " ").split())
    return f"{author['family-names']} {initials}".strip()


def publication_reference(publication: dict) -> str:
    """One reference-list entry for a Citation File Format ``article``:
    authors, title, journal, year and DOI (as text, not a link: the report
    is self-contained and points nowhere on the web)."""
    authors = ", ".join(author_initials(author) for author in publication["authors"])
    return (
        f"{authors}. {publication['title']}. *{publication['journal']}*. {publication['year']}. "
        f"doi:{publication['doi']}"
    )


def citation_paragraph(citation: dict) -> str:
    """What the report reproduces and how to cite it, from the project's
    ``CITATION.cff`` (:func:`mentoring_eval.provenance.read_citation`)."""
    publication = cited_publication(citation)
    return (
        f"The measures follow the published process evaluation of mentoring in the RETAKE trial: "
        f"{publication_reference(publication)}. To cite the software, {citation['title'].split(':')[0]} "
        f"version {citation['version']}, use the metadata of its `CITATION.cff`."
    )


def environment_markdown(lock: FileDigest | None) -> str:
    """The lock the Python environment was installed from, with its SHA-256
    (a table, as the input files are), or that it was not."""
    if lock is None:
        return (
            f"The Python environment was not installed from the project's lock (`{LOCK_FILE}`): "
            "the package versions above are all this report knows of it."
        )
    table = pd.DataFrame({"file": [LOCK_FILE], "bytes": [lock.size], "sha256": [lock.sha256]})
    return captioned_table(
        markdown_table(table, {"sha256": "SHA-256"}),
        "Lock file the Python environment was installed from (each package's exact version and the SHA-256 of its files), "
        "with its own SHA-256",
        "environment",
    )


def provenance_markdown(
    parameters: dict[str, object],
    input_hashes: pd.DataFrame,
    versions: pd.DataFrame,
    commit: str,
    citation: dict | None = None,
    *,
    lock: FileDigest | None,
) -> str:
    """Parameters, input hashes, package versions, the environment's lock
    (:func:`mentoring_eval.provenance.installed_lock`) and commit; given the
    project's citation metadata, first the publication the report reproduces."""
    cited = [citation_paragraph(citation)] if citation else []
    return "\n\n".join(
        [
            *cited,
            f"Made by mentoring-eval from commit `{commit}`.",
            captioned_table(markdown_table(parameters_table(parameters)), "Parameters of this run", "parameters"),
            captioned_table(
                markdown_table(input_hashes, {"sha256": "SHA-256"}),
                "Input files as the clean stage read them, with their SHA-256",
                "inputs",
            ),
            captioned_table(markdown_table(versions), "Package versions", "versions"),
            environment_markdown(lock),
        ]
    )
