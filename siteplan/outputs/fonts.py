"""Find the installed fonts that draw Chinese, by file, and register them with matplotlib.

matplotlib knows the fonts of its cache file, written the first time it ran:
a CJK font installed later (``apt install fonts-noto-cjk``) stays unknown to
it, and the report's charts would fall back to English. :func:`cjk_font`
therefore looks for the font files themselves: ``fc-list :lang=zh file``
where fontconfig exists, then the usual paths on Linux, Windows and macOS
(:data:`KNOWN_PATHS`), then matplotlib's own list; it registers the first
file that holds Chinese characters with ``fontManager.addfont`` and returns
its family name.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["KNOWN_PATHS", "CJK_FAMILIES", "find_cjk_fonts", "cjk_font", "draws_chinese"]

log = logging.getLogger(__name__)

_WINDOWS = Path(os.environ.get("WINDIR", "C:/Windows")) / "Fonts"

#: Where CJK fonts usually are, most preferred first (sans before serif, regular before bold).
KNOWN_PATHS: tuple[Path, ...] = (
    _WINDOWS / "msyh.ttc", _WINDOWS / "msyh.ttf", _WINDOWS / "simhei.ttf", _WINDOWS / "Deng.ttf", _WINDOWS / "simsun.ttc",
    Path("/System/Library/Fonts/PingFang.ttc"), Path("/System/Library/Fonts/Hiragino Sans GB.ttc"),
    Path("/System/Library/Fonts/STHeiti Light.ttc"), Path("/Library/Fonts/Arial Unicode.ttf"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Medium.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"), Path("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc"),
)

#: Family names of fonts that draw Chinese, looked for in matplotlib's own list last.
CJK_FAMILIES = ("Microsoft YaHei", "SimHei", "PingFang SC", "Hiragino Sans GB", "Noto Sans CJK SC", "Noto Sans CJK JP",
                "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Droid Sans Fallback")

_PROBE = "规划住房"


def _rank(path: Path) -> tuple[int, int, str]:
    """Sort key: sans before serif, regular before bold or light, then by name."""
    name = path.name.lower()
    serif = int("serif" in name or "ming" in name or "song" in name or "simsun" in name)
    heavy = int(any(w in name for w in ("bold", "black", "heavy", "light", "thin", "medium")))
    return (serif, heavy, name)


def _fc_list() -> list[Path]:
    """Font files fontconfig says support Chinese (empty without fontconfig)."""
    exe = shutil.which("fc-list")
    if not exe:
        return []
    try:
        res = subprocess.run([exe, ":lang=zh", "file"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    files = [Path(line.split(":")[0].strip()) for line in res.stdout.splitlines() if line.strip()]
    return sorted((f for f in files if f.suffix.lower() in (".ttf", ".ttc", ".otf")), key=_rank)


def draws_chinese(path: str | Path) -> bool:
    """Whether the font file (its first face) has glyphs for Chinese text."""
    from matplotlib.ft2font import FT2Font

    try:
        charmap = FT2Font(str(path)).get_charmap()
    except (OSError, RuntimeError, ValueError):
        return False
    return all(ord(c) in charmap for c in _PROBE)


def find_cjk_fonts() -> list[Path]:
    """Font files installed here that draw Chinese, most preferred first.

    From ``fc-list :lang=zh file``, :data:`KNOWN_PATHS`, and the files of
    matplotlib's font list whose family is one of :data:`CJK_FAMILIES`.
    """
    from matplotlib import font_manager

    seen: dict[str, Path] = {}
    known = [p for p in KNOWN_PATHS if p.is_file()]
    cached = [Path(f.fname) for f in font_manager.fontManager.ttflist if f.name in CJK_FAMILIES]
    for p in [*_fc_list(), *known, *sorted(cached, key=_rank)]:
        seen.setdefault(str(p), p)
    return [p for p in seen.values() if p.is_file()]


@functools.cache
def _registered() -> str | None:
    from matplotlib import font_manager

    for path in find_cjk_fonts():
        if not draws_chinese(path):
            continue
        try:
            font_manager.fontManager.addfont(str(path))
            name = font_manager.FontProperties(fname=str(path)).get_name()
        except (OSError, RuntimeError, ValueError) as err:
            log.debug("Font %s not usable: %s", path, err)
            continue
        log.debug("Chinese chart labels with %s (%s)", name, path)
        return name
    return None


def cjk_font() -> str | None:
    """The family name of an installed font that draws Chinese, registered with matplotlib; ``None`` if there is none."""
    return _registered()


cjk_font.cache_clear = _registered.cache_clear  # type: ignore[attr-defined]
