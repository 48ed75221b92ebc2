"""``python -m mentoring_eval sites``: a feedback page for every site.

The main run is brought up to date first (each stage skipped when nothing
changed), then ``notebooks/05_site_report.ipynb`` is executed once per site
and rendered, and ``report/sites/index.html`` lists every site with its
headline numbers and attention flags, linking to its page.

Speed: a kernel per site would pay Python's start and the imports of pandas,
matplotlib and pyarrow once a site (about a second each). Here ONE kernel,
started once, executes the real notebook once per site: papermill's
``parameterize_notebook`` injects the site's parameters, exactly as papermill
would, and ``nbclient`` executes it with the shared kernel manager (nbclient
does not shut down a kernel it was given). The notebook is written to be
re-run in the same kernel: every cell assigns what it uses, the charts are
bare matplotlib figures (no pyplot state), and the trial's tables are read
once and kept while the files are unchanged (:func:`site_report.load_trial`).
The executed notebooks are renumbered as a fresh kernel would number them,
so a page is the same bytes whichever sites ran before it.

Incremental (a page is redone only when its notebook, parameters, the
package's code, the main run's outputs or the renderer changed) and all or
nothing with the main run (:func:`runs.all_or_nothing`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from mentoring_eval import kernels, pipeline, render, runs
from mentoring_eval.errors import InputError
from mentoring_eval.paths import shown
from mentoring_eval.pipeline import RunSettings, StageFailed
from mentoring_eval.provenance import sha256_of_file
from mentoring_eval.render import Rendered, choose_renderer

if TYPE_CHECKING:
    import nbformat
    import pandas as pd

SITE_NOTEBOOK = "05_site_report.ipynb"
SITES_FOLDER = "sites"  # inside the report folder
EXECUTED_FOLDER = "notebooks"  # inside the sites folder
STATE_FILE = ".sites-state.json"  # inside the sites folder
INDEX_STEM = "index"  # the index's notebook (in the executed folder) and page (in the sites folder)
INDEX_PAGE = f"{INDEX_STEM}.html"


def site_parameters(settings: RunSettings, site: int) -> dict:
    # The folder as the main run passes it (relative to the project where it lies inside it).
    return {
        "site": int(site),
        "processed_dir": shown(settings.paths.processed, settings.paths.root),
        "as_of": settings.as_of.isoformat(),
        "expected_minutes": settings.expected_minutes,
    }


def page_stem(site: int) -> str:
    return f"site-{int(site)}"


def sites_folder(settings: RunSettings) -> Path:
    return settings.paths.report / SITES_FOLDER


def chosen_sites(sites_in_run: list[int], named: list[int] | None, as_of: str) -> list[int]:
    """The sites to make pages for: those named (each must be in the run), or all."""
    if not named:
        return sorted(sites_in_run)
    from mentoring_eval.site_report import sites_in_words

    absent = [site for site in named if site not in sites_in_run]
    if absent:
        raise InputError(
            f"site {absent[0]} is not in the run as of {as_of} (sites opened by then: {sites_in_words(sites_in_run)})"
        )
    return sorted(set(named))


# ---------------------------------------------------------------- one warm kernel


class WarmKernel:
    """One kernel executing the site notebook once per site."""

    def __init__(self, notebook_folder: Path, kernel_log: Path):
        from jupyter_client import KernelManager

        self.notebook_folder = notebook_folder
        self.kernel_log = kernel_log
        self._sockets = kernels.local_socket_folder()
        self.manager = kernels.ipc_kernel_manager(KernelManager, "python3", self._sockets)
        with pipeline.stderr_to(kernel_log):
            # In the notebook's folder, as papermill (here), nbval and JupyterLab run it.
            self.manager.start_kernel(cwd=str(notebook_folder))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def execute(self, notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
        from nbclient import NotebookClient

        runner = NotebookClient(
            notebook,
            km=self.manager,
            timeout=600,
            kernel_name="python3",
            resources={"metadata": {"path": str(self.notebook_folder)}},
        )
        runner.kc = self.client  # ours: nbclient neither starts a new client nor stops this one
        with pipeline.stderr_to(self.kernel_log):
            return runner.execute()

    def close(self) -> None:
        self.client.stop_channels()
        try:
            self.manager.shutdown_kernel(now=True)
        finally:
            shutil.rmtree(self._sockets, ignore_errors=True)


@contextlib.contextmanager
def warm_kernel(notebook_folder: Path, kernel_log: Path) -> Iterator[Callable[[], WarmKernel]]:
    """Yields a getter that starts the kernel on first use: a run where every
    page is unchanged starts none."""
    started: list[WarmKernel] = []

    def get() -> WarmKernel:
        if not started:
            started.append(WarmKernel(notebook_folder, kernel_log))
        return started[0]

    try:
        yield get
    finally:
        for kernel in started:
            kernel.close()


def numbered_as_fresh(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Execution counts 1, 2, ... as a fresh kernel gives them: in a warm
    kernel they continue from the previous site."""
    count = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        for output in cell.get("outputs", []):
            if "execution_count" in output:
                output["execution_count"] = count
    return notebook


