"""scripts/lib.sh, which both README commands run: a venv whose creation was
cut short (no pip: `python -m venv` installs it last) is rebuilt instead of
failing every later `pip install`, and a whole one is left alone."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def ensure_venv(directory):
    return subprocess.run(
        ["bash", "-c", 'source scripts/lib.sh && ensure_venv "$1"', "ensure_venv", str(directory)],
        cwd=ROOT, capture_output=True, text=True, timeout=180)


def test_a_venv_without_pip_is_rebuilt_and_a_whole_one_kept(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    assert subprocess.run([str(venv / "bin/python"), "-c", "import pip"], capture_output=True).returncode != 0

    first = ensure_venv(venv)
    assert first.returncode == 0, first.stderr
    assert "rebuilding" in first.stderr
    assert subprocess.run([str(venv / "bin/python"), "-c", "import pip"]).returncode == 0

    made = (venv / "pyvenv.cfg").stat().st_mtime_ns
    second = ensure_venv(venv)
    assert second.returncode == 0, second.stderr
    assert "rebuilding" not in second.stderr and "creating" not in second.stderr
    assert (venv / "pyvenv.cfg").stat().st_mtime_ns == made
