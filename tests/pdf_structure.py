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
    figure_pages: list[int | None] = field(default_factory=list)  # each Figure element's page, from 1
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


def _page_of(node: dict, page_numbers: dict[int, int]) -> int | None:
    """The page an element is on (its /Pg, or its first kid's that has one), from 1."""
    from pdfminer.pdftypes import resolve1

    stack = [node]
    while stack:
        element = resolve1(stack.pop(0))
        if not isinstance(element, dict):
            continue
        page = element.get("Pg")
        if page is not None and getattr(page, "objid", None) in page_numbers:
            return page_numbers[page.objid]
        kids = resolve1(element.get("K"))
        stack.extend(kids if isinstance(kids, list) else [kids] if kids is not None else [])
    return None


def read_structure(pdf: Path) -> Structure:
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    with open(pdf, "rb") as handle:
        document = PDFDocument(PDFParser(handle))
        page_numbers = {page.pageid: number for number, page in enumerate(PDFPage.create_pages(document), start=1)}
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
                    structure.figure_pages.append(_page_of(node, page_numbers))
                elif kind == "Table":
                    cells = _elements(node, role_map)
                    structure.table_header_cells.append(sum(1 for inner, _, _ in cells if inner == "TH"))
    return structure


def page_texts(pdf: Path) -> list[str]:
    """Each page's text, its runs of white space (a no-break space too) as one space."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer

    return [
        " ".join(" ".join(element.get_text() for element in page if isinstance(element, LTTextContainer)).split())
        for page in extract_pages(pdf)
    ]


def page_fills(pdf: Path, foot: float = 0.06) -> list[float]:
    """How far down each page its text reaches, as a share of the page's
    height (the page number, in the lowest ``foot`` of the page, left out)."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer

    fills = []
    for page in extract_pages(pdf):
        bottoms = [
            element.y0
            for element in page
            if isinstance(element, LTTextContainer) and element.get_text().strip() and element.y0 > foot * page.height
        ]
        fills.append((page.height - min(bottoms, default=page.height)) / page.height)
    return fills


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(path, json.dumps(asdict(read_structure(Path(path))), ensure_ascii=False))
