"""The whole job in a real browser, as a planner who never opens a terminal does it.

From a messy bureau folder (a GBK shapefile with Chinese fields and codes,
亩 areas, plot ratios as text, GCJ-02 stations, a cumulative targets table):
choose the folder and let siteplan guess, correct one guess, paste a block
of targets copied from Excel, switch a rule on, run, see the parcels counted
on the map, download the land-supply workbook and read it back. The plan is
checked against the kit's raw parcels and the pasted numbers, not against
siteplan's own figures. Every page must load nothing from outside the app.

With ``SITEPLAN_SCREENSHOTS=<folder>`` the test also saves a screenshot of
each step at 1366x768 there (the Chinese guide's pictures come from it).
"""

from __future__ import annotations

import itertools
import math
import os
import tomllib
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from tests.app.live import AppProcess
from tests.app.selenium_kit import chrome, click_to_new_page, foreign_requests, wait_for_download, wait_until
from tests.bureau_kit import YEARS, kit_truth, write_bureau_kit

pytestmark = pytest.mark.e2e

#: What the planner pastes: copied from Excel with its header row and type names (tabs between cells).
PASTED = {"保障性租赁住房": [250, 350, 300], "公共租赁住房": [100, 120, 80]}
CODES = {"保障性租赁住房": "affordable_rental", "公共租赁住房": "public_rental"}
RADIUS_M, CAP = 400, 700


def _block() -> str:
    rows = ["住房类型\t" + "\t".join(f"{y}年" for y in YEARS)]
    rows += [name + "\t" + "\t".join(f"{v:,}" for v in values) for name, values in PASTED.items()]
    return "\r\n".join(rows) + "\r\n"  # as Excel puts it on the clipboard


def _paste(driver, element, text: str) -> None:
    """Ctrl+V of ``text`` into ``element``: the paste event a browser fires, with the text on its clipboard data."""
    driver.execute_script(
        "const dt = new DataTransfer(); dt.setData('text/plain', arguments[1]);"
        "arguments[0].focus();"
        "arguments[0].dispatchEvent(new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true}));",
        element, text)


def _densest_disc(points: np.ndarray, units: np.ndarray, r: float) -> float:
    """Most units in any disc of radius ``r``: the best disc can be moved until two points (or one) lie on its rim."""
    centres = [p for p in points]
    for (i, a), (j, b) in itertools.combinations(enumerate(points), 2):
        d = float(np.hypot(*(b - a)))
        if 0 < d <= 2 * r:
            mid, h = (a + b) / 2, math.sqrt(max(r * r - d * d / 4, 0.0))
            normal = np.array([a[1] - b[1], b[0] - a[0]]) / d
            centres += [mid + h * normal, mid - h * normal]
    best = 0.0
    for c in centres:
        inside = np.hypot(*(points - c).T) <= r + 1e-6
        best = max(best, float(units[inside].sum()))
    return best


@pytest.fixture
def browser(tmp_path):
    driver = chrome(tmp_path / "profile", tmp_path / "downloads")
    yield driver
    driver.quit()


