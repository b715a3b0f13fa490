"""One result row per input, and its CSV / JSON forms (the outbox schema).

File names: Linux names are bytes and need not be UTF-8. ``file`` shows the
name readably - undecodable bytes as ``\\xNN`` (so ``caf\\xe9.png`` for the
Latin-1 bytes ``caf\xe9.png``) - in CSV and JSON. JSON also carries
``file_bytes``: the exact bytes, percent-encoded (RFC 3986, ``/`` kept), so
``urllib.parse.unquote_to_bytes(rec["file_bytes"])`` is the path relative to
``archive/`` or ``failed/``, where the input keeps its exact name.

CSV formula escaping (OWASP CSV injection) is reversible: a cell that starts
with ``= + - @ TAB CR LF`` *or* with ``'`` gets one ``'`` in front, so
``=1+1`` becomes ``'=1+1`` and ``'=1+1`` becomes ``''=1+1``; a reader drops one
leading ``'`` when there is one (:func:`csv_unescape`).
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import quote

CSV_COLUMNS = ("file", "digit", "confidence", "status", "error", "model", "processed_at", "sha256", "note", "text")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# A cell that already starts with the escape character is escaped too, so unescaping is never ambiguous.
ESCAPE = "'"


@dataclass(frozen=True)
class Result:
    file: str
    digit: int | None
    confidence: float | None
    status: str  # ok | low_confidence | error
    error: str
    model: str
    processed_at: str
    sha256: str
    note: str = ""
    probabilities: list[float] | None = field(default=None)
    file_bytes: str = ""  # the exact name, percent-encoded (JSON only; see the module docstring)
    text: str = ""  # the digits read left to right ("94107"; for one digit, the digit)
    digits: list[dict[str, object]] | None = None  # each digit: digit, confidence, box, probabilities (JSON only)


def utc_now() -> str:
    """UTC ISO 8601 with milliseconds, e.g. 2026-11-25T15:04:05.123Z."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def clean_text(text: str) -> str:
    """Make a file name valid UTF-8: undecodable bytes (surrogate escapes) become \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def exact_name(text: str) -> str:
    """A name's exact bytes, percent-encoded ('/' kept): what ``file_bytes`` holds."""
    return quote(text.encode("utf-8", "surrogateescape"), safe="/")


def csv_cell(text: str) -> str:
    """Neutralise spreadsheet formulas (OWASP CSV injection): prefix a quote to risky first characters."""
    return ESCAPE + text if text.startswith((*FORMULA_STARTS, ESCAPE)) else text


def csv_unescape(cell: str) -> str:
    """The inverse of :func:`csv_cell`."""
    return cell[1:] if cell.startswith(ESCAPE) else cell


def _clean(r: Result) -> Result:
    """Every text field valid UTF-8 (one bad byte must not stop a batch's file from being written)."""
    if _valid(r.file, r.status, r.error, r.model, r.note, r.file_bytes):
        return r  # (the common case, without a copy)
    return replace(
        r,
        file=clean_text(r.file),
        status=clean_text(r.status),
        error=clean_text(r.error),
        model=clean_text(r.model),
        note=clean_text(r.note),
        file_bytes=clean_text(r.file_bytes),
    )


def _valid(*texts: str) -> bool:
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:  # a surrogate escape: an undecodable byte of a file name
        return False
    return True


def to_csv(results: list[Result]) -> bytes:
    """RFC 4180 CSV, UTF-8, header row first, CRLF line ends."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    for r in map(_clean, results):
        writer.writerow(
            [
                csv_cell(r.file),
                "" if r.digit is None else r.digit,
                "" if r.confidence is None else f"{r.confidence:.6f}",
                r.status,
                csv_cell(r.error),
                r.model,
                r.processed_at,
                r.sha256,
                csv_cell(r.note),
                r.text,
            ]
        )
    return buf.getvalue().encode("utf-8")


def to_json_record(r: Result) -> dict[str, object]:
    return asdict(_clean(replace(r, file_bytes=r.file_bytes or exact_name(r.file))))


def to_jsonl(results: list[Result]) -> bytes:
    return "".join(json.dumps(to_json_record(r), ensure_ascii=False) + "\n" for r in results).encode("utf-8")


def to_json(results: list[Result]) -> bytes:
    return (json.dumps([to_json_record(r) for r in results], ensure_ascii=False, indent=1) + "\n").encode("utf-8")
