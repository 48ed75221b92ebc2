"""What a report was made from: input hashes, package versions, commit."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

# The packages whose versions change what the report says or how it looks.
REPORTED_PACKAGES = ("pandas", "numpy", "pyarrow", "scipy", "matplotlib", "papermill", "nbconvert", "nbval")


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


def input_file_hashes(folder: Path) -> pd.DataFrame:
    """SHA-256 of every file directly in ``folder``, by name."""
    import pandas as pd  # here, not at the top: the runner uses this module on its fast path

    files = input_files(folder)
    return pd.DataFrame(
        {"file": [p.name for p in files], "bytes": [p.stat().st_size for p in files],
         "sha256": [sha256_of_file(p) for p in files]}
    )


def package_versions(names: tuple[str, ...] = REPORTED_PACKAGES) -> pd.DataFrame:
    import pandas as pd

    rows = [("python", platform.python_version())]
    for name in names:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["package", "version"])


def git_commit(folder: Path) -> str:
    """The commit of the checkout ``folder`` is in, with "+ uncommitted changes"
    when the work tree differs; "unknown" outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} + uncommitted changes" if dirty else head
