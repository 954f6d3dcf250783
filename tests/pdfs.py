"""Real PDFs for tests, generated with fpdf2 (no binary fixtures in the repository).

    make_pdf([["# Title", "A paragraph that wraps...", "- a bullet"], ["page two"]])

Each page is a list of blocks: "# " makes a heading (larger, bold), "- " a
bullet item drawn with a real "•" glyph, anything else a paragraph that
wraps at `width` millimetres ("\\n" forces a line break). Text that does not
fit flows onto further pages. Text must fit windows-1252 (the core fonts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fpdf import FPDF


class _Document(FPDF):
    def __init__(self, *, header: str | None, page_numbers: bool) -> None:
        super().__init__(format="A4")
        self.running_header = header
        self.page_numbers = page_numbers
        self.core_fonts_encoding = "windows-1252"
        self.set_auto_page_break(auto=True, margin=20)

    def header(self) -> None:
        if self.running_header is not None:
            self.set_font("Helvetica", size=8)
            self.cell(0, 5, self.running_header, new_x="LMARGIN", new_y="NEXT")
            self.ln(3)

    def footer(self) -> None:
        if self.page_numbers:
            self.set_y(-15)
            self.set_font("Helvetica", size=9)
            self.cell(0, 5, str(self.page_no()), align="C")


def make_pdf(
    pages: list[list[str]],
    *,
    width: float = 0,
    font_size: float = 11,
    user_password: str | None = None,
    page_numbers: bool = False,
    header: str | None = None,
) -> bytes:
    """A PDF starting a new page for each entry of `pages`.

    `width` is the paragraph width in mm (0 = up to the right margin);
    `user_password` encrypts the file so it needs that password to open;
    `page_numbers` prints a bare page number at the foot of each page;
    `header` prints a running header at the top of each page.
    """
    pdf = _Document(header=header, page_numbers=page_numbers)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner-" + user_password, user_password=user_password)
    line_height = font_size * 0.5
    for blocks in pages:
        pdf.add_page()
        for block in blocks:
            if block.startswith("# "):
                pdf.set_font("Helvetica", style="B", size=font_size * 1.6)
                pdf.multi_cell(width, line_height * 1.6, block[2:], new_x="LMARGIN", new_y="NEXT")
            elif block.startswith("- "):
                pdf.set_font("Helvetica", size=font_size)
                pdf.multi_cell(width, line_height, "• " + block[2:], new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.set_font("Helvetica", size=font_size)
                pdf.multi_cell(width, line_height, block, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(line_height * 0.5)
    return bytes(pdf.output())


def make_blank_pdf(pages: int = 2) -> bytes:
    """A PDF whose pages have no text at all, like a scan without OCR."""
    pdf = FPDF(format="A4")
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 100, 60, style="F")
    return bytes(pdf.output())


# ---------------------------------------------------------------- structured documents

Block = tuple[str, ...]  # ("h", level, text) | ("p", text) | ("table", cells...) | ...


@dataclass(frozen=True)
class Layout:
    """How a structured document is typeset.

    `sizes` are the heading font sizes for levels 1, 2, 3 (a size equal to
    `body` makes a bold heading in the body size); `outline` adds bookmarks;
    `columns` is 1 or 2; `header` "title" prints the document title at the
    top of every page, "chapter" the current level-2 heading; `footer` prints
    "Page N of M" (or a bare number with `page_numbers`).
    """

    body: float = 10
    sizes: tuple[float, float, float] = (18, 14, 12)
    bold: tuple[bool, bool, bool] = (True, True, True)
    outline: bool = False
    columns: int = 1
    header: str | None = None  # None | "title" | "chapter"
    footer: bool = False
    page_numbers: bool = False
    new_page_per_chapter: bool = False
    bookmark_numbers: bool = True  # False: bookmarks leave out the printed numbering


class _Structured(FPDF):
    def __init__(self, layout: Layout, title: str) -> None:
        super().__init__(format="A4")
        self.layout = layout
        self.title_text = title
        self.chapter = ""
        self.footnotes: list[str] = []
        self.column = 0
        self.core_fonts_encoding = "windows-1252"
        self.set_auto_page_break(auto=True, margin=30)
        self.column_width = (self.w - 20 - 10) / 2

    def header(self) -> None:
        self.column = 0
        self._set_column(0)
        text = {"title": self.title_text, "chapter": self.chapter}.get(self.layout.header or "")
        if text:
            self.set_font("Helvetica", style="I", size=self.layout.body * 0.8)
            self.cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
            self.ln(4)
        self.top = self.get_y()

    def footer(self) -> None:
        saved = self.l_margin, self.r_margin
        self.set_left_margin(10)
        self.set_right_margin(10)
        if self.footnotes:
            self.set_y(-28)
            self.set_font("Helvetica", size=self.layout.body * 0.75)
            for note in self.footnotes:
                self.cell(0, 4, note, new_x="LMARGIN", new_y="NEXT")
            self.footnotes = []
        if self.layout.footer or self.layout.page_numbers:
            self.set_y(-15)
            self.set_font("Helvetica", size=self.layout.body * 0.8)
            label = (
                f"Page {self.page_no()} of {{nb}}" if self.layout.footer else str(self.page_no())
            )
            self.cell(0, 5, label, align="C")
        self.set_left_margin(saved[0])
        self.set_right_margin(saved[1])

    def _set_column(self, column: int) -> None:
        if self.layout.columns == 1:
            self.set_left_margin(10)
            self.set_right_margin(10)
            return
        left = 10 + column * (self.column_width + 10)
        self.set_left_margin(left)
        self.set_right_margin(self.w - left - self.column_width)
        self.set_x(left)

    def accept_page_break(self) -> bool:
        if self.layout.columns == 2 and self.column == 0:
            self.column = 1
            self._set_column(1)
            self.set_y(self.top)
            return False
        return True


def make_structured_pdf(title: str, blocks: list[Block], layout: Layout) -> bytes:
    """A document of headings ("h", level, text) with level 1 the title, paragraphs
    ("p", text), bullets ("li", text), tables ("table", "a|b|c", ...) whose first
    row is bold, captions ("caption", text), bold one-word labels ("label", text)
    and footnotes ("note", text) printed at the foot of the page.
    """
    pdf = _Structured(layout, title)
    pdf.alias_nb_pages()
    pdf.add_page()
    body = layout.body
    line = body * 0.5
    for block in blocks:
        kind = block[0]
        if kind == "h":
            level, text = int(block[1]), block[2]
            if level == 2:
                if layout.new_page_per_chapter and pdf.get_y() > pdf.top + 10:
                    pdf.add_page()
                pdf.chapter = text
            size = layout.sizes[level - 1]
            pdf.set_font("Helvetica", style="B" if layout.bold[level - 1] else "", size=size)
            pdf.ln(line * 0.6)
            if layout.outline:
                mark = text if layout.bookmark_numbers else re.sub(r"^[\d.]+ ", "", text)
                pdf.start_section(mark, level=level - 1)
            pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        elif kind == "table":
            pdf.set_font("Helvetica", size=body)
            with pdf.table(width=pdf.epw, line_height=line) as table:
                for cells in block[1:]:
                    row = table.row()
                    for cell in cells.split("|"):
                        row.cell(cell)
        elif kind == "note":
            pdf.footnotes.append(block[1])
            continue
        elif kind == "label":
            pdf.set_font("Helvetica", style="B", size=body)
            pdf.multi_cell(0, line, block[1], new_x="LMARGIN", new_y="NEXT")
        elif kind == "caption":
            pdf.set_font("Helvetica", style="I", size=body * 0.9)
            pdf.multi_cell(0, line, block[1], new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("Helvetica", size=body)
            text = "• " + block[1] if kind == "li" else block[1]
            pdf.multi_cell(0, line, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(line * 0.5)
    return bytes(pdf.output())
