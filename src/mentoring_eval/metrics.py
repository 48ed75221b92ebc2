"""Table 4 and everything else computed per site: monthly minutes,
competency, OT turnover, group comparisons, the Spearman association and the
sites needing attention.

Every function is pure: clean-stage tables in (schemas in CONTRIBUTING.md),
metrics-stage tables out, sorted so that the same inputs give the same bytes.
A site belongs to a run when it opened before the cut-off ``as_of``; its study
window runs from the first day of its opening month up to (not including)
``as_of``. A site opening later is absent from every table, not a row of
zeros.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math

import numpy as np
import pandas as pd

from .rounding import ratio_half_up, round_half_up
from .wording import plural

DateLike = str | dt.date | pd.Timestamp

TABLE4_COLUMNS = (
    "site",
    "months_in_study",
    "total_minutes",
    "pct_phone_teams",
    "essvr_participants",
    "ots",
    "minutes_per_month",
    "participants_per_ot",
)
MODES = ("phone", "teams", "written")
MODE_MINUTES_COLUMNS = tuple(f"{mode}_minutes" for mode in MODES)
SITE_METRICS_COLUMNS = TABLE4_COLUMNS + MODE_MINUTES_COLUMNS + ("dose_band",)

ESSVR_ARM = "ESSVR"
DEFAULT_EXPECTED_MINUTES = 60
DEFAULT_CLOSE_MARGIN = 10
DEFAULT_LOW_SCORE_THRESHOLD = 60
DEFAULT_REPLACEMENT_LEAD_DAYS = 90
RECENT_MONTHS = 3
EXACT_PERMUTATION_MAX_N = 10
_PAIRINGS_PER_CHUNK = 200_000

REASON_RECENT_BELOW = f"below expected minutes in the last {RECENT_MONTHS} months"
REASON_UNREPLACED = "OT left and not replaced"
REASON_LOW_COMPETENCY = "low competency scores without more than the expected mentoring"


# --- study windows ---------------------------------------------------------


def as_timestamp(as_of: DateLike) -> pd.Timestamp:
    """The cut-off as a timestamp at midnight."""
    return pd.Timestamp(as_of).normalize()


def month_number(dates: pd.Series | pd.Timestamp) -> pd.Series | int:
    """Months since year 0 (year * 12 + month - 1): differences are calendar
    months, and :func:`month_label` turns it back into ``YYYY-MM``."""
    calendar = dates.dt if isinstance(dates, pd.Series) else dates
    return calendar.year * 12 + calendar.month - 1


def month_label(month_numbers: pd.Series) -> pd.Series:
    """``YYYY-MM`` for each month number of :func:`month_number`."""
    years = (month_numbers // 12).astype("int64").astype(str).str.zfill(4)
    months = (month_numbers % 12 + 1).astype("int64").astype(str).str.zfill(2)
    return (years + "-" + months).astype(object)


def study_sites(sites: pd.DataFrame, as_of: DateLike) -> pd.DataFrame:
    """The sites in the run: ``site``, ``opened_on``, ``window_start`` (first
    day of the opening month) and ``months_in_study`` (calendar months from
    the opening month to the month before ``as_of``, inclusive), sorted by
    site. Sites opening on or after ``as_of`` are left out."""
    cutoff = as_timestamp(as_of)
    opened = sites.loc[sites["opened_on"] < cutoff, ["site", "opened_on"]]
    return (
        opened.assign(
            window_start=opened["opened_on"].dt.normalize() - pd.to_timedelta(opened["opened_on"].dt.day - 1, unit="D"),
            months_in_study=(month_number(cutoff) - month_number(opened["opened_on"])).astype("int64"),
        )
        .sort_values("site", kind="stable")
        .reset_index(drop=True)
    )


def _window_start_of(site: pd.Series, windows: pd.DataFrame) -> pd.Series:
    """Each row's site window start (NaT for a site not in the run)."""
    # reindex, not map: it keeps the datetime dtype even when nothing matches.
    window_start = windows.set_index("site")["window_start"].reindex(site.to_numpy())
    return pd.Series(window_start.to_numpy(), index=site.index, name="window_start")


