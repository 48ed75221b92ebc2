"""What a report was made from: input hashes, package versions, the lock the
environment was installed from, commit, and the publication it reproduces (as
``CITATION.cff`` cites it)."""

from __future__ import annotations

import csv
import hashlib
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from mentoring_eval.errors import InputError
from mentoring_eval.escape import csv_restore

if TYPE_CHECKING:
    import pandas as pd

# Written by the clean stage: the SHA-256 of each raw file as it was read.
INPUT_RECORD = "input_files.csv"

# The project's citation metadata (Citation File Format 1.2.0), at the project root.
CITATION_FILE = "CITATION.cff"

# The lock the environment is installed from (every package's exact version and
# the SHA-256 of its files; `make lock` writes it). Once the install has
# succeeded, the Makefile leaves a copy of it in the environment's folder: the
# lock that environment was installed from, whatever the checkout holds by now.
LOCK_FILE = "requirements.lock"

# The packages whose versions change what the report says or how it looks.
REPORTED_PACKAGES = ("pandas", "numpy", "pyarrow", "scipy", "matplotlib", "papermill", "nbconvert", "nbval")


@dataclass(frozen=True)
class FileDigest:
    """What was read of a file: its size in bytes and their SHA-256."""

    size: int
    sha256: str

    @classmethod
    def of(cls, data: bytes) -> FileDigest:
        return cls(size=len(data), sha256=hashlib.sha256(data).hexdigest())


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_files(folder: Path) -> list[Path]:
    """The files of a raw records folder that count as inputs (hidden ones do
    not), in name order: what the runner fingerprints and the report lists."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))


def input_file_hashes(folder: Path, already_read: Mapping[str, FileDigest] | None = None) -> pd.DataFrame:
    """SHA-256 of every input file of ``folder`` (:func:`input_files`):
    ``file`` (name), ``bytes``, ``sha256``. A file named in ``already_read``
    is recorded as it was read (the digest of the bytes that were parsed),
    the others are hashed from the folder."""
    import pandas as pd  # here, not at the top: the runner uses this module on its fast path

    already_read = already_read or {}
    files = input_files(folder)
    not_inputs = already_read.keys() - {path.name for path in files}
    if not_inputs:
        raise ValueError(f"{', '.join(sorted(not_inputs))}: read from {folder}, but not among its input files")
    digests = [already_read.get(path.name) or FileDigest(path.stat().st_size, sha256_of_file(path)) for path in files]
    return pd.DataFrame(
        {
            "file": [path.name for path in files],
            "bytes": [digest.size for digest in digests],
            "sha256": [digest.sha256 for digest in digests],
        }
    )


def read_input_record(processed_dir: Path) -> pd.DataFrame:
    """The clean stage's record of the raw files it read (as
    :func:`input_file_hashes`): the report cites what its numbers came
    from, not what the raw folder holds by the time the report is run."""
    import pandas as pd

    path = Path(processed_dir) / INPUT_RECORD
    if not path.exists():
        raise InputError(f"{path}: not found; run the clean stage first")
    record = pd.read_csv(path, dtype={"file": "str", "bytes": "int64", "sha256": "str"}, keep_default_na=False)
    return record.assign(file=record["file"].map(csv_restore))  # written spreadsheet-safe (outputs.write_csv)


def inputs_digest(file_hashes: Iterable[tuple[str, str]]) -> str:
    """One digest of (file name, SHA-256) pairs, in name order."""
    digest = hashlib.sha256()
    for name, sha256 in sorted(file_hashes):
        digest.update(name.encode())
        digest.update(sha256.encode())
    return digest.hexdigest()


def raw_inputs_digest(raw_dir: Path) -> str:
    """The digest of the input files of ``raw_dir`` as they are now."""
    if not raw_dir.is_dir():
        raise InputError(f"{raw_dir}: raw records folder not found")
    return inputs_digest((path.name, sha256_of_file(path)) for path in input_files(raw_dir))


def recorded_inputs_digest(processed_dir: Path) -> str:
    """The same digest, of the raw files as the clean stage read them (its
    :data:`INPUT_RECORD`): read with ``csv``, since the runner avoids pandas."""
    with open(Path(processed_dir) / INPUT_RECORD, newline="", encoding="utf-8") as record:
        return inputs_digest((csv_restore(row["file"]), row["sha256"]) for row in csv.DictReader(record))


def package_versions(names: tuple[str, ...] = REPORTED_PACKAGES) -> pd.DataFrame:
    import pandas as pd

    rows = [("python", platform.python_version())]
    for name in names:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["package", "version"])


def installed_lock(environment: Path | None = None) -> FileDigest | None:
    """The lock the Python environment (``sys.prefix`` unless given) was
    installed from, as the copy the Makefile leaves in it: its size and
    SHA-256; None for an environment not installed from the lock (conda, or by
    hand)."""
    try:
        return FileDigest.of((Path(sys.prefix if environment is None else environment) / LOCK_FILE).read_bytes())
    except FileNotFoundError:
        return None


# Written by ``bundle`` at the root of the code it archives: the commit that
# code is, as :func:`git_commit` said it when the run was bundled. An unpacked
# archive is no git checkout, yet its report must name the same commit.
SOURCE_COMMIT_FILE = "SOURCE_COMMIT"


def git_commit(folder: Path) -> str:
    """The commit of the checkout ``folder`` is in, with "+ uncommitted changes"
    when the work tree differs; the commit an archived copy of the code records
    (:data:`SOURCE_COMMIT_FILE`, never committed, so read first); "unknown"
    outside git."""
    recorded = Path(folder) / SOURCE_COMMIT_FILE
    if recorded.is_file():
        return recorded.read_text(encoding="utf-8").strip()
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + uncommitted changes" if dirty else head


def read_citation(root: Path) -> dict:
    """The project's ``CITATION.cff``, parsed: the one place the software's
    and the publication's citations are written down."""
    import yaml  # here, not at the top: the runner uses this module on its fast path

    path = Path(root) / CITATION_FILE
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise InputError(f"{path}: cannot read the project's citation metadata ({error})") from None


def cited_publication(citation: dict) -> dict:
    """The publication the software reproduces: the article among the
    citation's ``references`` (the Citation File Format's place for the works
    a piece of software builds on)."""
    articles = [ref for ref in citation.get("references", []) if ref.get("type") == "article"]
    if len(articles) != 1:
        raise ValueError(f"{CITATION_FILE}: expected one article under references, found {len(articles)}")
    return articles[0]
