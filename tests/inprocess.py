"""A stage notebook's code run in this process, without a kernel: the same
cells, parameters injected as papermill would, each cell's displayed value
collected as text. Far cheaper than a kernel per notebook, so the generated
trials can go through every notebook by the hundred; the real commands are
run on fewer (``test_any_trial.py``)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _shown(value: object) -> str:
    """What a notebook would show of a cell's value: Markdown's text, an SVG's markup."""
    for method in ("_repr_markdown_", "_repr_svg_", "_repr_html_"):
        if hasattr(value, method):
            return str(getattr(value, method)())
    return "" if value is None else repr(value)


def run_notebook_inprocess(name: str, parameters: dict[str, object]) -> list[str]:
    """Every value the notebook ``notebooks/<name>`` displays, in order, with
    ``parameters`` set after its parameters cell (papermill's way)."""
    notebook = json.loads((ROOT / "notebooks" / name).read_text(encoding="utf-8"))
    shown: list[str] = []
    namespace: dict[str, object] = {"__name__": "__notebook__"}

    import IPython.display

    original_display = IPython.display.display
    IPython.display.display = lambda *values, **_: shown.extend(_shown(v) for v in values)
    try:
        for cell in notebook["cells"]:
            if cell["cell_type"] != "code":
                continue
            tree = ast.parse("".join(cell["source"]))
            last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
            exec(compile(tree, name, "exec"), namespace)
            if last is not None:
                shown.append(_shown(eval(compile(ast.Expression(last.value), name, "eval"), namespace)))
            if "parameters" in cell.get("metadata", {}).get("tags", []):
                namespace.update(parameters)
    finally:
        IPython.display.display = original_display
    return shown
