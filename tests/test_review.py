"""``digitwatch review``: the real daemon's unsure and unreadable inputs, gathered from its outbox and archive
into a labelling folder - copied durably, never moved, never twice - with a contact sheet."""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
from conftest import Daemon, cli, dark_on_light
from PIL import Image

HOSTILE = '<b>&"x"'  # a name that is markup: the contact sheet must show it, not render it
LONG = "L" * 251 + ".png"  # 255 bytes: the second of this name is cut short to be numbered
NAME = re.compile(r"^(\d\.\d\d|error)-.+-([0-9a-f]{8})(\.\w+)?$")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) by relative path, with its sha256."""
    return {str(p.relative_to(folder)): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, test_digits: tuple[np.ndarray, np.ndarray]) -> Daemon:
    """A real daemon's outbox (CSV and JSON), archive and failed folders after 34 inputs: digits, of which a
    strict ``low_confidence`` makes most unsure, a blank page, a text file, and two unreadable files of one name."""
    x, _ = test_digits
    root = tmp_path_factory.mktemp("served")
    (root / "config.yaml").write_text(
        "inbox: inbox\noutbox: outbox\narchive: archive\nfailed: failed\ncheckpoint: checkpoints\n"
        "low_confidence: 0.9999\nformats: [csv, json]\n"
    )
    d = Daemon(root, "--config", str(root / "config.yaml")).start()
    for i in range(26):
        dark_on_light(x[i]).save(d.inbox / f"d{i:02d}.png")
    (d.inbox / f"{HOSTILE}.png").write_text("unreadable, and a name that is markup")
    (d.inbox / "=formula.png").write_text("unreadable; its CSV cell is escaped: '=formula.png")
    Image.new("L", (80, 80), 255).save(d.inbox / "blank.png")
    (d.inbox / "notes.txt").write_text("not a picture")
    (d.inbox / "same.png").write_text("first unreadable file")
    (d.inbox / LONG).write_text("first unreadable file of a long name")
    d.wait_rows(32)
    (d.inbox / "same.png").write_text("second unreadable file, same name")  # archived as failed/same.1.png
    (d.inbox / LONG).write_text("second, archived as <cut>~<hash>.1.png")  # the name cut to fit NAME_MAX
    d.wait_rows(34)
    assert len([p for p in d.failed.iterdir() if p.name.startswith("L" * 48) and p.suffix == ".png"]) == 2
    assert d.stop() == 0
    return d


def rows_by_sha(d: Daemon) -> dict[str, dict[str, str]]:
    return {r["sha256"]: r for r in d.rows()}


def test_unsure_and_unreadable_inputs_are_copied_with_their_confidence(served: Daemon, tmp_path: Path) -> None:
    archive_before, failed_before = tree(served.archive), tree(served.failed)
    to = tmp_path / "labelling"
    r = cli("review", "--config", str(served.root / "config.yaml"), "--to", str(to))
    assert r.returncode == 0, r.stderr
    rows = rows_by_sha(served)
    unsure = {s for s, row in rows.items() if row["status"] == "low_confidence"}
    errors = {s for s, row in rows.items() if row["status"] == "error"}
    assert len(unsure) >= 3 and len(errors) == 8 and len(rows) - len(unsure) - len(errors) >= 3
    gathered = {p: sha(p) for p in (to / "unlabelled").rglob("*") if p.is_file()}
    assert sorted(gathered.values()) == sorted(unsure | errors)  # each once, the exact bytes
    for path, digest in gathered.items():
        row = rows[digest]
        match = NAME.match(path.name)
        assert match and match[2] == digest[:8], path.name
        if row["status"] == "error":
            assert path.parent.name == "x" and match[1] == "error"
        else:
            assert path.parent.name == row["digit"] and match[1] == f"{int(float(row['confidence']) * 100) / 100:.2f}"
    assert {p.name.split("-", 1)[1].rsplit("-", 1)[0] for p in gathered} >= {"same", "=formula", HOSTILE, "blank"}
    assert tree(served.archive) == archive_before and tree(served.failed) == failed_before  # copied, not moved
    assert not [p for p in to.rglob(".*") if p.name != ".review.json"]  # no temporary left
    n = len(gathered)
    assert r.stdout.strip().startswith(f"review: {n} gathered into {to / 'unlabelled'}")
    assert "0 already gathered or labelled" in r.stdout and r.stdout.count("\n") == 1


def test_a_rerun_skips_what_was_gathered_or_labelled_and_the_sheet_follows(served: Daemon, tmp_path: Path) -> None:
    to = tmp_path / "labelling"
    config = str(served.root / "config.yaml")
    assert cli("review", "--config", config, "--to", str(to)).returncode == 0
    waiting = sorted(p for p in (to / "unlabelled").rglob("*") if p.is_file())
    labelled = [p for p in waiting if p.parent.name != "x"][:3]
    for p in labelled:  # a person labels three: moved (and renamed) into DIR/<digit>/
        (to / "7").mkdir(exist_ok=True)
        p.rename(to / "7" / f"mine-{p.name}")
    rejected = [p for p in waiting if p.parent.name == "x"][-1]
    rejected.unlink()  # and deletes one: no digit, never to be gathered again
    labelled.append(rejected)
    again = cli("review", "--config", config, "--to", str(to))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"review: 0 gathered into {to / 'unlabelled'}; {len(waiting)} already gathered")
    assert sorted(p for p in (to / "unlabelled").rglob("*") if p.is_file()) == sorted(set(waiting) - set(labelled))

    from digitwatch.training.labelled import scan  # the folder review writes is the folder train --data reads

    assert scan(to) == [(to / "7" / f"mine-{p.name}", 7) for p in sorted(labelled[:3], key=lambda p: f"mine-{p.name}")]

    sheet = (to / "index.html").read_text(encoding="utf-8")
    assert f"{len(waiting) - 4} pictures to label" in sheet and "7: 3" in sheet
    assert HOSTILE not in sheet and html.escape(HOSTILE) in sheet  # shown, never rendered
    links = set(re.findall(r'src="([^"]+)"', sheet))
    assert len(links) == len(waiting) - 4
    for link in links:  # relative, percent-encoded, each to a picture still waiting
        assert not link.startswith("/") and (to / unquote(link)).is_file()
    assert "no digit found" in sheet and "low_confidence" in sheet


def test_since_and_status_choose_the_rows(served: Daemon, tmp_path: Path) -> None:
    config = str(served.root / "config.yaml")
    future = cli("review", "--config", config, "--to", str(tmp_path / "a"), "--since", "2100-01-01")
    assert future.returncode == 0 and future.stdout.startswith("review: 0 gathered")
    recent = cli("review", "--config", config, "--to", str(tmp_path / "b"), "--since", "1h", "--status", "ok")
    assert recent.returncode == 0, recent.stderr
    ok = {s for s, row in rows_by_sha(served).items() if row["status"] == "ok"}
    assert sorted(sha(p) for p in (tmp_path / "b" / "unlabelled").rglob("*") if p.is_file()) == sorted(ok)


def test_inputs_are_found_from_the_csv_alone_after_a_clash_of_names(served: Daemon, tmp_path: Path) -> None:
    """Without the JSON (exact names), the CSV's escaped names still lead to the archived files."""
    root = tmp_path / "copy"
    shutil.copytree(served.root, root, ignore=shutil.ignore_patterns("*.json", ".digitwatch-state", "inbox"))
    r = cli("review", "--config", str(root / "config.yaml"), "--to", str(tmp_path / "to"), "--status", "error")
    assert r.returncode == 0, r.stderr
    names = sorted(p.name.split("-", 1)[1] for p in (tmp_path / "to" / "unlabelled" / "x").iterdir())
    assert [n.rsplit("-", 1)[0] for n in names] == [
        HOSTILE,
        "=formula",
        "L" * 60,
        "L" * 60,
        "blank",
        "notes",
        "same",
        "same",
    ]


