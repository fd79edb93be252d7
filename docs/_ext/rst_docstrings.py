"""Griffe extension: read siteplan's reStructuredText docstring markup as Markdown.

siteplan's docstrings are numpydoc with reST roles, as Python docstrings
usually are: ``.. math::`` blocks, ``:math:`` and ``:func:``-style roles and
``::`` literal blocks. The API pages render them through mkdocstrings, which
reads Markdown, so this extension rewrites that markup on loading:

- ``.. math::`` and its indented block, and ``:math:`x```, become MathML
  (latex2mathml), which browsers draw themselves: the pages need no script
  and no network to show a formula;
- ``:func:`a.b```, ``:class:``, ``:mod:``, ``:meth:``, ``:data:``,
  ``:attr:`` become inline code (``~a.b`` shows the last name only);
- a paragraph ending in ``::`` ends in ``:`` and its indented block stays code.
"""

from __future__ import annotations

import re

import griffe
from latex2mathml.converter import convert

_ROLE = re.compile(r":(?:func|class|mod|meth|data|attr|exc|obj):`(~?)([^`]+)`")
_MATH_ROLE = re.compile(r":math:`([^`]+)`")


def _role(match: re.Match) -> str:
    short, target = match.group(1), match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def rst_to_markdown(text: str) -> str:
    """The docstring ``text`` with its reST markup rewritten as Markdown."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped == ".. math::":
            indent = len(line) - len(line.lstrip())
            i += 1
            body: list[str] = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                body.append(lines[i].strip())
                i += 1
            while body and not body[-1]:
                body.pop()
            formula = " ".join(b for b in body if b)
            out.extend(["", " " * indent + convert(formula, display="block"), ""])
            continue
        if stripped.endswith("::") and not stripped.startswith(".."):
            line = line[:-1] if stripped != "::" else ""
        out.append(line)
        i += 1
    text = "\n".join(out)
    # A line that opens with a tag is an HTML block to Markdown: an inline
    # formula that starts a line of a paragraph joins the line before it.
    text = re.sub(r"(?<=\S)\n[ \t]*(?=:math:`)", " ", text)
    text = _MATH_ROLE.sub(lambda m: convert(m.group(1)), text)
    return _ROLE.sub(_role, text)


class RstDocstrings(griffe.Extension):
    """Rewrite every loaded docstring with :func:`rst_to_markdown`."""

    def on_instance(self, *, node, obj, agent, **kwargs) -> None:  # noqa: ARG002 (griffe's hook signature)
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
