"""The stage notebooks' kernels import only what their stage uses.

Each kernel pays for its imports on every run: matplotlib is the figures
stage's alone, scipy the metrics stage's alone. The imports are taken from
the notebooks themselves (every ``import`` line of their code cells: what
the runner's kernel started ahead imports too), run in a fresh interpreter,
and the modules it then holds are checked.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mentoring_eval.kernels import notebook_imports

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

# stage notebook -> top-level packages its kernel must not import
NOT_IMPORTED = {
    "01_clean.ipynb": {"matplotlib", "scipy", "openpyxl"},  # openpyxl: only for an .xlsx log
    "02_site_metrics.ipynb": {"matplotlib"},
    "03_figures.ipynb": {"scipy"},
    "04_report.ipynb": {"matplotlib", "scipy"},
    "05_site_report.ipynb": {"scipy", "openpyxl"},  # one kernel runs it for every site: its imports count once
}


def test_every_stage_notebook_is_listed():
    assert sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")) == sorted(NOT_IMPORTED)


@pytest.mark.parametrize("notebook", sorted(NOT_IMPORTED))
def test_a_stage_kernel_imports_only_what_its_stage_uses(notebook):
    imports = notebook_imports(NOTEBOOKS / notebook)
    assert any("mentoring_eval" in line for line in imports), imports
    script = "\n".join([*imports, "import sys", "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"])
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=NOTEBOOKS
        ).stdout.split()
    )
    assert not loaded & NOT_IMPORTED[notebook], f"{notebook} imports {sorted(loaded & NOT_IMPORTED[notebook])}"
