"""The four stages of a run: their notebooks, parameters and outputs, and
executing one notebook with papermill.

Running them in order, incrementally and all or nothing, under the lock, is
:mod:`mentoring_eval.runs`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: importing it costs a second, and a no-change rerun needs none
    import nbformat

from mentoring_eval.errors import InputError
from mentoring_eval.kernels import StageKernel
from mentoring_eval.paths import ProjectPaths, shown
from mentoring_eval.provenance import INPUT_RECORD, git_commit
from mentoring_eval.trial import TrialDescription, read_trial_description

PUBLISHED_AS_OF = date(2020, 4, 1)  # the cut-off of the published Table 4
EXECUTED_FOLDER = "notebooks"  # inside the report folder
KERNEL_LOG = ".kernel-stderr.log"  # inside the report folder


@dataclass(frozen=True)
class RunSettings:
    """Everything a run depends on besides the files themselves."""

    paths: ProjectPaths
    as_of: date = PUBLISHED_AS_OF
    expected_minutes: int = 60

    @functools.cached_property
    def trial(self) -> TrialDescription:
        """The trial description that travels with the records (``trial.yml``),
        read once per run: the fingerprints, the title and the headings all ask."""
        return read_trial_description(self.paths.raw)

    @property
    def reference_table(self) -> Path | None:
        """The published Table 4 applies only to the records of the trial it
        describes (their trial description names the publication) at the
        publication's cut-off; any other run has nothing to reproduce."""
        applies = self.trial.is_reference_trial and self.as_of == PUBLISHED_AS_OF
        return self.paths.reference / "table4_published.csv" if applies else None


@dataclass(frozen=True)
class Stage:
    name: str
    notebook: str
    parameters: Callable[[RunSettings], dict]
    outputs: Callable[[RunSettings], list[Path]] = field(default=lambda settings: [])
    # What else the stage's outputs state, so that a change reruns it.
    also_depends_on: Callable[[RunSettings], str] = field(default=lambda settings: "")


# Folders are passed to the notebooks as paths.shown gives them: relative to the
# project where they lie inside it, so executed notebooks and fingerprints do not
# depend on where the project was cloned (the notebooks resolve them against it).


def _folder(path: Path, s: RunSettings) -> str:
    return shown(path, s.paths.root)


def _clean_parameters(s: RunSettings) -> dict:
    return {
        "raw_dir": _folder(s.paths.raw, s),
        "processed_dir": _folder(s.paths.processed, s),
        "as_of": s.as_of.isoformat(),
    }


def _metrics_parameters(s: RunSettings) -> dict:
    # "published" is the notebook's own name for the bundled reference table.
    return {
        "processed_dir": _folder(s.paths.processed, s),
        "as_of": s.as_of.isoformat(),
        "expected_minutes": s.expected_minutes,
        "reference_table": "published" if s.reference_table else "",
    }


def _figures_parameters(s: RunSettings) -> dict:
    return {
        "processed_dir": _folder(s.paths.processed, s),
        "report_dir": _folder(s.paths.report, s),
        "expected_minutes": s.expected_minutes,
    }


def _report_parameters(s: RunSettings) -> dict:
    return {
        "raw_dir": _folder(s.paths.raw, s),
        "processed_dir": _folder(s.paths.processed, s),
        "report_dir": _folder(s.paths.report, s),
        "as_of": s.as_of.isoformat(),
        "expected_minutes": s.expected_minutes,
    }


STAGES = (
    Stage(
        "clean",
        "01_clean.ipynb",
        _clean_parameters,
        lambda s: [
            s.paths.processed / n for n in ("contacts.parquet", "quarantine.csv", "cleaning_summary.json", INPUT_RECORD)
        ],
    ),
    Stage(
        "site metrics", "02_site_metrics.ipynb", _metrics_parameters, lambda s: [s.paths.processed / "site_metrics.csv"]
    ),
    Stage("figures", "03_figures.ipynb", _figures_parameters, lambda s: [s.paths.report / "figures"]),
    # The report names the commit of the code it was made with (its provenance).
    Stage("report", "04_report.ipynb", _report_parameters, also_depends_on=lambda s: git_commit(s.paths.root)),
)


# ---------------------------------------------------------------- executed notebooks


def strip_run_metadata(notebook: nbformat.NotebookNode, root: Path) -> nbformat.NotebookNode:
    """Remove what differs between two runs of the same inputs (timings,
    absolute paths), so that executed notebooks are byte-identical."""
    papermill = notebook.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration", "environment_variables"):
        papermill.pop(key, None)
    for key in ("input_path", "output_path"):
        if papermill.get(key):
            papermill[key] = shown(Path(papermill[key]), root)
    for cell in notebook.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id
        cell.metadata.pop("execution", None)
        cell_papermill = cell.metadata.get("papermill")
        if cell_papermill is not None:
            for key in ("start_time", "end_time", "duration"):
                cell_papermill.pop(key, None)
    return notebook


