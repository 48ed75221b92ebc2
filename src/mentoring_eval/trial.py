"""Which trial the records belong to: the trial description that travels with
them (``trial.yml`` in the raw folder, optional).

The report states facts about the mentoring only from the records, or as
the protocol of the trial the records belong to, in the trial description's
own words. The publication this project reproduces (Craven et al. 2021, the
RETAKE process evaluation, in ``data/reference/``) speaks about RETAKE only:
its protocol description, qualitative findings and the reproduction audit
appear only when the trial description says the records are RETAKE's, by
naming that publication. Records without a description are reported on as
"the trial", from the records alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mentoring_eval.errors import InputError

TRIAL_FILE = "trial.yml"
# The published evaluation whose reference material data/reference/ holds.
REFERENCE_PUBLICATION = "craven-2021"
KNOWN_FIELDS = {"name", "description", "publication"}
MAX_NAME = 60
MAX_DESCRIPTION = 2000


@dataclass(frozen=True)
class TrialDescription:
    """``name``: the trial's short name (``RETAKE``), or None; ``description``:
    the protocol's own account of how mentoring was organised, or None;
    ``publication``: the published evaluation of this trial that the project
    holds, or None."""

    name: str | None = None
    description: str | None = None
    publication: str | None = None

    @property
    def is_reference_trial(self) -> bool:
        """True for the records of the trial the reference publication describes."""
        return self.publication == REFERENCE_PUBLICATION

    @property
    def called(self) -> str:
        """How prose names the trial: ``the RETAKE trial``, or ``the trial``."""
        return f"the {self.name} trial" if self.name else "the trial"

    @property
    def report_title(self) -> str:
        return f"Mentoring in {self.called}: process-evaluation report"

    @property
    def heading(self) -> str:
        """The start of the command's first line: ``RETAKE mentoring``, or ``Mentoring``."""
        return f"{self.name} mentoring" if self.name else "Mentoring"


def _text_field(document: dict, key: str, limit: int) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{TRIAL_FILE}: {key} must be text")
    text = " ".join(value.split())
    if any(ord(character) < 32 or 127 <= ord(character) < 160 for character in text):
        # a control character would act on the terminal the command prints the name to
        raise InputError(f"{TRIAL_FILE}: {key} holds a control character")
    if len(text) > limit:
        raise InputError(f"{TRIAL_FILE}: {key} is longer than {limit} characters")
    return text


def parse_trial_description(text: str) -> TrialDescription:
    """A trial description from the text of ``trial.yml``; InputError (one
    line, naming the file and the field) for anything else."""
    import yaml

    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{TRIAL_FILE}{where}: not valid YAML") from None
    if document is None:
        return TrialDescription()
    if not isinstance(document, dict):
        raise InputError(f"{TRIAL_FILE}: expected fields name, description and publication")
    unknown = sorted(str(key) for key in document if key not in KNOWN_FIELDS)
    if unknown:
        raise InputError(f"{TRIAL_FILE}: unknown field {unknown[0]!r} (known: description, name, publication)")
    publication = _text_field(document, "publication", MAX_NAME)
    if publication is not None and publication != REFERENCE_PUBLICATION:
        raise InputError(
            f"{TRIAL_FILE}: publication {publication!r} is not one this project holds "
            f"(only {REFERENCE_PUBLICATION!r}); leave it out for another trial"
        )
    return TrialDescription(
        name=_text_field(document, "name", MAX_NAME),
        description=_text_field(document, "description", MAX_DESCRIPTION),
        publication=publication,
    )


def read_trial_description(raw_dir: str | Path) -> TrialDescription:
    """The raw folder's ``trial.yml``, or an empty description where there is none."""
    path = Path(raw_dir) / TRIAL_FILE
    if not path.is_file():
        return TrialDescription()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{TRIAL_FILE}: not UTF-8 text") from None
    return parse_trial_description(text)
