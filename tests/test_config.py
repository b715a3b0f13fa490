"""Configuration layering and validation (defaults < YAML < env < CLI), and the CLI's config errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import cli
from digitwatch.daemon import config
from digitwatch.daemon.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_defaults_match_documented_config_yaml(tmp_path: Path) -> None:
    documented = config.load(REPO / "config.yaml", env={})
    defaults = config.load(None, env={})
    for key in (
        "max_batch",
        "max_wait_ms",
        "low_confidence",
        "formats",
        "ignore_patterns",
        "settle_ms",
        "rescan_interval_s",
        "max_pixels",
        "log_format",
        "polling",
        "recursive",
    ):
        assert getattr(documented, key) == getattr(defaults, key), key
    assert documented.inbox == REPO / "inbox"


def test_layers_in_order(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("max_batch: 64\nmax_wait_ms: 5\nformats: [csv, json]\n")
    c = config.load(f, env={"DIGITWATCH_MAX_BATCH": "32"}, overrides={"max_wait_ms": "7", "low_confidence": None})
    assert (c.max_batch, c.max_wait_ms, c.formats, c.low_confidence) == (32, 7, ("csv", "json"), 0.95)
    assert c.inbox == tmp_path / "inbox"  # default folders: next to the config file
    f.write_text("outbox: results\n")
    assert config.load(f, env={}).outbox == tmp_path / "results"  # relative to the YAML file's folder
    assert config.load(None, env={}).inbox == Path.cwd() / "inbox"  # no file: the working directory


def test_env_lists_and_bools() -> None:
    c = config.load(None, env={"DIGITWATCH_FORMATS": "json, csv", "DIGITWATCH_POLLING": "yes"})
    assert c.formats == ("json", "csv") and c.polling is True


@pytest.mark.parametrize(
    "text, words",
    [
        ("max_batchsize: 3\n", ["unknown configuration key 'max_batchsize'"]),
        ("max_batch: lots\n", ["max_batch", "lots"]),
        ("max_batch: 0\n", ["max_batch", "between 1 and 4096"]),
        ("formats: [csv, xml]\n", ["formats"]),
        ("polling: maybe\n", ["polling", "true or false"]),
        ("outbox: inbox/out\n", ["outbox", "inside the inbox"]),
        ("[1, 2]\n", ["mapping"]),
        ("a: [\n", ["not valid YAML"]),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, words: list[str]) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load(f, env={})
    for w in words:
        assert w in str(err.value)


def test_unknown_env_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match="DIGITWATCH_INBOXX"):
        config.load(None, env={"DIGITWATCH_INBOXX": "x"})


def test_cli_config_error_exits_78_fast_with_one_line(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("max_batch: -1\n")
    started = time.monotonic()
    r = cli("run", "--config", str(f), cwd=tmp_path)
    assert r.returncode == 78
    assert r.stderr.strip().count("\n") == 0 and "max_batch" in r.stderr
    assert time.monotonic() - started < 5  # no TensorFlow import on this path
    r = cli("run", "--config", str(tmp_path / "missing.yaml"), cwd=tmp_path)
    assert r.returncode == 78 and "not found" in r.stderr


def test_uncreatable_folder_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    c = config.load(None, env={}, overrides={"inbox": str(tmp_path / "in"), "outbox": str(blocker / "out")})
    with pytest.raises(ConfigError, match="outbox"):
        config.ensure_folders(c)


def test_help_and_version_are_fast() -> None:
    started = time.monotonic()
    for args in (["--help"], ["run", "--help"], ["train", "--help"], ["predict", "--help"], ["--version"]):
        r = cli(*args)
        assert r.returncode == 0, r.stderr
    assert time.monotonic() - started < 10
