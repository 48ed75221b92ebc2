"""axe-core in headless Chromium: the WCAG 2.2 A and AA rules run on a page
as a browser lays it out (contrast, target sizes and names need the real
layout and cascade, which no HTML parser has).

Used by ``tests/test_accessibility.py``; also a command, to measure any
rendered pages by hand::

    .venv/bin/python tests/browser.py report/quarto/index.html report/sites/*.html

axe-core comes from the npm registry at the version pinned in
``package-lock.json`` (``npm ci``, run by ``make test``); Chromium and its
driver are the system's (Debian: ``chromium``, ``chromium-driver``), driven by
Selenium (pinned in requirements.txt).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AXE_SCRIPT = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# The WCAG 2.0, 2.1 and 2.2 success criteria of levels A and AA: what the
# Public Sector Bodies Accessibility Regulations ask for. No rule is disabled.
WCAG_AA_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
# A fresh, quiet browser: no sandbox (containers run as root), nothing fetched
# in the background, no profile carried over from another run.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_NAMES = ("chromedriver",)


def _first_on_path(names: tuple[str, ...]) -> str | None:
    return next((found for name in names if (found := shutil.which(name))), None)


def missing_tools() -> str | None:
    """Why the browser checks cannot run here, or None when they can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "Selenium is not installed (make test installs it from requirements.txt)"
    if not AXE_SCRIPT.is_file():
        return f"axe-core is not installed ({AXE_SCRIPT.relative_to(ROOT)} missing: run `npm ci`, which make test does)"
    if _first_on_path(CHROMIUM_NAMES) is None:
        return "no Chromium on PATH (Debian: apt-get install chromium chromium-driver)"
    if _first_on_path(DRIVER_NAMES) is None:
        return "no chromedriver on PATH (Debian: apt-get install chromium-driver)"
    return None


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator:
    """A headless Chromium with a fresh profile, as a Selenium driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = _first_on_path(CHROMIUM_NAMES)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(_first_on_path(DRIVER_NAMES)))
        try:
            yield driver
        finally:
            driver.quit()


RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: "tag", values: arguments[0]}, resultTypes: ["violations"]})
  .then(results => done(results.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => ({target: n.target.join(" "), summary: n.failureSummary}))}))))
  .catch(error => done({error: String(error)}));
"""


def axe_violations(driver, page: Path) -> list[dict]:
    """axe-core's violations of the WCAG 2.2 A/AA rules on ``page``, as laid
    out by ``driver``: ``[{"id", "impact", "help", "nodes": [{"target", "summary"}]}]``."""
    driver.get(Path(page).resolve().as_uri())
    # Injected by the driver (not by a <script> in the page): the pages' own
    # content security policy, rightly, allows no scripts of unknown origin.
    driver.execute_script(AXE_SCRIPT.read_text(encoding="utf-8"))
    driver.set_script_timeout(120)
    found = driver.execute_async_script(RUN_AXE, list(WCAG_AA_TAGS))
    if isinstance(found, dict):
        raise RuntimeError(f"axe-core failed on {page}: {found['error']}")
    return found


FOCUSED = """
const element = document.activeElement, style = getComputedStyle(element);
return {tag: element.tagName, href: element.getAttribute("href") || "", outline: style.outlineStyle,
        width: parseFloat(style.outlineWidth) || 0, shadow: style.boxShadow};
"""


def keyboard_tour(driver, page: Path, presses: int) -> list[dict]:
    """Where each press of Tab lands on ``page`` and how it is drawn:
    ``[{"tag", "href", "outline", "width", "shadow"}]``."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    driver.get(Path(page).resolve().as_uri())
    stops = []
    for _ in range(presses):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        stops.append(driver.execute_script(FOCUSED))
    return stops


def visibly_focused(stop: dict) -> bool:
    """An outline of at least 2 px, or a focus ring drawn as a box shadow."""
    return (stop["outline"] not in ("none", "") and stop["width"] >= 2) or stop["shadow"] not in ("none", "")


# The elements (a CSS selector) whose text matches a pattern (a JavaScript
# regular expression) and that the browser draws on more than one line.
BROKEN_ACROSS_LINES = """
const [selector, pattern] = arguments;
const wanted = new RegExp(pattern);
const broken = [];
for (const element of document.querySelectorAll(selector)) {
  const text = element.innerText.trim();
  if (!wanted.test(text)) continue;
  const range = document.createRange();
  range.selectNodeContents(element);
  const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
  if (lines.size > 1) broken.push(text);
}
return broken;
"""
NUMBER_CELLS = 'td[style*="text-align: right"], td[style*="text-align:right"]'
NUMBER = "^[+\u2212-]?[0-9][0-9.,]*%?(\u2013[0-9][0-9.,]*%?)?$"


def broken_across_lines(driver, page: Path, width: int, selector: str, pattern: str) -> list[str]:
    """The text of each element of ``page`` matching ``selector`` whose text
    matches ``pattern`` that the browser, ``width`` px wide, prints on more
    than one line."""
    driver.set_window_size(width, 900)
    try:
        driver.get(Path(page).resolve().as_uri())
        return driver.execute_script(BROKEN_ACROSS_LINES, selector, pattern)
    finally:
        driver.set_window_size(1280, 900)


def numbers_broken_across_lines(driver, page: Path, width: int) -> list[str]:
    """The cells of ``page``'s number columns (right-aligned) holding a number
    or a range of two printed on more than one line. (In a column of words a
    range may break after its dash.)"""
    return broken_across_lines(driver, page, width, NUMBER_CELLS, NUMBER)


def count_elements(violations: list[dict]) -> int:
    return sum(len(violation["nodes"]) for violation in violations)


def described(page: Path, violations: list[dict]) -> str:
    """A page's violations as a reader of a failing test needs them: rule,
    impact, how many elements, the first few elements and what is wrong."""
    lines = [f"{page}: {count_elements(violations)} elements"]
    for violation in violations:
        lines.append(f"  {violation['id']} ({violation['impact']}, {len(violation['nodes'])}): {violation['help']}")
        for node in violation["nodes"][:3]:
            lines.append(f"    {node['target']}: {node['summary'].splitlines()[-1].strip()}")
    return "\n".join(lines)


def main(pages: list[str]) -> int:
    why_not = missing_tools()
    if why_not:
        print(why_not, file=sys.stderr)
        return 2
    failing = 0
    with chromium() as driver:
        for page in pages:
            violations = axe_violations(driver, Path(page))
            counts = {v["id"]: len(v["nodes"]) for v in violations}
            print(f"{os.path.relpath(page)}\t{count_elements(violations)}\t{json.dumps(counts)}")
            failing += bool(violations)
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