def counted_contacts(contacts: pd.DataFrame, sites: pd.DataFrame, as_of: DateLike) -> pd.DataFrame:
    """The contacts Table 4 counts: those the clean stage flagged ``in_window``.

    The flags are checked against this cut-off, because contacts cleaned with
    another cut-off would silently count a different window.
    """
    cutoff = as_timestamp(as_of)
    window_start = _window_start_of(contacts["site"], study_sites(sites, cutoff))
    in_this_window = (contacts["date"] >= window_start) & (contacts["date"] < cutoff)
    disagreeing = int((contacts["in_window"].astype(bool) != in_this_window).sum())
    if disagreeing:
        raise ValueError(
            f"{disagreeing} contacts have an in_window flag that does not match the study "
            f"window for the cut-off {cutoff:%Y-%m-%d}; run the clean stage with the same cut-off"
        )
    return contacts.loc[contacts["in_window"].astype(bool)]


def ots_in_window(ots: pd.DataFrame, sites: pd.DataFrame, as_of: DateLike) -> pd.DataFrame:
    """OTs whose time in post overlaps their site's study window: started
    before ``as_of`` and still in post (``left_on`` NaT) or left on or after
    the first day of the site's opening month."""
    cutoff = as_timestamp(as_of)
    window_start = _window_start_of(ots["site"], study_sites(sites, cutoff))
    overlaps = (
        window_start.notna() & (ots["started_on"] < cutoff) & (ots["left_on"].isna() | (ots["left_on"] >= window_start))
    )
    return ots.loc[overlaps]


# --- Table 4 ---------------------------------------------------------------


def dose_band(
    minutes_per_month: pd.Series,
    expected_minutes: float = DEFAULT_EXPECTED_MINUTES,
    close_margin: float = DEFAULT_CLOSE_MARGIN,
) -> pd.Series:
    """``below``, ``close`` or ``above`` the expected minutes per month:
    close means within ``close_margin`` minutes either side (inclusive). The
    band is taken from the whole-number minutes per month, as published. NA
    where minutes per month is NA."""
    distance = minutes_per_month.astype("Float64") - expected_minutes
    band = np.select(
        [
            (distance < -close_margin).fillna(False).to_numpy(bool),
            (distance > close_margin).fillna(False).to_numpy(bool),
        ],
        ["below", "above"],
        "close",
    )
    return pd.Series(band, index=minutes_per_month.index, dtype=object).where(distance.notna().to_numpy(bool), None)


