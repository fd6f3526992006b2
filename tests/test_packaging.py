"""The checkout installs as the ``agentscaler`` package both editable and as a wheel, in a fresh venv."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _venv(where: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True, capture_output=True)
    return where / "bin" / "python"


def _pip(python: Path, *args: str) -> None:
    out = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", *args], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _imported_from(python: Path, module: str) -> Path:
    """Where ``module`` is imported from by ``python``, run outside the checkout."""
    code = f"import {module} as m; print(m.__file__)"
    out = subprocess.run([str(python), "-c", code], cwd="/", capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return Path(out.stdout.strip())


def test_the_package_list_names_every_package_in_the_tree() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    in_tree = {
        "agentscaler." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("services", "shared")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert listed == in_tree


def test_an_editable_install_imports_the_files_of_the_checkout(tmp_path: Path) -> None:
    python = _venv(tmp_path / "venv")
    _pip(python, "-e", str(ROOT))
    assert _imported_from(python, "agentscaler.services.policy") == ROOT / "services" / "policy" / "__init__.py"
    assert _imported_from(python, "agentscaler.shared") == ROOT / "shared" / "__init__.py"


def test_the_wheel_holds_every_module_and_installs(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    (wheel,) = tmp_path.glob("agentscaler-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {
        "agentscaler/" + str(path.relative_to(ROOT))
        for top in ("services", "shared")
        for path in (ROOT / top).rglob("*.py")
    }
    assert sources <= names, sorted(sources - names)
    python = _venv(tmp_path / "venv")
    _pip(python, str(wheel))
    installed = _imported_from(python, "agentscaler.services.policy")
    assert installed.parts[-4:] == ("agentscaler", "services", "policy", "__init__.py")
    assert ROOT not in installed.parents
