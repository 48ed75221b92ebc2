"""``python -m mentoring_eval run`` as a user runs it: a subprocess, its exit
status, what it prints, and what it leaves on disk.

The session's run of the bundled records (``bundled_run``, conftest.py: a
first run, the same command again, and again with ``--force``) is checked
here. One more good run of the bundled records, into this module's own
folders, makes "the last good report" (a copy of the shared one would not
do: the run's fingerprints name its folders). Every failing run is made
against those folders, and must leave every output file byte for byte as it
was. Every run writes into pytest's temporary folders, never into the
project's ``data/processed`` or ``report``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mentoring_eval import locking, pipeline, provenance, runs
from mentoring_eval.locking import output_lock
from pipeline_runs import BUNDLED_RAW, ROOT, Snapshot, cli_command, snapshot

LOG = "mentoring_log.csv"
STAGE_NAMES = [stage.name for stage in pipeline.STAGES]
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_BUSY = 0, 1, 2, 75

# The runner's bookkeeping in the report folder. A failed run may forget a
# stage it was about to rerun, and the kernel log only grows; every other file
# must stay byte-identical.
STATE_FILE = f"report/{runs.STATE_FILE}"
KERNEL_LOG = f"report/{pipeline.KERNEL_LOG}"
# The one file a failed run may add: the failing notebook, beside the good one.
FAILED_NOTEBOOK = re.compile(r"report/notebooks/[^/]+\.failed\.ipynb")

# ---------------------------------------------------------------- running the command


def run_cli(
    *args: str, processed: Path, report: Path, raw: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the command from the project folder and wait for it."""
    return subprocess.run(
        cli_command(*args, processed=processed, report=report, raw=raw),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=None if env is None else {**os.environ, **env},
    )


def shown(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"


def _forgets_only(before: bytes, after: bytes) -> bool:
    """The state file after a failed run may drop entries, never change or add one."""
    try:
        previous, now = json.loads(before), json.loads(after)
    except ValueError:
        return False
    return all(previous.get(key) == value for key, value in now.items())


def damage(before: Snapshot, after: Snapshot) -> list[str]:
    """What a failed run did to the last good outputs that it must not do."""
    problems = [f"{name} removed" for name in before.keys() - after.keys()]
    problems += [f"{name} added" for name in after.keys() - before.keys() if not FAILED_NOTEBOOK.fullmatch(name)]
    for name in before.keys() & after.keys():
        unchanged = (
            before[name] == after[name]
            or (name == KERNEL_LOG and after[name].startswith(before[name]))
            or (name == STATE_FILE and _forgets_only(before[name], after[name]))
        )
        if not unchanged:
            problems.append(f"{name} modified")
    return sorted(problems)


Rows = list[list[str]]  # a CSV file's rows, header first
Edit = Callable[[Rows], Rows]


def edit_csv(path: Path, edit: Edit, encoding: str = "utf-8") -> None:
    """Rewrite the CSV file at ``path`` with ``edit`` applied to its rows (header first)."""
    with path.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file))
    with path.open("w", encoding=encoding, newline="") as file:
        csv.writer(file, lineterminator="\n").writerows(edit(rows))


FIRST_RECORD = slice(0, 1)


def column_position(header: list[str], column: str) -> int:
    """Where ``column`` is, matched as the input contract matches it."""
    return [name.strip().lower() for name in header].index(column)


def set_cells(column: str, value: str, records: slice = slice(None)) -> Edit:
    """An ``edit_csv`` edit: ``value`` in ``column`` of the ``records`` (0 is the first record)."""

    def edit(rows: Rows) -> Rows:
        position = column_position(rows[0], column)
        for row in rows[1:][records]:
            row[position] = value
        return rows

    return edit


def drop_column(column: str) -> Edit:
    def edit(rows: Rows) -> Rows:
        position = column_position(rows[0], column)
        return [row[:position] + row[position + 1 :] for row in rows]

    return edit


# ---------------------------------------------------------------- the last good report