def test_refusals_are_one_line_with_the_documented_exit_code(served: Daemon, tmp_path: Path) -> None:
    config = str(served.root / "config.yaml")
    gone = cli("review", "--config", config, "--outbox", str(tmp_path / "nowhere"), "--to", str(tmp_path / "t"))
    assert gone.returncode == 66 and "nowhere does not exist" in gone.stderr and gone.stderr.count("\n") == 1
    (tmp_path / "a-file").write_text("")
    a_file = cli("review", "--config", config, "--to", str(tmp_path / "a-file"))
    assert a_file.returncode == 78 and "is not a folder" in a_file.stderr
    inside = cli("review", "--config", config, "--to", str(served.inbox / "labels"))
    assert inside.returncode == 78 and "inside the inbox" in inside.stderr
    for flags in (["--status", "ok,unsure"], ["--since", "yesterday"]):
        bad = cli("review", "--config", config, "--to", str(tmp_path / "t"), *flags)
        assert bad.returncode == 2 and flags[1] in bad.stderr
    assert not (tmp_path / "t").exists() and not (served.inbox / "labels").exists()
    assert not os.listdir(served.inbox)


def test_since_skips_results_files_named_well_before_it(served: Daemon, tmp_path: Path) -> None:
    """A big outbox is not read whole for a short --since: a file's name says when it was written."""
    root = tmp_path / "copy"
    shutil.copytree(served.root, root, ignore=shutil.ignore_patterns(".digitwatch-state", "inbox"))
    for f in (root / "outbox").iterdir():  # the same rows, in files named as written in 2001
        f.rename(f.with_name(re.sub(r"results-\d{8}", "results-20010101", f.name)))
    config = str(root / "config.yaml")
    recent = cli("review", "--config", config, "--to", str(tmp_path / "a"), "--since", "2h")
    assert recent.returncode == 0 and recent.stdout.startswith("review: 0 gathered"), recent.stdout
    assert re.match(r"review: [1-9]\d* gathered", cli("review", "--config", config, "--to", str(tmp_path / "b")).stdout)
