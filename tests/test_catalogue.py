"""The housing-type catalogue: the 2021 and 2023 types, their unit-size rule, and stable codes."""

from __future__ import annotations

import pytest

from siteplan.errors import ScenarioError
from siteplan.housing import CATALOGUE
from siteplan.inputs.scenario import parse_scenario


def scenario(code: str, **t):
    return {"plan": {"name": "x", "first_year": 2023, "last_year": 2024},
            "layers": {k: f"{k}.gpkg" for k in ("parcels", "districts", "stations", "lines")},
            "types": {code: {"unit_area_m2": 60, "targets": [100, 100], **t}}}


def test_codes_are_stable():
    assert list(CATALOGUE)[:6] == ["public_rental", "low_rent", "economy", "price_capped", "talent_apartment",
                                   "resettlement"]
    assert [CATALOGUE[c].max_unit_area_m2 for c in list(CATALOGUE)[:6]] == [60.0, 50.0, None, 90.0, None, None]


def test_new_types():
    ar, sale = CATALOGUE["affordable_rental"], CATALOGUE["affordable_sale"]
    assert (ar.label_zh, ar.max_unit_area_m2) == ("保障性租赁住房", 70.0)
    assert (sale.label_zh, sale.max_unit_area_m2) == ("配售型保障性住房", None)
    import siteplan.housing as h

    assert "国办发〔2021〕22号" in h.__doc__ and "国发〔2023〕14号" in h.__doc__


def test_affordable_rental_main_unit_rule():
    s = parse_scenario(scenario("affordable_rental", unit_area_m2=70))
    assert s.type_label("affordable_rental") == "保障性租赁住房"
    with pytest.raises(ScenarioError, match="above the policy cap of 70 m2 for 保障性租赁住房"):
        parse_scenario(scenario("affordable_rental", unit_area_m2=72))
    parse_scenario(scenario("affordable_rental", unit_area_m2=72, allow_oversize=True))  # a deliberate mix of larger units
    assert parse_scenario(scenario("affordable_sale", unit_area_m2=120)).type_label("affordable_sale") == "配售型保障性住房"
