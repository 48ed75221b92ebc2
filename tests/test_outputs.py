"""Atomic writing: a stage's files appear together or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from mentoring_eval.errors import InputError
from mentoring_eval.outputs import STAGING_PREFIX, atomic_outputs, write_csv, write_json, write_parquet


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file of ``folder`` (recursively) by relative path, with its bytes."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def small_table() -> pd.DataFrame:
    return pd.DataFrame(
        {"site": [3, 1], "name": ["b", "a"], "when": pd.to_datetime(["2019-03-14", "2020-01-01"])},
        index=[10, 20],
    )


def test_files_appear_in_the_folder_and_staging_is_removed(tmp_path):
    target = tmp_path / "processed" / "nested"
    with atomic_outputs(target) as staging:
        assert staging.parent == target and staging.name.startswith(STAGING_PREFIX)
        write_csv(small_table(), staging / "a.csv")
        write_json({"b": 1}, staging / "b.json")
    assert sorted(path.name for path in target.iterdir()) == ["a.csv", "b.json"]


def test_new_files_replace_old_ones_of_the_same_name_and_leave_others(tmp_path):
    (tmp_path / "a.csv").write_text("old\n")
    (tmp_path / "other.txt").write_text("kept\n")
    with atomic_outputs(tmp_path) as staging:
        (staging / "a.csv").write_text("new\n")
    assert (tmp_path / "a.csv").read_text() == "new\n"
    assert (tmp_path / "other.txt").read_text() == "kept\n"


@pytest.mark.parametrize("failure", [RuntimeError("boom"), OSError("disk full"), InputError("bad input")])
def test_a_failure_leaves_previous_outputs_byte_identical(tmp_path, failure):
    with atomic_outputs(tmp_path) as staging:
        write_csv(small_table(), staging / "a.csv")
        write_json({"n": 1}, staging / "b.json")
    before = folder_bytes(tmp_path)

    with pytest.raises(type(failure)):
        with atomic_outputs(tmp_path) as staging:
            write_csv(small_table().head(1), staging / "a.csv")
            raise failure
    assert folder_bytes(tmp_path) == before
    assert not list(tmp_path.glob(f"{STAGING_PREFIX}*"))


def test_an_uncreatable_folder_is_an_input_error_naming_it(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(InputError) as raised:
        with atomic_outputs(blocker / "processed"):
            pass
    message = str(raised.value)
    assert str(blocker / "processed") in message and "\n" not in message


def test_write_csv_has_no_index_and_unix_line_endings(tmp_path):
    write_csv(small_table(), tmp_path / "t.csv")
    data = (tmp_path / "t.csv").read_bytes()
    assert data == b"site,name,when\n3,b,2019-03-14\n1,a,2020-01-01\n"


def test_write_csv_is_utf8(tmp_path):
    write_csv(pd.DataFrame({"reason": ["café"]}), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_bytes() == "reason\ncafé\n".encode()


def test_write_json_sorts_keys_indents_and_ends_with_a_newline(tmp_path):
    write_json({"b": 1, "a": {"d": 2, "c": 3}}, tmp_path / "s.json")
    text = (tmp_path / "s.json").read_text(encoding="utf-8")
    assert text == '{\n  "a": {\n    "c": 3,\n    "d": 2\n  },\n  "b": 1\n}\n'
    assert json.loads(text) == {"a": {"c": 3, "d": 2}, "b": 1}


def test_write_parquet_has_no_index_and_round_trips(tmp_path):
    write_parquet(small_table(), tmp_path / "t.parquet")
    table = pq.read_table(tmp_path / "t.parquet")
    assert table.column_names == ["site", "name", "when"]
    pd.testing.assert_frame_equal(table.to_pandas(), small_table().reset_index(drop=True), check_dtype=False)


def test_write_parquet_gives_identical_bytes_for_identical_tables(tmp_path):
    write_parquet(small_table(), tmp_path / "one.parquet")
    write_parquet(small_table().copy(), tmp_path / "two.parquet")
    assert (tmp_path / "one.parquet").read_bytes() == (tmp_path / "two.parquet").read_bytes()


def test_line_number_columns_are_stored_as_deltas_and_read_back_the_same(tmp_path):
    table = pd.DataFrame({"source_line": np.arange(2, 5002), "site": np.tile([1, 2], 2500)})
    write_parquet(table, tmp_path / "t.parquet", line_number_columns=("source_line",))
    columns = pq.ParquetFile(tmp_path / "t.parquet").metadata.row_group(0)
    line, site = columns.column(0), columns.column(1)
    assert "DELTA_BINARY_PACKED" in line.encodings and not line.has_dictionary_page
    assert site.has_dictionary_page  # the other columns keep their dictionary
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), table)


def test_a_table_without_missing_values_is_written_with_required_columns(tmp_path):
    table = pd.DataFrame({"site": [1, 2], "mode": pd.Categorical(["phone", "teams"]), "joint": [True, False]})
    write_parquet(table, tmp_path / "t.parquet", no_missing_values=True)
    schema = pq.read_schema(tmp_path / "t.parquet")
    assert [field.nullable for field in schema] == [False, False, False]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), table)


def test_a_missing_value_in_a_table_declared_without_them_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="'minutes' with null values"):
        write_parquet(pd.DataFrame({"minutes": [60.0, None]}), tmp_path / "t.parquet", no_missing_values=True)
    assert not (tmp_path / "t.parquet").exists()
