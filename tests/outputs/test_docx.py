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
