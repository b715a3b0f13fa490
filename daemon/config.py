"""Configuration: defaults in code < YAML file < DIGITWATCH_* environment < CLI flags.

Everything is validated once, at start-up, into a frozen :class:`Config`.
Unknown keys are errors (a renamed key must never be silently ignored), and
every error names the key and where its value came from.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError

ENV_PREFIX = "DIGITWATCH_"
PATH_KEYS = ("inbox", "outbox", "archive", "failed", "checkpoint")
# Set by systemd for a unit with StateDirectory=; the daemon's state goes there when it is set.
STATE_DIRECTORY_ENV = "STATE_DIRECTORY"
# Default state folder, beside the inbox: <inbox parent>/.digitwatch-state/<inbox name>.
STATE_FOLDER = ".digitwatch-state"
FORMATS = ("csv", "json")
LOG_FORMATS = ("auto", "json", "console")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class Config:
    """The daemon's settings. ``config.yaml`` documents each key with its default."""

    inbox: Path = Path("inbox")
    outbox: Path = Path("outbox")
    archive: Path = Path("archive")
    failed: Path = Path("failed")
    checkpoint: Path = Path("checkpoints")
    max_batch: int = 256
    max_wait_ms: int = 20
    low_confidence: float = 0.95  # ok rows >= 99.5% right on real sets held out (docs/other-writers.md)
    max_digits: int = 12  # digits read in one picture: a number (1: one digit only, a number refused)
    polling: bool = False
    poll_interval_s: float = 1.0
    rescan_interval_s: float = 60.0
    settle_ms: int = 500
    recursive: bool = False
    ignore_patterns: tuple[str, ...] = (".*", "*.part", "*.tmp", "*.crdownload", "~*")
    formats: tuple[str, ...] = ("csv",)
    decode_workers: int = 2
    decode_processes: bool = True
    queue_size: int = 10000
    max_pixels: int = 40_000_000
    max_file_mb: float = 50.0
    file_timeout_s: float = 10.0
    decode_memory_mb: int = 256
    canary_min_accuracy: float = 0.9
    model_poll_s: float = 2.0
    log_format: str = "auto"
    log_level: str = "info"
    # Journal, work folders, status: outside the inbox, on its filesystem (see state.py).
    state_dir: Path = Path(STATE_FOLDER) / "inbox"
    max_attempts: int = 3
    metrics_address: str = ""
    metrics_file: Path | None = None
    metrics_interval_s: float = 5.0
    stall_margin_s: float = 20.0


# One line per key: the help of its command-line flag (config.yaml says the same at more length).
HELP = {
    "inbox": "folder where images are dropped",
    "outbox": "folder for results: one CSV (and/or JSON) file per batch",
    "archive": "inputs move here once their results are durably in the outbox",
    "failed": "unreadable inputs move here, each with a <name>.error.txt",
    "checkpoint": "where `digitwatch train` publishes models (none there: the bundled model)",
    "max_batch": "network batch size",
    "max_wait_ms": "wait after a batch's first image for more",
    "low_confidence": "below this top probability a row's status is low_confidence",
    "max_digits": "digits read in one picture (1 refuses a number)",
    "polling": "polling observer, for NFS/CIFS shares and bind mounts",
    "poll_interval_s": "polling observer interval",
    "rescan_interval_s": "full listing of the inbox, for anything events missed",
    "settle_ms": "a file found by a rescan or poll must keep its size and mtime this long",
    "recursive": "process files in sub-folders (off: a folder is an error row)",
    "ignore_patterns": "names tools write before renaming (shell patterns)",
    "formats": "result formats: csv and/or json",
    "decode_workers": "workers that read, decode and preprocess images",
    "decode_processes": "workers are processes (off: threads)",
    "queue_size": "bounded queue; when full, files wait in the inbox",
    "max_pixels": "larger pictures get an error row, refused from the header",
    "max_file_mb": "larger files get an error row",
    "file_timeout_s": "decode + preprocess time per file before its worker process is replaced",
    "decode_memory_mb": "memory one decode may hold",
    "canary_min_accuracy": "a new model must score this on the canary digits to be served",
    "model_poll_s": "how often to look for a newly published model",
    "log_format": "auto, json or console",
    "log_level": "debug, info, warning or error",
    "state_dir": "journal, work folders, status.json (default: beside the inbox)",
    "max_attempts": "daemon deaths with a file in hand before it goes to failed/",
    "metrics_address": "HOST:PORT serving /metrics and /healthz (empty: off)",
    "metrics_file": "node_exporter textfile (.prom) rewritten atomically (empty: off)",
    "metrics_interval_s": "how often metrics_file is rewritten",
    "stall_margin_s": "a worker without progress for file_timeout_s plus this is stalled",
}
# What a bad value should have been, in the words of an error message.
EXPECTED = {
    "Path": "a folder path",
    "Path | None": "a file path",
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "tuple[str, ...]": "a list of strings",
    "str": "a string",
}


