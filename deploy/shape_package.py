"""Leave out of the zip what the function never runs, decided by a trace of the function
answering its own model's example, not by a list written for one model.

    .venv/bin/python deploy/shape_package.py FOLDER FOLDER.zip OWN.zip MODEL RUNTIME  ->  SHAPED.zip
    .venv/bin/python deploy/shape_package.py --report .serverless/predcache.zip [RUNTIME]

FOLDER holds the installed requirements (compiled), FOLDER.zip all of them, OWN.zip the
function's own entries (its code and the model's artifact). Two cold containers run
on the runtime's Python with that code (deploy/package_runs.py): one loading the model
at init and running SnapStart's hooks, then answering the example as a miss, again, as
a batch, and every other route (health, stats, the docs pages and an asset of theirs,
a 404, two 422s): a model loaded at init or on the first miss opens the same files;
then a fresh one, without the model,
answering the example from the table (a cold L2 hit). A package folder (one with an
`__init__.py`, or a top-level namespace package) none of whose files those runs
imported, mapped or opened is left out, whole, and with it the folder of shared libraries
its wheel vendors (`scipy.libs`) when none of them was mapped (its owners are read
from the ELF files' RPATHs: the slimmed folder has no wheel metadata); everything else
stays (data beside a module that was imported, shared libraries, metadata). So a TF-IDF model keeps
`sklearn.feature_extraction`, and a model that never imports scikit-learn ships
without it.

The trace is kept per (requirements folder, function code, model, runtime) in the
user's cache, so the packages of one model trace once; the shaped zip is the full one
less the left-out entries (`zip -d` copies the compressed entries, no recompression).
`--report` runs a package's containers and prints the largest files they never opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from elf import NativeLibraryError, elf_files, libs_owners, vendor
from package_runs import PackageRunError, container, example_events, function, log_error
from requirements_cache import remember, user_cache

from model.contract import served_spec

HERE = Path(__file__).resolve().parent
# the trace decides what ships, not whether it fits: its containers may use what they need
TRACE_MEMORY_MIB = 10240
# a change to what the trace runs is a new trace
TRACED_BY = [HERE / "shape_package.py", HERE / "package_runs.py", HERE / "elf.py"]


def runs(spec: str) -> list[tuple[dict[str, str], list]]:
    """(extra environment, events) of each cold container of the trace, in order."""
    events = example_events(spec)
    routes = ("health", "stats", "openapi", "docs", "redoc", "docs_asset", "missing",
              "malformed", "unknown")  # fmt: skip
    first = ["hooks", events["one"], events["one"], events["batch"], *map(events.get, routes)]
    return [({"MODEL_PRELOAD": "1"}, first), ({}, [events["one"]])]


def opened_files(paths: list[Path], spec: str, runtime: str) -> set[str]:
    """Every file the trace's containers imported, mapped or opened (real paths)."""
    opened = set()
    traced = {"MODEL": spec, "CACHE_MODE": "tiered"}
    with function(paths, traced, runtime, TRACE_MEMORY_MIB) as (python, env, sandbox):
        for extra, events in runs(spec):
            replies, facts = container(python, paths[0], env | extra, events, sandbox)
            print(f"  trace: {len(events)} events -> {[r['status'] for r in replies]}",
                  file=sys.stderr)  # fmt: skip
            if replies[0]["status"] != 200:  # each container's first request: the example
                raise PackageRunError(
                    f"MODEL={spec}: the function answered its example {replies[0]['status']} "
                    f"while tracing: {log_error(facts) or replies[0]['body'][:200]}"
                )
            opened |= {os.path.realpath(f) for f in facts["opened"] if f}
    return opened


def _prunable(folder: Path, directory: Path, files: list[str]) -> bool:
    """A Python package folder: with an `__init__.py`, or a namespace package at the top."""
    if directory.name.startswith("__"):
        return False
    return "__init__.py" in files or (directory.parent == folder and directory.name.isidentifier())


def unused(folder: Path, opened: set[str]) -> list[str]:
    """The package folders under `folder` (relative, largest first in the walk) that
    hold no opened file: each is left out whole."""
    root = Path(os.path.realpath(folder))
    used = set()
    for name in opened:
        path = Path(name)
        if path.is_relative_to(root):
            used.update(p for p in path.parents if p.is_relative_to(root))
    dropped = []
    for here, subdirs, files in os.walk(root):
        directory = Path(here)
        if directory != root and directory not in used and _prunable(root, directory, files):
            dropped.append(directory.relative_to(root).as_posix())
            subdirs.clear()
    unopened = {p.name for p in root.iterdir() if p.name.endswith(".libs") and p not in used}
    return sorted(dropped + orphaned_libs(root, set(dropped), unopened))


def orphaned_libs(root: Path, dropped: set[str], unopened: set[str]) -> list[str]:
    """The shared-library folders auditwheel vendors beside a wheel's packages
    (`scipy.libs`) whose every owner (the top-level folders whose ELF files look into
    it) is left out, and none of whose libraries was mapped: nothing else loads them."""
    owners = libs_owners(root)
    return sorted(name for name in unopened if owners.get(name) and owners[name] <= dropped)