def test_from_a_bureau_folder_to_a_downloaded_plan_in_the_browser(tmp_path, browser):
    shots = Path(os.environ["SITEPLAN_SCREENSHOTS"]) if os.environ.get("SITEPLAN_SCREENSHOTS") else None
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    def shot(name: str) -> None:
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(shots / f"{name}.png"))

    def find(css: str):
        return wait_until(lambda: browser.find_element(By.CSS_SELECTOR, css), 30, what=css)

    def offline_page() -> None:
        assert foreign_requests(browser, origin) == []

    folder = write_bureau_kit(tmp_path / "work" / "规划数据")
    with AppProcess(tmp_path / "work") as app:
        origin = app.url.rstrip("/")
        b = browser

        # 1. Data: the folder, siteplan's guesses, one corrected
        b.get(app.url)
        wait_until(lambda: b.current_url.endswith("/data"), 30, what="the Data page first")
        button = next(e for e in b.find_elements(By.CSS_SELECTOR, "#folder-form button") if "规划数据" in e.text)
        click_to_new_page(b, button)  # the folder above has a "make a scenario" button too
        find("#make-scenario").click()
        find("#scenario-in-use")
        scenario = folder / "scenario.toml"
        guessed = tomllib.loads(scenario.read_text(encoding="utf-8"))
        assert guessed["fields"]["parcels"]["area_m2"] == "用地面积"  # the stated areas, in 亩
        # the correction: take areas from the polygons, not from the 用地面积 column
        Select(find("#field-parcels-area_m2")).select_by_value("")
        find("#data-save").click()
        wait_until(lambda: "area_m2" not in tomllib.loads(scenario.read_text(encoding="utf-8"))["fields"]["parcels"],
                   30, what="the corrected guess in the scenario file")
        assert "# column 地块编号" in scenario.read_text(encoding="utf-8")  # init's comments kept
        wait_until(lambda: find("#check-summary").is_displayed(), 30, what="the check report")
        b.switch_to.frame(find("#layers-map"))
        wait_until(lambda: b.find_elements(By.CSS_SELECTOR, "path.leaflet-interactive"), 30, what="layers drawn")
        b.switch_to.default_content()
        offline_page()
        shot("app-1-data")

        # 2. Targets: a block pasted from Excel into the first cell
        find("#nav-targets").click()
        Select(find("#targets-mode")).select_by_value("yearly")
        _paste(b, find(f"#t-affordable_rental-{YEARS[0]}"), _block())
        assert find(f"#t-public_rental-{YEARS[-1]}").get_attribute("value").replace(",", "") == str(PASTED["公共租赁住房"][-1])
        assert find(f"#total-{YEARS[1]}").text.replace(",", "") == str(sum(v[1] for v in PASTED.values()))
        offline_page()
        shot("app-2-targets")
        find("#targets-save").click()
        find("#targets-saved")
        saved = tomllib.loads(scenario.read_text(encoding="utf-8"))
        for name, values in PASTED.items():
            assert saved["types"][CODES[name]]["targets"] == values
        assert "file" not in saved.get("targets", {})  # the table in the app replaces the one read from Excel

        # 3. Rules: switch the radius cap on, 700 units within 400 m
        find("#nav-rules").click()
        switch = find("#rule-radius_cap-on")
        if not switch.is_selected():
            switch.click()
        for name, value in (("radius_m", RADIUS_M), ("max_units", CAP)):
            box = find(f"#r-radius_cap-{name}")
            box.clear()
            box.send_keys(str(value))
        shot("app-3-rules")
        find("#rules-save").click()
        find("#rules-saved")
        rule = tomllib.loads(scenario.read_text(encoding="utf-8"))["rules"]["radius_cap"]
        assert rule.get("enabled", True) is True and rule["radius_m"] == RADIUS_M and rule["max_units"] == CAP
        assert f"{RADIUS_M}米" in find("#rule-radius_cap-text").text

        # 4. Run: live progress, then the status in words
        find("#nav-run").click()
        find("#run-start").click()
        state = wait_until(lambda: (s := find("#run-state").get_attribute("data-state")) in ("done", "failed", "cancelled") and s,
                           180, what="the run to end")
        assert state == "done", find("#run-detail").text
        assert len(b.find_elements(By.CSS_SELECTOR, "#run-progress li")) >= 3
        status = find("#run-status")
        assert "status-optimal" in status.get_attribute("class"), status.text
        assert "最优" in status.text
        offline_page()
        shot("app-4-run")
        run_id = find("#run-detail").get_attribute("data-id")

        # 5. Results: the parcels counted on the map, and the workbook downloaded
        find("#run-results-link").click()
        counted = find("#results-parcels")
        out = tmp_path / "work" / "siteplan-runs" / run_id / "out"
        alloc = pd.read_csv(out / "allocation.csv", dtype={"parcel_id": str})
        used = alloc.loc[alloc["units"] > 0]
        assert int(counted.get_attribute("data-parcels")) == used["parcel_id"].nunique()
        assert f"{used['parcel_id'].nunique()}" in counted.text
        b.switch_to.frame(find("#results-map"))
        drawn = wait_until(lambda: b.execute_script(
            "const ids = new Set(); const maps = Object.keys(window).filter(k => k.startsWith('map_') && window[k] && window[k].eachLayer);"
            "for (const k of maps) window[k].eachLayer(function visit(l) {"
            "  if (l.feature && l.feature.properties && l.feature.properties.parcel_id && l.feature.properties.units > 0) ids.add(l.feature.properties.parcel_id);"
            "  if (l.eachLayer) l.eachLayer(visit); });"
            "return Array.from(ids);"), 30, what="parcels on the map")
        in_view = b.execute_script(
            "const ids = new Set(); const maps = Object.keys(window).filter(k => k.startsWith('map_') && window[k] && window[k].eachLayer);"
            "for (const k of maps) { const view = window[k].getBounds(); window[k].eachLayer(function visit(l) {"
            "  if (l.feature && l.feature.properties && l.feature.properties.units > 0 && l.getBounds && view.contains(l.getBounds()))"
            "    ids.add(l.feature.properties.parcel_id);"
            "  if (l.eachLayer) l.eachLayer(visit); }); }"
            "return Array.from(ids);")
        b.switch_to.default_content()
        assert sorted(drawn) == sorted(used["parcel_id"].unique())
        assert sorted(in_view) == sorted(drawn)  # the map in the page opens on the plan's parcels, all in view
        offline_page()
        shot("app-5-results")
        find("[id='dl-land_supply.xlsx']").click()
        book = openpyxl.load_workbook(wait_for_download(tmp_path / "downloads", ".xlsx"), data_only=True)

    # The downloaded workbook against the pasted numbers: each year's sheet, each type's units.
    for i, year in enumerate(YEARS):
        rows = {r[0]: r[1] for r in book[f"{year}年"].iter_rows(values_only=True) if r and r[0]}
        for name, values in PASTED.items():
            assert rows[name] == values[i], (year, name)
    # The plan against the kit's raw parcels: residential codes, and no disc of 400 m anywhere above 700 units.
    truth = kit_truth().set_index("地块编号")
    per_parcel = used.groupby("parcel_id")["units"].sum()
    assert set(truth.loc[per_parcel.index, "用地代码"]) <= {"R2", "R21"}
    centroids = truth.loc[per_parcel.index].geometry.centroid
    points = np.column_stack([centroids.x, centroids.y])
    assert _densest_disc(points, per_parcel.to_numpy(dtype=float), RADIUS_M) <= CAP
    assert per_parcel.sum() == sum(sum(v) for v in PASTED.values())