_FIELDS = {f.name: f for f in fields(Config)}


def load(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Merge the layers and validate. ``overrides`` are CLI flags (None values are ignored)."""
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_from_yaml(Path(path)))
    values.update(_from_env(os.environ if env is None else env))
    for key, value in (overrides or {}).items():
        if value is not None:
            flag = "--" + key.replace("_", "-")
            _check_known(key, flag)
            values[key] = (value, flag, Path.cwd())
    parsed = {key: _parse(key, raw, origin, base) for key, (raw, origin, base) in values.items()}
    origins = {key: origin for key, (_, origin, _) in values.items()}
    home = Path(path).resolve().parent if path is not None else Path.cwd()
    for key in PATH_KEYS:  # default folders sit next to the config file (else in the working directory)
        parsed.setdefault(key, home / getattr(Config, key))
    parsed.setdefault("state_dir", default_state_dir(parsed["inbox"], os.environ if env is None else env))
    config = dataclasses.replace(Config(), **parsed)
    _validate(config, origins)
    return config


def suggestion(word: str, known: list[str]) -> str:
    """``; did you mean 'x'?`` for the closest known word, or nothing."""
    close = difflib.get_close_matches(word, known, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _check_known(key: str, origin: str) -> None:
    if key not in _FIELDS:
        hint = suggestion(key, list(_FIELDS)) or " (config.yaml lists every key)"
        raise ConfigError(f"unknown configuration key '{key}' (from {origin}){hint}")


def _from_yaml(path: Path) -> dict[str, tuple[Any, str, Path]]:
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must be a mapping of key: value")
    base = path.resolve().parent
    out = {}
    for key, value in data.items():
        _check_known(str(key), str(path))
        out[str(key)] = (value, str(path), base)
    return out


def _from_env(env: Mapping[str, str]) -> dict[str, tuple[Any, str, Path]]:
    out = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        key = name[len(ENV_PREFIX) :].lower()
        _check_known(key, name)
        out[key] = (value, name, Path.cwd())
    return out


def _parse(key: str, raw: Any, origin: str, base: Path) -> Any:
    kind = _FIELDS[key].type
    try:
        if kind in ("Path", "Path | None"):
            return _parse_path(raw, base, optional=kind != "Path")
        if kind == "bool":
            return _parse_bool(raw)
        if kind == "int":
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(raw)
        if kind == "float":
            if isinstance(raw, bool):
                raise ValueError
            return float(raw)
        if kind == "tuple[str, ...]":
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
                raise ValueError
            return tuple(i.strip() for i in items if i.strip())
        if raw is None and kind == "str":  # `metrics_address:` left empty in YAML
            raw = ""
        if not isinstance(raw, str):
            raise ValueError
        return raw.strip().lower()
    except (TypeError, ValueError):
        raise ConfigError(f"{key}: expected {EXPECTED[str(kind)]}, got {raw!r} (from {origin})") from None


def _parse_path(raw: Any, base: Path, optional: bool) -> Path | None:
    """Relative to ``base`` (the config file's folder, or the working directory); empty is None if ``optional``."""
    if optional and (raw is None or str(raw).strip() == ""):
        return None
    if not isinstance(raw, (str, os.PathLike)) or not str(raw):
        raise ValueError
    p = Path(os.path.expanduser(str(raw)))
    return p if p.is_absolute() else base / p


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError


def _validate(c: Config, origins: Mapping[str, str]) -> None:
    def need(ok: bool, key: str, rule: str) -> None:
        if not ok:
            value = getattr(c, key)
            shown = str(value) if isinstance(value, Path) else repr(value)
            where = f" (from {origins[key]})" if key in origins else ""
            raise ConfigError(f"{key}: {rule}, got {shown}{where}")

    need(1 <= c.max_batch <= 4096, "max_batch", "must be between 1 and 4096")
    need(0 <= c.max_wait_ms <= 60_000, "max_wait_ms", "must be between 0 and 60000")
    need(0.0 <= c.low_confidence <= 1.0, "low_confidence", "must be between 0 and 1")
    need(1 <= c.max_digits <= 64, "max_digits", "must be between 1 and 64")
    need(c.poll_interval_s > 0, "poll_interval_s", "must be positive")
    need(c.rescan_interval_s > 0, "rescan_interval_s", "must be positive")
    need(c.settle_ms >= 0, "settle_ms", "must not be negative")
    need(bool(c.formats) and all(f in FORMATS for f in c.formats), "formats", f"must be a list of {FORMATS}")
    need(1 <= c.decode_workers <= 64, "decode_workers", "must be between 1 and 64")
    need(c.queue_size >= c.max_batch, "queue_size", "must be at least max_batch")
    need(c.max_pixels >= 64, "max_pixels", "must be at least 64")
    need(c.max_file_mb > 0, "max_file_mb", "must be positive")
    need(0 < c.file_timeout_s <= 3600, "file_timeout_s", "must be more than 0 and at most 3600")
    need(16 <= c.decode_memory_mb <= 65536, "decode_memory_mb", "must be between 16 and 65536")
    need(0.0 <= c.canary_min_accuracy <= 1.0, "canary_min_accuracy", "must be between 0 and 1")
    need(c.model_poll_s > 0, "model_poll_s", "must be positive")
    need(c.log_format in LOG_FORMATS, "log_format", f"must be one of {LOG_FORMATS}")
    need(c.log_level in LOG_LEVELS, "log_level", f"must be one of {LOG_LEVELS}")
    need(1 <= c.max_attempts <= 100, "max_attempts", "must be between 1 and 100")
    need(not c.metrics_address or _address_ok(c.metrics_address), "metrics_address", "must be HOST:PORT (or empty)")
    need(0.1 <= c.metrics_interval_s <= 3600, "metrics_interval_s", "must be between 0.1 and 3600")
    need(0 < c.stall_margin_s <= 3600, "stall_margin_s", "must be more than 0 and at most 3600")
    inbox = c.inbox.resolve()
    for key in ("outbox", "archive", "failed", "checkpoint"):
        other = getattr(c, key).resolve()
        need(
            other != inbox and inbox not in other.parents,
            key,
            f"must not be inside the inbox {inbox} (the daemon would feed on its own output)",
        )
    if c.metrics_file is not None:
        need(inbox not in c.metrics_file.resolve().parents, "metrics_file", f"must not be inside the inbox {inbox}")
    state = c.state_dir.resolve()
    need(
        state != inbox and inbox not in state.parents,
        "state_dir",
        f"must not be inside the inbox {inbox} (whoever drops files could rewrite the daemon's journal)",
    )


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` -> (host, port); ValueError if it is neither. Port 0: any free port."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(text)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _address_ok(text: str) -> bool:
    try:
        parse_address(text)
    except ValueError:
        return False
    return True


def default_state_dir(inbox: Path, env: Mapping[str, str]) -> Path:
    """$STATE_DIRECTORY under systemd, else ``<inbox parent>/.digitwatch-state/<inbox name>``: the same for
    every daemon on one inbox (the inbox's real path decides), so they share the journal and work folders."""
    given = env.get(STATE_DIRECTORY_ENV, "").split(":")[0]
    if given:
        return Path(given)
    real = Path(os.path.realpath(inbox))
    return real.parent / STATE_FOLDER / (real.name or "root")


def ensure_folders(c: Config) -> None:
    """Create the folders the daemon needs, or say which one could not be created."""
    for key in PATH_KEYS:
        folder = getattr(c, key)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create folder '{key}' = {folder}: {exc.strerror}") from None
        if not folder.is_dir():
            raise ConfigError(f"'{key}' = {folder} is not a folder")
    from .state import prepare_state_dir

    prepare_state_dir(c)


def as_dict(c: Config) -> dict[str, Any]:
    """Plain values (for logs and ``status``)."""
    return {
        k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v)
        for k, v in dataclasses.asdict(c).items()
    }


__all__ = ["HELP", "Config", "as_dict", "default_state_dir", "ensure_folders", "load", "parse_address", "suggestion"]
