"""The built wheel carries the bundled model: installed offline into a fresh virtual environment, its
``digitwatch predict`` reads a picture from a folder far from this checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from conftest import dark_on_light

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "daemon", "training")  # what setuptools reads to build


def test_wheel_installs_offline_and_predicts(tmp_path: Path, test_digits) -> None:
    source = tmp_path / "source"  # a copy: the build leaves build/ and *.egg-info behind
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        else:
            shutil.copy(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q"]
    r = subprocess.run([*build, "-w", str(wheels), str(source)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (wheel,) = wheels.glob("digitwatch-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    for model in ("default.tflite", "default.keras", "default.json", "canary.npz"):
        assert f"digitwatch/daemon/models/{model}" in names, model
    assert any(n.startswith("digitwatch/daemon/_kernels.") and n.endswith(".so") for n in names)
    for folder in ("daemon", "training"):  # every module, sub-packages too (preprocess/ was once left out)
        for module in (REPO / folder).rglob("*.py"):
            assert f"digitwatch/{module.relative_to(REPO).as_posix()}" in names, module

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # The dependencies (TensorFlow, LiteRT, ...) come from this environment, after the venv's own
    # site-packages; its editable digitwatch does not (a .pth's paths are not scanned for .pth files).
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps"]
    r = subprocess.run([*install, "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    x, y = test_digits
    dark_on_light(x[0]).save(elsewhere / "digit.png")
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import digitwatch.daemon.registry as r; print(r.bundled().path)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.returncode == 0 and where.stdout.startswith(str(site)), where.stdout + where.stderr
    r = subprocess.run(
        [str(venv / "bin" / "digitwatch"), "predict", "digit.png"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[1].startswith(f"digit.png,{y[0]},")