def titled(notebook: nbformat.NotebookNode, site: int) -> nbformat.NotebookNode:
    """The page's title names the site (Quarto and nbconvert take it from the front matter)."""
    from mentoring_eval.render import retitled
    from mentoring_eval.site_report import page_title

    return retitled(notebook, page_title(site))


def report_link(main_link: str) -> str:
    """The link to the trial's report (``main_link``, relative to the pages' folder)."""
    return f"[The trial's report]({link_target(main_link)})"


def site_navigation(main_link: str | None) -> str:
    """The links at the top of a site page, back to the index of all sites
    and to the trial's report (``main_link``, relative to the pages' folder):
    the pages, their index and the report link both ways. Written for the
    page's folder, where both renderers write it (the links are not rebased)."""
    return " · ".join([f"[All sites]({INDEX_PAGE})"] + ([report_link(main_link)] if main_link else []))


def with_navigation(notebook: nbformat.NotebookNode, navigation: str) -> nbformat.NotebookNode:
    """``navigation`` as the page's first cell after its front matter."""
    from nbformat.v4 import new_markdown_cell

    notebook.cells.insert(1, new_markdown_cell(navigation, id="site-navigation"))
    return notebook


def execute_site(
    kernel: WarmKernel,
    source: nbformat.NotebookNode,
    settings: RunSettings,
    site: int,
    target: Path,
    navigation: str = "",
) -> nbformat.NotebookNode:
    """Execute the site notebook for ``site`` into ``target`` (replaced only
    on success), with ``navigation`` (Markdown links) at its top."""
    import copy

    import nbformat
    from nbclient.exceptions import CellExecutionError
    from papermill.parameterize import parameterize_notebook

    notebook = copy.deepcopy(source)
    notebook.metadata.setdefault("papermill", {})  # papermill's execute makes it before parameterising
    notebook = parameterize_notebook(notebook, site_parameters(settings, site))
    try:
        kernel.execute(notebook)
    except CellExecutionError as error:
        if error.ename == "InputError":
            raise InputError(error.evalue) from None
        failed = target.with_name(f"{target.stem}.failed.ipynb")
        nbformat.write(notebook, failed)
        raise StageFailed(f"site {site}", error.ename, error.evalue, failed) from None
    notebook = pipeline.strip_run_metadata(notebook, settings.paths.root)
    notebook = titled(numbered_as_fresh(pipeline.with_alt_text_options(notebook)), site)
    if navigation:
        notebook = with_navigation(notebook, navigation)
    notebook.metadata.setdefault("papermill", {})["output_path"] = shown(target, settings.paths.root)
    scratch = target.with_name(f".{target.name}.tmp")
    nbformat.write(notebook, scratch)
    scratch.replace(target)
    return notebook


# ---------------------------------------------------------------- the index


