"""The evidence report as a PDF (ReportLab, the ``report`` extra). Text is drawn in DejaVu
(Debian's fonts-dejavu-core) where the machine has it, else in the Vera fonts ReportLab ships;
a character the font lacks is written as its ``\\uXXXX`` escape, never as an empty box. Hashes
are set in a monospaced face small enough that a 64-hex value stays on one line (so text
extracted from the PDF holds it whole). No image is drawn unless the document has a thumbnail."""

from __future__ import annotations

import io
from pathlib import Path
from xml.sax.saxutils import escape

from consentry.actions.evidence.content import AuditBlock, Document, Field, Section, Table
from consentry.errors import ConfigError

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_FONTS: dict[str, str] = {}


def _reportlab():  # type: ignore[no-untyped-def]
    try:
        import reportlab  # noqa: F401
    except ImportError:
        raise ConfigError("PDF evidence reports need ReportLab: pip install 'consentry[report]'") from None


def _register() -> dict[str, str]:
    """Font names for body, bold and mono, registered once per process."""
    if _FONTS:
        return _FONTS
    import reportlab
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    shipped = Path(reportlab.__file__).parent / "fonts"
    choices = {"body": [_DEJAVU / "DejaVuSans.ttf", shipped / "Vera.ttf"],
               "bold": [_DEJAVU / "DejaVuSans-Bold.ttf", shipped / "VeraBd.ttf"],
               "mono": [_DEJAVU / "DejaVuSansMono.ttf"]}
    for role, paths in choices.items():
        path = next((p for p in paths if p.is_file()), None)
        if path is None:
            _FONTS[role] = "Courier"  # ASCII only: hashes
            continue
        name = f"Evidence-{role}"
        pdfmetrics.registerFont(TTFont(name, str(path)))
        _FONTS[role] = name
    return _FONTS


def _covered(value: str, font: str) -> str:
    """``value`` escaped for a Paragraph, with characters ``font`` cannot draw as escapes."""
    from reportlab.pdfbase import pdfmetrics

    face = getattr(pdfmetrics.getFont(font), "face", None)
    glyphs = getattr(face, "charToGlyph", None)
    if glyphs is not None:
        value = "".join(c if ord(c) in glyphs or c in "\n\t" else f"\\u{ord(c):04x}" for c in value)
    else:  # a standard font: Latin-1 at most
        value = "".join(c if ord(c) < 0x100 else f"\\u{ord(c):04x}" for c in value)
    return escape(value)


class _Styles:
    def __init__(self) -> None:
        from reportlab.lib.styles import ParagraphStyle

        fonts = _register()
        self.fonts = fonts
        self.title = ParagraphStyle("title", fontName=fonts["bold"], fontSize=16, leading=20, spaceAfter=4)
        self.sub = ParagraphStyle("sub", fontName=fonts["body"], fontSize=8.5, leading=11, spaceAfter=8,
                                  textColor="#444444")
        self.h2 = ParagraphStyle("h2", fontName=fonts["bold"], fontSize=11.5, leading=14, spaceBefore=10,
                                 spaceAfter=4, textColor="#1a3a5a")
        self.body = ParagraphStyle("body", fontName=fonts["body"], fontSize=8.5, leading=11)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=7.5, leading=9.5, textColor="#555555")
        self.label = ParagraphStyle("label", parent=self.body, fontName=fonts["bold"])
        self.mono = ParagraphStyle("mono", fontName=fonts["mono"], fontSize=6.8, leading=9)
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=7.5, leading=9.5)

    def para(self, value: str, style) -> object:  # type: ignore[no-untyped-def]
        from reportlab.platypus import Paragraph

        return Paragraph(_covered(value, style.fontName).replace("\n", "<br/>"), style)


def _fields(rows: list[Field], st: _Styles, width: float) -> object:
    from reportlab.platypus import Table as RLTable
    from reportlab.platypus import TableStyle

    data = [[st.para(f.label, st.label), st.para(f.value, st.mono if f.mono else st.body)] for f in rows]
    table = RLTable(data, colWidths=[width * 0.24, width * 0.76], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                               ("TOPPADDING", (0, 0), (-1, -1), 2), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return table


def _table(t: Table, st: _Styles, width: float) -> object:
    from reportlab.platypus import Table as RLTable
    from reportlab.platypus import TableStyle

    head = [st.para(h, st.label) for h in t.headers]
    rows = [[st.para(v, st.mono if i in t.mono else st.cell) for i, v in enumerate(row)] for row in t.rows]
    fractions = t.widths or (1 / len(t.headers),) * len(t.headers)
    table = RLTable([head, *rows], colWidths=[width * f for f in fractions], repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (-1, 0), "#eeeeee"),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.3, "#cccccc"),
                               ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
    return table


def _audit(block: AuditBlock, st: _Styles, width: float) -> list[object]:
    from reportlab.platypus import KeepTogether, Spacer

    return [KeepTogether([st.para(block.heading, st.label), st.para(block.details, st.small),
                          _fields(block.hashes, st, width), Spacer(1, 4)])]


def _section(section: Section, st: _Styles, width: float, thumbnail: bytes | None) -> list[object]:
    from reportlab.platypus import Image, Spacer

    out: list[object] = [st.para(section.title, st.h2)]
    if section.title == "Thumbnail" and thumbnail is not None:
        out.append(Image(io.BytesIO(thumbnail), width=80, height=80, kind="proportional", hAlign="LEFT"))
    if section.fields:
        out.append(_fields(section.fields, st, width))
    out += [st.para(p, st.body) for p in section.paragraphs]
    for t in section.tables:
        out += [Spacer(1, 3), _table(t, st, width)]
    for block in section.audit:
        out += _audit(block, st, width)
    if section.note:
        out += [Spacer(1, 2), st.para(section.note, st.small)]
    return out


def render_pdf(doc: Document) -> bytes:
    _reportlab()
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import SimpleDocTemplate

    st = _Styles()
    buffer = io.BytesIO()
    margin = 42
    page = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=margin,
                             bottomMargin=margin, title=doc.title, author="consentry",
                             subject="evidence report", creator="consentry", invariant=False)
    width = A4[0] - 2 * margin - 12  # the frame's own padding, 6 pt a side
    story: list[object] = [st.para(doc.title, st.title), st.para(doc.subtitle, st.sub)]
    for section in doc.sections:
        story += _section(section, st, width, doc.thumbnail_jpeg)

    def footer(canvas, _doc) -> None:  # type: ignore[no-untyped-def]
        canvas.setFont(st.fonts["body"], 7)
        canvas.setFillColor("#777777")
        canvas.drawString(margin, 22, doc.title)
        canvas.drawRightString(A4[0] - margin, 22, f"page {canvas.getPageNumber()}")

    page.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
