"""Shared test results, and how the suite is spread over pytest-xdist workers.

One run of the pipeline on the bundled records costs seconds, and many test
files need one. The session fixture ``bundled_run`` makes it once for the
whole session (once for all xdist workers: the first worker that asks makes
it, the others wait for it and read it) and every test reads the same folders.

Using it from any test file::

    from pipeline_runs import run_cli, snapshot  # the command as a user types it; a folder's bytes

    def test_something(bundled_run):             # a pipeline_runs.PipelineRun
        html = bundled_run.page_text()            # its report.html
        table = bundled_run.processed / "site_metrics.csv"
        assert bundled_run.first.returncode == 0  # first, unchanged, forced: the three runs

Its folders are read-only for tests: a test that runs the command into a
last good report makes its own (the run's fingerprints name its folders, so
a copy would rerun every stage). Another shared result: a session fixture
calling ``pipeline_runs.shared_run(tmp_path_factory, name, make)``, where
``make(folder)`` fills the folder and returns what to keep (JSON).

Scheduling: ``make test`` runs ``pytest -n 2 --dist loadfile tests`` (each
test file on one worker as a whole, so its module fixtures are made once),
then nbval over ``notebooks`` in one process: the notebooks write and read
the project's own ``data/processed`` in order, and one test here renders
with the default folders. (``--dist loadgroup`` would do both in one run, but
pytest-xdist 3.8 cannot group tests under pytest 9.2: the group is added to
``item._nodeid``, which pytest no longer reads.)
"""

from __future__ import annotations

import pytest

from pipeline_runs import BUNDLED_RAW, PipelineRun, completed, make_bundled_run, shared_run


@pytest.fixture(scope="session")
def bundled_run(tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """The bundled records (``data/raw``, read in place) at the publication's
    cut-off, rendered by nbconvert, into session folders. Read-only."""
    folder, made = shared_run(tmp_path_factory, "bundled-run", make_bundled_run)
    runs, files = made["runs"], made["files"]
    return PipelineRun(
        BUNDLED_RAW,
        folder / "processed",
        folder / "report",
        *(completed(runs[label]) for label in ("first", "unchanged", "forced")),
        *(files[label] for label in ("first", "unchanged", "forced")),
    )
