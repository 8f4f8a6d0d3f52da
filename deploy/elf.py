"""The shared libraries a package's ELF files need, resolved as Lambda's loader resolves
them: in the package (the file's RPATH/RUNPATH, `$ORIGIN`-relative, then the folders of
Lambda's documented `LD_LIBRARY_PATH` that the package fills: the task root and its
`lib/`) or in what the runtime itself provides.

What the runtime provides (`RUNTIME_LIBRARIES`) is kept to what every Lambda Python
runtime has: glibc's libraries, GCC's runtime (`libgcc_s`, `libstdc++`) and the
interpreter's own `libpython`, and zlib (`libz.so.1`: the interpreter's `zlib` module
needs it, and manylinux wheels such as numpy's rely on it, as the manylinux policy
allows). AWS's pages, read 2026-12-07: "The Python 3.12 and later
base images are based on the Amazon Linux 2023 minimal container image"
(docs.aws.amazon.com/lambda/latest/dg/python-image.html), the same OS as the managed
runtime (docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html); Lambda's
`LD_LIBRARY_PATH` is
`/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib`
(docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html, "Defined runtime
environment variables"). Anything else (LightGBM's `libgomp.so.1`, which users report
missing on Lambda) must be in the zip: a narrower list than the image may hold only
ships a library twice, a wider one would say `package OK` for a zip that cannot load.

pyelftools reads each file's dynamic section; auditwheel's `lddtree` resolves against
the build machine's loader paths, which is the question of a wheel, not of Lambda's
runtime, so the resolution here is our own (a few lines over the same ELF fields).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

# glibc 2.34's libraries, GCC's runtime and the interpreter: what any Lambda Python has
RUNTIME_LIBRARIES = re.compile(
    r"^(ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1|lib(c|m|dl|pthread|rt|util|resolv|"
    r"anl|nsl|crypt|BrokenLocale|mvec|thread_db)\.so\.\d+|libgcc_s\.so\.1|"
    r"libstdc\+\+\.so\.6|libpython3\.\d+\.so\.1\.0|libz\.so\.1)$"
)
# where Lambda's loader looks inside the function's code (LD_LIBRARY_PATH's /var/task*)
TASK_LIBRARY_DIRS = ("", "lib")
ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True)
class Needs:
    """One ELF file's dynamic section: the sonames it needs and where it looks first."""

    path: Path
    needed: tuple[str, ...]
    search: tuple[Path, ...]  # RPATH/RUNPATH with $ORIGIN expanded


def is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ELF_MAGIC
    except OSError:
        return False


def needs(path: Path) -> Needs | None:
    """`path`'s needs, or None for an ELF file with no dynamic section (or no ELF)."""
    try:
        with path.open("rb") as handle:
            elf = ELFFile(handle)
            dynamic = next((s for s in elf.iter_sections() if isinstance(s, DynamicSection)),
                           None)  # fmt: skip
            if dynamic is None:
                return None
            needed, search = [], []
            for tag in dynamic.iter_tags():
                if tag.entry.d_tag == "DT_NEEDED":
                    needed.append(tag.needed)
                elif tag.entry.d_tag in ("DT_RPATH", "DT_RUNPATH"):
                    value = tag.rpath if tag.entry.d_tag == "DT_RPATH" else tag.runpath
                    for entry in value.split(":"):
                        expanded = entry.replace("$ORIGIN", str(path.parent))
                        search.append(Path(expanded.replace("${ORIGIN}", str(path.parent))))
    except (ELFError, OSError, ValueError):
        return None
    return Needs(path, tuple(needed), tuple(search))


def elf_files(root: Path) -> list[Path]:
    """Every ELF file under `root` (shared objects and executables), in a fixed order."""
    found = []
    for here, _dirs, files in os.walk(root):
        for name in files:
            path = Path(here) / name
            if (".so" in name or os.access(path, os.X_OK)) and is_elf(path):
                found.append(path)
    return sorted(found)


def unresolved(roots: Sequence[Path], files: list[Path] | None = None) -> dict[str, list[Path]]:
    """Each soname some ELF file under `roots` (the folders that make the task root)
    needs that neither the package (where Lambda's loader would find it) nor the
    runtime provides, with the files needing it.

    In the package: the file's own RPATH/RUNPATH, the task root and its `lib/`, and the
    libraries a wheel vendors (a `*.libs` folder, or beside the file): those are loaded
    by their owners' RPATH first and then found by soname, as auditwheel arranges."""
    files = [f for root in roots for f in elf_files(root)] if files is None else files
    vendored = {p.name for p in files if p.parent.name.endswith(".libs")}
    task_dirs = [root / d for root in roots for d in TASK_LIBRARY_DIRS]
    missing: dict[str, list[Path]] = {}
    for path in files:
        found = needs(path)
        if found is None:
            continue
        for soname in found.needed:
            if RUNTIME_LIBRARIES.match(soname) or soname in vendored:
                continue
            dirs = (*found.search, *task_dirs, path.parent)
            if not any((d / soname).exists() for d in dirs):
                missing.setdefault(soname, []).append(path)
    return missing