def trace_key(folder: Path, own: Path, spec: str, runtime: str) -> str:
    digest = hashlib.sha256(f"{Path(folder).resolve().name}\0{spec}\0{runtime}\0".encode())
    with zipfile.ZipFile(own) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            digest.update(f"{info.filename}\0{info.CRC}\0".encode())
    for source in TRACED_BY:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def left_out(folder: Path, own: Path, spec: str, runtime: str) -> list[str]:
    """The folders to leave out: traced once per key, then read from the user's cache."""
    kept = user_cache() / "shapes" / f"{trace_key(folder, own, spec, runtime)}.json"
    if kept.exists():
        return json.loads(kept.read_text())
    # not under /tmp: the containers get a private /tmp, as Lambda's
    with tempfile.TemporaryDirectory(prefix="predcache-shape-", dir=user_cache()) as scratch:
        task = Path(scratch) / "task"
        with zipfile.ZipFile(own) as archive:
            archive.extractall(task)
        dropped = unused(folder, opened_files([task, folder], spec, runtime))
    remember(kept, json.dumps(dropped))
    return dropped


def shaped_zip(full: Path, dropped: list[str]) -> Path:
    """`full` less every entry under the dropped folders, beside it (made once)."""
    if not dropped:
        return full
    names = hashlib.sha256("\n".join(dropped).encode()).hexdigest()[:12]
    target = full.with_name(f"{full.stem}-{names}.zip")
    if target.exists():
        return target
    prefixes = tuple(f"{d}/" for d in dropped)
    with zipfile.ZipFile(full) as archive:
        leaving = [n for n in archive.namelist() if n.startswith(prefixes)]
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")  # side by side: its own
    shutil.copyfile(full, partial)
    subprocess.run(["zip", "-d", "-q", "-nw", str(partial), "-@"],
                   input="\n".join(leaving), text=True, check=True)  # fmt: skip
    os.replace(partial, target)
    return target


def with_native_libraries(folder: Path, shaped: Path, dropped: list[str]) -> Path:
    """`shaped`, plus a `lib/` (on Lambda's LD_LIBRARY_PATH) holding each library its
    kept ELF files need that neither the package nor Lambda's runtime provides (LightGBM's
    `libgomp.so.1`), copied from this machine with its copyright file (deploy/elf.py);
    one line on stderr per library, naming its licence."""
    root = Path(os.path.realpath(folder))
    key = hashlib.sha256(f"{root.name}\0{chr(0).join(dropped)}".encode())
    key.update((HERE / "elf.py").read_bytes())
    none_needed = user_cache() / "shapes" / f"{key.hexdigest()[:16]}.no-libs"
    if none_needed.exists():  # these ELF files were resolved before: nothing to add
        return shaped
    prefixes = tuple(f"{d}/" for d in dropped)
    kept = [p for p in elf_files(root) if not p.relative_to(root).as_posix().startswith(prefixes)]
    with tempfile.TemporaryDirectory(prefix="predcache-lib-", dir=user_cache()) as scratch:
        staging = Path(scratch) / "lib"
        said = vendor([root], kept, staging)
        if not said:
            remember(none_needed, "")
            return shaped
        for line in said:
            print(f"  native: {line}", file=sys.stderr)
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.relative_to(staging).as_posix().encode() + path.read_bytes())
        target = shaped.with_name(f"{shaped.stem}-lib-{digest.hexdigest()[:12]}.zip")
        if not target.exists():
            partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
            shutil.copyfile(shaped, partial)
            with zipfile.ZipFile(partial, "a", zipfile.ZIP_DEFLATED) as archive:
                for path in files:
                    archive.write(path, f"lib/{path.relative_to(staging).as_posix()}")
            os.replace(partial, target)
    return target


def report(zip_path: Path, runtime: str) -> None:
    """The package's containers, and the largest of its files they never opened."""
    with tempfile.TemporaryDirectory(prefix="predcache-trace-", dir=user_cache()) as scratch:
        task = Path(scratch).resolve() / "task"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(task)
        spec = served_spec()
        opened = opened_files([task], spec, runtime)
        sizes = {p: p.stat().st_size for p in task.rglob("*") if p.is_file()}

        def used(path: Path) -> bool:  # bytecode counts with its module's source
            if path.parent.name == "__pycache__":
                path = path.parent.parent / f"{path.name.split('.')[0]}.py"
            return str(path) in opened

        never = sorted(((size, p) for p, size in sizes.items() if not used(p)), reverse=True)
        total, unopened = sum(sizes.values()), sum(size for size, _ in never)
        print(f"shipped {total:,} bytes; opened {total - unopened:,}; never opened {unopened:,}")
        for size, path in never[:40]:
            print(f"  {size:>11,}  {path.relative_to(task)}")


def main() -> None:
    match sys.argv[1:]:
        case ["--report", zip_path, *runtime]:
            report(Path(zip_path), runtime[0] if runtime else "python3.12")
        case [folder, full, own, spec, runtime]:
            try:
                dropped = left_out(Path(folder), Path(own), spec, runtime)
                shaped = with_native_libraries(
                    Path(folder), shaped_zip(Path(full), dropped), dropped
                )
            except PackageRunError as exc:
                sys.exit(str(exc))
            except NativeLibraryError as exc:
                sys.exit(f"MODEL={spec}: {exc}")
            before, after = (sum(i.file_size for i in zipfile.ZipFile(z).infolist())
                             for z in (full, shaped))  # fmt: skip
            print(f"  shaped: {len(dropped)} package folders never opened left out "
                  f"({(before - after) / 1e6:.1f} MB): {', '.join(dropped[:8])}"
                  f"{' …' if len(dropped) > 8 else ''}", file=sys.stderr)  # fmt: skip
            print(shaped)
        case _:
            sys.exit(__doc__)


if __name__ == "__main__":
    main()
