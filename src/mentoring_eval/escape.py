"""Text from the records put into text of another kind: one function per target.

Whatever a site coordinator types (a code, a site spelling, a file name, a
folder) is data, never markup. Every value from the records that is written
into a document goes through the function of the document's language:

- :func:`markdown`: Markdown, as Quarto (Pandoc) and nbconvert (mistune)
  read it, and so the HTML and the Typst PDF made from it;
- :func:`html_text`: HTML text and quoted attribute values (the site index,
  nbconvert's figures);
- :func:`typst`: Typst markup, for anything that writes Typst source itself
  (the pipeline does not today: Pandoc writes the PDF's Typst from the
  escaped Markdown and escapes it for Typst on the way);
- :func:`chart_label`: a matplotlib text label (mathtext's ``$``);
- :func:`csv_cell`: a cell of a CSV file a person may open in a spreadsheet.

Escaped means the characters typed show as themselves: ``<b>`` reads
``<b>`` on the page, never bold.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the runner's fast path reads the input record without pandas
    import pandas as pd

# Line breaks and tabs inside a value would start a new block of Markdown (a
# heading, a list, a table row) or a new line of Typst: a value is one line.
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\u2028\u2029]+")

# Markdown: every ASCII punctuation character that starts or ends markup in
# Pandoc's or CommonMark's inline syntax: code and raw attributes (`),
# emphasis (* _), links, images, spans and citations ([ ] @), raw HTML and
# autolinks (< >), entities (&), math ($), sub/superscript and strikeout
# (~ ^), attributes and Quarto shortcodes ({ }), tables (|), headings (#),
# smart quotes (' "), the escape itself (\\), and a colon before anything but
# a space (a bare URL's ``http:``, an emoji's ``:x:``; ``text: more`` is
# neither, and is left as typed). Both readers take a backslash before any
# ASCII punctuation as that character, literally.
_MARKDOWN_SPECIAL = re.compile(r"""([\\`*_\[\]<>&@$~^{}|#'"!]|:(?=\S))""")
# Smart typography turns -- into a dash and ... into an ellipsis: escaped
# where they run, so that a single hyphen or full stop (dates, decimals) is
# left as typed.
_MARKDOWN_RUNS = re.compile(r"(?<=[-.])([-.])|([-.])(?=[-.])")
# A value at the start of a line could open a block: a list item (``- x``,
# ``+ x``, ``1. x``, ``1) x``) or a heading's underline (``===``).
_MARKDOWN_BLOCK_START = re.compile(r"^(\s*(?:\d+)?)([-+.)=])(?=\s|=*$)")

# Typst markup: the characters with a meaning in markup mode (functions #,
# math $, strong *, emphasis _, raw `, labels and references < > @, content
# [ ], headings =, lists - + and term lists /, comments //, non-breaking
# space ~, smart quotes ' ", the escape \). A backslash makes any of them
# literal.
_TYPST_SPECIAL = re.compile(r"""([\\#$*_`<>@\[\]=\-+/~'"])""")
_TYPST_ELLIPSIS = re.compile(r"(?<=\.)\.|\.(?=\.)")

# A spreadsheet evaluates a cell that starts with one of these (OWASP, CSV
# injection), unless it is a plain number.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
# A text that was typed with quotes before a formula start gets one more, so
# that reading a cell back (:func:`csv_restore`) is exact: one quote less.
_QUOTED_FORMULA = re.compile(r"^'+[=+\-@\t\r]")


def one_line(text: object) -> str:
    """``text`` as a string on one line: line breaks and tabs become a space."""
    return _LINE_BREAKS.sub(" ", "" if text is None else str(text))


def markdown(text: object) -> str:
    """``text`` as Markdown that shows exactly these characters, inline
    (a table cell, a word in a sentence), in Quarto's HTML and PDF and in
    nbconvert's HTML."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", one_line(text))
    escaped = _MARKDOWN_RUNS.sub(lambda m: "\\" + (m[1] or m[2]), escaped)
    return _MARKDOWN_BLOCK_START.sub(r"\1\\\2", escaped, count=1)


def markdown_attribute(text: object) -> str:
    """``text`` as the value of a double-quoted Pandoc attribute
    (``fig-alt="…"``): one line, with no quote or backslash to end it early.
    Pandoc escapes the value itself when it writes HTML or Typst."""
    return one_line(text).replace("\\", "/").replace('"', "'")


def html_text(text: object) -> str:
    """``text`` as HTML text or a double- or single-quoted attribute value."""
    return html.escape("" if text is None else str(text), quote=True)


def typst(text: object) -> str:
    """``text`` as Typst markup that shows exactly these characters."""
    escaped = _TYPST_SPECIAL.sub(r"\\\1", one_line(text))
    return _TYPST_ELLIPSIS.sub(r"\\.", escaped)  # ... is an ellipsis in Typst markup


def chart_label(text: object) -> str:
    """``text`` as a matplotlib label: a ``$`` would start mathtext, so every
    one is escaped (``\\$`` is drawn as ``$``); nothing else is special
    outside mathtext."""
    return ("" if text is None else str(text)).replace("$", r"\$")


def csv_cell(text: str) -> str:
    """A text cell as a spreadsheet can open it safely: one that starts with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, and is not a
    plain number, is prefixed with ``'`` (OWASP's advice): shown as typed,
    never evaluated. Plain numbers (``-15``) are left as numbers."""
    if (text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(text)) or _QUOTED_FORMULA.match(text):
        return "'" + text
    return text


def csv_restore(cell: str) -> str:
    """The text :func:`csv_cell` was given, from what it returned: for a
    program that reads back a CSV file the pipeline wrote."""
    return cell[1:] if _QUOTED_FORMULA.match(cell) else cell


def csv_column(values: pd.Series) -> pd.Series:
    """:func:`csv_cell` over a column of text, once per distinct value (a
    written table may have a million rows and a few hundred distinct texts).
    Columns that are not text (numbers, dates, booleans) are returned as
    they are: a number is never a formula."""
    import pandas as pd

    if not (
        pd.api.types.is_object_dtype(values)
        or pd.api.types.is_string_dtype(values)
        or isinstance(values.dtype, pd.CategoricalDtype)
    ):
        return values
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        if not pd.api.types.is_string_dtype(categories) and not pd.api.types.is_object_dtype(categories):
            return values
        return values.cat.rename_categories(_neutralised(pd.Series(categories)).tolist())
    codes, distinct = pd.factorize(values, use_na_sentinel=True)
    if not len(distinct):
        return values
    texts = pd.Series(distinct, dtype=object)
    risky = texts.map(lambda value: isinstance(value, str) and (value.startswith(FORMULA_STARTS) or value[:1] == "'"))
    if not risky.any():
        return values
    neutralised = _neutralised(texts)
    result = neutralised.to_numpy(dtype=object)[codes]
    result[codes < 0] = None
    return pd.Series(result, index=values.index, name=values.name, dtype=object)


def _neutralised(texts: pd.Series) -> pd.Series:
    return texts.map(lambda value: csv_cell(value) if isinstance(value, str) else value)


def csv_table(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every text cell made safe to open (:func:`csv_column`)."""
    safe = table.copy(deep=False)
    for position in range(table.shape[1]):
        safe.isetitem(position, csv_column(table.iloc[:, position]))
    return safe
