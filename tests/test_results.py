"""The outbox schema: RFC 4180 CSV that standard tools read, with spreadsheet formulas neutralised."""

from __future__ import annotations

import csv
import io
import json

import pytest
from digitwatch.daemon.results import CSV_COLUMNS, Result, clean_text, to_csv, to_json


def row(name: str, error: str = "") -> Result:
    return Result(name, 3, 0.91, "ok", error, "abc", "2026-01-01T00:00:00.000Z", "0" * 64, "", [0.1] * 10)


NAMES = [
    "plain.png",
    "a,b.png",
    'q"uote.png',
    "new\nline.png",
    "sp ace.png",
    "ünïcode-数字.png",
    "=cmd.png",
    "+1.png",
    "-2.png",
    "@sum.png",
    "\tTab.png",
    "\rcr.png",
]


def test_csv_round_trips_with_the_csv_module() -> None:
    data = to_csv([row(n) for n in NAMES])
    text = data.decode("utf-8")
    assert text.startswith(",".join(CSV_COLUMNS) + "\r\n")
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(parsed) == len(NAMES)
    for name, rec in zip(NAMES, parsed):
        expected = "'" + name if name[0] in "=+-@\t\r" else name
        assert rec["file"] == expected


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_cells_are_escaped_but_json_is_exact(start: str) -> None:
    name = f'{start}HYPERLINK("http://x").png'
    text = to_csv([row(name, error=f"{start}bad")]).decode()
    rec = next(csv.DictReader(io.StringIO(text, newline="")))
    assert rec["file"].startswith("'") and rec["error"].startswith("'")
    assert json.loads(to_json([row(name)]))[0]["file"] == name


def test_duckdb_reads_the_csv(tmp_path) -> None:
    import duckdb

    (tmp_path / "a.csv").write_bytes(to_csv([row(n) for n in NAMES[:6]]))
    (tmp_path / "b.csv").write_bytes(to_csv([row("x.png")]))
    count, digits = duckdb.sql(f"SELECT count(*), sum(digit) FROM read_csv('{tmp_path}/*.csv')").fetchall()[0]
    assert count == 7 and digits == 21


def test_undecodable_names_become_valid_utf8() -> None:
    raw = b"bad-\xff\xfe.png".decode("utf-8", "surrogateescape")
    assert clean_text(raw) == "bad-\\xff\\xfe.png"
    to_csv([row(clean_text(raw))]).decode("utf-8")
