"""Any valid trial: trials drawn from the whole input contract (``trials.py``)
go through every notebook and through the real commands, and what must hold
of any trial is checked on each.

Two depths (Hypothesis profiles, ``conftest.py``): ``fast``, inside ``make
test``, and ``soak`` (``make soak``: hundreds of trials). A failing case prints
its scenario and seed and the command that writes its records again
(``tests/trials.py``); the cases that once failed are kept below as
``@example``s.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from inprocess import run_notebook_inprocess
from mentoring_eval import cli
from mentoring_eval.metrics import TABLE4_COLUMNS
from pipeline_runs import cli_command
from trials import (
    NOTE_MARKER,
    Scenario,
    generate_trial,
    truth_reconciliation,
    truth_table4,
    write_trial,
)

ROOT = Path(__file__).resolve().parents[1]
QUARTO = shutil.which("quarto")

scenarios = st.builds(
    Scenario,
    n_sites=st.sampled_from([1, 1, 2, 3, 5, 8, 12, 24]),
    contacts=st.sampled_from(["normal", "joint only", "outside window only", "few"]),
    leavers=st.sampled_from(["none", "unreplaced", "same day", "mixed"]),
    dose=st.sampled_from(["high", "low", "mixed"]),
    competency=st.sampled_from(["high", "low", "none", "mixed"]),
    cut_off=st.sampled_from(["first of month", "between months", "first open month", "after last record"]),
    empty_sites=st.booleans(),
    unopened_sites=st.booleans(),
    log_format=st.sampled_from(["csv", "xlsx"]),
    bad_rows=st.integers(0, 3),
    duplicates=st.integers(0, 3),
)
seeds = st.integers(0, 2**32 - 1)
# How many trials each test draws: `fast` in make test, `soak` in make soak.
DEPTH = os.environ.get("TRIALS", "fast")
EXAMPLES = {"fast": {"notebooks": 8, "commands": 1}, "soak": {"notebooks": 200, "commands": 25}}[DEPTH]

# Where a sentence states a number, none of these may stand in for it.
NOT_A_NUMBER = re.compile(r"\bnan\b|\bNaT\b|\bNone\b|<NA>|(?<![\w|])–(?![\w])|\b(\d+(?:\.\d+)?)–\1\b|\bin none\b")
# The publication's own content, which is about RETAKE only.
PUBLICATION_CONTENT = (
    "RETAKE",
    "Six experienced mentors",
    "OTs interviewed",
    "Qualitative findings",
    "Reproduction of",
)
CITATION_LINE = "The measures follow the published process evaluation"  # the method's source, in any report

# Cases that once failed, kept as regression tests.
NO_SITE_NEEDS_ATTENTION = Scenario(n_sites=1, dose="high", leavers="none", competency="high")
CUT_OFF_IN_THE_FIRST_OPEN_MONTH = Scenario(n_sites=1, contacts="joint only", cut_off="first open month")
SITE_OPENING_IN_THE_CUT_OFF_MONTH = Scenario(
    n_sites=24, contacts="joint only", cut_off="first open month", unopened_sites=True
)


def sentences(texts: list[str]) -> str:
    """The prose of what a notebook showed: tables, markup and the citation left out."""
    lines = (line for text in texts if not text.lstrip().startswith("<") for line in text.splitlines())
    return "\n".join(line for line in lines if not line.startswith("|") and not line.startswith(CITATION_LINE))


def assert_no_empty_table(texts: list[str]) -> None:
    """A table has rows, or is replaced by a sentence saying there is nothing to show."""
    for text in texts:
        table_lines = "".join("|" if line.startswith("|") else "\n" for line in text.splitlines())
        assert "||" not in table_lines.split("\n"), f"an empty table in: {text[:200]}"


def assert_reads_well(prose: str) -> None:
    wrong = [match.group(0) for match in NOT_A_NUMBER.finditer(prose)]
    assert not wrong, f"a number is missing in the prose: {wrong[:3]}"
    stated = [phrase for phrase in PUBLICATION_CONTENT if phrase in prose]
    assert not stated, f"the publication's content about RETAKE, in another trial's report: {stated}"


def assert_table4_is_true(site_metrics: pd.DataFrame, trial) -> None:
    truth = pd.DataFrame(truth_table4(trial), columns=list(TABLE4_COLUMNS))
    computed = site_metrics[list(TABLE4_COLUMNS)].reset_index(drop=True)
    assert len(computed) == len(truth), "one row per site open at the cut-off"
    for column in TABLE4_COLUMNS:
        got = [None if pd.isna(value) else float(value) for value in computed[column]]
        want = [None if pd.isna(value) else float(value) for value in truth[column]]
        assert got == want, f"Table 4 column {column}"


def assert_reconciled(summary: dict, trial) -> None:
    assert {key: summary[key] for key in truth_reconciliation(trial)} == truth_reconciliation(trial)
    assert summary["rows_read"] == summary["rows_clean"] + summary["rows_quarantined"] + summary["duplicates_removed"]


def assert_no_note_text(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in {".csv", ".json", ".ipynb", ".html", ".svg", ".md", ".parquet"}:
            assert NOTE_MARKER.encode() not in path.read_bytes(), f"note text in {path}"


def replayable(trial) -> None:
    note(f"replay: .venv/bin/python {trial.replay_line()}")


# ---------------------------------------------------------------- every notebook, in this process


@settings(
    max_examples=EXAMPLES["notebooks"],
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios, seed=seeds)
@example(scenario=NO_SITE_NEEDS_ATTENTION, seed=1)
@example(scenario=CUT_OFF_IN_THE_FIRST_OPEN_MONTH, seed=14)
@example(scenario=SITE_OPENING_IN_THE_CUT_OFF_MONTH, seed=20)
def test_any_trial_through_every_notebook(tmp_path_factory, scenario: Scenario, seed: int) -> None:
    """Table 4 and the reconciliation are true, and every sentence of the
    report and of every site page reads well, for any valid trial."""
    trial = generate_trial(scenario, seed)
    replayable(trial)
    folder = tmp_path_factory.mktemp("trial")
    raw, processed, report = write_trial(trial, folder / "raw"), folder / "processed", folder / "report"
    common = {"processed_dir": str(processed), "as_of": trial.as_of.isoformat(), "expected_minutes": 60}

    shown = run_notebook_inprocess("01_clean.ipynb", {"raw_dir": str(raw), **common})
    shown += run_notebook_inprocess("02_site_metrics.ipynb", {**common, "reference_table": ""})
    shown += run_notebook_inprocess("03_figures.ipynb", {**common, "report_dir": str(report)})
    shown += run_notebook_inprocess("04_report.ipynb", {**common, "raw_dir": str(raw), "report_dir": str(report)})
    for site in trial.open_sites[:4]:  # the pages share their code: a few per trial, every kind of site over many
        shown += run_notebook_inprocess("05_site_report.ipynb", {**common, "site": site})

    assert_reconciled(json.loads((processed / "cleaning_summary.json").read_text()), trial)
    assert_table4_is_true(pd.read_csv(processed / "site_metrics.csv"), trial)
    assert_reads_well(sentences(shown))
    assert_no_empty_table(shown)
    assert NOTE_MARKER not in "\n".join(shown)
    assert_no_note_text(processed)
    assert_no_note_text(report)


# ---------------------------------------------------------------- the real commands


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.paragraphs: list[str] = []
        self._in_p = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "a":
            self.links += [value for name, value in attrs if name == "href"]
        self._in_p = self._in_p or tag in {"p", "li"}

    def handle_endtag(self, tag: str) -> None:
        if tag in {"p", "li"}:
            self._in_p = False

    def handle_data(self, data: str) -> None:
        if self._in_p:
            self.paragraphs.append(data)


def parsed(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def run_command(command: str, trial, raw: Path, folder: Path, renderer: str) -> subprocess.CompletedProcess:
    arguments = cli_command(
        "--as-of",
        trial.as_of.isoformat(),
        processed=folder / "processed",
        report=folder / "report",
        raw=raw,
        renderer=renderer,
        subcommand=command,
    )
    return subprocess.run(arguments, capture_output=True, text=True, cwd=folder, timeout=900)


def check_trial_through_the_commands(trial, folder: Path, renderer: str) -> None:
    raw = write_trial(trial, folder / "raw")
    for command in ("run", "sites"):
        done = run_command(command, trial, raw, folder, renderer)
        assert done.returncode == 0, f"{command}: exit {done.returncode}: {done.stderr[-2000:]}"
        assert "Traceback" not in done.stderr, f"{command} printed a traceback"

    processed, report = folder / "processed", folder / "report"
    assert_reconciled(json.loads((processed / "cleaning_summary.json").read_text()), trial)
    site_metrics = pd.read_csv(processed / "site_metrics.csv")
    assert_table4_is_true(site_metrics, trial)

    index = report / "sites" / "index.html"
    linked = {link for link in parsed(index).links if re.fullmatch(r"site-\d+\.html", link)}
    assert linked == {f"site-{site}.html" for site in trial.open_sites}, "one page per site open at the cut-off"
    for row in site_metrics.itertuples():
        page = parsed(report / "sites" / f"site-{row.site}.html")
        text = " ".join(page.paragraphs)
        assert f"site {row.site}" in text.lower()
        cells = (report / "sites" / f"site-{row.site}.html").read_text(encoding="utf-8")
        for value, decimals in ((row.total_minutes, 0), (row.months_in_study, 0), (row.pct_phone_teams, 1)):
            if not pd.isna(value):
                assert f">{value:.{decimals}f}<" in cells, f"site {row.site}: {value} not on its page"
        assert_reads_well(" ".join(page.paragraphs))
    report_page = report / ("quarto/index.html" if renderer == "quarto" else "report.html")
    assert_reads_well(" ".join(parsed(report_page).paragraphs).replace("\n", " ").split(CITATION_LINE)[0])
    assert_no_note_text(processed)
    assert_no_note_text(report)


@settings(
    max_examples=EXAMPLES["commands"],
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios.filter(lambda s: s.n_sites <= 12), seed=seeds)
@example(scenario=NO_SITE_NEEDS_ATTENTION, seed=1)
def test_any_trial_through_the_commands(tmp_path_factory, scenario: Scenario, seed: int) -> None:
    """``run`` and ``sites`` (nbconvert) on a generated trial: exit 0, no
    traceback, Table 4 and reconciliation true, one page per open site with
    its numbers, prose that reads well, no note text anywhere."""
    trial = generate_trial(scenario, seed)
    replayable(trial)
    check_trial_through_the_commands(trial, tmp_path_factory.mktemp("cli"), "nbconvert")


@pytest.mark.skipif(QUARTO is None, reason="quarto is not on PATH (see ../shared/tools/quarto-offline)")
@pytest.mark.parametrize("scenario,seed", [(Scenario(n_sites=3, log_format="xlsx", empty_sites=True), 7)])
def test_a_generated_trial_rendered_by_quarto(tmp_path: Path, scenario: Scenario, seed: int) -> None:
    check_trial_through_the_commands(generate_trial(scenario, seed), tmp_path, "quarto")


# ---------------------------------------------------------------- never a traceback


def test_an_unexpected_error_is_one_line_without_a_traceback(monkeypatch, capsys) -> None:
    def fails(_):
        raise TypeError("Invalid value '' for dtype 'Int64'\nsecond line")

    monkeypatch.setattr(cli, "command_run", fails)
    monkeypatch.delenv("MENTORING_EVAL_TRACEBACK", raising=False)
    assert cli.main(["run"]) == cli.EXIT_FAILED
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert error.startswith("error: unexpected TypeError: Invalid value '' for dtype 'Int64' second line")


def test_a_stage_failing_on_a_trial_is_one_line_and_keeps_the_notebook(tmp_path: Path) -> None:
    """A stage that fails inside its notebook (here the figures stage, its
    figure folder made unwritable by a file in its way) ends the command with
    one line naming the stage and the failed notebook, exit 1."""
    trial = generate_trial(Scenario(n_sites=2), 3)
    raw = write_trial(trial, tmp_path / "raw")
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "figures").write_text("not a folder")
    done = run_command("run", trial, raw, tmp_path, "none")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: stage figures failed:")
    assert (tmp_path / "report" / "notebooks" / "03_figures.failed.ipynb").exists()


def test_replay_line_writes_the_same_records(tmp_path: Path) -> None:
    trial = generate_trial(Scenario(n_sites=3, log_format="csv"), 11)
    write_trial(trial, tmp_path / "a")
    scenario_json, seed = trial.replay_line().split("'")[1], trial.seed
    subprocess.run(
        [sys.executable, str(ROOT / "tests" / "trials.py"), scenario_json, str(seed), str(tmp_path / "b")],
        check=True,
        capture_output=True,
        env={**os.environ},
    )
    for file in (tmp_path / "a").iterdir():
        assert file.read_bytes() == (tmp_path / "b" / file.name).read_bytes()
