"""The catalogue of subsidised housing types and their policy limits.

Unit-size caps come from the planning documents siteplan was specified from:

- public rental (公共租赁住房): a self-contained unit is at most 60 m2 of floor
  area, mostly about 40 m2; dormitory-type stock gives each person at least
  5 m2 (Meizhou public-rental scheme);
- low-rent (廉租住房): at most 50 m2;
- price-capped (限价商品住房): at most 90 m2;
- affordable rental (保障性租赁住房, code ``affordable_rental``, since 2021):
  《国务院办公厅关于加快发展保障性租赁住房的意见》(国办发〔2021〕22号) says
  保障性租赁住房 is 以建筑面积不超过70平方米的小户型为主, mainly small units
  of at most 70 m2 of floor area. siteplan plans one average unit size per
  type, so the cap is 70 m2 on ``unit_area_m2`` like the other caps: an
  average above 70 m2 cannot be "mainly at most 70 m2" in the way a plan
  is read, and a scheme that deliberately mixes in larger units says so
  with ``allow_oversize = true``.

Affordable housing for sale (配售型保障性住房, code ``affordable_sale``,
since 2023: 《国务院关于规划建设保障性住房的指导意见》国发〔2023〕14号),
economy housing, talent apartments and resettlement housing carry no
unit-size cap here: the 2023 opinion sets no national unit size.

Codes are stable: a code once in :data:`CATALOGUE` keeps its meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HousingType", "CATALOGUE", "DORMITORY_MIN_M2_PER_PERSON"]

#: Minimum floor area per person in dormitory-type public rental stock (m2).
DORMITORY_MIN_M2_PER_PERSON = 5.0


@dataclass(frozen=True)
class HousingType:
    """A known housing type.

    Parameters
    ----------
    code
        Identifier used in scenario files, e.g. ``"public_rental"``.
    label_zh, label_en
        Names shown in tables and on the map.
    max_unit_area_m2
        Policy cap on the average floor area of one unit, or ``None``.
    """

    code: str
    label_zh: str
    label_en: str
    max_unit_area_m2: float | None = None


CATALOGUE: dict[str, HousingType] = {
    t.code: t
    for t in (
        HousingType("public_rental", "公共租赁住房", "Public rental", 60.0),
        HousingType("low_rent", "廉租住房", "Low-rent", 50.0),
        HousingType("economy", "经济适用住房", "Economy", None),
        HousingType("price_capped", "限价商品住房", "Price-capped", 90.0),
        HousingType("talent_apartment", "人才公寓", "Talent apartment", None),
        HousingType("resettlement", "棚改安置住房", "Resettlement", None),
        HousingType("affordable_rental", "保障性租赁住房", "Affordable rental", 70.0),
        HousingType("affordable_sale", "配售型保障性住房", "Affordable housing for sale", None),
    )
}
