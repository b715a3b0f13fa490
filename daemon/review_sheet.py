"""``DIR/index.html``: a static contact sheet of the pictures ``digitwatch review`` gathered.

One card per picture still waiting in ``DIR/unlabelled/`` (a picture a person has moved into
``DIR/<digit>/`` drops off at the next review), grouped by the suggested digit, lowest confidence
first: the picture itself by a relative link (the sheet works from any copy of DIR), the suggested
digit, the confidence, the status, the error, the original name. Every name is HTML-escaped and
every link percent-encoded: a file name is input, not markup.
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from urllib.parse import quote

from .fsutil import atomic_write
from .results import clean_text

SHEET = "index.html"
THUMB_PX = 112  # a 28x28 digit at 4x: big enough to read, a few dozen a screen
DIGIT_FOLDERS = tuple(str(d) for d in range(10))
STYLE = (
    "body{font-family:sans-serif;margin:1em}h2{margin:.8em 0 .3em}.card{display:inline-block;width:150px;"
    "margin:4px;padding:4px;border:1px solid #ccc;vertical-align:top;font-size:12px;word-wrap:break-word}"
    f".card img{{width:{THUMB_PX}px;height:{THUMB_PX}px;object-fit:contain;background:#fff;display:block;"
    "margin:auto}.error{color:#a00}.low_confidence{color:#a60}code{font-size:11px}"
)


def _files(folder: Path) -> list[Path]:
    """Files under ``folder`` (recursed, hidden ones and symbolic links to folders skipped), sorted."""
    out: list[Path] = []
    for here, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
        out += [Path(here) / f for f in sorted(files) if not f.startswith(".")]
    return out


def _link(to: Path, path: Path) -> str:
    return quote(os.fsencode(path.relative_to(to)), safe="/")


def e(text: str) -> str:
    """Text for the page: undecodable bytes of a name as \\xNN (valid UTF-8), then HTML-escaped."""
    return html.escape(clean_text(text))


def _card(to: Path, path: Path, row: dict[str, str], low_confidence: float) -> str:
    status = row.get("status") or ("error" if path.parent.name == "x" else "")
    try:
        confidence = float(row.get("confidence", ""))
        status = status or ("low_confidence" if confidence < low_confidence else "ok")
        shown = f"{math.floor(confidence * 1000) / 1000:.3f}"  # cut, not rounded: an unsure 0.9996 is not 1.000
    except ValueError:
        shown = "-"
    error = f'<br><span class="error">{e(row["error"])}</span>' if row.get("error") else ""
    original = f"<br>from <code>{e(row['rel'])}</code>" if row.get("rel") else ""
    when = f"<br>{e(row['processed_at'])}" if row.get("processed_at") else ""
    link = _link(to, path)
    return (
        f'<div class="card"><a href="{link}"><img src="{link}" alt="{e(path.name)}" loading="lazy"></a>'
        f"suggested <b>{e(path.parent.name)}</b> at {shown} "
        f'<span class="{e(status)}">{e(status)}</span>{error}<br><code>{e(path.name)}</code>{original}{when}</div>'
    )


def write_sheet(to: Path, meta: dict[str, dict[str, str]], low_confidence: float) -> Path:
    """Write ``to/index.html`` from what is in ``to`` now; ``meta``: what each gathered row said, by sha256."""
    by_place = {m.get("gathered_as", ""): m for m in meta.values() if isinstance(m, dict)}
    waiting = _files(to / "unlabelled")
    labelled = {d: len(_files(to / d)) for d in DIGIT_FOLDERS if (to / d).is_dir()}
    groups: dict[str, list[str]] = {}
    for path in waiting:
        rel = str(path.relative_to(to))
        row = by_place.get(rel) or next(
            (m for sha, m in meta.items() if isinstance(m, dict) and f"-{sha[:8]}" in path.name), {}
        )
        groups.setdefault(path.relative_to(to / "unlabelled").parts[0], []).append(_card(to, path, row, low_confidence))
    counts = ", ".join(f"{d}: {n}" for d, n in labelled.items()) or "none yet"
    body = [
        f"<h1>digitwatch review: {len(waiting)} pictures to label</h1>",
        "<p>Move each picture from <code>unlabelled/&lt;suggested&gt;/</code> into the folder of the digit it "
        "shows, <code>0/</code> to <code>9/</code> beside this page (or delete it from <code>unlabelled/</code> "
        "if it is no digit), then <code>digitwatch train --data</code> this folder. "
        f"Labelled so far: {e(counts)}.</p>",
    ]
    for folder in sorted(groups):
        title = "errors (no digit suggested)" if folder == "x" else f"suggested {folder}"
        body.append(f"<h2>{e(title)} ({len(groups[folder])})</h2>")
        body += groups[folder]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>digitwatch review</title>'
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
    return atomic_write(to / SHEET, page.encode("utf-8"))