IMAGE_TYPES = ("image/svg+xml", "image/png")


def shows_image(output: dict) -> bool:
    return any(kind in output.get("data", {}) for kind in IMAGE_TYPES)


def with_alt_text_options(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Each chart a code cell shows carries its alt text as Quarto's
    ``fig-alt`` cell option, one entry per output (``""`` for an output that
    is not an image), so that Quarto's page gives the image its text
    alternative: a chart is displayed with its alt text as ``text/plain``
    (:class:`mentoring_eval.figures.saving.NotebookSVG`), which Quarto
    otherwise drops. nbconvert shows the SVG itself, with its ``<title>`` and
    ``<desc>``."""
    for cell in notebook.cells:
        outputs = cell.get("outputs", []) if cell.cell_type == "code" else []
        alts = [output.get("data", {}).get("text/plain", "") if shows_image(output) else "" for output in outputs]
        if any(alts):
            cell.metadata["fig-alt"] = alts
        else:
            cell.metadata.pop("fig-alt", None)
    return notebook


def with_figure_captions(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """For Quarto: a cell labelled as a figure (Quarto's ``label: fig-…`` in
    its metadata) that shows one chart and then its caption (a Markdown
    output) becomes one captioned figure, the caption moved into Quarto's
    ``fig-cap`` option. The chart and its caption are then one block in the
    PDF (never a chart at the foot of a page and its caption on the next)
    and a ``<figure>`` with its ``<figcaption>`` in HTML. nbconvert and
    JupyterLab show the cell as it is, the caption under the chart."""
    for cell in notebook.cells:
        if cell.cell_type != "code" or not str(cell.metadata.get("label", "")).startswith("fig-"):
            continue
        images = [i for i, output in enumerate(cell.outputs) if shows_image(output)]
        captions = [
            i
            for i, output in enumerate(cell.outputs)
            if not shows_image(output) and "text/markdown" in output.get("data", {})
        ]
        if len(images) != 1 or len(captions) != 1 or captions[0] < images[0]:
            continue
        caption = cell.outputs.pop(captions[0])
        cell.metadata["fig-cap"] = "".join(caption["data"]["text/markdown"])
        alts = cell.metadata.get("fig-alt")
        if isinstance(alts, list) and len(alts) > captions[0]:  # one entry per output (with_alt_text_options)
            del alts[captions[0]]
    return notebook


class StageFailed(Exception):
    """A notebook raised: ``error_name`` and ``error_value`` are the notebook's error."""

    def __init__(self, stage: str, error_name: str, error_value: str, notebook: Path):
        super().__init__(f"{stage}: {error_name}: {error_value}")
        self.stage, self.error_name, self.error_value, self.notebook = stage, error_name, error_value, notebook


@contextlib.contextmanager
def stderr_to(log: Path) -> Iterator[None]:
    """Send this process's standard error, and so the kernel's (a child that
    inherits it), to ``log``: the kernel's start-up warnings are noise to a
    user; the notebook's own errors are reported from its outputs."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(log, "ab") as handle:
        os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def execute_notebook(
    source: Path,
    target: Path,
    parameters: dict | None,
    root: Path,
    stage: str,
    kernel_log: Path,
    kernel: StageKernel | None = None,
) -> None:
    """Execute ``source`` into ``target`` in the notebook's own folder (as nbval
    and JupyterLab do); ``target`` is replaced only when execution succeeds.
    ``kernel``: one already started for this notebook (else papermill starts one)."""
    import nbformat
    import papermill  # imported here: starting it is slow and most commands skip it

    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f".{target.stem}.running.ipynb")
    if kernel is not None:
        kernel.wait_for_imports()
    try:
        with stderr_to(kernel_log):
            papermill.execute_notebook(
                str(source),
                str(scratch),
                parameters=parameters or None,
                cwd=str(source.parent),
                progress_bar=False,
                log_output=False,
                **({"km": kernel.manager} if kernel else {}),
            )
    except papermill.PapermillExecutionError as error:
        if error.ename == "InputError":  # the user's input: the one-line message says it all
            scratch.unlink(missing_ok=True)
            raise InputError(error.evalue) from None
        failed = target.with_name(f"{target.stem}.failed.ipynb")
        os.replace(scratch, failed)
        raise StageFailed(stage, error.ename, error.evalue, failed) from None
    notebook = nbformat.read(scratch, as_version=4)
    notebook.metadata.papermill["output_path"] = str(target)
    nbformat.write(with_alt_text_options(strip_run_metadata(notebook, root)), scratch)
    os.replace(scratch, target)


def executed_notebook_path(settings: RunSettings, stage: Stage) -> Path:
    return settings.paths.report / EXECUTED_FOLDER / stage.notebook
