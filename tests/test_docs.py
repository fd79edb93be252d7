"""The docs site's reading of docstrings: reST math and roles become MathML and code (docs/_ext/rst_docstrings.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("griffe", reason="the docs extra is not installed (pip install -e '.[docs]')")
pytest.importorskip("latex2mathml", reason="the docs extra is not installed (pip install -e '.[docs]')")

_PATH = Path(__file__).resolve().parents[1] / "docs" / "_ext" / "rst_docstrings.py"
_spec = importlib.util.spec_from_file_location("rst_docstrings", _PATH)
rst = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rst)


def test_math_block_becomes_display_mathml_and_the_text_around_stays():
    doc = "Plot ratio.\n\n.. math::\n\n    \\sum_t u_{ity} \\le A_i z_{iy}\n\ni.e. it fits."
    out = rst.rst_to_markdown(doc)
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="block">' in out
    assert out.startswith("Plot ratio.") and out.rstrip().endswith("i.e. it fits.")
    assert ".. math::" not in out and "\\sum" not in out


def test_inline_math_starting_a_line_joins_its_paragraph():
    out = rst.rst_to_markdown("binds per year instead:\n:math:`s_{gy} \\ge 0`. Next.")
    assert "\n" not in out  # a line opening with <math> would be an HTML block of its own
    assert out.startswith("binds per year instead: <math") and 'display="inline"' in out


def test_roles_become_code_and_literal_blocks_keep_one_colon():
    out = rst.rst_to_markdown("See :func:`siteplan.solve.search.solve_problem` and :class:`~siteplan.model.problem.Problem`::")
    assert out == "See `siteplan.solve.search.solve_problem` and `Problem`:"