def table4(
    contacts: pd.DataFrame,
    sites: pd.DataFrame,
    participants: pd.DataFrame,
    ots: pd.DataFrame,
    as_of: DateLike,
    expected_minutes: float = DEFAULT_EXPECTED_MINUTES,
    close_margin: float = DEFAULT_CLOSE_MARGIN,
) -> pd.DataFrame:
    """Table 4, one row per site opened before ``as_of``, sorted by site.

    Columns: the eight of the publication (``site``, ``months_in_study``,
    ``total_minutes``, ``pct_phone_teams``, ``essvr_participants``, ``ots``,
    ``minutes_per_month``, ``participants_per_ot``), then ``phone_minutes``,
    ``teams_minutes``, ``written_minutes`` and ``dose_band``.

    Minutes are summed from in-window contacts (a joint session credits each
    site its full minutes) and shown as whole numbers; every ratio is rounded
    half-up from the exact sums: the percentage to one decimal (NA when the
    site has no minutes), the per-month and per-OT averages to whole numbers
    (NA when months or OTs are zero). Counts are nullable ``Int64``.
    """
    cutoff = as_timestamp(as_of)
    windows = study_sites(sites, cutoff)
    site_index = pd.Index(windows["site"], name="site")

    counted = counted_contacts(contacts, sites, cutoff)
    minutes_by_mode = (
        counted.assign(**{f"{mode}_minutes": counted["minutes"].where(counted["mode"] == mode, 0.0) for mode in MODES})
        .groupby("site")[["minutes", *MODE_MINUTES_COLUMNS]]
        .sum()
        .reindex(site_index, fill_value=0.0)
    )
    essvr_participants = (
        participants.loc[(participants["arm"] == ESSVR_ARM) & (participants["randomised_on"] < cutoff)]
        .groupby("site")
        .size()
        .reindex(site_index, fill_value=0)
    )
    ots_in_post = ots_in_window(ots, sites, cutoff).groupby("site").size().reindex(site_index, fill_value=0)
    months = windows.set_index("site")["months_in_study"]

    table = pd.DataFrame(
        {
            "months_in_study": months.astype("Int64"),
            "total_minutes": _whole(minutes_by_mode["minutes"], 1),
            "pct_phone_teams": ratio_half_up(
                100 * (minutes_by_mode["phone_minutes"] + minutes_by_mode["teams_minutes"]),
                minutes_by_mode["minutes"],
                1,
            ),
            "essvr_participants": essvr_participants.astype("Int64"),
            "ots": ots_in_post.astype("Int64"),
            "minutes_per_month": _whole(minutes_by_mode["minutes"], months),
            "participants_per_ot": _whole(essvr_participants, ots_in_post),
            **{column: _whole(minutes_by_mode[column], 1) for column in MODE_MINUTES_COLUMNS},
        },
        index=site_index,
    )
    return (
        table.assign(dose_band=lambda t: dose_band(t["minutes_per_month"], expected_minutes, close_margin))
        .reset_index()
        .astype({"site": "int64"})
        .loc[:, list(SITE_METRICS_COLUMNS)]
    )


def _whole(numerator: pd.Series, denominator: pd.Series | int) -> pd.Series:
    """``numerator / denominator`` half-up to a whole number, as ``Int64``."""
    return ratio_half_up(numerator, denominator, 0).astype("Int64")


def monthly_minutes(contacts: pd.DataFrame, sites: pd.DataFrame, as_of: DateLike) -> pd.DataFrame:
    """Minutes credited to each site in each month in study: ``site``,
    ``month`` (``YYYY-MM``), ``minutes`` (float, zeros included), sorted.

    Months run from the opening month to the month before ``as_of``, as in
    ``months_in_study``. With a cut-off that is not the first of a month, the
    contacts of the part-month before it count in Table 4's total but have no
    row here, so that a part-month never looks like a quiet month.
    """
    cutoff = as_timestamp(as_of)
    windows = study_sites(sites, cutoff)
    months = windows["months_in_study"].to_numpy()
    first_month = np.repeat(month_number(windows["opened_on"]).to_numpy(), months)
    month_offset = np.arange(months.sum()) - np.repeat(np.cumsum(months) - months, months)
    grid = pd.DataFrame(
        {"site": np.repeat(windows["site"].to_numpy(), months), "month_number": first_month + month_offset}
    )
    counted = counted_contacts(contacts, sites, cutoff)
    credited = (
        counted.assign(month_number=month_number(counted["date"]))
        .groupby(["site", "month_number"], as_index=False)["minutes"]
        .sum()
    )
    return (
        grid.merge(credited, on=["site", "month_number"], how="left")
        .assign(
            minutes=lambda g: g["minutes"].fillna(0.0).astype("float64"),
            month=lambda g: month_label(g["month_number"]),
        )
        .sort_values(["site", "month_number"], kind="stable")
        .loc[:, ["site", "month", "minutes"]]
        .reset_index(drop=True)
    )


DELIVERY_CONTACT_COLUMNS = ["source_line", "mentor", "kind", "joint", "in_window"]


