"""deploy/lambda_zip.py: the requirements are zipped once per folder, and a package is
that zip plus the function's own entries (the whole path, `make package`, runs in the
deploy tests; these run the script itself on a small folder)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

LAMBDA_ZIP = Path(__file__).resolve().parents[2] / "deploy" / "lambda_zip.py"


def lambda_zip(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, LAMBDA_ZIP, *map(str, args)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def requirements_folder(root: Path) -> Path:
    folder = root / "hash_x86_64_slspyc"
    (folder / "lib").mkdir(parents=True)
    (folder / "lib" / "__init__.py").write_text("VALUE = 1\n")
    (folder / "single.py").write_text("X = 2\n")
    (folder / ".completed_requirements").write_text("")
    return folder


def own_zip(path: Path, *names: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name in names:
            archive.writestr(name, f"# {name}\n")
    return path


def test_requirements_are_compiled_and_zipped_once(tmp_path: Path) -> None:
    folder = requirements_folder(tmp_path)
    built = lambda_zip("requirements", folder)
    assert built.returncode == 0, built.stderr
    zipped = Path(built.stdout.strip())
    assert zipped == folder.with_name(folder.name + ".zip")
    tag = sys.implementation.cache_tag
    names = set(zipfile.ZipFile(zipped).namelist())
    assert {"lib/__init__.py", f"lib/__pycache__/__init__.{tag}.pyc",
            f"__pycache__/single.{tag}.pyc"} <= names  # fmt: skip
    assert ".completed_requirements" not in names  # the plugin's, not the function's
    first = zipped.read_bytes()
    (folder / "late.py").write_text("")  # a built zip is reused, not rebuilt
    assert lambda_zip("requirements", folder).returncode == 0
    assert zipped.read_bytes() == first
    zipped.unlink()
    (folder / "late.py").unlink()
    assert lambda_zip("requirements", folder).returncode == 0
    assert zipped.read_bytes() == first  # the same folder makes the same bytes


def test_a_package_is_the_requirements_plus_its_own_entries(tmp_path: Path) -> None:
    zipped = Path(lambda_zip("requirements", requirements_folder(tmp_path)).stdout.strip())
    artifact = own_zip(tmp_path / "predcache.zip", "service/app.py", "model/artifacts/m.pkl")
    merged = lambda_zip("merge", zipped, artifact)
    assert merged.returncode == 0, merged.stderr
    own = {"service/app.py", "model/artifacts/m.pkl"}
    requirements = set(zipfile.ZipFile(zipped).namelist())
    assert set(zipfile.ZipFile(artifact).namelist()) == requirements | own
    assert zipfile.ZipFile(artifact).read("service/app.py") == b"# service/app.py\n"


def test_a_name_in_both_stops_the_package(tmp_path: Path) -> None:
    zipped = Path(lambda_zip("requirements", requirements_folder(tmp_path)).stdout.strip())
    artifact = own_zip(tmp_path / "predcache.zip", "single.py")
    refused = lambda_zip("merge", zipped, artifact)
    assert refused.returncode != 0
    assert "both carry ['single.py']" in refused.stderr
    assert zipfile.ZipFile(artifact).namelist() == ["single.py"]  # left as it was