INDEX_HEADERS = {
    "site": "Site",
    "months_in_study": "Months in study",
    "total_minutes": "Total mentoring (minutes)",
    "minutes_per_month": "Mean mentoring per month (minutes)",
    "pct_phone_teams": "% by phone or Microsoft Teams",
    "ots": "OTs",
    "attention": "Needs attention",
}


def link_target(path: str) -> str:
    """A relative path as a Markdown link's target (spaces and brackets quoted)."""
    return quote(Path(path).as_posix())


def index_notebook(
    table: pd.DataFrame,
    pages: dict[int, list[str]],
    as_of: str,
    expected_minutes: int,
    main_report: str | None = None,
    heading: str = "Mentoring",
) -> nbformat.NotebookNode:
    """The index of the site pages: one row per site (``table``:
    :func:`site_report.index_table`), linking to its page where there is one
    (``pages``: the page, then any other format of it), and to the main
    report (``main_report``); links relative to the index. A notebook of
    Markdown only, rendered by the pages' own renderer (:func:`make_site_pages`),
    so that the index looks like the pages it lists."""
    from nbformat.v4 import new_markdown_cell, new_notebook, new_raw_cell

    from mentoring_eval.render import retitled
    from mentoring_eval.report import captioned_table, long_date, markdown_table
    from mentoring_eval.wording import plural

    def site_cell(site: int) -> str:
        name, links = f"Site {site}", pages.get(int(site), [])
        if not links:
            return name
        other_formats = "".join(f" ([{link.rsplit('.', 1)[-1].upper()}]({link_target(link)}))" for link in links[1:])
        # On one line: a table cell may otherwise break between the page and its PDF, or anywhere.
        return f'<span style="white-space: nowrap">[{name}]({link_target(links[0])}){other_formats}</span>'

    shown = table[list(INDEX_HEADERS)].assign(
        site=[site_cell(site) for site in table["site"]],
        attention=table["attention"].replace("", "no"),
    )
    flagged = int((table["attention"] != "").sum())
    about = (
        f"{plural(len(table), 'site')} open at the cut-off; {flagged} {'needs' if flagged == 1 else 'need'} "
        f"attention (mean mentoring below the expected {expected_minutes} minutes a month over the last three "
        "months, an OT who left and was not replaced, or low competency scores without more than the expected "
        "mentoring). Each site's page shows its Table 4 row against the trial, its months, OTs, attention flags "
        "and what changed since the previous month."
    )
    sites_table = captioned_table(
        markdown_table(shown, INDEX_HEADERS, {"pct_phone_teams": 1}, markup=("site",)),
        f"Every site's headline numbers as of {long_date(as_of)}",
        "sites",
    )
    cells = [
        # Quarto: the index is a page of links, HTML only (each site's PDF is linked from it).
        new_raw_cell("---\nformat: html\n---"),
        *([new_markdown_cell(report_link(main_report), id="site-navigation")] if main_report else []),
        new_markdown_cell(about, id="about-the-pages"),
        new_markdown_cell(sites_table, id="sites"),
    ]
    notebook = new_notebook(cells=cells, metadata={"kernelspec": INDEX_KERNELSPEC})
    return retitled(notebook, f"{heading}: site feedback pages as of {long_date(as_of)}")


# Quarto reads an .ipynb's kernel to know its language (nothing is executed).
INDEX_KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def write_notebook_if_changed(notebook: nbformat.NotebookNode, target: Path) -> bool:
    """Write ``notebook`` to ``target`` unless it holds the same already; True when written."""
    import nbformat

    text = nbformat.writes(notebook)
    if target.is_file() and target.read_text(encoding="utf-8") == text:
        return False
    render.write_replacing(target, text)
    return True


# ---------------------------------------------------------------- the run


@dataclass(frozen=True)
class SitePages:
    index: Path
    pages: tuple[Path, ...]
    renderer: str


