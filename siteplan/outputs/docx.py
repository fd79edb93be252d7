"""``plan.docx``: the plan's land-supply chapter as a Word draft a bureau edits in Word or WPS.

The chapter follows the Handan plan's 第三章 (``shared/seeds/003_...``):
for each year a heading, the year sentence
(:func:`siteplan.outputs.handan.year_sentence`), the table's title and the
year table (in the layout ``[outputs] land_table`` chooses); then the
table by zone and district, the 地块一览表 (on landscape pages) and the map
of the plan's parcels (:func:`siteplan.outputs.report.map_thumbnail`, the
report's static map). Every figure is the one ``land_supply.xlsx`` prints:
the tables are the same frames (:func:`siteplan.outputs.handan.printed_tables`).

Text is set in 宋体 (headings 黑体) for East Asian characters (the
``w:eastAsia`` font attribute) and Times New Roman for Latin letters and
digits, as Chinese official documents are; where 宋体 is not installed
(Linux), the word processor substitutes a CJK font such as Noto Serif CJK.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .handan import PARCEL_SHEET, printed_tables, year_notes, year_sentence, year_titles
from .stamp import stamp_utc, write_zip
from .styles import type_colours
from .tables import SUBTOTAL_LABEL, TOTAL_LABEL, _sheet_note

__all__ = ["write_plan_docx", "EAST_ASIA_FONT", "HEADING_FONT", "LATIN_FONT"]

#: The fonts of the draft: body (East Asian), headings (East Asian), Latin letters and digits.
EAST_ASIA_FONT, HEADING_FONT, LATIN_FONT = "宋体", "黑体", "Times New Roman"


def _fonts(style_or_run, east_asia: str, latin: str = LATIN_FONT) -> None:
    """Set the Latin and East Asian fonts of a style or run (``w:rFonts``), dropping theme fonts."""
    from docx.oxml.ns import qn

    style_or_run.font.name = latin
    rpr = style_or_run.element.get_or_add_rPr()
    rfonts = rpr.get_or_add_rFonts()
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(attr), None)
    rfonts.set(qn("w:eastAsia"), east_asia)
    rfonts.set(qn("w:hint"), "eastAsia")


def _setup(doc) -> None:
    """A4 portrait, 2.5 cm margins, 宋体 五号 body, 黑体 black headings."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt, RGBColor

    sec = doc.sections[0]
    sec.page_width, sec.page_height = Cm(21.0), Cm(29.7)
    sec.left_margin = sec.right_margin = Cm(2.5)
    sec.top_margin = sec.bottom_margin = Cm(2.5)
    normal = doc.styles["Normal"]
    _fonts(normal, EAST_ASIA_FONT)
    normal.font.size = Pt(12)  # 小四
    normal.paragraph_format.line_spacing = 1.25
    for name, size in (("Title", 22), ("Heading 1", 16), ("Heading 2", 14), ("Caption", 10.5)):
        st = doc.styles[name]
        _fonts(st, HEADING_FONT if name != "Caption" else EAST_ASIA_FONT)
        st.font.size = Pt(size)
        st.font.color.rgb = RGBColor(0, 0, 0)
        st.font.bold = name != "Caption"
        st.font.italic = False
        if name in ("Title", "Heading 1"):
            st.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _cell_text(value: object, column: str = "") -> tuple[str, bool]:
    """A table value as the workbook shows it (two decimals, thousands separators) and whether it is a number.

    >>> _cell_text(1234.5), _cell_text(2.8, "容积率"), _cell_text(2016, "供应年度"), _cell_text(None)
    (('1,234.50', True), ('2.8', True), ('2016', True), ('', False))
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "", False
    if isinstance(value, (bool, np.bool_)):
        return str(value), False
    if isinstance(value, (int, np.integer)):
        return (f"{int(value)}" if column in ("供应年度", "年度") else f"{int(value):,}"), True
    if isinstance(value, (float, np.floating)):
        if column == "容积率":  # as the workbook's 0.0# format: 2.8, 3.57
            text = f"{float(value):.2f}"
            return (text[:-1] if text.endswith("0") else text), True
        return f"{float(value):,.2f}", True
    return str(value), column == "容积率" and bool(str(value))  # a plot ratio as given ("2.345") is a number too


def _width(text: str) -> int:
    """Display width: a CJK character counts two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _column_widths(cols: list[str], cells: list[list[tuple[str, bool]]], total_cm: float, size_pt: float) -> list[float]:
    """Column widths in cm that fill ``total_cm``: numbers never wrap, text and headers (two lines) share the rest."""
    char = size_pt * 0.0353 * 0.68  # cm per display unit (a bold digit; a CJK character counts two)
    pad = 0.5  # the cell's left and right margins and borders
    body = [max([_width(row[j][0]) for row in cells] + [1]) for j in range(len(cols))]
    # numbers and short words never wrap; a number's header may take three lines, others two
    numeric = [all(number or not text for text, number in (row[j] for row in cells)) or body[j] <= 12
               for j in range(len(cols))]
    need = [max(b, (_width(c) + 2) // 3 if num else (_width(c) + 1) // 2, 2) * char + pad
            for b, c, num in zip(body, cols, numeric)]
    if sum(need) <= total_cm:
        return [n * total_cm / sum(need) for n in need]
    fixed = sum(n for n, num in zip(need, numeric) if num)
    free = max(total_cm - fixed, 0.2 * total_cm)
    text = sum(n for n, num in zip(need, numeric) if not num) or 1.0
    out = [n if num else n * free / text for n, num in zip(need, numeric)]
    return [w * total_cm / sum(out) for w in out]


def _shade(cell, fill: str) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    cell._tc.get_or_add_tcPr().append(shd)


def _repeat_header(row) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(el)


def add_table(doc, table: pd.DataFrame, *, size: float = 10.5) -> None:
    """A bordered table across the page: header shaded and repeated on each page, numbers right-aligned, 合计/小计 bold."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    cols = [str(c).replace("|", "年") for c in table.columns]
    cells_text = [[_cell_text(v, c) for v, c in zip(values, cols)] for values in table.itertuples(index=False)]
    sec = doc.sections[-1]
    widths = _column_widths(cols, cells_text, (sec.page_width - sec.left_margin - sec.right_margin) / Cm(1), size)
    t = doc.add_table(rows=1, cols=len(cols))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.autofit = False
    for col, w in zip(t.columns, widths):  # the grid (LibreOffice reads it) and each cell (Word does)
        col.width = Cm(w)
    _repeat_header(t.rows[0])
    for cell, text, w in zip(t.rows[0].cells, cols, widths):
        cell.text = ""
        cell.width = Cm(w)
        p = cell.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(text)
        run.bold, run.font.size = True, Pt(size)
        _shade(cell, "DDE5F0")
    # python-docx builds each cell element by element (1.3 s of the demo document's 1.7 s): the first plain
    # and the first bold row are built so, and the others are copies of them with their own texts
    made: dict[bool, object] = {}
    for values, texts in zip(table.itertuples(index=False), cells_text):
        bold = any(str(v) in (TOTAL_LABEL, SUBTOTAL_LABEL) for v in values[:2])
        plain = not any(ch in text for text, _ in texts for ch in "\t\n\r")  # tabs and breaks: python-docx's own
        if plain and bold in made:
            _copy_row(t, made[bold], texts)
            continue
        cells = t.add_row().cells
        for cell, (text, number), w in zip(cells, texts, widths):
            cell.width = Cm(w)
            p = cell.paragraphs[0]
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT if number else WD_ALIGN_PARAGRAPH.LEFT
            p.paragraph_format.line_spacing = 1.0
            run = p.add_run(text)
            run.bold, run.font.size = bold, Pt(size)
        if plain:
            made.setdefault(bold, t.rows[-1]._tr)


def _copy_row(t, tr, texts: list[tuple[str, bool]]) -> None:
    """A copy of the row element ``tr`` appended to table ``t``, each cell with its text and alignment."""
    import copy

    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    new = copy.deepcopy(tr)
    t._tbl.append(new)
    space = qn("xml:space")
    for tc, (text, number) in zip(new.iterchildren(qn("w:tc")), texts):
        tc.find(f".//{qn('w:jc')}").set(qn("w:val"), "right" if number else "left")
        run, wt = tc.find(f".//{qn('w:r')}"), tc.find(f".//{qn('w:t')}")
        if not text:  # as python-docx writes an empty run: no text element
            if wt is not None:
                run.remove(wt)
            continue
        if wt is None:
            wt = OxmlElement("w:t")
            run.append(wt)
        wt.text = text
        if text != text.strip():
            wt.set(space, "preserve")
        else:
            wt.attrib.pop(space, None)


def _caption(doc, text: str) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    p = doc.add_paragraph(text, style="Caption")
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    p.paragraph_format.keep_with_next = True


def _note(doc, text: str) -> None:
    from docx.shared import Pt

    p = doc.add_paragraph()
    p.paragraph_format.line_spacing = 1.0
    run = p.add_run(text)
    run.font.size = Pt(9)


def _landscape(doc) -> None:
    from docx.enum.section import WD_ORIENT, WD_SECTION

    sec = doc.add_section(WD_SECTION.NEW_PAGE)
    sec.orientation = WD_ORIENT.LANDSCAPE
    sec.page_width, sec.page_height = max(sec.page_width, sec.page_height), min(sec.page_width, sec.page_height)


def map_png(plan, layers, scenario) -> bytes:
    """The report's static map of the plan (:func:`siteplan.outputs.report.map_thumbnail`) as PNG bytes."""
    from .report import map_thumbnail

    uri = map_thumbnail(plan, layers, scenario, lang="zh")
    return base64.b64decode(uri.split(",", 1)[1])


def chapter(
    doc,
    tables: Mapping[str, pd.DataFrame],
    *,
    years: Sequence[int],
    area: str = "",
    net_to_gross: float | None = None,
    titles: Mapping[str, str] | None = None,
    notes: Mapping[str, str] | None = None,
    image: bytes | None = None,
    legend: Sequence[tuple[str, str]] = (),
) -> None:
    """Add the land-supply chapter to ``doc`` (a :class:`docx.Document` set up by :func:`_setup`)."""
    import io

    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm

    titles = dict(titles or {})
    notes = dict(notes or {})
    span = f"{years[0]}-{years[-1]}年"
    doc.add_heading(f"{area}保障性住房用地供应年度计划", level=1)
    for y in years:
        name = f"{y}年"
        doc.add_heading(f"{y}年{area}保障性住房用地供应年度计划", level=2)
        doc.add_paragraph(year_sentence(tables[name], y, area=area))
        _caption(doc, titles.get(name, f"{y}年{area}保障性住房用地规划表"))
        add_table(doc, tables[name])
        _note(doc, _sheet_note(name, net_to_gross, notes.get(name)))
    if "分区" in tables:
        doc.add_heading(f"{span}{area}保障性住房分区落实情况", level=2)
        _caption(doc, f"{span}{area}保障性住房分区落实表")
        add_table(doc, tables["分区"], size=8.5)
        _note(doc, _sheet_note("分区", None, None))
    if image is not None:
        doc.add_heading(f"{area}保障性住房落实地块分布", level=2)
        doc.add_picture(io.BytesIO(image), width=Cm(15.0))
        doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        if legend:  # the map's key: a swatch in each type's colour
            from docx.shared import Pt, RGBColor

            key = doc.add_paragraph()
            key.alignment = WD_ALIGN_PARAGRAPH.CENTER
            for label, colour in legend:
                swatch = key.add_run("●")
                swatch.font.color.rgb = RGBColor.from_string(colour.lstrip("#").upper()[:6])
                swatch.font.size = Pt(12)
                key.add_run(f" {label}    ").font.size = Pt(10.5)
        _caption(doc, f"图  {span}{area}保障性住房落实地块分布图（圆点大小示套数，颜色示类型）")
    if PARCEL_SHEET in tables:
        _landscape(doc)
        doc.add_heading(f"{span}{area}保障性住房用地落实地块一览表", level=2)
        _caption(doc, PARCEL_SHEET)
        add_table(doc, tables[PARCEL_SHEET], size=8)
        _note(doc, "注：按供应年度、行政区、地块编号排序；类别：新增 = 保障性住房新增用地，配建 = 普通商品房配建；"
                   "合计为所列各行之和。")


def write_plan_docx(plan, layers, scenario, path: str | Path, *, tables: Mapping[str, pd.DataFrame] | None = None,
                    image: bytes | None = None) -> Path:
    """Write ``plan.docx``: the plan's title, then its land-supply chapter (:func:`chapter`).

    Parameters
    ----------
    plan, layers, scenario
        The solved plan, its layers (for the map) and its scenario
        (``[outputs]``: layout, planning plot ratio, area name).
    path
        The ``.docx`` file to write.
    tables
        The printed tables (default :func:`siteplan.outputs.handan.printed_tables`).
    image
        The map as PNG bytes (default :func:`map_png`).
    """
    from docx import Document

    if tables is None:
        tables = printed_tables(plan, scenario)
    if image is None:
        image = map_png(plan, layers, scenario)
    notes: dict[str, str] = {}
    titles: dict[str, str] = {}
    o = scenario.outputs
    if o.land_table == "handan":
        notes = year_notes(scenario, plan.allocation(net_to_gross=scenario.plan.net_to_gross), list(plan.problem.types))
        titles = year_titles(scenario)
    doc = Document()
    _setup(doc)
    doc.core_properties.title = scenario.plan.title or "保障性住房用地供应计划"
    doc.core_properties.author = "siteplan"
    doc.add_paragraph(scenario.plan.title or "保障性住房用地供应计划", style="Title")
    types = list(plan.problem.types)
    legend = [(scenario.type_label(t, "zh"), c) for t, c in type_colours(types).items()]
    chapter(doc, tables, years=list(scenario.years), area=o.area, net_to_gross=scenario.plan.net_to_gross, titles=titles,
            notes=notes, image=image, legend=legend)
    # The template's dates (2013) and the zip entries' time of saving become stamp() (the day of the run,
    # or SOURCE_DATE_EPOCH), so that two runs write the same bytes.
    doc.core_properties.created = doc.core_properties.modified = stamp_utc()
    buffer = io.BytesIO()
    doc.save(buffer)
    return write_zip(buffer.getvalue(), path)