def delivery_summary(contacts: pd.DataFrame) -> dict[str, int]:
    """What the log says was delivered within the study windows, counting each
    contact once however many sites it credited: ``mentors`` (distinct codes),
    ``contacts``, ``planned``, ``additional``, ``ad hoc`` and ``joint`` (contacts
    crediting several sites)."""
    counted = contacts.loc[contacts["in_window"].astype(bool), DELIVERY_CONTACT_COLUMNS].drop_duplicates("source_line")
    kinds = counted["kind"].astype(str).value_counts()
    return {
        "mentors": int(counted["mentor"].astype(str).nunique()),
        "contacts": len(counted),
        **{kind: int(kinds.get(kind, 0)) for kind in ("planned", "additional", "ad hoc")},
        "joint": int(counted["joint"].astype(bool).sum()),
    }


# --- competency and turnover -----------------------------------------------


def site_competency(
    sites: pd.DataFrame,
    ots: pd.DataFrame,
    competency: pd.DataFrame,
    as_of: DateLike,
    low_score_threshold: float = DEFAULT_LOW_SCORE_THRESHOLD,
) -> pd.DataFrame:
    """Per site in the run: ``mean_competency`` (mean of the scores of the
    site's OTs' assessments dated before ``as_of``, one decimal half-up; NA
    without assessments) and ``low_competency`` (any such score below
    ``low_score_threshold``).

    The pass mark of the written RETAKE competency assessment is not
    published; 60 (out of 100) is this project's documented choice, and the
    report states it.
    """
    cutoff = as_timestamp(as_of)
    site_index = pd.Index(study_sites(sites, cutoff)["site"], name="site")
    scores = (
        competency.loc[competency["assessed_on"] < cutoff, ["ot_id", "score"]]
        .merge(ots[["ot_id", "site"]], on="ot_id", how="inner")
        .groupby("site")["score"]
        .agg(["sum", "count", "min"])
        .reindex(site_index)
    )
    return pd.DataFrame(
        {
            "mean_competency": ratio_half_up(scores["sum"], scores["count"], 1),
            "low_competency": (scores["min"] < low_score_threshold).fillna(False).astype(bool),
        },
        index=site_index,
    ).reset_index()


def ot_departures(
    ots: pd.DataFrame,
    sites: pd.DataFrame,
    as_of: DateLike,
    replacement_lead_days: int = DEFAULT_REPLACEMENT_LEAD_DAYS,
) -> pd.DataFrame:
    """OTs who left within their site's study window (``left_on`` before
    ``as_of``): ``ot_id``, ``site``, ``left_on``, ``month`` (``YYYY-MM``),
    ``leave_reason``, ``replaced`` (bool), ``replaced_by`` (the joiner's
    ``ot_id``, ``""`` when unreplaced); sorted by site, date and OT.

    A departure is replaced by an OT of the same site who started before
    ``as_of``, no earlier than ``replacement_lead_days`` before the departure
    (a replacement is often recruited before the leaver goes) and later than
    the leaver started. Each joiner replaces at most one departure; departures
    are matched in date order, each to the earliest joiner still free.
    """
    cutoff = as_timestamp(as_of)
    window_start = _window_start_of(ots["site"], study_sites(sites, cutoff))
    leavers = ots.loc[(ots["left_on"] < cutoff) & (ots["left_on"] >= window_start)]
    joiners = ots.loc[window_start.notna() & (ots["started_on"] < cutoff), ["site", "ot_id", "started_on"]]
    candidates = (
        leavers[["site", "ot_id", "started_on", "left_on"]]
        .merge(joiners, on="site", suffixes=("", "_joiner"))
        .loc[
            lambda pairs: (
                (pairs["started_on_joiner"] >= pairs["left_on"] - pd.Timedelta(days=replacement_lead_days))
                & (pairs["started_on_joiner"] > pairs["started_on"])
            )
        ]
        .sort_values(["site", "left_on", "ot_id", "started_on_joiner", "ot_id_joiner"], kind="stable")
    )
    replaced_by = _match_in_date_order(candidates)
    return (
        leavers.assign(
            month=month_label(month_number(leavers["left_on"])),
            replaced_by=leavers["ot_id"].map(replaced_by).astype(object).fillna(""),
        )
        .assign(replaced=lambda d: d["replaced_by"] != "")
        .sort_values(["site", "left_on", "ot_id"], kind="stable")
        .loc[:, ["ot_id", "site", "left_on", "month", "leave_reason", "replaced", "replaced_by"]]
        .reset_index(drop=True)
    )


