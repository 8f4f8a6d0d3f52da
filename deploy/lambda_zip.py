"""The Lambda zip's requirements, zipped once per installed folder and reused.

    python3.12 deploy/lambda_zip.py requirements FOLDER   ->  FOLDER.zip
    python3.12 deploy/lambda_zip.py merge FOLDER.zip ARTIFACT

Run by deploy/assemble.js with the runtime's own interpreter (stdlib only), so the
bytecode is that runtime's. `requirements` compiles FOLDER (unchecked-hash .pyc: the
folder is keyed on its exact contents, deploy/requirements_cache.py) and zips it
beside itself; `merge` puts the function's own zip (osls writes it: code, model
artifact) on top of a copy of that zip. Compressing the ~175 MB of requirements is
most of a package's time (serverless-python-requirements re-zipped them with JSZip in
every package: docs/deploy.md), so it is done once per folder.
"""

from __future__ import annotations

import compileall
import os
import shutil
import sys
import zipfile
from pathlib import Path

# the date Serverless gives every entry: the same inputs make the same zip (and hash)
FIXED_DATE = (1980, 1, 1, 0, 0, 0)
# where Lambda unzips the function, named in the bytecode in place of this machine's path
TASK_ROOT = "/var/task"
# what serverless-python-requirements writes into the folder for itself
NOT_SHIPPED = {".completed_requirements", "requirements.txt"}


def zip_requirements(folder: Path) -> Path:
    """FOLDER.zip of the compiled folder, written whole or not at all."""
    target = folder.with_name(folder.name + ".zip")
    if target.exists():
        return target
    if not compileall.compile_dir(
        folder,
        ddir=TASK_ROOT,
        quiet=1,
        workers=0,
        invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH,
    ):
        sys.exit(f"bytecode: compiling {folder} failed")
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            name = path.relative_to(folder).as_posix()
            if name not in NOT_SHIPPED:
                entry = zipfile.ZipInfo(name, FIXED_DATE)
                entry.external_attr = (path.stat().st_mode & 0o777) << 16
                archive.writestr(entry, path.read_bytes(), zipfile.ZIP_DEFLATED)
    os.replace(partial, target)
    return target


def merge(requirements: Path, artifact: Path) -> None:
    """ARTIFACT becomes the requirements' zip plus ARTIFACT's own entries, each with the
    fixed date the requirements' entries carry, so a package made again from the same
    files is the same bytes (and its check, deploy/check_package.py, is not rerun); a
    name in both stops the package (one of the two would be lost)."""
    merged = artifact.with_name(artifact.name + ".merged")
    shutil.copyfile(requirements, merged)
    with zipfile.ZipFile(artifact) as own, zipfile.ZipFile(merged, "a") as archive:
        clashes = set(own.namelist()) & set(archive.namelist())
        if clashes:
            sys.exit(f"{artifact} and the requirements both carry {sorted(clashes)[:5]}")
        for entry in own.infolist():  # dated as the requirements are: one zip per content
            fixed = zipfile.ZipInfo(entry.filename, FIXED_DATE)
            fixed.external_attr = entry.external_attr
            archive.writestr(fixed, own.read(entry), zipfile.ZIP_DEFLATED)
    os.replace(merged, artifact)


def main() -> None:
    match sys.argv[1:]:
        case ["requirements", folder]:
            print(zip_requirements(Path(folder)))
        case ["merge", requirements, artifact]:
            merge(Path(requirements), Path(artifact))
        case _:
            sys.exit(__doc__)


if __name__ == "__main__":
    main()