def _fingerprint(settings: RunSettings, site: int, upstream: str, code: str, renderer: str) -> str:
    payload = json.dumps(
        {
            "notebook": sha256_of_file(settings.paths.notebooks / SITE_NOTEBOOK),
            "parameters": site_parameters(settings, site),
            "code": code,
            "upstream": upstream,
            "renderer": renderer,
            # The report's Quarto options (theme, paper, print rules) are part of a Quarto page.
            **({"quarto": render.load_quarto_template(settings.paths.root)} if renderer == "quarto" else {}),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def page_files(folder: Path, site: int, renderer: str) -> list[Path]:
    """What a site's page is made of: its executed notebook and what the renderer wrote from it."""
    executed = folder / EXECUTED_FOLDER / f"{page_stem(site)}.ipynb"
    rendered = {"nbconvert": [".html"], "quarto": [".html", ".pdf"], "none": []}[renderer]
    return [executed] + [folder / f"{page_stem(site)}{suffix}" for suffix in rendered]


# What a site page takes from the report's Quarto project (_quarto.yml), so
# that the pages and the report read as one publication: the HTML theme and
# language, and its PDF link's name; the PDF's paper, margins, type size, language, print rules and
# PDF/UA-1. A site page is short: no table of contents, no numbered sections.
SHARED_HTML_OPTIONS = ("theme", "lang", "format-links")
SHARED_TYPST_OPTIONS = ("papersize", "margin", "fontsize", "fig-format", "lang", "include-in-header", "pdf-standard")
SITE_LIBRARIES = "site_libs"  # Quarto's scripts and styles, one copy beside the pages
# In the sites folder while Quarto renders: the project it renders, then removed. Not a hidden
# folder: Quarto renders nothing in one.
QUARTO_STAGE = "_quarto-pages"


def quarto_site_project(template: dict) -> dict:
    """The site pages' Quarto project, from the report's (``template``)."""
    formats = template.get("format", {})
    html_options = {key: formats["html"][key] for key in SHARED_HTML_OPTIONS if key in formats.get("html", {})}
    typst_options = {key: formats["typst"][key] for key in SHARED_TYPST_OPTIONS if key in formats.get("typst", {})}
    return {
        "project": {"type": "default", "output-dir": ".."},  # the pages in the sites folder, above the stage
        "format": {
            # Not self-contained: the 16 pages share one copy of Quarto's
            # libraries (site_libs/) instead of embedding 1.3 MB each.
            "html": {**html_options, "echo": False},
            "typst": {**typst_options, "echo": False},
        },
        "execute": {"enabled": False},  # the kernel already executed them
    }


def _tree_digest(folder: Path) -> str:
    """One digest of every file under ``folder``, by relative path and content."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def share_libraries(folder: Path, stems: list[str]) -> None:
    """One copy of Quarto's libraries for every page: a default Quarto project
    gives each page its own (``site-N_files/libs``, about 1 MB of Bootstrap
    and scripts). Each page whose copy is the same as the first is pointed at
    ``site_libs/`` and its copy removed; a page whose copy differs keeps it.
    Every file is new (moved or replaced), never rewritten in place: the
    run's snapshot holds hard links to the last good pages."""
    shared = folder / SITE_LIBRARIES
    shared_digest = None
    for stem in stems:
        libs = folder / f"{stem}_files" / "libs"
        if not libs.is_dir():
            continue
        digest = _tree_digest(libs)
        if shared_digest is None:
            libs.rename(shared)
            shared_digest = digest
        elif digest == shared_digest:
            shutil.rmtree(libs)
        else:
            continue
        with contextlib.suppress(OSError):  # a page with no figures of its own: its folder is now empty
            libs.parent.rmdir()
        page = folder / f"{stem}.html"
        render.write_replacing(
            page, page.read_text(encoding="utf-8").replace(f"{stem}_files/libs/", f"{SITE_LIBRARIES}/")
        )


def stage_for_quarto(executed_folder: Path, stems: list[str], stage: Path, template: dict) -> None:
    """The Quarto project the pages are rendered from, in ``stage``: each
    executed notebook with its charts as captioned figures
    (:func:`pipeline.with_figure_captions`), the theme and the project file.
    The executed notebooks stay as the kernel left them, for nbconvert and
    JupyterLab."""
    import nbformat
    import yaml

    render.remove(stage)
    stage.mkdir(parents=True)
    for stem in stems:
        notebook = nbformat.read(executed_folder / f"{stem}.ipynb", as_version=4)
        nbformat.write(pipeline.with_figure_captions(notebook), stage / f"{stem}.ipynb")
    render.stage_theme(stage)
    (stage / render.PROJECT_FILE).write_text(
        "# Written by mentoring_eval.site_pages\n" + yaml.safe_dump(quarto_site_project(template), sort_keys=False),
        encoding="utf-8",
    )


def render_with_quarto(executed_folder: Path, sites: list[int], template: dict) -> None:
    """Every executed site notebook of ``executed_folder`` to an HTML page and a
    Typst PDF, and the index's notebook to its HTML page, in the folder above
    (Quarto's libraries in one shared ``site_libs/``), in one Quarto run (a run
    per page would pay Quarto's start once a page), in the report's style
    (``template``: its Quarto project)."""
    import subprocess

    from mentoring_eval.render import RenderError, find_quarto

    quarto = find_quarto()
    if quarto is None:
        raise RenderError("the quarto command was not found; use --renderer nbconvert")
    pages_folder = executed_folder.parent
    stems = [page_stem(site) for site in sites] + [INDEX_STEM]
    # Quarto must write new files, not rewrite the old ones the run's snapshot links to.
    for stale in [
        *sorted(pages_folder.glob("site-*.html")),
        *sorted(pages_folder.glob("site-*.pdf")),
        pages_folder / INDEX_PAGE,
    ]:
        stale.unlink(missing_ok=True)
    for stale in [pages_folder / SITE_LIBRARIES, *sorted(pages_folder.glob("*_files"))]:
        shutil.rmtree(stale, ignore_errors=True)
    for earlier in (
        executed_folder / render.PROJECT_FILE,
        executed_folder / render.THEME_FOLDER,
        executed_folder / ".gitignore",
    ):
        render.remove(earlier)  # where versions before the staging rendered from
    stage = pages_folder / QUARTO_STAGE
    stage_for_quarto(executed_folder, stems, stage, template)
    completed = subprocess.run([quarto, "render"], cwd=stage, capture_output=True, text=True)
    render.remove(stage)
    expected = [path for site in sites for path in page_files(pages_folder, site, "quarto")] + [
        pages_folder / INDEX_PAGE
    ]
    missing = [path.name for path in expected if not path.exists()]
    if completed.returncode != 0 or missing:
        last_lines = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-12:])
        raise RenderError(f"quarto render of the site pages (in {pages_folder}) failed:\n{last_lines}")
    share_libraries(pages_folder, stems)