@dataclass(frozen=True)
class GoodRun:
    raw: Path  # the bundled records (read-only: each failing run edits a copy)
    processed: Path
    report: Path
    backup: Path  # the last good folders, to put back after each failed run
    last_good: Snapshot = field(repr=False)

    @property
    def folders(self) -> dict[str, Path]:
        return {"processed": self.processed, "report": self.report}

    def save(self) -> None:
        for name, folder in self.folders.items():
            shutil.copytree(folder, self.backup / name)

    def restore(self) -> None:
        for name, folder in self.folders.items():
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(self.backup / name, folder)


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> GoodRun:
    base = tmp_path_factory.mktemp("good")
    processed, report = base / "processed", base / "report"
    result = run_cli(raw=BUNDLED_RAW, processed=processed, report=report)
    assert result.returncode == EXIT_OK, shown(result)
    good = GoodRun(BUNDLED_RAW, processed, report, base / "backup", snapshot(processed, report))
    good.save()
    return good


@dataclass(frozen=True)
class FailedRun:
    result: subprocess.CompletedProcess
    damage: list[str]  # what it did to the last good outputs (see ``damage``)


def run_against_last_good(
    good: GoodRun, *args: str, raw: Path, report: Path | None = None, env: dict[str, str] | None = None
) -> FailedRun:
    """Run into the last good folders, note what changed there, then put the
    last good folders back so that no run sees another's leftovers."""
    try:
        result = run_cli(*args, raw=raw, processed=good.processed, report=report or good.report, env=env)
        return FailedRun(result, damage(good.last_good, snapshot(good.processed, good.report)))
    finally:
        good.restore()