def _match_in_date_order(candidates: pd.DataFrame) -> dict[str, str]:
    """Greedy one-to-one matching of leavers to joiners over candidate pairs
    sorted by departure date then joiner start: a loop over the few OT pairs
    of a site, never over contacts."""
    replaced_by: dict[str, str] = {}
    used_joiners: set[str] = set()
    for leaver, joiner in zip(candidates["ot_id"], candidates["ot_id_joiner"]):
        if leaver not in replaced_by and joiner not in used_joiners:
            replaced_by[leaver] = joiner
            used_joiners.add(joiner)
    return replaced_by


def site_profile(
    sites: pd.DataFrame,
    ots: pd.DataFrame,
    competency: pd.DataFrame,
    as_of: DateLike,
    low_score_threshold: float = DEFAULT_LOW_SCORE_THRESHOLD,
    replacement_lead_days: int = DEFAULT_REPLACEMENT_LEAD_DAYS,
) -> pd.DataFrame:
    """Per site in the run: ``site``, ``mean_competency``, ``low_competency``
    (see :func:`site_competency`), ``leavers``, ``replaced``, ``unreplaced``
    (see :func:`ot_departures`) and ``turnover`` (at least one leaver)."""
    departures = ot_departures(ots, sites, as_of, replacement_lead_days)
    departure_counts = (
        departures.assign(unreplaced=~departures["replaced"])
        .groupby("site")
        .agg(leavers=("ot_id", "size"), replaced=("replaced", "sum"), unreplaced=("unreplaced", "sum"))
    )
    return (
        site_competency(sites, ots, competency, as_of, low_score_threshold)
        .merge(departure_counts, on="site", how="left")
        .fillna({"leavers": 0, "replaced": 0, "unreplaced": 0})
        .astype({"leavers": "Int64", "replaced": "Int64", "unreplaced": "Int64"})
        .assign(turnover=lambda p: (p["leavers"] > 0).astype(bool))
        .loc[
            :,
            ["site", "mean_competency", "low_competency", "leavers", "replaced", "unreplaced", "turnover"],
        ]
    )


# --- associations (16 sites: exploratory, not effects) ---------------------


def group_comparison(site_metrics: pd.DataFrame, site_profile: pd.DataFrame) -> pd.DataFrame:
    """Mean minutes per month of sites with and without low competency scores,
    and with and without OT turnover: ``factor``, ``group`` (``with`` /
    ``without``), ``n_sites`` (sites with a minutes-per-month value),
    ``mean_minutes_per_month`` (one decimal half-up), ``sites`` (the list)."""
    joined = site_metrics[["site", "minutes_per_month"]].merge(
        site_profile[["site", "low_competency", "turnover"]], on="site", how="inner"
    )
    factors = {"low competency scores": "low_competency", "OT turnover": "turnover"}
    rows = [
        _group_row(factor, group, joined.loc[joined[flag] == has_it])
        for factor, flag in factors.items()
        for group, has_it in (("with", True), ("without", False))
    ]
    return pd.DataFrame(rows, columns=["factor", "group", "n_sites", "mean_minutes_per_month", "sites"])


