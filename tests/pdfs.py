"""Real PDFs for tests, generated with fpdf2 (no binary fixtures in the repository).

    make_pdf([["# Title", "A paragraph that wraps...", "- a bullet"], ["page two"]])

Each page is a list of blocks: "# " makes a heading (larger, bold), "- " a
bullet item drawn with a real "•" glyph, anything else a paragraph that
wraps at `width` millimetres. Text must fit windows-1252 (the core fonts).
"""

from __future__ import annotations

from fpdf import FPDF


def make_pdf(
    pages: list[list[str]],
    *,
    width: float = 0,
    font_size: float = 11,
    user_password: str | None = None,
    page_numbers: bool = False,
    header: str | None = None,
) -> bytes:
    """A PDF with one page per entry of `pages`.

    `width` is the paragraph width in mm (0 = up to the right margin);
    `user_password` encrypts the file so it needs that password to open;
    `page_numbers` prints a bare page number at the foot of each page;
    `header` prints a running header at the top of each page.
    """
    pdf = FPDF(format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_auto_page_break(auto=False)
    if user_password is not None:
        pdf.set_encryption(owner_password="owner-" + user_password, user_password=user_password)
    line_height = font_size * 0.5
    for number, blocks in enumerate(pages, start=1):
        pdf.add_page()
        if header is not None:
            pdf.set_font("Helvetica", size=8)
            pdf.cell(0, 5, header, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
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
        if page_numbers:
            pdf.set_font("Helvetica", size=9)
            pdf.set_xy(pdf.l_margin, pdf.h - 15)
            pdf.cell(0, 5, str(number), align="C")
    return bytes(pdf.output())


def make_blank_pdf(pages: int = 2) -> bytes:
    """A PDF whose pages have no text at all, like a scan without OCR."""
    pdf = FPDF(format="A4")
    for _ in range(pages):
        pdf.add_page()
        pdf.rect(20, 20, 100, 60, style="F")
    return bytes(pdf.output())