def make_site_pages(
    settings: RunSettings,
    named: list[int] | None,
    renderer: str,
    force: bool,
    say: Callable[[str], None],
    main_report: Path | None = None,
) -> SitePages:
    """Execute and render the site pages and write the index; the main run's
    outputs must be current (:func:`run_site_pages` sees to it)."""
    chosen_renderer, _ = choose_renderer(renderer)
    folder = sites_folder(settings)
    state_path = folder / STATE_FILE
    saved = {} if force else runs.read_state(state_path)
    upstream = runs.read_state(settings.paths.report / runs.STATE_FILE).get("site metrics", "")
    code = runs.code_digest()
    main_link = os.path.relpath(main_report, folder) if main_report else None
    # The fingerprint of "site 0": everything a page depends on but its site.
    run_key = hashlib.sha256(
        json.dumps(
            [_fingerprint(settings, 0, upstream, code, chosen_renderer), sorted(set(named or [])), main_link]
        ).encode()
    ).hexdigest()
    unchanged = _unchanged_run(saved, run_key, folder, chosen_renderer)
    if unchanged is not None:  # nothing to do: not even pandas is imported
        for number, site in enumerate(unchanged.get("sites", []), start=1):
            say(f"[site {number}/{len(unchanged['sites'])}] site {site:<4} skipped (unchanged)")
        return SitePages(folder / INDEX_PAGE, tuple(folder / page for page in unchanged["linked"]), chosen_renderer)
    import nbformat

    from mentoring_eval import site_report

    trial = site_report.load_trial(settings.paths.processed)
    table4 = trial.metrics.table4
    as_of = settings.as_of.isoformat()
    sites = chosen_sites([int(s) for s in table4["site"]], named, as_of)
    (folder / EXECUTED_FOLDER).mkdir(parents=True, exist_ok=True)
    state = dict(saved.get("pages", {}))
    current = {
        site: _fingerprint(settings, site, upstream, code, chosen_renderer) for site in table4["site"].astype(int)
    }
    source = nbformat.read(settings.paths.notebooks / SITE_NOTEBOOK, as_version=4)
    exporter = render.html_exporter() if chosen_renderer == "nbconvert" else None
    made = []
    with warm_kernel(settings.paths.notebooks, settings.paths.report / pipeline.KERNEL_LOG) as kernel:
        for number, site in enumerate(sites, start=1):
            label = f"[site {number}/{len(sites)}] site {site:<4}"
            files = page_files(folder, site, chosen_renderer)
            if state.get(str(site)) == current[site] and all(path.exists() for path in files):
                say(f"{label} skipped (unchanged)")
                continue
            started = time.perf_counter()
            state.pop(str(site), None)
            runs.write_state(state_path, {"pages": state})
            notebook = execute_site(kernel(), source, settings, site, files[0], site_navigation(main_link))
            if exporter is not None:
                render.write_replacing(files[1], render.self_contained_html(notebook, files[0].parent, exporter))
            made.append(site)
            say(f"{label} done in {time.perf_counter() - started:.1f} s")
            if chosen_renderer != "quarto":  # Quarto's pages are only done once it has rendered them all
                state[str(site)] = current[site]
                runs.write_state(state_path, {"pages": state})
    # Pages of other sites stay only while current: a --site run after the
    # records changed must not leave last month's numbers linked as this month's.
    kept = {str(site) for site in made} | {
        site for site, fingerprint in state.items() if current.get(int(site)) == fingerprint
    }
    state = {site: fingerprint for site, fingerprint in state.items() if site in kept}
    wanted = {path for site in kept for path in page_files(folder, int(site), chosen_renderer)}
    for path in sorted(folder.glob("site-*.*")) + sorted((folder / EXECUTED_FOLDER).glob("site-*.ipynb")):
        if path not in wanted:  # another site's, or another renderer's
            path.unlink()
    wanted_stems = {page_stem(int(site)) for site in kept} | {INDEX_STEM} if chosen_renderer == "quarto" else set()
    for files in sorted(folder.glob("*_files")):  # Quarto's figures and libraries of a page no longer wanted
        if files.name.removesuffix("_files") not in wanted_stems:
            shutil.rmtree(files)
    if chosen_renderer != "quarto":  # nbconvert's pages are self-contained: no Quarto libraries left behind
        shutil.rmtree(folder / SITE_LIBRARIES, ignore_errors=True)
    # The rendered page and its PDF; the executed notebook when nothing is rendered.
    linked = {
        int(site): page_files(folder, int(site), chosen_renderer)[1:] or page_files(folder, int(site), chosen_renderer)
        for site in kept
    }
    index = folder / INDEX_PAGE
    index_source = index_notebook(
        site_report.index_table(table4, trial.metrics.attention),
        {site: [os.path.relpath(path, folder) for path in paths] for site, paths in linked.items()},
        as_of,
        settings.expected_minutes,
        main_link,
        settings.trial.heading,
    )
    index_changed = write_notebook_if_changed(index_source, folder / EXECUTED_FOLDER / f"{INDEX_STEM}.ipynb")
    if chosen_renderer == "quarto":
        if made or index_changed or not index.is_file():
            started = time.perf_counter()
            template = render.load_quarto_template(settings.paths.root)
            render_with_quarto(folder / EXECUTED_FOLDER, sorted(int(site) for site in kept), template)
            say(f"[sites render] quarto, {len(kept)} pages and the index, in {time.perf_counter() - started:.1f} s")
        state.update({str(site): current[site] for site in made})
    else:
        # Like the nbconvert pages (a fraction of a second: always made, never stale); also where
        # the pages are left unrendered (--renderer none): there is a page to open, linking the notebooks.
        render.write_replacing(
            index,
            render.self_contained_html(
                index_source, folder / EXECUTED_FOLDER, render.html_exporter(embed_images=False)
            ),
        )
    pages = tuple(linked[site][0] for site in sorted(linked))
    runs.write_state(
        state_path,
        {
            "pages": state,
            "run": {
                "key": run_key,
                "sites": sites,
                "linked": [page.relative_to(folder).as_posix() for page in pages],
                "index": sha256_of_file(index),
            },
        },
    )
    return SitePages(index, pages, chosen_renderer)