def copy_of_raw(good: GoodRun, tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    shutil.copytree(good.raw, raw)
    return raw


def assert_one_line_error(result: subprocess.CompletedProcess, names: tuple[str, ...]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, shown(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].strip(), f"expected one line on standard error\n{shown(result)}"
    for name in names:
        assert name in lines[0], f"the message does not name {name!r}\n{shown(result)}"


# ---------------------------------------------------------------- good runs and reruns

DONE = r"done in \d+\.\d s"
RENDERED = r"\(as requested\) in \d+\.\d s"
SKIPPED = r"skipped \(unchanged\)"


def as_the_command_shows(path: Path) -> str:
    """Relative to the folder the command runs in (the project) when inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def assert_printed(result: subprocess.CompletedProcess, raw: Path, report: Path, stages: str, render: str) -> None:
    """Standard output is the heading, one line per stage, the render line and the report's path."""
    expected = [
        re.escape(f"RETAKE mentoring report as of 2020-04-01 from {as_the_command_shows(raw)}"),
        *(
            re.escape(f"[{number}/{len(STAGE_NAMES)}] {name:<13}") + " " + stages
            for number, name in enumerate(STAGE_NAMES, start=1)
        ),
        r"\[render\] nbconvert " + render,
        re.escape(f"report: {as_the_command_shows(report / 'report.html')}"),
    ]
    lines = result.stdout.splitlines()
    assert len(lines) == len(expected), shown(result)
    for pattern, line in zip(expected, lines):
        assert re.fullmatch(pattern, line), f"{line!r} does not match {pattern!r}\n{shown(result)}"


def test_a_run_prints_one_line_per_stage_with_its_time_and_the_report_path(bundled_run):
    assert_printed(bundled_run.first, bundled_run.raw, bundled_run.report, DONE, RENDERED)
    assert bundled_run.first.stderr == "", shown(bundled_run.first)


def test_a_rerun_with_nothing_changed_skips_every_stage_and_renders_nothing(bundled_run):
    assert_printed(bundled_run.unchanged, bundled_run.raw, bundled_run.report, SKIPPED, SKIPPED)
    assert bundled_run.after_unchanged == bundled_run.after_first  # not a byte written, not even the kernel log


def test_force_reruns_every_stage_and_writes_the_same_bytes(bundled_run):
    assert_printed(bundled_run.forced, bundled_run.raw, bundled_run.report, DONE, RENDERED)
    first, forced = bundled_run.after_first, bundled_run.after_forced
    assert forced.keys() == first.keys()
    changed = {name for name in first if first[name] != forced[name]}
    assert changed <= {KERNEL_LOG}, f"--force wrote different bytes from the same inputs: {sorted(changed)}"


# ---------------------------------------------------------------- bad input: exit 2, one line, last good report kept


def remove(name: str) -> Callable[[Path], None]:
    return lambda raw: (raw / name).unlink()


def in_file(name: str, edit: Edit, encoding: str = "utf-8") -> Callable[[Path], None]:
    return lambda raw: edit_csv(raw / name, edit, encoding)


def corrupt_workbook(raw: Path) -> None:
    (raw / LOG).unlink()
    (raw / "mentoring_log.xlsx").write_bytes(b"PK\x03\x04 these bytes are not a workbook")


def keep_as_is(raw: Path) -> None:
    pass


@dataclass(frozen=True)
class BadInput:
    names: tuple[str, ...]  # what the one-line message must name: the file, and the column where it applies
    edit: Callable[[Path], None] = keep_as_is  # one change to a copy of the good records
    args: tuple[str, ...] = ()
    report_under_a_file: bool = False  # --report is a folder that cannot be created


BAD_INPUTS = [
    # The other three reference files take the same path as sites.csv (inputs.read_csv_table).
    *(pytest.param(BadInput((name,), remove(name)), id=f"missing {name}") for name in ("sites.csv", LOG)),
    # --force: no earlier run to compare with, so nothing is hashed before the clean stage would read.
    pytest.param(
        BadInput(("raw records folder not found",), shutil.rmtree, args=("--force",)), id="missing raw folder"
    ),
    pytest.param(BadInput((LOG,), lambda raw: (raw / LOG).write_bytes(b"")), id="empty log"),
    pytest.param(BadInput((LOG,), in_file(LOG, lambda rows: rows[:1])), id="log with only a header"),
    pytest.param(
        BadInput((LOG,), in_file(LOG, set_cells("mentor", "Mé", FIRST_RECORD), "latin-1")),
        id="latin-1 log, é in mentor",
    ),
    pytest.param(
        BadInput((LOG,), in_file(LOG, set_cells("notes", "Call with Andrée.", FIRST_RECORD), "latin-1")),
        id="latin-1 log, é in notes",
    ),
    pytest.param(BadInput(("mentoring_log.xlsx",), corrupt_workbook), id="corrupt xlsx log"),
    pytest.param(BadInput((LOG,), in_file(LOG, set_cells("minutes", "lots"))), id="every log row invalid"),
    pytest.param(
        BadInput(("ots.csv", "left_on"), in_file("ots.csv", set_cells("left_on", "2018-01-01", FIRST_RECORD))),
        id="OT leaves before starting",
    ),
    pytest.param(
        BadInput(("participants.csv", "site 99"), in_file("participants.csv", set_cells("site", "99", FIRST_RECORD))),
        id="participants at an unknown site",
    ),
    pytest.param(BadInput(("2017-01-01",), args=("--as-of", "2017-01-01")), id="cut-off before any site opened"),
    pytest.param(BadInput(("--as-of", "2020-13-01"), args=("--as-of", "2020-13-01")), id="malformed --as-of"),
    pytest.param(
        BadInput(("--expected-minutes", "sixty"), args=("--expected-minutes", "sixty")),
        id="non-numeric --expected-minutes",
    ),
    pytest.param(BadInput((LOG, "minutes"), in_file(LOG, drop_column("minutes"))), id="log without a minutes column"),
    pytest.param(BadInput(("afile/report",), report_under_a_file=True), id="unwritable output folder"),
]


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_exits_2_with_one_line_and_keeps_the_last_good_report(case, good, tmp_path):
    raw = copy_of_raw(good, tmp_path)
    case.edit(raw)
    report = None
    if case.report_under_a_file:
        (tmp_path / "afile").write_text("a file, not a folder\n", encoding="utf-8")
        report = tmp_path / "afile" / "report"
    failed = run_against_last_good(good, *case.args, raw=raw, report=report)
    assert failed.result.returncode == EXIT_BAD_INPUT, shown(failed.result)
    assert_one_line_error(failed.result, case.names)
    assert failed.damage == [], f"the last good outputs were touched: {failed.damage}\n{shown(failed.result)}"


def test_a_log_row_at_a_site_missing_from_sites_csv_is_quarantined_not_fatal(good, tmp_path):
    raw = copy_of_raw(good, tmp_path)
    edit_csv(raw / LOG, set_cells("site", "Site 99", FIRST_RECORD))
    processed = tmp_path / "processed"  # its own folders: the last good report stays the good run's
    result = run_cli(raw=raw, processed=processed, report=tmp_path / "report")
    assert result.returncode == EXIT_OK, shown(result)
    with (processed / "quarantine.csv").open(encoding="utf-8", newline="") as file:
        quarantined = [
            (row["source_file"], row["reason"], row["site"])
            for row in csv.DictReader(file)
            if row["source_line"] == "2"
        ]
    assert quarantined == [(LOG, "unknown site", "Site 99")]
    before = json.loads(good.last_good["processed/cleaning_summary.json"])
    after = json.loads((processed / "cleaning_summary.json").read_text(encoding="utf-8"))
    assert after["rows_read"] == before["rows_read"]
    assert after["rows_quarantined"] == before["rows_quarantined"] + 1


def recorded_hashes(processed: Path) -> dict[str, str]:
    with (processed / provenance.INPUT_RECORD).open(encoding="utf-8", newline="") as file:
        return {row["file"]: row["sha256"] for row in csv.DictReader(file)}


def test_a_changed_raw_record_reruns_every_stage_and_is_what_the_report_cites(good, tmp_path):
    raw = copy_of_raw(good, tmp_path)
    processed, report = tmp_path / "processed", tmp_path / "report"
    assert run_cli(raw=raw, processed=processed, report=report).returncode == EXIT_OK
    before = recorded_hashes(processed)
    edit_csv(raw / LOG, set_cells("minutes", "47", FIRST_RECORD))
    changed = run_cli(raw=raw, processed=processed, report=report)
    assert_printed(changed, raw, report, DONE, RENDERED)
    after = recorded_hashes(processed)
    assert after[LOG] != before[LOG] and after[LOG] == provenance.sha256_of_file(raw / LOG)
    assert after[LOG] in (report / "report.html").read_text(encoding="utf-8")
    again = run_cli(raw=raw, processed=processed, report=report)
    assert_printed(again, raw, report, SKIPPED, SKIPPED)


# ---------------------------------------------------------------- a stage failing for another reason: exit 1


@pytest.fixture(scope="module")
def later_stage_fails(good, tmp_path_factory) -> FailedRun:
    """Good records, a broken environment: matplotlib refuses an unknown
    backend, so the first notebook that draws or imports the figures fails.
    Not the user's input, so not exit 2. Run into the last good folders."""
    raw = copy_of_raw(good, tmp_path_factory.mktemp("later-stage-fails"))
    return run_against_last_good(good, "--force", raw=raw, env={"MPLBACKEND": "no-such-backend"})


def test_a_stage_failing_on_good_input_exits_1_naming_the_stage_and_its_notebook(later_stage_fails):
    result = later_stage_fails.result
    assert result.returncode == EXIT_FAILED, shown(result)
    assert "Traceback" not in result.stdout + result.stderr, shown(result)
    failed = re.match(r"error: stage ([\w ]+) failed: ValueError: .*no-such-backend", result.stderr)
    assert failed and failed[1] in STAGE_NAMES, shown(result)
    assert re.search(r"the failed notebook is \S+\.failed\.ipynb", result.stderr), shown(result)


def test_a_stage_failing_on_good_input_keeps_the_last_good_report(later_stage_fails):
    assert later_stage_fails.damage == [], f"the last good outputs were touched: {later_stage_fails.damage}"


# ---------------------------------------------------------------- an interim cut-off


TABLE4_CAPTION = "Mentoring support provided to OTs at each site"


def table4_sites(html: str) -> list[int]:
    """The sites of the report's Table 4 rows, in order."""
    start = html.index(TABLE4_CAPTION)
    body = html[html.index("<tbody>", start) : html.index("</table>", start)]
    return [int(site) for site in re.findall(r"<tr>\s*<td[^>]*>\s*(\d+)\s*</td>", body)]


def test_an_interim_cut_off_reports_only_the_sites_open_by_then(tmp_path):
    processed, report = tmp_path / "processed", tmp_path / "report"
    result = run_cli("--as-of", "2019-01-01", processed=processed, report=report)  # the bundled records
    assert result.returncode == EXIT_OK, shown(result)
    with (processed / "site_metrics.csv").open(encoding="utf-8", newline="") as file:
        months = {int(row["site"]): int(row["months_in_study"]) for row in csv.DictReader(file)}
    assert {15, 16}.isdisjoint(months) and months[1] == 10
    html = (report / "report.html").read_text(encoding="utf-8")
    assert "1 January 2019" in html
    assert table4_sites(html) == sorted(months)
    assert "reproduce every cell" not in html  # no published reference at an interim cut-off
    assert "there is nothing to reproduce" in html


# ---------------------------------------------------------------- two runs on the same folders


@dataclass
class Started:
    """A run started in the background, its output going to files."""

    process: subprocess.Popen
    stdout: Path
    stderr: Path

    def finish(self, timeout: float = 300) -> subprocess.CompletedProcess:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()  # a run that hangs fails the test; it must not hold the folders on
            self.process.wait()
            raise
        return subprocess.CompletedProcess(
            self.process.args,
            self.process.returncode,
            self.stdout.read_text(encoding="utf-8"),
            self.stderr.read_text(encoding="utf-8"),
        )


def start_cli(*args: str, good: GoodRun, logs: Path) -> Started:
    logs.mkdir(parents=True, exist_ok=True)
    stdout, stderr = logs / "stdout.txt", logs / "stderr.txt"
    with stdout.open("w", encoding="utf-8") as out, stderr.open("w", encoding="utf-8") as err:
        process = subprocess.Popen(
            cli_command(*args, raw=good.raw, processed=good.processed, report=good.report),
            cwd=ROOT,
            stdout=out,
            stderr=err,
            text=True,
        )
    return Started(process, stdout, stderr)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def lock_holder(folder: Path) -> str:
    return locking.lock_file(folder).read_text(encoding="utf-8").strip() if locking.lock_file(folder).exists() else ""


def leftovers(good: GoodRun) -> list[str]:
    """What a run must not leave: snapshots beside the output folders,
    executed notebooks in the making."""
    beside = [p.name for p in good.processed.parent.iterdir() if ".last-good" in p.name]
    return sorted(beside + [p.name for p in good.report.rglob("*.running.ipynb")])


def same_as_last_good(good: GoodRun) -> list[str]:
    """What differs from the last good run's outputs (the kernel log may grow)."""
    now = snapshot(good.processed, good.report)
    differ = [
        name
        for name in now.keys() | good.last_good.keys()
        if now.get(name) != good.last_good.get(name) and name != KERNEL_LOG
    ]
    return sorted(differ)


def stage_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("[")]


def test_no_wait_refuses_at_once_while_a_run_holds_one_of_its_folders(good):
    with output_lock([good.processed]):  # a run in progress that shares only the processed folder
        started = time.monotonic()
        refused = run_against_last_good(good, "--no-wait", raw=good.raw)
        seconds = time.monotonic() - started
    assert refused.result.returncode == EXIT_BUSY, shown(refused.result)
    assert_one_line_error(refused.result, (f"PID {os.getpid()}", str(good.processed), "--no-wait"))
    assert refused.damage == [] and seconds < 30


def test_a_run_waits_for_the_run_in_progress_then_finds_its_work_done(good, tmp_path):
    with output_lock([good.report]):  # a run in progress that shares only the report folder
        waiting = start_cli(good=good, logs=tmp_path)
        wait_until(lambda: "waiting" in waiting.stdout.read_text(encoding="utf-8"), "the second run says it waits")
        time.sleep(0.5)
        assert waiting.process.poll() is None, "the second run did not wait"
    result = waiting.finish()
    assert result.returncode == EXIT_OK and result.stderr == "", shown(result)
    assert (
        result.stdout.splitlines()[1] == f"waiting for the run in progress (PID {os.getpid()}) to finish with "
        f"{good.report}"
    )
    assert all(re.search(SKIPPED, line) for line in stage_lines(result)), shown(result)
    assert snapshot(good.processed, good.report) == good.last_good


def test_two_runs_at_once_both_succeed_and_leave_what_a_single_run_leaves(good, tmp_path):
    """`make report` in one terminal, the command again in another a moment later."""
    try:
        first = start_cli("--force", good=good, logs=tmp_path / "first")
        wait_until(lambda: lock_holder(good.processed) == str(first.process.pid), "the first run holds its folders")
        second = start_cli(good=good, logs=tmp_path / "second")
        first_result, second_result = first.finish(), second.finish()
        for result in (first_result, second_result):
            assert result.returncode == EXIT_OK and result.stderr == "", shown(result)
        assert f"waiting for the run in progress (PID {first.process.pid})" in second_result.stdout
        assert all(re.search(DONE, line) for line in stage_lines(first_result)[:-1]), shown(first_result)
        assert all(re.search(SKIPPED, line) for line in stage_lines(second_result)), shown(second_result)
        assert same_as_last_good(good) == []
        assert leftovers(good) == []
    finally:
        good.restore()


def test_a_run_killed_mid_stage_is_put_right_by_the_next_run(good, tmp_path):
    try:
        # Another cut-off, so that what the killed run writes differs from the last good outputs.
        killed = start_cli("--force", "--as-of", "2019-01-01", good=good, logs=tmp_path)
        scratch = good.report / "notebooks" / ".02_site_metrics.running.ipynb"
        wait_until(scratch.exists, "the killed run is in its second stage")
        killed.process.send_signal(signal.SIGKILL)
        killed.process.wait(timeout=30)
        assert leftovers(good) and same_as_last_good(good), "the run was not killed half-way"

        after = run_cli(raw=good.raw, processed=good.processed, report=good.report)
        assert after.returncode == EXIT_OK and after.stderr == "", shown(after)
        assert "Traceback" not in after.stdout
        assert "an earlier run was interrupted" in after.stdout, shown(after)
        # The last good outputs are back, with the state that says so: nothing to redo.
        assert all(re.search(SKIPPED, line) for line in stage_lines(after)), shown(after)
        assert same_as_last_good(good) == []
        assert leftovers(good) == []
        assert locking.orphaned_kernels(killed.process.pid) == []
    finally:
        good.restore()


def test_ctrl_c_while_waiting_ends_with_one_line_and_touches_nothing(good, tmp_path):
    with output_lock([good.processed]):
        waiting = start_cli(good=good, logs=tmp_path)
        wait_until(lambda: "waiting" in waiting.stdout.read_text(encoding="utf-8"), "the second run says it waits")
        waiting.process.send_signal(signal.SIGINT)
        # Inside the lock: a run deaf to Ctrl-C would wait for it for ever. It
        # has nothing to do but exit, so a minute is ample however loaded.
        result = waiting.finish(timeout=60)
    assert result.returncode == 130, shown(result)
    assert_one_line_error(result, ("interrupted",))
    assert snapshot(good.processed, good.report) == good.last_good
