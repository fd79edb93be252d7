"""The catalogue of subsidised housing types and their policy limits.

Unit-size caps come from the planning documents siteplan was specified from:

- public rental (公共租赁住房): a self-contained unit is at most 60 m2 of floor
  area, mostly about 40 m2; dormitory-type stock gives each person at least
  5 m2 (Meizhou public-rental scheme);
- low-rent (廉租住房): at most 50 m2;
- price-capped (限价商品住房): at most 90 m2.

Economy housing, talent apartments and resettlement housing carry no
unit-size cap here.
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
    )
}