def _group_row(factor: str, group: str, members: pd.DataFrame) -> dict:
    with_minutes = members.loc[members["minutes_per_month"].notna()]
    return {
        "factor": factor,
        "group": group,
        "n_sites": len(with_minutes),
        "mean_minutes_per_month": ratio_half_up(float(with_minutes["minutes_per_month"].sum()), len(with_minutes), 1),
        "sites": ", ".join(str(site) for site in sorted(members["site"])),
    }


def spearman_association(
    site_metrics: pd.DataFrame,
    site_profile: pd.DataFrame,
    x: str = "minutes_per_month",
    y: str = "mean_competency",
    exact_max_n: int = EXACT_PERMUTATION_MAX_N,
) -> pd.DataFrame:
    """Spearman's rank correlation of ``x`` (from the site metrics) with ``y``
    (from the site profile), over sites with both values: one row with ``x``,
    ``y``, ``n``, ``rho``, ``p_value``, ``p_value_method``, ``interpretation``.

    The two-sided p-value is exact (every pairing of the ranks) when
    ``n <= exact_max_n``, else a Monte-Carlo permutation test with a fixed
    seed: deterministic either way. With n sites this is exploratory: an association, not an effect of
    mentoring. ``rho`` is NA with fewer than 3 sites or a constant variable.
    """
    pairs = site_metrics[["site", x]].merge(site_profile[["site", y]], on="site", how="inner").dropna(subset=[x, y])
    x_values = pairs[x].to_numpy(dtype=float)
    y_values = pairs[y].to_numpy(dtype=float)
    n = len(pairs)
    row = {
        "x": x,
        "y": y,
        "n": n,
        "rho": pd.NA,
        "p_value": pd.NA,
        "p_value_method": "",
        "interpretation": (f"exploratory: {n} sites; an association, not an effect of mentoring"),
    }
    if n < 3 or np.ptp(x_values) == 0 or np.ptp(y_values) == 0:
        row["p_value_method"] = "not computed: fewer than 3 sites or no variation"
        return pd.DataFrame([row])
    from scipy import stats  # here, not at the top: a second of import that only this needs

    rho = stats.spearmanr(x_values, y_values).statistic
    row["rho"] = float(rho)
    if n <= exact_max_n:
        row["p_value"] = _exact_spearman_p_value(x_values, y_values)
        row["p_value_method"] = f"exact permutation (all {math.factorial(n)} pairings)"
    else:
        row["p_value"] = _sampled_spearman_p_value(x_values, y_values)
        row["p_value_method"] = f"permutation test ({PERMUTATIONS:,} random pairings, seed {PERMUTATION_SEED})"
    return pd.DataFrame([row])


PERMUTATIONS = 100_000
PERMUTATION_SEED = 20200401


def _centred_ranks(values: np.ndarray) -> np.ndarray:
    from scipy import stats

    return stats.rankdata(values) - (len(values) + 1) / 2


