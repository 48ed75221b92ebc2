"""Atomic writing: a stage's files appear together or not at all.

A stage writes every file into a staging folder inside its output folder;
only when all of them were written are they renamed into place (a rename
within one folder is atomic). If anything fails on the way, the previous
outputs stay exactly as they were and the staging folder is removed::

    with atomic_outputs(processed_dir) as staging:
        write_parquet(contacts, staging / "contacts.parquet")
        write_json(summary, staging / "cleaning_summary.json")

The writers are deterministic: same table, same bytes (no index, no
timestamps, sorted JSON keys, ``\\n`` line endings).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mentoring_eval.errors import InputError
from mentoring_eval.escape import csv_table

STAGING_PREFIX = ".staging-"


def _os_reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


@contextmanager
def atomic_outputs(folder: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder inside ``folder`` (created if needed);
    on a clean exit move every file written there into ``folder``, replacing
    files of the same name. Files only: a stage with sub-folders of outputs
    opens one ``atomic_outputs`` per folder.

    Raises InputError (one line, naming the folder) when the folder cannot
    be created or written to.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=folder))
    except OSError as error:
        raise InputError(f"cannot write to the output folder {folder}: {_os_reason(error)}") from None
    try:
        yield staging
        # Sorted so that a failure part-way (disk full) is at least reproducible.
        for staged in sorted(staging.iterdir()):
            os.replace(staged, folder / staged.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_parquet(
    table: pd.DataFrame, path: Path, line_number_columns: Sequence[str] = (), no_missing_values: bool = False
) -> None:
    """Write ``table`` as Parquet with pyarrow, without the pandas index.

    Statistics are left out: nothing reads them, and they are a third of the
    writing time of a national-scale contacts table. ``line_number_columns``
    (integers nearly in order, hardly ever repeated, such as source lines) are
    stored as deltas (``DELTA_BINARY_PACKED``) instead of the dictionary
    Parquet tries first: a dictionary of a million distinct numbers is
    abandoned half-built, and the deltas take a quarter of the space.
    ``no_missing_values`` declares every column REQUIRED, as the contacts'
    are by construction: no definition levels to write (a fifth of the
    writing time), and a missing value is an error, not a silent gap.
    """
    arrow_table = pa.Table.from_pandas(table, preserve_index=False)
    if no_missing_values:
        schema = arrow_table.schema
        arrow_table = arrow_table.cast(
            pa.schema([field.with_nullable(False) for field in schema], metadata=schema.metadata)
        )
    pq.write_table(
        arrow_table,
        path,
        write_statistics=False,
        use_dictionary=[name for name in arrow_table.column_names if name not in line_number_columns],
        column_encoding=dict.fromkeys(line_number_columns, "DELTA_BINARY_PACKED") or None,
    )


def write_csv(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` as UTF-8 CSV with ``\\n`` line endings, without the index.

    People open these files in spreadsheets: a text cell that a spreadsheet
    would evaluate (``=…``, ``+…``, ``-…``, ``@…``) is written with a leading
    ``'`` (:func:`mentoring_eval.escape.csv_cell`); numbers stay numbers.
    Every CSV the pipeline writes goes through here."""
    csv_table(table).to_csv(path, index=False, lineterminator="\n", encoding="utf-8")


def write_json(document: Any, path: Path) -> None:
    """Write ``document`` as JSON: sorted keys, two-space indent, final newline."""
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")
