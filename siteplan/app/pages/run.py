"""Placeholder: the run page."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ..server import render

router = APIRouter()

WORDS: dict[str, tuple[str, str]] = {}


@router.get("/run")
def page(request: Request):
    return render(request, "placeholder.html", words=WORDS)
