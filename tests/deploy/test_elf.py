"""deploy/elf.py: a package's ELF files resolved as Lambda's loader resolves them, and a
library neither the package nor Lambda's runtime has shipped from this machine with its
licence (real ELF files: scikit-learn's vendored OpenMP, and one compiled here)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

pytestmark = pytest.mark.deploy
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))

from elf import (  # noqa: E402
    NativeLibraryError,
    elf_files,
    libs_owners,
    unresolved,
    unresolved_lines,
    vendor,
)

SITE = Path(sysconfig.get_paths()["purelib"])


def sklearn_openmp(root: Path, with_libs: bool) -> Path:
    """scikit-learn's OpenMP helper where its wheel puts it (RPATH into
    scikit_learn.libs), with or without the folder its wheel vendors."""
    (helper,) = (SITE / "sklearn" / "utils").glob("_openmp_helpers*.so")
    target = root / "sklearn" / "utils" / helper.name
    target.parent.mkdir(parents=True)
    shutil.copyfile(helper, target)
    if with_libs:
        shutil.copytree(SITE / "scikit_learn.libs", root / "scikit_learn.libs")
    return target


def test_a_library_a_wheel_vendors_is_found_by_its_rpath(tmp_path: Path) -> None:
    helper = sklearn_openmp(tmp_path, with_libs=True)
    assert helper in elf_files(tmp_path)
    assert unresolved([tmp_path]) == {}
    assert libs_owners(tmp_path) == {"scikit_learn.libs": {"sklearn"}}


def test_a_library_left_out_is_named_with_the_file_that_needs_it(tmp_path: Path) -> None:
    helper = sklearn_openmp(tmp_path, with_libs=False)
    missing = unresolved([tmp_path])
    assert [name.startswith("libgomp-") for name in missing] == [True]
    assert list(missing.values()) == [[helper]]
    (soname,) = missing
    assert unresolved_lines(tmp_path, "the package") == [
        f"{soname}, needed by sklearn/utils/{helper.name}, is neither in the package nor in "
        "Lambda's runtime (deploy/elf.py)"]  # fmt: skip


@pytest.fixture
def needs_openmp(tmp_path: Path) -> Path:
    """A shared object compiled here with -fopenmp: it needs the system's libgomp.so.1,
    as LightGBM's wheel does."""
    if shutil.which("cc") is None:
        pytest.fail("no C compiler (apt-get install gcc): this test compiles its ELF file")
    source = tmp_path / "omp.c"
    source.write_text("int threads(void) { int n = 0;\n#pragma omp parallel\n n = 1; return n; }\n")
    root = tmp_path / "task"
    root.mkdir()
    subprocess.run(["cc", "-shared", "-fPIC", "-fopenmp", str(source), "-o",
                    str(root / "libomp_user.so")], check=True)  # fmt: skip
    return root


def test_a_library_lambda_lacks_is_shipped_with_its_licence(needs_openmp: Path) -> None:
    root = needs_openmp
    assert list(unresolved([root])) == ["libgomp.so.1"]
    staging = root / "lib"
    said = vendor([root], elf_files(root), staging)
    assert (staging / "libgomp.so.1").exists()
    assert (staging / "LICENSES" / "libgomp.so.1.txt").read_text().strip()
    assert said == [
        "lib/libgomp.so.1 for libomp_user.so, from this machine's libgomp1: GPL-3.0-or-later "
        "WITH GCC-exception-3.1 (lib/LICENSES/libgomp.so.1.txt)"
    ]
    assert unresolved([root]) == {}  # the task root's lib/ is on Lambda's LD_LIBRARY_PATH


def test_a_library_this_machine_lacks_too_is_refused_in_one_line(
    needs_openmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import elf

    monkeypatch.setattr(elf, "host_library", lambda soname: None)
    with pytest.raises(NativeLibraryError, match=r"^libgomp\.so\.1, needed by libomp_user\.so, "):
        vendor([needs_openmp], elf_files(needs_openmp), needs_openmp / "lib")
