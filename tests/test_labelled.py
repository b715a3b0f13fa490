"""A folder of labelled pictures: both layouts, clear refusals, a fixed split, and inputs read as the daemon reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import dark_on_light
from digitwatch.daemon.errors import DataError
from digitwatch.daemon.recognize import Limits, prepare
from digitwatch.training.labelled import scan, served_inputs, split
from PIL import Image


def write(path: Path, digit: np.ndarray, fmt: str = "PNG", size: int = 56) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    dark_on_light(digit, size).save(path, format=fmt)
    return path


@pytest.fixture
def folders(tmp_path: Path, test_digits: tuple[np.ndarray, np.ndarray]) -> Path:
    """Layout A: 3 pictures a digit, one in a sub-folder, in three formats; plus files to be skipped."""
    x, y = test_digits
    root = tmp_path / "labelled"
    for d in range(10):
        idx = np.flatnonzero(y == d)[:3]
        write(root / str(d) / f"a{d}.png", x[idx[0]])
        write(root / str(d) / f"b{d}.jpg", x[idx[1]], "JPEG")
        write(root / str(d) / "sub" / f"c{d}.tif", x[idx[2]], "TIFF")
    write(root / "3" / ".hidden.png", x[0])
    write(root / "3" / "download.png.part", x[0])
    write(root / "unlabelled" / "4" / "0.55-waiting.png", x[0])
    write(root / "notes" / "other.png", x[0])
    return root


def test_folders_are_scanned_sorted_recursively_skipping_hidden_and_unlabelled(folders: Path) -> None:
    items = scan(folders)
    assert len(items) == 30 and items == sorted(items)
    assert {d: sum(1 for _, k in items if k == d) for d in range(10)} == dict.fromkeys(range(10), 3)
    names = {p.name for p, _ in items}
    assert {"a3.png", "b3.jpg", "c3.tif"} <= names
    assert not names & {".hidden.png", "download.png.part", "0.55-waiting.png", "other.png"}
    assert all(p.parts[len(folders.parts)] == str(d) for p, d in items)
    assert scan(folders) == items  # deterministic


def test_labels_csv_alone_and_mixed_with_folders(folders: Path, tmp_path: Path, test_digits) -> None:
    x, _ = test_digits
    write(folders / "extra" / "seven.png", x[0])
    (folders / "labels.csv").write_text("file,digit\nextra/seven.png,7\n3/a3.png,3\n\n", encoding="utf-8")
    items = dict(scan(folders))
    assert items[folders / "extra" / "seven.png"] == 7 and len(items) == 31  # a3 once, agreeing labels

    only = tmp_path / "table"
    write(only / "pics" / "p.png", x[0])
    write(only / "q.jpg", x[1], "JPEG")
    (only / "labels.csv").write_text("\ufefffile , digit,who\npics/p.png,5,me\nq.jpg, 2 ,you\n", encoding="utf-8")
    assert scan(only) == [(only / "pics" / "p.png", 5), (only / "q.jpg", 2)]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("file,digit\n3/a3.png,4\n", "labelled 3 by its folder and 4 in labels.csv"),
        ("file,digit\n3/a3.png,12\n", "line 2: digit '12' for '3/a3.png' is not one of 0-9"),
        ("file,digit\n3/a3.png,x,extra,cells\n", "is not one of 0-9"),
        ("file,digit\nmissing.png,1\n", "'missing.png' does not exist"),
        ("file,digit\n../outside.png,1\n", "lies outside"),
        ("name,label\na.png,1\n", "needs the columns file,digit"),
    ],
)
def test_a_bad_table_is_a_data_error_naming_the_problem(folders: Path, table: str, message: str) -> None:
    (folders.parent / "outside.png").write_bytes(b"x")
    (folders / "labels.csv").write_text(table, encoding="utf-8")
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        scan(folders)
    assert DataError.exit_code == 65


def test_no_pictures_or_a_bad_digit_folder_is_a_data_error(tmp_path: Path, test_digits) -> None:
    with pytest.raises(DataError, match="not a folder"):
        scan(tmp_path / "nowhere")
    (tmp_path / "empty" / "3").mkdir(parents=True)
    write(tmp_path / "empty" / "unlabelled" / "3" / "x.png", test_digits[0][0])
    with pytest.raises(DataError, match="no labelled pictures"):
        scan(tmp_path / "empty")
    write(tmp_path / "ten" / "10" / "x.png", test_digits[0][0])
    with pytest.raises(DataError, match="named 0 to 9, not '10'"):
        scan(tmp_path / "ten")


def test_split_is_fixed_per_picture_stratified_and_keeps_copies_together(tmp_path: Path, test_digits) -> None:
    x, y = test_digits
    root = tmp_path / "many"
    for i in range(600):
        write(root / str(y[i]) / f"{i:04d}.png", x[i], size=28)
    items = scan(root)
    train, held = split(items)
    assert sorted(train + held) == items and not set(train) & set(held)
    assert split(items) == (train, held)  # deterministic
    assert 0.15 < len(held) / len(items) < 0.25
    for d in range(10):  # every digit held out at about the share
        n = sum(1 for _, k in items if k == d)
        assert 0.05 < sum(1 for _, k in held if k == d) / n < 0.40, d
    assert split(items, held_out=0.2, seed=1) != (train, held)
    # More pictures later (and the old ones moved to another folder): no old picture changes part.
    moved = tmp_path / "moved"
    shutil.copytree(root, moved)
    for i in range(600, 900):
        write(moved / str(y[i]) / f"{i:04d}.png", x[i], size=28)
    _, held2 = split(scan(moved))
    old_held = {p.relative_to(root) for p, _ in held}
    assert old_held == {p.relative_to(moved) for p, _ in held2 if int(p.stem) < 600}
    # A copy of a held-out picture under another name is held out too.
    first = held[0][0]
    shutil.copy(first, moved / first.parent.name / "copy-of-it.png")
    assert moved / first.parent.name / "copy-of-it.png" in {p for p, _ in split(scan(moved))[1]}
    with pytest.raises(DataError):
        split(items, held_out=1.0)


def test_served_inputs_are_what_the_daemon_reads_and_refusals_are_listed(folders: Path, test_digits) -> None:
    (folders / "5" / "notes.txt").write_text("not a picture")
    Image.new("L", (64, 64), 255).save(folders / "5" / "blank.png")
    items = scan(folders)
    x, y, refused = served_inputs(items, workers=1)
    assert x.dtype == np.float32 and x.shape == (30, 28, 28) and y.dtype == np.int64
    reasons = dict(refused)
    assert list(reasons) == [folders / "5" / "blank.png", folders / "5" / "notes.txt"]
    assert reasons[folders / "5" / "blank.png"].startswith("no digit found")
    assert "not an allowed image format" in reasons[folders / "5" / "notes.txt"]
    read = [p for p, _ in items if p not in reasons]
    for i in (0, 7, 29):  # exactly the daemon's first view, bit for bit
        served = prepare(read[i], Limits(max_digits=1)).x
        assert served is not None and np.array_equal(x[i], served.x[0][0])
    assert list(y) == [d for p, d in items if p not in reasons]


def test_served_inputs_in_processes_match_one_process(tmp_path: Path, test_digits) -> None:
    x, y = test_digits
    root = tmp_path / "many"
    for i in range(80):
        write(root / str(y[i]) / f"{i:03d}.png", x[i], size=40)
    items = scan(root)
    one = served_inputs(items, workers=1)
    many = served_inputs(items, workers=2)
    assert np.array_equal(one[0], many[0]) and np.array_equal(one[1], many[1]) and one[2] == many[2] == []
