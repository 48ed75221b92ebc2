"""What a PDF tells assistive technology, read from its objects with
pdfminer (already pinned, under pdfplumber): the parts of PDF/UA-1 a test
can check without veraPDF.

    .venv/bin/python tests/pdf_structure.py report/quarto/report.pdf
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Structure:
    marked: bool  # /MarkInfo /Marked true: the content is tagged
    tagged: bool  # a /StructTreeRoot: the tags form a tree
    lang: str  # the catalog's /Lang ("" when unset)
    title: str  # the document information's /Title, else the XMP dc:title
    shows_title: bool  # /ViewerPreferences /DisplayDocTitle true: the title bar shows the title, not the file name
    ua_part: str  # the XMP pdfuaid:part ("1" for PDF/UA-1), "" when none is declared
    figure_alts: list[str | None] = field(default_factory=list)  # each Figure element's /Alt (None when missing)
    table_header_cells: list[int] = field(default_factory=list)  # each Table element's number of TH cells


def _name(value) -> str:
    from pdfminer.psparser import PSLiteral

    return value.name if isinstance(value, PSLiteral) else str(value)


def _text(value) -> str:
    from pdfminer.utils import decode_text

    if isinstance(value, bytes):
        return decode_text(value)
    return "" if value is None else str(value)


def _xmp(catalog) -> str:
    from pdfminer.pdftypes import resolve1

    stream = resolve1(catalog.get("Metadata"))
    return stream.get_data().decode("utf-8", "replace") if stream is not None else ""


def _between(text: str, start: str, end: str) -> str:
    at = text.find(start)
    return text[at + len(start) : text.find(end, at)] if at >= 0 else ""


def _elements(root, role_map: dict) -> list[tuple[str, dict, list]]:
    """Every structure element under ``root``, depth first: (standard type, element, children)."""
    from pdfminer.pdftypes import resolve1

    found = []
    stack = [root]
    seen: set[int] = set()
    while stack:
        node = resolve1(stack.pop())
        if not isinstance(node, dict) or id(node) in seen:
            continue
        seen.add(id(node))
        kids = resolve1(node.get("K"))
        kids = kids if isinstance(kids, list) else [kids] if kids is not None else []
        if "S" in node:
            kind = _name(resolve1(node["S"]))
            found.append((role_map.get(kind, kind), node, kids))
        stack.extend(reversed(kids))
    return found


def read_structure(pdf: Path) -> Structure:
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    with open(pdf, "rb") as handle:
        document = PDFDocument(PDFParser(handle))
        catalog = document.catalog
        mark_info = resolve1(catalog.get("MarkInfo")) or {}
        preferences = resolve1(catalog.get("ViewerPreferences")) or {}
        tree = resolve1(catalog.get("StructTreeRoot"))
        xmp = _xmp(catalog)
        info_title = next((_text(resolve1(info.get("Title"))) for info in document.info if info.get("Title")), "")
        structure = Structure(
            marked=resolve1(mark_info.get("Marked")) is True,
            tagged=isinstance(tree, dict),
            lang=_text(resolve1(catalog.get("Lang"))),
            title=info_title or _between(_between(xmp, "<dc:title>", "</dc:title>"), ">", "<").strip(),
            shows_title=resolve1(preferences.get("DisplayDocTitle")) is True,
            ua_part=_between(xmp, "<pdfuaid:part>", "</pdfuaid:part>").strip()
            or _between(xmp, 'pdfuaid:part="', '"').strip(),
        )
        if structure.tagged:
            role_map = {key: _name(resolve1(value)) for key, value in (resolve1(tree.get("RoleMap")) or {}).items()}
            elements = _elements(tree, role_map)
            for kind, node, _ in elements:
                if kind == "Figure":
                    alt = resolve1(node.get("Alt"))
                    structure.figure_alts.append(_text(alt) if alt is not None else None)
                elif kind == "Table":
                    cells = _elements(node, role_map)
                    structure.table_header_cells.append(sum(1 for inner, _, _ in cells if inner == "TH"))
    return structure


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(path, json.dumps(asdict(read_structure(Path(path))), ensure_ascii=False))
