"""The runner's parts: fingerprints, metadata stripping, the reference rule, all-or-nothing
runs and what a killed run leaves behind."""

import os
import shutil
from datetime import date
from pathlib import Path

import nbformat
import pytest

from mentoring_eval import paths, provenance
from mentoring_eval.errors import InputError
from mentoring_eval.pipeline import (
    PUBLISHED_AS_OF,
    STAGES,
    RunSettings,
    StageFailed,
    execute_notebook,
    strip_run_metadata,
)
from mentoring_eval.runs import (
    all_or_nothing,
    code_digest,
    package_code_digest,
    recover_interrupted_run,
    remove_scratch_notebooks,
    stage_fingerprint,
)

ROOT = Path(__file__).resolve().parents[1]


def settings(**changes) -> RunSettings:
    return RunSettings(paths=paths.resolve(root=ROOT, **changes.pop("folders", {})), **changes)


def test_the_published_table_is_the_reference_only_for_the_bundled_records_at_its_cut_off(tmp_path):
    assert settings().reference_table == ROOT / "data" / "reference" / "table4_published.csv"
    assert settings(as_of=date(2019, 1, 1)).reference_table is None
    assert settings(folders={"raw_dir": tmp_path}).reference_table is None


@pytest.mark.parametrize(
    "change",
    [
        {"as_of": date(2019, 1, 1)},
        {"expected_minutes": 45},
    ],
)
def test_a_parameter_change_changes_every_fingerprint(change):
    before, after = settings(), settings(**change)
    for stage in STAGES:
        if stage.parameters(before) != stage.parameters(after):
            assert stage_fingerprint(stage, before, "up", "code") != stage_fingerprint(stage, after, "up", "code")


def test_parameters_name_folders_inside_the_project_relative_to_it_and_others_absolute(tmp_path):
    """Two clones of the project pass the notebooks the same parameters; a
    folder the user named outside the project is passed as they named it."""
    inside = {stage.name: stage.parameters(settings()) for stage in STAGES}
    assert inside["clean"]["raw_dir"] == "data/raw" and inside["report"]["report_dir"] == "report"
    assert inside["site metrics"]["reference_table"] == "published"
    assert not [value for parameters in inside.values() for value in parameters.values() if str(ROOT) in str(value)]
    outside = settings(folders={"report_dir": tmp_path / "my report"})
    assert STAGES[2].parameters(outside)["report_dir"] == str(tmp_path / "my report")
    assert paths.resolve(report_dir="report", root=ROOT).report == ROOT / "report"


def test_upstream_and_code_changes_change_the_fingerprint():
    stage, run = STAGES[1], settings()
    base = stage_fingerprint(stage, run, "up", "code")
    assert stage_fingerprint(stage, run, "up", "code") == base
    assert stage_fingerprint(stage, run, "other", "code") != base
    assert stage_fingerprint(stage, run, "up", "other") != base


