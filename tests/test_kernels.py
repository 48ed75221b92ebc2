"""Kernels started one stage ahead: the executed notebook is the same as
with a kernel papermill starts itself, the warm-up leaving no trace."""

from __future__ import annotations

import os

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


def test_kernels_started_together_each_have_sockets_of_their_own(tmp_path):
    """Unix sockets in a folder per kernel, not TCP ports picked by bind-and-
    release, which two kernels starting at once can both pick (one then dies
    before replying to kernel_info); the folder goes with the kernel."""
    source = notebook_with(tmp_path / "stage.ipynb", "import json", "print(json.dumps('ok'))")
    started = [StageKernel(source, tmp_path / "kernel.log") for _ in range(3)]
    try:
        assert all(k.manager.transport == "ipc" and os.path.isabs(k.manager.ip) for k in started)
        assert len({os.path.dirname(k.manager.ip) for k in started}) == 3
        for number, kernel in enumerate(started):
            target = tmp_path / f"run{number}" / "stage.ipynb"
            execute_notebook(source, target, None, tmp_path, "stage", tmp_path / "kernel.log", kernel)
            assert nbformat.read(target, as_version=4).cells[1].outputs[0]["text"] == '"ok"\n'
    finally:
        for kernel in started:
            kernel.shutdown()
    assert not any(os.path.exists(os.path.dirname(k.manager.ip)) for k in started)