def _sampled_spearman_p_value(x_values: np.ndarray, y_values: np.ndarray) -> float:
    """Two-sided Monte-Carlo permutation p-value, (b + 1) / (m + 1) over m
    random pairings of the ranks (b at least as extreme as observed); the
    fixed seed makes it the same on every run."""
    x_centred, y_centred = _centred_ranks(x_values), _centred_ranks(y_values)
    observed = abs(float(x_centred @ y_centred))
    threshold = observed - 1e-9 * max(1.0, observed)
    rng = np.random.default_rng(PERMUTATION_SEED)
    at_least_as_extreme, remaining = 0, PERMUTATIONS
    while remaining:
        size = min(remaining, _PAIRINGS_PER_CHUNK // max(1, len(x_values) // 10))
        shuffled = rng.permuted(np.broadcast_to(y_centred, (size, len(y_centred))), axis=1)
        at_least_as_extreme += int(np.count_nonzero(np.abs(shuffled @ x_centred) >= threshold))
        remaining -= size
    return (at_least_as_extreme + 1) / (PERMUTATIONS + 1)


def _exact_spearman_p_value(x_values: np.ndarray, y_values: np.ndarray) -> float:
    """Two-sided p-value over all n! pairings of the ranks (ties averaged):
    the share of pairings whose rank correlation is at least as far from 0.

    With ranks centred, the correlation of a pairing is proportional to the
    dot product of the centred ranks, so the dot products are compared; the
    pairings are enumerated in chunks to keep memory flat (10! = 3,628,800).
    """
    n = len(x_values)
    x_centred, y_centred = _centred_ranks(x_values), _centred_ranks(y_values)
    observed = abs(float(x_centred @ y_centred))
    threshold = observed - 1e-9 * max(1.0, observed)
    pairings = itertools.permutations(range(n))
    at_least_as_extreme = 0
    while True:
        chunk = np.fromiter(
            itertools.chain.from_iterable(itertools.islice(pairings, _PAIRINGS_PER_CHUNK)),
            dtype=np.int64,
        ).reshape(-1, n)
        if chunk.size == 0:
            break
        at_least_as_extreme += int(np.count_nonzero(np.abs(y_centred[chunk] @ x_centred) >= threshold))
    return at_least_as_extreme / math.factorial(n)


# --- sites needing attention -----------------------------------------------


def sites_needing_attention(
    site_metrics: pd.DataFrame,
    monthly: pd.DataFrame,
    site_profile: pd.DataFrame,
    as_of: DateLike,
    expected_minutes: float = DEFAULT_EXPECTED_MINUTES,
) -> pd.DataFrame:
    """One row per site and reason (``site``, ``reason``, ``detail``), sorted
    by site and reason. A site needs attention when

    - its mean minutes over the last 3 months before ``as_of`` (fewer if it
      opened more recently) is below ``expected_minutes``;
    - an OT left and was not replaced;
    - it has low competency scores and no more than ``expected_minutes``
      minutes per month (a site without a minutes-per-month value yet counts
      as not having more).
    """
    cutoff_month = month_number(as_timestamp(as_of))
    recent_labels = month_label(pd.Series(range(cutoff_month - RECENT_MONTHS, cutoff_month)))
    recent = (
        monthly.loc[monthly["month"].isin(recent_labels)]
        .groupby("site")["minutes"]
        .agg(["mean", "size"])
        .loc[lambda r: r["mean"] < expected_minutes]
        .reset_index()
    )
    recent_below = pd.DataFrame(
        {
            "site": recent["site"],
            "reason": REASON_RECENT_BELOW,
            "detail": [
                f"mean {mean:.1f} minutes per month over the last {plural(int(months), 'month')}, "
                f"expected {expected_minutes:g}"
                for mean, months in zip(round_half_up(recent["mean"], 1), recent["size"])
            ],
        }
    )
    unreplaced = site_profile.loc[site_profile["unreplaced"] > 0]
    not_replaced = pd.DataFrame(
        {
            "site": unreplaced["site"],
            "reason": REASON_UNREPLACED,
            "detail": [f"{plural(int(count), 'OT')} left and not replaced" for count in unreplaced["unreplaced"]],
        }
    )
    low = site_profile.loc[site_profile["low_competency"].astype(bool), ["site"]].merge(
        site_metrics[["site", "minutes_per_month"]], on="site", how="left"
    )
    low_without_more = low.loc[~(low["minutes_per_month"] > expected_minutes).fillna(False).astype(bool)]
    low_competency = pd.DataFrame(
        {
            "site": low_without_more["site"],
            "reason": REASON_LOW_COMPETENCY,
            "detail": [
                f"{'no' if pd.isna(minutes) else minutes} minutes per month, expected {expected_minutes:g}"
                for minutes in low_without_more["minutes_per_month"]
            ],
        }
    )
    return (
        pd.concat([recent_below, not_replaced, low_competency], ignore_index=True)
        .astype({"site": "int64", "reason": object, "detail": object})
        .sort_values(["site", "reason"], kind="stable")
        .reset_index(drop=True)
    )