def test_run_metadata_is_stripped_and_paths_made_relative(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["papermill"] = {
        "start_time": "2026-01-01T00:00:00",
        "end_time": "x",
        "duration": 1.5,
        "parameters": {"a": 1},
        "input_path": str(tmp_path / "notebooks" / "01.ipynb"),
        "output_path": "/elsewhere/01.ipynb",
    }
    cell = nbformat.v4.new_code_cell("1")
    cell.metadata["execution"] = {"iopub.status.busy": "t"}
    cell.metadata["papermill"] = {"start_time": "t", "end_time": "t", "duration": 0.1, "status": "completed"}
    notebook.cells.append(cell)
    stripped = strip_run_metadata(notebook, tmp_path)
    assert stripped.metadata.papermill == {
        "parameters": {"a": 1},
        "input_path": "notebooks/01.ipynb",
        "output_path": "/elsewhere/01.ipynb",
    }
    assert "execution" not in stripped.cells[0].metadata
    assert stripped.cells[0].metadata.papermill == {"status": "completed"}


def test_every_stage_notebook_exists_with_a_parameters_cell():
    for stage in STAGES:
        notebook = nbformat.read(ROOT / "notebooks" / stage.notebook, as_version=4)
        tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{stage.notebook} needs exactly one parameters cell"
        for name in stage.parameters(settings()):
            assert f"{name} =" in tagged[0].source, f"{stage.notebook}: parameter {name} not in its parameters cell"


def test_published_cut_off_is_the_publications():
    assert PUBLISHED_AS_OF == date(2020, 4, 1)


def notebook_raising(path: Path, statement: str) -> Path:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(statement)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


@pytest.mark.parametrize(
    "statement, expected",
    [
        ("raise ValueError('stage broke')", StageFailed),
        ("from mentoring_eval.errors import InputError\nraise InputError('sites.csv: file not found')", InputError),
    ],
)
def test_a_failing_notebook_keeps_the_last_good_one_and_says_why(tmp_path, statement, expected):
    source = notebook_raising(tmp_path / "stage.ipynb", statement)
    target = tmp_path / "out" / "stage.ipynb"
    target.parent.mkdir()
    target.write_text("last good")
    with pytest.raises(expected) as raised:
        execute_notebook(source, target, None, tmp_path, "stage", tmp_path / "kernel.log")
    assert target.read_text() == "last good"
    if expected is StageFailed:
        assert (raised.value.error_name, raised.value.error_value) == ("ValueError", "stage broke")
        assert raised.value.notebook.exists()
    else:
        assert str(raised.value) == "sites.csv: file not found"


def test_the_code_digest_covers_subpackages_and_not_where_the_package_lies(tmp_path):
    """A change to a chart module (a subpackage) reruns the stages; the same
    code in another checkout gives the same digest."""
    for root in (tmp_path / "a", tmp_path / "b"):
        (root / "figures").mkdir(parents=True)
        (root / "cli.py").write_text("MAIN = 1\n")
        (root / "figures" / "dose.py").write_text("BARS = 1\n")
    assert package_code_digest(tmp_path / "a") == package_code_digest(tmp_path / "b")
    (tmp_path / "b" / "figures" / "dose.py").write_text("BARS = 2\n")
    assert package_code_digest(tmp_path / "a") != package_code_digest(tmp_path / "b")
    (tmp_path / "b" / "figures" / "dose.py").write_text("BARS = 1\n")
    (tmp_path / "b" / "figures" / "dose.py").rename(tmp_path / "b" / "figures" / "mode.py")
    assert package_code_digest(tmp_path / "a") != package_code_digest(tmp_path / "b")


def test_a_new_lock_in_the_environment_reruns_every_stage(tmp_path):
    """The environment's lock is part of what the stages run: an environment
    rebuilt from a new lock reruns them (its report names the new lock); the
    same lock, installed again, does not."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / provenance.LOCK_FILE).write_text("pandas==3.1.1\n")
    (tmp_path / "b" / provenance.LOCK_FILE).write_text("pandas==3.1.1\n")
    assert code_digest(tmp_path / "a") == code_digest(tmp_path / "b")
    (tmp_path / "b" / provenance.LOCK_FILE).write_text("pandas==3.1.2\n")
    assert code_digest(tmp_path / "a") != code_digest(tmp_path / "b")
    assert code_digest(tmp_path / "a") != code_digest(tmp_path / "none")  # not installed from a lock


# ---------------------------------------------------------------- all or nothing, and what a killed run leaves


def output_folders(tmp_path: Path) -> tuple[Path, Path]:
    processed, report = tmp_path / "processed", tmp_path / "report"
    for folder, name in ((processed, "contacts.csv"), (report, "report.html")):
        (folder / "notebooks").mkdir(parents=True)
        (folder / name).write_text("last good\n")
    return processed, report


def contents(*folders: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder.parent)): path.read_text()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def beside(*folders: Path) -> list[str]:
    """Everything next to the folders but the folders themselves: snapshots left behind."""
    return sorted(p.name for p in folders[0].parent.iterdir() if p not in folders)


def overwrite(folder: Path, name: str) -> None:
    """A writer of the pipeline: write a new file, then rename it over the old one."""
    (folder / f".{name}.tmp").write_text("half-written\n")
    os.replace(folder / f".{name}.tmp", folder / name)


def test_a_failed_run_puts_every_folder_back_and_leaves_no_snapshot(tmp_path):
    processed, report = output_folders(tmp_path)
    before = contents(processed, report)
    with pytest.raises(RuntimeError, match="stage broke"), all_or_nothing([processed, report], say=print):
        overwrite(processed, "contacts.csv")
        (report / "new.svg").write_text("new\n")
        raise RuntimeError("stage broke")
    assert contents(processed, report) == before
    assert beside(processed, report) == []


def test_a_succeeded_run_keeps_its_outputs_and_leaves_no_snapshot(tmp_path):
    processed, report = output_folders(tmp_path)
    with all_or_nothing([processed, report], say=print):
        overwrite(processed, "contacts.csv")
    assert (processed / "contacts.csv").read_text() == "half-written\n"
    assert beside(processed, report) == []


def killed_mid_run(processed: Path, report: Path) -> None:
    """What ``kill -9`` leaves: complete snapshots, half-written folders."""
    for folder in (processed, report):
        shutil.copytree(folder, folder.with_name(f".{folder.name}.last-good"), copy_function=os.link)
    overwrite(processed, "contacts.csv")
    (report / "notebooks" / ".02_site_metrics.running.ipynb").write_text("{}")


def test_the_next_run_puts_back_what_a_killed_run_half_wrote(tmp_path):
    processed, report = output_folders(tmp_path)
    before = contents(processed, report)
    killed_mid_run(processed, report)
    said: list[str] = []
    recover_interrupted_run([processed, report], say=said.append)
    assert contents(processed, report) == before
    assert beside(processed, report) == []
    assert said == [f"an earlier run was interrupted: {processed} and {report} put back as the last good run left them"]


def test_all_or_nothing_itself_recovers_before_it_snapshots(tmp_path):
    processed, report = output_folders(tmp_path)
    before = contents(processed, report)
    killed_mid_run(processed, report)
    with pytest.raises(RuntimeError), all_or_nothing([processed, report], say=lambda line: None):
        raise RuntimeError("this run fails too")
    assert contents(processed, report) == before  # the last good run's, not the killed run's half
    assert beside(processed, report) == []


def test_a_snapshot_killed_while_being_built_is_dropped_and_the_folder_kept(tmp_path):
    processed, report = output_folders(tmp_path)
    (tmp_path / ".processed.last-good.partial").mkdir()  # only part of the copy was made
    before = contents(processed, report)
    said: list[str] = []
    recover_interrupted_run([processed, report], say=said.append)
    assert contents(processed, report) == before and said == []
    assert beside(processed, report) == []


def test_a_run_killed_while_discarding_its_snapshots_had_succeeded(tmp_path):
    processed, report = output_folders(tmp_path)
    killed_mid_run(processed, report)
    after = contents(processed, report)
    # Killed after marking the first snapshot as done with, before the second.
    os.replace(tmp_path / ".processed.last-good", tmp_path / ".processed.last-good.discard")
    said: list[str] = []
    recover_interrupted_run([processed, report], say=said.append)
    assert contents(processed, report) == after and said == []
    assert beside(processed, report) == []


def test_a_snapshot_removed_during_a_failing_run_is_not_a_second_error(tmp_path):
    processed, report = output_folders(tmp_path)
    with pytest.raises(RuntimeError, match="stage broke"), all_or_nothing([processed, report], say=print):
        shutil.rmtree(tmp_path / ".processed.last-good")
        raise RuntimeError("stage broke")
    assert (processed / "contacts.csv").exists() and beside(processed, report) == []


def test_scratch_notebooks_of_a_killed_run_are_removed(tmp_path):
    _, report = output_folders(tmp_path)
    (report / "notebooks" / ".01_clean.running.ipynb").write_text("{}")
    (report / "notebooks" / "01_clean.ipynb").write_text("{}")
    remove_scratch_notebooks(report)
    assert sorted(p.name for p in (report / "notebooks").iterdir()) == ["01_clean.ipynb"]


def test_each_chart_a_cell_shows_carries_its_alt_text_for_quarto():
    """Quarto takes an image's text alternative from the cell's fig-alt option,
    one entry per output; without it the chart would be an image with no alt."""
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from mentoring_eval.pipeline import with_alt_text_options

    chart = new_output("display_data", data={"image/svg+xml": "<svg/>", "text/plain": "Bar chart of minutes"})
    words = new_output("display_data", data={"text/markdown": "A caption", "text/plain": "<Markdown>"})
    notebook = new_notebook(cells=[new_code_cell("show()", outputs=[words, chart]), new_code_cell("x = 1")])
    notebook.cells[1].metadata["fig-alt"] = "stale"
    with_alt_text_options(notebook)
    assert notebook.cells[0].metadata["fig-alt"] == ["", "Bar chart of minutes"]
    assert "fig-alt" not in notebook.cells[1].metadata


def test_a_labelled_chart_and_its_caption_become_one_quarto_figure():
    """The caption (a Markdown output after the chart) moves into Quarto's
    fig-cap, the alt texts stay one per output; cells that are not labelled
    as figures, or show no caption after their chart, are left as they are."""
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from mentoring_eval.pipeline import with_alt_text_options, with_figure_captions

    def chart_cell(*outputs, label: str | None = "fig-site-months"):
        cell = new_code_cell("show()", outputs=list(outputs))
        if label:
            cell.metadata["label"] = label
        return cell

    def chart():
        return new_output("display_data", data={"image/svg+xml": "<svg/>", "text/plain": "Bar chart of minutes"})

    def words(text: str):
        return new_output("display_data", data={"text/markdown": text, "text/plain": "<Markdown>"})

    notebook = with_alt_text_options(
        new_notebook(
            cells=[
                chart_cell(chart(), words("Minutes of *mentoring*.")),
                chart_cell(chart(), words("Not a figure."), label=None),
                chart_cell(words("Above, not a caption."), chart()),
                chart_cell(chart()),
            ]
        )
    )
    with_figure_captions(notebook)
    figure, unlabelled, words_first, no_caption = notebook.cells
    assert figure.metadata["fig-cap"] == "Minutes of *mentoring*."
    assert [list(output["data"]) for output in figure.outputs] == [["image/svg+xml", "text/plain"]]
    assert figure.metadata["fig-alt"] == ["Bar chart of minutes"]
    for cell in (unlabelled, words_first, no_caption):
        assert "fig-cap" not in cell.metadata
    assert len(unlabelled.outputs) == 2 and len(words_first.outputs) == 2 and len(no_caption.outputs) == 1