def unresolved_lines(task: Path, where: str) -> list[str]:
    """One line per soname an ELF file of the unpacked `task` needs and neither the
    package (`where`: "the package", "the image's task root") nor Lambda's runtime has."""
    return [f"{soname}, needed by {needers[0].relative_to(task)}, is neither in {where} nor "
            "in Lambda's runtime (deploy/elf.py)"
            for soname, needers in sorted(unresolved([task]).items())]  # fmt: skip


def libs_owners(root: Path) -> dict[str, set[str]]:
    """Each vendored library folder at the top (`scipy.libs`) and the top-level folders
    whose ELF files look into it (scipy's extensions: `$ORIGIN/../../scipy.libs`)."""
    owners: dict[str, set[str]] = {
        p.name: set() for p in root.iterdir() if p.name.endswith(".libs")
    }
    if not owners:
        return owners
    for path in elf_files(root):
        top = path.relative_to(root).parts[0]
        found = needs(path)
        for folder in found.search if found else ():
            resolved = Path(os.path.normpath(folder))
            if resolved.parent == root and resolved.name in owners and top != resolved.name:
                owners[resolved.name].add(top)
    return owners


def host_library(soname: str) -> Path | None:
    """Where this machine's loader finds `soname` (x86-64), from `ldconfig -p`."""
    import subprocess

    listed = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for line in listed.splitlines():
        name, _, rest = line.strip().partition(" (")
        if name == soname and "x86-64" in rest and "=> " in rest:
            return Path(rest.split("=> ", 1)[1].strip())
    return None


def licence(path: Path) -> tuple[str, Path] | None:
    """The licence of a library of this machine's, from its Debian package's copyright
    file (`dpkg -S`): (`package: licence`, the file); None when no package owns it."""
    import subprocess

    real = Path(os.path.realpath(path))
    for candidate in dict.fromkeys([path, real, Path("/usr") / real.relative_to("/")]):
        owner = subprocess.run(["dpkg", "-S", str(candidate)], capture_output=True, text=True)
        if owner.returncode != 0:
            continue
        package = owner.stdout.split(":", 1)[0].strip()
        copyright_file = Path("/usr/share/doc") / package / "copyright"
        if not copyright_file.exists():
            return None
        text = copyright_file.read_text(errors="replace")
        named = [line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.startswith("License:")]  # fmt: skip
        if "RUNTIME LIBRARY EXCEPTION" in text.upper():
            named.insert(0, "GPL-3.0-or-later WITH GCC-exception-3.1")
        said = ", ".join(dict.fromkeys(n for n in named if n)) or "as its copyright file says"
        return f"{package}: {said}", copyright_file
    return None


class NativeLibraryError(RuntimeError):
    """A library the package needs that it cannot carry; the message says which, in one line."""


def vendor(roots: Sequence[Path], kept: list[Path], staging: Path) -> list[str]:
    """Copy into `staging` (the zip's `lib/`, on Lambda's LD_LIBRARY_PATH) every library
    the `kept` ELF files (of the task root `roots`) need that neither the package nor the
    runtime provides, and what those need in turn, each with its copyright file; one
    line per library shipped, naming its licence. NativeLibraryError for one this
    machine lacks or whose licence is unknown."""
    import shutil

    said: list[str] = []
    files = list(kept)
    while True:
        missing = unresolved([*roots, staging.parent], files)
        missing = {k: v for k, v in missing.items() if not (staging / k).exists()}
        if not missing:
            return said
        for soname, needers in sorted(missing.items()):
            needer = needers[0].name
            source = host_library(soname)
            if source is None:
                raise NativeLibraryError(
                    f"{soname}, needed by {needer}, is neither in the package, nor in Lambda's "
                    "runtime, nor on this machine: install it, or choose a wheel that vendors it"
                )
            known = licence(source)
            if known is None:
                raise NativeLibraryError(
                    f"{soname}, needed by {needer}, has no known licence on this machine "
                    f"({source}): ship it yourself if its licence allows"
                )
            said_licence, copyright_file = known
            (staging / "LICENSES").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, staging / soname)
            shutil.copyfile(copyright_file, staging / "LICENSES" / f"{soname}.txt")
            files.append(staging / soname)
            said.append(f"lib/{soname} for {needer}, from this machine's {said_licence} "
                        f"(lib/LICENSES/{soname}.txt)")  # fmt: skip
