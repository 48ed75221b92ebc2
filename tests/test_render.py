"""Choosing a renderer, and the nbconvert fallback."""

import nbformat
import pytest

from mentoring_eval import render


def test_auto_prefers_quarto_when_present(monkeypatch):
    monkeypatch.setattr(render, "find_quarto", lambda: "/usr/bin/quarto")
    assert render.choose_renderer("auto") == ("quarto", "Quarto found")


def test_auto_falls_back_to_nbconvert_and_says_why(monkeypatch):
    monkeypatch.setattr(render, "find_quarto", lambda: None)
    assert render.choose_renderer("auto") == ("nbconvert", "Quarto not found")


def test_an_explicit_renderer_is_kept():
    assert render.choose_renderer("none")[0] == "none"
    with pytest.raises(ValueError):
        render.choose_renderer("pandoc")


def test_requesting_quarto_without_it_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(render, "find_quarto", lambda: None)
    with pytest.raises(render.RenderError, match="quarto command was not found"):
        render.render_with_quarto(tmp_path / "r.ipynb", tmp_path, tmp_path)


def test_nbconvert_writes_one_html_file_with_the_code_hidden(tmp_path):
    notebook = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("secret_variable_name = 1")
    code.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "Visible **finding**",
                                                                   "text/plain": "x"})]
    notebook.cells = [code]
    source = tmp_path / "04_report.ipynb"
    nbformat.write(notebook, source)
    rendered = render.render_with_nbconvert(source, tmp_path)
    html = rendered.outputs[0].read_text()
    assert rendered.outputs == (tmp_path / "report.html",)
    assert "Visible" in html and "secret_variable_name" not in html
