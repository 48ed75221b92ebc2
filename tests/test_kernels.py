"""Kernels started one stage ahead: the executed notebook is the same as
with a kernel papermill starts itself, the warm-up leaving no trace."""

from __future__ import annotations

import nbformat

from mentoring_eval.kernels import StageKernel, notebook_imports
from mentoring_eval.pipeline import execute_notebook


def notebook_with(path, *sources: str):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_the_imports_are_the_import_lines_of_the_code_cells(tmp_path):
    notebook = notebook_with(
        tmp_path / "n.ipynb",
        "x = 1\nimport json\nfrom pathlib import Path",
        "if x:\n    import not_at_top_level",
        "import os  # trailing comment",
    )
    assert notebook_imports(notebook) == ["import json", "from pathlib import Path", "import os  # trailing comment"]


def test_a_kernel_started_ahead_gives_the_same_executed_notebook(tmp_path):
    """Same outputs and execution counts (from 1), whether papermill started
    the kernel or it was started ahead and has already run the imports; the
    kernel runs in the notebook's folder either way."""
    (tmp_path / "here.txt").write_text("found")
    source = notebook_with(
        tmp_path / "stage.ipynb",
        "import json\nimport sys",
        "print(json.dumps([1, 2]))",
        "sys.stderr.write('to stderr\\n'); open('here.txt').read()",
    )
    own, ahead = tmp_path / "own" / "stage.ipynb", tmp_path / "ahead" / "stage.ipynb"
    execute_notebook(source, own, None, tmp_path, "stage", tmp_path / "kernel.log")
    kernel = StageKernel(source, tmp_path / "kernel.log")
    try:
        execute_notebook(source, ahead, None, tmp_path, "stage", tmp_path / "kernel.log", kernel)
    finally:
        kernel.shutdown()
    executed = nbformat.read(ahead, as_version=4)
    assert [cell.execution_count for cell in executed.cells] == [1, 2, 3]
    assert executed.cells[2].outputs[-1]["data"]["text/plain"] == "'found'"
    assert [cell.outputs for cell in executed.cells] == [
        cell.outputs for cell in nbformat.read(own, as_version=4).cells
    ]


def test_shutting_down_twice_is_harmless(tmp_path):
    kernel = StageKernel(notebook_with(tmp_path / "n.ipynb", "import json"), tmp_path / "kernel.log")
    kernel.shutdown()
    kernel.shutdown()
    assert not kernel.manager.has_kernel
