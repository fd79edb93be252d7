"""The QGIS style (QML) of the allocation layer: new land filled, 配建 hosts outlined and hatched, by type.

:func:`allocation_qml` writes a rule-based renderer with two parent rules
on the ``role`` field, as the map draws them
(:func:`siteplan.outputs.styles.parcel_style`):

- ``"role" <> 'inclusionary'`` (保障性住房新增用地): a solid fill in the
  type's colour with a dark outline;
- ``"role" = 'inclusionary'`` (普通商品房配建: a commercial project carrying
  an affordable share): a diagonal hatch and a thick outline in the type's
  colour, no solid fill, so that the host's whole area does not read as
  affordable land;

each with one child rule per housing type on ``main_type``.
:mod:`siteplan.outputs.export` puts it in ``plan.gpkg``'s ``layer_styles``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from xml.sax.saxutils import quoteattr

__all__ = ["allocation_qml", "ROLE_RULES"]

#: (role key, filter on ``role``, zh label) of the two parent rules.
ROLE_RULES: tuple[tuple[str, str, str], ...] = (
    ("new", "\"role\" <> 'inclusionary'", "保障性住房新增用地（实心填充）"),
    ("inclusionary", "\"role\" = 'inclusionary'", "普通商品房配建（勾边、斜线，地块为商品房项目）"),
)


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    h = hex_colour.lstrip("#")
    return f"{int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha}"


def _fill_symbol(name: str, layers: list[dict[str, str]]) -> str:
    """A QGIS fill symbol of SimpleFill layers, each property in both the 3.26+ and the older form."""
    parts = []
    for props in layers:
        options = "".join(f'<Option type="QString" name={quoteattr(k)} value={quoteattr(v)}/>' for k, v in props.items())
        legacy = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in props.items())
        parts.append(f'<layer class="SimpleFill" enabled="1" locked="0" pass="0"><Option type="Map">{options}</Option>{legacy}</layer>')
    return f'<symbol type="fill" name={quoteattr(name)} alpha="1" clip_to_extent="1" force_rhr="0">{"".join(parts)}</symbol>'


def _symbol_layers(role: str, colour: str) -> list[dict[str, str]]:
    base = {"outline_width_unit": "MM", "joinstyle": "miter", "outline_style": "solid"}
    if role == "inclusionary":
        return [
            {**base, "color": _rgba(colour, 255), "style": "b_diagonal", "outline_style": "no", "outline_color": _rgba(colour),
             "outline_width": "0"},
            {**base, "color": _rgba(colour, 0), "style": "no", "outline_color": _rgba(colour), "outline_width": "0.8"},
        ]
    return [{**base, "color": _rgba(colour, 230), "style": "solid", "outline_color": _rgba("#232323"), "outline_width": "0.3"}]


def _type_filter(value: str) -> str:
    return "\"main_type\" = '" + value.replace("'", "''") + "'"


def allocation_qml(types: list[str], labels: Mapping[str, str], colours: Mapping[str, str], *,
                   aliases: Mapping[str, str] | None = None, label_field: str | None = "parcel_id") -> str:
    """The QML document of the allocation layer (see the module docstring).

    Parameters
    ----------
    types
        The housing types (codes of ``main_type``), in the plan's order.
    labels, colours
        Each type's label (shown in QGIS's legend) and colour.
    aliases
        Field name -> display name.
    label_field
        The field features are labelled with, or ``None``.
    """
    rules, symbols, k = [], [], 0
    for role, role_filter, role_label in ROLE_RULES:
        children = []
        for t in types:
            children.append(f'<rule key="{{{uuid.uuid5(uuid.NAMESPACE_URL, f"siteplan/{role}/{t}")}}}" '
                            f"filter={quoteattr(_type_filter(t))} label={quoteattr(labels.get(t, t))} symbol=\"{k}\"/>")
            symbols.append(_fill_symbol(str(k), _symbol_layers(role, colours.get(t, "#444444"))))
            k += 1
        rules.append(f'<rule key="{{{uuid.uuid5(uuid.NAMESPACE_URL, f"siteplan/{role}")}}}" filter={quoteattr(role_filter)} '
                     f"label={quoteattr(role_label)}>{''.join(children)}</rule>")
    renderer = ('<renderer-v2 type="RuleRenderer" symbollevels="0" enableorderby="0" forceraster="0">'
                f'<rules key="{{{uuid.uuid5(uuid.NAMESPACE_URL, "siteplan/root")}}}">{"".join(rules)}</rules>'
                f"<symbols>{''.join(symbols)}</symbols></renderer-v2>")
    labeling = ""
    if label_field:
        labeling = (
            '<labeling type="simple"><settings calloutType="simple">'
            f'<text-style fieldName={quoteattr(label_field)} isExpression="0" fontFamily="Microsoft YaHei" fontSize="9" '
            'fontSizeUnit="Point" textColor="50,50,50,255" namedStyle="Regular">'
            '<text-buffer bufferDraw="1" bufferSize="0.8" bufferSizeUnits="MM" bufferColor="255,255,255,255"/></text-style>'
            '<placement placement="1" dist="1" distUnits="MM"/>'
            '<rendering scaleVisibility="0" obstacle="1"/></settings></labeling>'
        )
    alias_xml = ""
    if aliases:
        alias_xml = "<aliases>" + "".join(f'<alias field={quoteattr(f)} index="{i}" name={quoteattr(a)}/>'
                                          for i, (f, a) in enumerate(aliases.items())) + "</aliases>"
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="3.28.0" styleCategories="AllStyleCategories" labelsEnabled="{1 if label_field else 0}">'
        f"{renderer}{labeling}{alias_xml}</qgis>\n"
    )
