"""Where the project's folders are, found the same way under papermill (run in
the caller's folder), nbval and JupyterLab (run in the notebook's folder)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PROJECT_NAME_LINE = 'name = "mentoring-eval"'


def _is_project_root(folder: Path) -> bool:
    pyproject = folder / "pyproject.toml"
    return pyproject.is_file() and PROJECT_NAME_LINE in pyproject.read_text(encoding="utf-8")


def project_root(start: Path | None = None) -> Path:
    """The project folder: the nearest ancestor of ``start`` (default: the
    working directory) holding this project's ``pyproject.toml``, else the
    checkout the package was installed from (editable install)."""
    start = Path.cwd() if start is None else Path(start)
    for folder in (start.resolve(), *start.resolve().parents):
        if _is_project_root(folder):
            return folder
    installed_from = Path(__file__).resolve().parents[2]
    if _is_project_root(installed_from):
        return installed_from
    raise FileNotFoundError(
        f"cannot find the mentoring-eval project folder from {start}; "
        "run from inside the project or pass the folders explicitly"
    )


@dataclass(frozen=True)
class ProjectPaths:
    """The folders one run reads and writes."""

    root: Path
    raw: Path
    processed: Path
    report: Path
    reference: Path
    notebooks: Path


def resolve(
    raw_dir: str | Path | None = None,
    processed_dir: str | Path | None = None,
    report_dir: str | Path | None = None,
    root: Path | None = None,
) -> ProjectPaths:
    """Folders for a run: the given ones, the project's bundled ones for those
    left as ``None``. A relative folder is relative to the project (as the
    runner passes them to the notebooks, which run in ``notebooks/``), not to
    the working directory: the command line makes its arguments absolute first."""
    root = project_root() if root is None else Path(root)

    def pick(given: str | Path | None, default: Path) -> Path:
        return default if given in (None, "") else (root / given).resolve()

    return ProjectPaths(
        root=root,
        raw=pick(raw_dir, root / "data" / "raw"),
        processed=pick(processed_dir, root / "data" / "processed"),
        report=pick(report_dir, root / "report"),
        reference=root / "data" / "reference",
        notebooks=root / "notebooks",
    )


def shown(path: Path, root: Path) -> str:
    """``path`` as a report or an executed notebook shows it: relative to the
    project when inside it (so that outputs do not depend on where the project
    was cloned), absolute only when the user named a folder outside it."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(Path(path).resolve())
