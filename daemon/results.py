"""One result row per input, and its CSV / JSON forms (the outbox schema)."""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import asdict, dataclass, field

CSV_COLUMNS = ("file", "digit", "confidence", "status", "error", "model", "processed_at", "sha256", "note")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


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


def utc_now() -> str:
    """UTC ISO 8601 with milliseconds, e.g. 2026-11-25T15:04:05.123Z."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def clean_text(text: str) -> str:
    """Make a file name valid UTF-8: undecodable bytes (surrogate escapes) become \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def csv_cell(text: str) -> str:
    """Neutralise spreadsheet formulas (OWASP CSV injection): prefix a quote to risky first characters."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(results: list[Result]) -> bytes:
    """RFC 4180 CSV, UTF-8, header row first, CRLF line ends."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_COLUMNS)
    for r in results:
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
            ]
        )
    return buf.getvalue().encode("utf-8")


def to_json_record(r: Result) -> dict[str, object]:
    return asdict(r)


def to_jsonl(results: list[Result]) -> bytes:
    return "".join(json.dumps(to_json_record(r), ensure_ascii=False) + "\n" for r in results).encode("utf-8")


def to_json(results: list[Result]) -> bytes:
    return (json.dumps([to_json_record(r) for r in results], ensure_ascii=False, indent=1) + "\n").encode("utf-8")
