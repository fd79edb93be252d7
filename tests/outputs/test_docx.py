"""plan.docx: the land-supply chapter as a Word draft, read with python-docx and, when LibreOffice is installed, as a PDF."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from docx import Document
from docx.oxml.ns import qn
from openpyxl import load_workbook

from tests.outputs.test_handan import handan_run  # noqa: F401  (the fixture: a whole run in the Handan layout)


def _year_sheets(out):
    wb = load_workbook(out / "land_supply.xlsx")
    return {y: wb[f"{y}年"] for y in (2016, 2017)}, wb


def _shown(cell) -> str:
    """A workbook cell as Excel shows it, for the formats the land tables use."""
    v, fmt = cell.value, cell.number_format
    if v is None:
        return ""
    if fmt == "#,##0.00":
        return f"{v:,.2f}"
    if fmt == "0.0#":
        return f"{v:.2f}"[:-1] if f"{v:.2f}".endswith("0") else f"{v:.2f}"
    if fmt == "#,##0":
        return f"{v:,}"
    return str(v)


def test_docx_holds_the_sentences_and_tables_of_the_workbook(handan_run):
    _, out, _ = handan_run
    doc = Document(str(out / "plan.docx"))
    sheets, wb = _year_sheets(out)
    text = [p.text for p in doc.paragraphs]
    # each year's sentence, as in the sheet, above its table title
    for y, ws in sheets.items():
        assert ws["A2"].value in text
        assert text.index(ws["A2"].value) < text.index(f"{y}年中心城区保障性住房用地规划表")
    # 2 year tables, the district table, the parcel list; each cell as the workbook prints it
    assert len(doc.tables) == 4
    for table, ws in zip(doc.tables[:2], sheets.values()):
        assert [c.text for c in table.rows[0].cells] == [c.value for c in ws[3]]
        assert len(table.rows) == 1 + 2 + 3  # header, 2 types, 合计, 配建, 新增
        for row, xl in zip(table.rows[1:], ws.iter_rows(min_row=4)):
            assert [c.text for c in row.cells] == [_shown(c) for c in xl]
    parcels = wb["地块一览表"]
    ids = [r[0] for r in parcels.iter_rows(min_row=3, values_only=True) if r[0] and not str(r[0]).startswith("注")]
    assert [r.cells[0].text for r in doc.tables[3].rows[1:]] == ids
    # the map: one picture
    assert len(doc.inline_shapes) == 1
    # East Asian text in 宋体 (headings 黑体), Latin in Times New Roman
    fonts = doc.styles["Normal"].element.rPr.rFonts
    assert fonts.get(qn("w:eastAsia")) == "宋体" and fonts.get(qn("w:ascii")) == "Times New Roman"
    assert doc.styles["Heading 2"].element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    # the parcel list on landscape pages
    assert doc.sections[-1].page_width > doc.sections[-1].page_height


def test_no_docx_when_the_scenario_says_so(tmp_path):
    from siteplan.pipeline import run
    from tests.cities import MINI_SCENARIO, write_mini_city

    scenario = write_mini_city(tmp_path / "city", scenario=MINI_SCENARIO + "\n[outputs]\ndocx = false\n")
    run(scenario, out_dir=tmp_path / "out")
    assert (tmp_path / "out" / "land_supply.xlsx").is_file() and not (tmp_path / "out" / "plan.docx").exists()


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_docx_converts_to_pdf_in_libreoffice(handan_run, tmp_path):
    _, out, _ = handan_run
    profile = tmp_path / "lo-profile"  # a private profile: no clash with another soffice
    subprocess.run(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(out / "plan.docx")], check=True, capture_output=True, timeout=180)
    pdf = tmp_path / "plan.pdf"
    assert pdf.is_file() and pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: the PDF's text is not checked")
    pages = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) >= 3  # the year tables, the map, the landscape parcel list
    flat = "".join("".join(p.split()) for p in pages)  # CJK text without the layout's spaces
    sheets, wb = _year_sheets(out)
    for y, ws in sheets.items():
        assert "".join(ws["A2"].value.split()) in flat  # the sentence, in Chinese characters, not boxes
        assert f"{y}年中心城区保障性住房用地规划表" in flat
    assert "保障性住房用地落实地块一览表" in "".join(pages[-1].split())
    for r in wb["地块一览表"].iter_rows(min_row=3, values_only=True):
        if r[0] and not str(r[0]).startswith("注"):
            assert str(r[0]) in flat


def test_every_row_of_a_table_has_its_own_text_alignment_and_weight():
    """Rows after the first plain and first bold one are copies of them (siteplan.outputs.docx.add_table): each
    must still read back with its own text, its own alignment and its total's bold, whatever the cell holds."""
    import pandas as pd
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    from siteplan.outputs.docx import add_table
    from siteplan.outputs.tables import SUBTOTAL_LABEL, TOTAL_LABEL

    table = pd.DataFrame({
        "区县": ["东区", "西区", SUBTOTAL_LABEL, "南 区", " 北区", "", "中\n区", TOTAL_LABEL],
        "地块": ["A-1", "-", "", "B-2", "C 3 ", "D-4", "E-5", ""],
        "套数": [1200, 0, 1200, 35, 7, 12, 3, 2457],
        "面积|公顷": [1.25, float("nan"), 1.25, 0.5, 0.25, 0.1, 0.05, 2.15],
    })
    doc = Document()
    add_table(doc, table)
    (t,) = doc.tables
    assert len(t.rows) == 1 + len(table)
    for row, values in zip(t.rows[1:], table.itertuples(index=False)):
        area = "" if pd.isna(values[3]) else f"{values[3]:,.2f}"
        assert [c.text for c in row.cells] == [values[0], values[1], f"{values[2]:,}", area]
        bold = values[0] in (TOTAL_LABEL, SUBTOTAL_LABEL)
        assert all(bool(r.bold) == bold for c in row.cells for r in c.paragraphs[0].runs)
        aligned = [c.paragraphs[0].alignment for c in row.cells]
        right, left = WD_ALIGN_PARAGRAPH.RIGHT, WD_ALIGN_PARAGRAPH.LEFT
        assert aligned == [left, left, right, right if area else left]
    # a leading or trailing space is kept, as Word needs it said
    cells = {c.text: c for c in t.columns[0].cells}
    assert cells[" 北区"]._tc.find(f".//{qn('w:t')}").get(qn("xml:space")) == "preserve"
    assert cells["南 区"]._tc.find(f".//{qn('w:t')}").get(qn("xml:space")) is None
