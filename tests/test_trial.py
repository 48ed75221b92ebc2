"""The trial description that travels with the records (``trial.yml``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mentoring_eval import paths
from mentoring_eval.errors import InputError
from mentoring_eval.pipeline import PUBLISHED_AS_OF, RunSettings
from mentoring_eval.trial import (
    REFERENCE_PUBLICATION,
    TrialDescription,
    parse_trial_description,
    read_trial_description,
)
from pipeline_runs import BUNDLED_RAW, run_cli


def test_the_bundled_records_are_retakes():
    trial = read_trial_description(BUNDLED_RAW)
    assert trial.name == "RETAKE" and trial.is_reference_trial
    assert trial.description.startswith("Six experienced mentors") and "\n" not in trial.description
    assert trial.report_title == "Mentoring in the RETAKE trial: process-evaluation report"
    assert trial.heading == "RETAKE mentoring"


def test_records_without_a_description_are_the_trial(tmp_path: Path):
    trial = read_trial_description(tmp_path)
    assert trial == TrialDescription() and not trial.is_reference_trial
    assert trial.called == "the trial" and trial.heading == "Mentoring"
    assert parse_trial_description("") == TrialDescription()


def test_another_trial_names_itself_without_the_publication():
    trial = parse_trial_description("name: STEPS\ndescription: |\n  Monthly calls\n  with two sites.\n")
    assert trial == TrialDescription(name="STEPS", description="Monthly calls with two sites.")
    assert trial.called == "the STEPS trial" and not trial.is_reference_trial


@pytest.mark.parametrize(
    "text,message",
    [
        ("name: [unclosed", "trial.yml line 1: not valid YAML"),
        ("- a list", "trial.yml: expected fields"),
        ("name: X\nsponsor: Y", "trial.yml: unknown field 'sponsor'"),
        ("name: 7", "trial.yml: name must be text"),
        ("name: '  '", "trial.yml: name must be text"),
        ("name: " + "x" * 61, "trial.yml: name is longer than 60 characters"),
        ('name: "A\\x1b[31mB"', "trial.yml: name holds a control character"),
        ("publication: smith-2024", "trial.yml: publication 'smith-2024' is not one this project holds"),
    ],
)
def test_a_description_that_cannot_be_read_is_bad_input(text: str, message: str):
    with pytest.raises(InputError) as raised:
        parse_trial_description(text)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_a_description_that_is_not_utf8_is_bad_input(tmp_path: Path):
    (tmp_path / "trial.yml").write_bytes("name: Caf\u00e9".encode("latin-1"))
    with pytest.raises(InputError, match="trial.yml: not UTF-8 text"):
        read_trial_description(tmp_path)


def test_the_publication_is_reproduced_for_retakes_records_wherever_they_lie(tmp_path: Path):
    """The reproduction follows the trial description, not the folder: a copy
    of RETAKE's records is RETAKE's; the same records without the description
    are someone else's, and another cut-off has nothing to reproduce."""
    copy = shutil.copytree(BUNDLED_RAW, tmp_path / "raw")

    def settings(as_of=PUBLISHED_AS_OF) -> RunSettings:
        return RunSettings(paths=paths.resolve(raw_dir=str(copy)), as_of=as_of)

    assert settings().reference_table is not None
    assert settings(as_of=PUBLISHED_AS_OF.replace(year=2019)).reference_table is None
    (copy / "trial.yml").write_text(f"name: RETAKE copy\npublication: {REFERENCE_PUBLICATION}\n", encoding="utf-8")
    assert settings().reference_table is not None
    (copy / "trial.yml").unlink()
    assert settings().reference_table is None


def test_the_command_refuses_a_description_it_cannot_read(tmp_path: Path):
    copy = shutil.copytree(BUNDLED_RAW, tmp_path / "raw")
    (copy / "trial.yml").write_text("name: RETAKE\nsponsor: NIHR\n", encoding="utf-8")
    done = run_cli(processed=tmp_path / "p", report=tmp_path / "r", raw=copy, renderer="none")
    assert done.returncode == 2
    assert done.stderr == "error: trial.yml: unknown field 'sponsor' (known: description, name, publication)\n"
