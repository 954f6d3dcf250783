"""Real PDFs for tests, generated with fpdf2 (no binary fixtures in the repository).

    make_pdf([["# Title", "A paragraph that wraps...", "- a bullet"], ["page two"]])

Each page is a list of blocks: "# " makes a heading (larger, bold), "- " a
bullet item drawn with a real "•" glyph, anything else a paragraph that
wraps at `width` millimetres ("\\n" forces a line break). Text that does not
fit flows onto further pages. Text must fit windows-1252 (the core fonts).
"""

from __future__ import annotations

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
