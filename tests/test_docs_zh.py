"""The Chinese user guide (docs/zh/) keeps up with the code: every scenario key, output file, rule, status and link."""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from siteplan.inputs import settings
from siteplan.inputs.scenario import Scenario
from siteplan.solve.status import STATUS_CODES, PlanStatus

ROOT = Path(__file__).resolve().parents[1]
ZH = ROOT / "docs" / "zh"
PAGES = ("index.md", "install.md", "app.md", "demo.md", "your-data.md", "scenario.md", "outputs.md", "faq.md")


def _page(name: str) -> str:
    return (ZH / name).read_text(encoding="utf-8")


def _sections() -> list[type[settings._Section]]:
    """Every table of the scenario file: the section models of siteplan.inputs.settings."""
    return [c for _, c in inspect.getmembers(settings, inspect.isclass)
            if issubclass(c, settings._Section) and c not in (settings._Section, settings.Constant)]


def _table_name(section: type) -> str:
    """``[types]`` for a model documented as ``[types.<code>]``: the table its docstring names, placeholders cut."""
    found = re.search(r"``(\[[^`\]]+\])``", section.__doc__ or "")
    assert found, f"{section.__name__}'s docstring names no [table]; the check below needs it"
    return re.sub(r"\.<[^>]+>", "", found.group(1))


def _documented(key: str, text: str) -> bool:
    return f"`{key}`" in text or re.search(rf"(^|[\s{{,]){re.escape(key)} = ", text, re.M) is not None


def test_the_scenario_reference_names_every_table_and_key():
    text = _page("scenario.md")
    missing = []
    for section in _sections():
        table = _table_name(section)
        if table not in text:
            missing.append(table)
        missing += [f"{table} {key}" for key in section.model_fields
                    if not _documented(key, text) and f"{table[:-1]}.{key}]" not in text]  # or a table: [layers.crs]
    missing += [f"[{key}]" for key in Scenario.model_fields if f"[{key}]" not in text and f"[{key}." not in text]
    missing += [f"[rules.{key}]" for key in settings.Rules.model_fields if f"[rules.{key}]" not in text]
    assert not missing, f"docs/zh/scenario.md does not explain: {missing}; add a row for each"


def test_a_key_left_out_of_the_reference_is_caught():
    text = _page("scenario.md")
    assert _documented("net_to_gross", text)
    assert not _documented("net_to_gross", text.replace("net_to_gross", "ratio"))


def _rule_names() -> set[str]:
    """The ``name`` of every rule class in siteplan.model (the ``rule`` column of compliance.csv and shortfall.csv)."""
    import siteplan.model.access as access
    import siteplan.model.dispersion as dispersion
    import siteplan.model.rules as rules

    names = set()
    for module in (rules, access, dispersion):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__:
                field = {f.name: f for f in dataclasses.fields(cls)}.get("name")
                if field is not None and isinstance(field.default, str):
                    names.add(field.default)
    return names


@pytest.fixture(scope="module")
def mini_outputs(tmp_path_factory):
    """A real run of the mini city, with every optional output switched on."""
    from siteplan.pipeline import run
    from tests.cities import write_mini_city

    root = tmp_path_factory.mktemp("zh")
    scenario = write_mini_city(root / "city")
    result = run(scenario, out_dir=root / "out", shapefile=True, alternatives=2)
    return root / "out", result


def test_the_outputs_page_names_every_file_a_run_writes(mini_outputs):
    out, result = mini_outputs
    text = _page("outputs.md")
    years = "|".join(str(y) for y in result.scenario.years)
    missing = []
    for path in sorted(out.iterdir()):
        name = path.name + ("/" if path.is_dir() else "")
        generic = re.sub(rf"_({years})\.", "_<年份>.", name)
        if f"`{name}`" not in text and f"`{generic}`" not in text:
            missing.append(name)
    assert not missing, f"docs/zh/outputs.md does not describe {missing}; add each to its table"


def test_the_outputs_page_explains_every_rule_column_and_status(mini_outputs):
    out, result = mini_outputs
    text = _page("outputs.md")
    rules = _rule_names() | set(result.plan.compliance()["rule"])
    assert {"transit_access", "yearly_targets", "one_supply_year"} <= rules  # the enumeration finds rules at all
    rule_table = text.split("{#rules}", 1)[1].split("\n## ", 1)[0]
    missing = sorted(r for r in rules if f"| `{r}` |" not in rule_table)
    header = (out / "shortfall.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    missing += [f"shortfall.csv {c}" for c in header if f"`{c}`" not in text]
    header = (out / "compliance.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    missing += [f"compliance.csv {c}" for c in header if f"`{c}`" not in text]
    for code in STATUS_CODES:
        zh = PlanStatus.label(SimpleNamespace(code=code), "zh")
        missing += [w for w in (f"`{code}`", zh) if w not in text]
    assert not missing, f"docs/zh/outputs.md does not explain: {missing}"


def test_every_page_is_in_the_site_and_the_readme_links_the_guide():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert sorted(p.name for p in ZH.glob("*.md")) == sorted(PAGES)
    assert [p for p in PAGES if f"zh/{p}" not in nav] == []
    first_lines = "\n".join((ROOT / "README.md").read_text(encoding="utf-8").splitlines()[:5])
    assert "(docs/zh/index.md)" in first_lines


def test_every_link_between_the_chinese_pages_lands_on_a_page_and_heading():
    bad = []
    for name in PAGES:
        for target, anchor in re.findall(r"\]\(([^)#\s]*\.md)?(?:#([^)\s]+))?\)", _page(name)):
            page = (ZH / (target or name)).resolve()
            if not page.is_file():
                bad.append(f"{name}: {target}")
            elif anchor and page.parent == ZH and f"{{#{anchor}}}" not in page.read_text(encoding="utf-8"):
                bad.append(f"{name}: {target or name}#{anchor}")
    assert not bad, f"links to no page or heading: {bad}"


def test_the_site_builds_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="the docs extra is not installed (pip install -e '.[docs]')")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "zh" / "outputs" / "index.html").is_file()