def _unchanged_run(saved: dict, run_key: str, folder: Path, renderer: str) -> dict | None:
    """The last run's record when this run would redo nothing: same inputs,
    code, notebook, renderer and sites, and every file it made still there."""
    last = saved.get("run", {})
    index = folder / INDEX_PAGE
    if last.get("key") != run_key or not index.is_file() or sha256_of_file(index) != last.get("index"):
        return None
    made = [path for site in saved.get("pages", {}) for path in page_files(folder, int(site), renderer)]
    return last if all(path.exists() for path in made) else None


def current_site_files(settings: RunSettings, renderer: str) -> tuple[list[int], list[Path]]:
    """The sites and the files of their pages (the index first), when every
    page the last ``sites`` made is current for this run (same inputs, code,
    notebook and renderer, every file there); nothing otherwise. With Quarto,
    also what the pages load: the shared libraries and each page's figures.
    Call after the main run."""
    folder = sites_folder(settings)
    saved = runs.read_state(folder / STATE_FILE)
    pages = saved.get("pages", {})
    index = folder / INDEX_PAGE
    if not pages or not index.is_file():
        return [], []
    upstream = runs.read_state(settings.paths.report / runs.STATE_FILE).get("site metrics", "")
    code = runs.code_digest()
    files = [index]
    for site, fingerprint in sorted(pages.items(), key=lambda item: int(item[0])):
        made = page_files(folder, int(site), renderer)
        if fingerprint != _fingerprint(settings, int(site), upstream, code, renderer) or not all(
            path.exists() for path in made
        ):
            return [], []
        files += made
    files.append(folder / EXECUTED_FOLDER / f"{INDEX_STEM}.ipynb")
    if renderer == "quarto":
        stems = [INDEX_STEM, *(page_stem(int(site)) for site in pages)]
        loaded = [folder / SITE_LIBRARIES, *(folder / f"{stem}_files" for stem in stems)]
        files += [path for tree in loaded for path in sorted(tree.rglob("*")) if path.is_file()]
    return sorted(int(site) for site in pages), files


def run_site_pages(
    settings: RunSettings,
    named: list[int] | None = None,
    renderer: str = "auto",
    force: bool = False,
    say: Callable[[str], None] = print,
    wait: bool = True,
) -> tuple[Rendered, SitePages]:
    """The main run (each stage skipped when unchanged), then the site pages,
    under the main run's lock; all or nothing: a failure leaves the last good
    report and pages as they were."""
    with runs.exclusive_run(settings, wait, say):
        rendered = runs.run_and_render(settings, renderer, force, say)
        main_report = next((path for path in rendered.outputs if path.suffix == ".html"), None)
        return rendered, make_site_pages(settings, named, renderer, force, say, main_report)
