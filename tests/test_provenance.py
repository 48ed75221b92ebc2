"""What a report was made from: the input record and the digests the runner compares."""

import hashlib
from pathlib import Path

import pytest

from mentoring_eval import provenance
from mentoring_eval.errors import InputError
from mentoring_eval.outputs import write_csv


def raw_folder(folder: Path) -> Path:
    folder.mkdir()
    (folder / "sites.csv").write_text("site,opened_on\n1,2018-03-01\n", encoding="utf-8")
    (folder / "mentoring_log.csv").write_text("Date,Site\n2018-03-02,1\n", encoding="utf-8")
    (folder / ".~lock.sites.csv#").write_text("an editor's lock file", encoding="utf-8")
    return folder


def test_the_hashes_list_every_input_file_but_hidden_ones(tmp_path):
    raw = raw_folder(tmp_path / "raw")
    hashes = provenance.input_file_hashes(raw)
    assert hashes["file"].tolist() == ["mentoring_log.csv", "sites.csv"]
    assert hashes["bytes"].tolist() == [(raw / name).stat().st_size for name in hashes["file"]]
    assert hashes["sha256"].tolist() == [provenance.sha256_of_file(raw / name) for name in hashes["file"]]


def test_a_file_already_read_is_hashed_from_the_bytes_read(tmp_path):
    """The clean stage hashes the log from the bytes it parsed: if the file
    changed after it was read, the record still says what was parsed."""
    raw = raw_folder(tmp_path / "raw")
    parsed = (raw / "mentoring_log.csv").read_bytes()
    (raw / "mentoring_log.csv").write_text("Date,Site\n2018-03-02,1\n2018-03-03,1\n", encoding="utf-8")
    hashes = provenance.input_file_hashes(raw, {"mentoring_log.csv": provenance.FileDigest.of(parsed)}).set_index(
        "file"
    )
    assert hashes.loc["mentoring_log.csv", "sha256"] == hashlib.sha256(parsed).hexdigest()
    assert hashes.loc["mentoring_log.csv", "bytes"] == len(parsed)
    assert hashes.loc["sites.csv", "sha256"] == provenance.sha256_of_file(raw / "sites.csv")


def test_bytes_of_a_file_that_is_not_an_input_are_refused(tmp_path):
    raw = raw_folder(tmp_path / "raw")
    with pytest.raises(ValueError, match="notes.csv"):
        provenance.input_file_hashes(raw, {"notes.csv": provenance.FileDigest.of(b"")})


def test_the_record_reads_back_as_written(tmp_path):
    raw = raw_folder(tmp_path / "raw")
    processed = tmp_path / "processed"
    processed.mkdir()
    write_csv(provenance.input_file_hashes(raw), processed / provenance.INPUT_RECORD)
    assert provenance.read_input_record(processed).equals(provenance.input_file_hashes(raw))


def test_the_recorded_digest_is_the_raw_digest_until_a_file_changes(tmp_path):
    raw = raw_folder(tmp_path / "raw")
    processed = tmp_path / "processed"
    processed.mkdir()
    write_csv(provenance.input_file_hashes(raw), processed / provenance.INPUT_RECORD)
    assert provenance.recorded_inputs_digest(processed) == provenance.raw_inputs_digest(raw)
    (raw / "sites.csv").write_text("site,opened_on\n1,2018-03-02\n", encoding="utf-8")
    assert provenance.recorded_inputs_digest(processed) != provenance.raw_inputs_digest(raw)


@pytest.mark.parametrize(
    "change",
    [
        lambda raw: (raw / "notes.txt").write_text("a new input file", encoding="utf-8"),
        lambda raw: (raw / "sites.csv").rename(raw / "sites_old.csv"),
        lambda raw: (raw / "sites.csv").unlink(),
    ],
    ids=["file added", "file renamed", "file removed"],
)
def test_the_raw_digest_follows_the_files_and_their_names(tmp_path, change):
    raw = raw_folder(tmp_path / "raw")
    before = provenance.raw_inputs_digest(raw)
    change(raw)
    assert provenance.raw_inputs_digest(raw) != before


def test_a_hidden_file_does_not_change_the_raw_digest(tmp_path):
    raw = raw_folder(tmp_path / "raw")
    before = provenance.raw_inputs_digest(raw)
    (raw / ".DS_Store").write_bytes(b"\x00")
    assert provenance.raw_inputs_digest(raw) == before


def test_the_raw_digest_of_a_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="raw records folder not found"):
        provenance.raw_inputs_digest(tmp_path / "nowhere")


def test_a_missing_record_says_to_run_the_clean_stage(tmp_path):
    with pytest.raises(InputError, match="run the clean stage first"):
        provenance.read_input_record(tmp_path)


def test_the_cited_publication_is_the_one_article_among_the_references():
    article = {"type": "article", "title": "The paper", "doi": "10.1/x"}
    citation = {"references": [{"type": "software", "title": "a tool"}, article]}
    assert provenance.cited_publication(citation) == article
    with pytest.raises(ValueError, match="one article"):
        provenance.cited_publication({"references": [article, article]})
    with pytest.raises(ValueError, match="found 0"):
        provenance.cited_publication({})


def test_an_unreadable_citation_file_is_a_one_line_input_error(tmp_path):
    with pytest.raises(InputError, match="CITATION.cff"):
        provenance.read_citation(tmp_path)
    (tmp_path / provenance.CITATION_FILE).write_text("title: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="CITATION.cff"):
        provenance.read_citation(tmp_path)


def test_the_installed_lock_is_the_copy_in_the_environments_folder(tmp_path):
    """The Makefile copies the lock into the environment once it is installed:
    its digest is of those bytes, whatever the checkout's lock says by now."""
    assert provenance.installed_lock(tmp_path) is None  # conda, or an environment made by hand
    (tmp_path / provenance.LOCK_FILE).write_bytes(b"pandas==3.1.1 --hash=sha256:00\n")
    assert provenance.installed_lock(tmp_path) == provenance.FileDigest.of(b"pandas==3.1.1 --hash=sha256:00\n")
