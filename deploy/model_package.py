"""What the zip carries of the model the function serves, asked by deploy/model.js.

    .venv/bin/python deploy/model_package.py MODEL RUNTIME   ->  JSON on stdout

Run in the folder `osls package` runs in (the user's checkout), where `MODEL` imports
as it does for `predcache` (the folder is on the path, as uvicorn's --app-dir). Prints
the model's code (its package folder with its data files, or its one file: compiled
with the function's), the artifact (a file or a folder) and its manifest, the
requirements file the zip is built from (predcache's pins and the model's own,
`predcache deps --lambda`), and the folder they are installed into
(deploy/requirements_cache.py). Refuses, in one line on stderr, a model whose example
its own schema refuses, whose artifact or code is missing or outside the checkout, or
whose requirements have no wheel for the runtime.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(1, os.getcwd())

from requirements_cache import folder, remember, user_cache

from model.artifact import manifest_path_for
from model.contract import ModelError, code_home, model_class
from service.ops.dependencies import (
    DependencyError,
    lambda_requirements,
    model_requirements,
)
from service.ops.template import template

REQUIREMENTS_FILE = Path("deploy") / "requirements-lambda.txt"
# the function's own packages: always in the zip, compiled with the runtime's Python
OWN_CODE = ("cache", "model", "service")


def check_example(cls: type) -> None:
    """The model's OpenAPI example passes its own request schema (what `make package`
    answers with before saying `package OK`)."""
    from pydantic import ValidationError

    try:
        cls.Request.model_validate(cls.example())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"])) or "body"
        raise ModelError(
            f"{cls.__name__}'s OpenAPI example is refused by its own Request: "
            f"{where}: {first['msg']}; fix json_schema_extra's example"
        ) from None


def check_wheels(cls: type, requirements: str, options: dict, runtime: str) -> None:
    """Each of the model's own requirements has a wheel for the runtime's platform
    (the zip is built from wheels only): asked of pip before anything is installed, as
    a dry run that reads the index's metadata (a download of each wheel cost a machine's
    first package ~15 s, and the requirements plugin downloads it again)."""
    own = {str(req.name).lower() for req in model_requirements(cls)}
    pinned = [line for line in requirements.splitlines()
              if line.split("==")[0].split("[")[0].lower() in own]  # fmt: skip
    if not pinned:
        return
    platform = [arg for option in options["pipCmdExtraArgs"] for arg in option.split()
                if arg != "--no-compile"]  # fmt: skip
    asked = [*platform, "--python-version", runtime.removeprefix("python"), *pinned]
    found = user_cache() / "wheels" / hashlib.sha256("\0".join(asked).encode()).hexdigest()[:16]
    if found.exists():  # these pins have wheels: asked once, not on every package
        return
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-deps",
             "--ignore-installed", "--disable-pip-version-check", "--target", scratch, *asked],
            capture_output=True, text=True,
        )  # fmt: skip
    if done.returncode != 0:
        raise DependencyError(
            f"{cls.__name__} requires {', '.join(pinned)}: no wheel for {runtime} on Linux "
            "x86_64 (Lambda's); pick a version that ships one"
        )
    remember(found, "\n".join(pinned) + "\n")


def code_patterns(spec: str, runtime: str) -> tuple[list[str], list[str]]:
    """What the zip carries of the model's own code (its code home, `model.contract`):
    the paths to compile with the function's, and the package patterns. A package folder
    ships whole, its data files too (a vocabulary beside the module), less other
    Pythons' bytecode; a model in one file ships that file and its bytecode."""
    home = code_home(spec.partition(":")[0])
    root = Path.cwd().resolve()
    try:
        relative = home.resolve().relative_to(root).as_posix()
    except ValueError:
        raise ModelError(f"MODEL={spec}: its code {home} is outside {root}") from None
    if relative.split("/")[0] in OWN_CODE:  # predcache's model/: shipped with the function
        return [], []
    tag = "cpython-" + runtime.removeprefix("python").replace(".", "")
    if home.is_file():
        stem = home.stem
        return [relative], [relative, f"__pycache__/{stem}.{tag}.pyc"]
    return [relative], [f"{relative}/**", f"!{relative}/**/__pycache__/**",
                        f"{relative}/**/__pycache__/*.{tag}.pyc"]  # fmt: skip


def artifact_patterns(spec: str, artifact: Path) -> list[str]:
    """The artifact (a file, or a folder's every file) and its manifest, relative to the
    checkout the package is built in."""
    if not artifact.exists():
        raise ModelError(f"MODEL={spec}: no artifact at {artifact}: `predcache train` makes it")
    root = Path.cwd().resolve()
    try:
        relative = artifact.resolve().relative_to(root)
    except ValueError:
        raise ModelError(f"MODEL={spec}: its artifact {artifact} is outside {root}") from None
    shipped = f"{relative.as_posix()}/**" if artifact.is_dir() else relative.as_posix()
    return [shipped, manifest_path_for(relative).as_posix()]


def describe(spec: str, runtime: str) -> dict:
    cls = model_class(spec)
    check_example(cls)
    requirements = lambda_requirements(cls)
    options = template()["custom"]["pythonRequirements"]
    check_wheels(cls, requirements, options, runtime)
    if not REQUIREMENTS_FILE.exists() or REQUIREMENTS_FILE.read_text() != requirements:
        REQUIREMENTS_FILE.write_text(requirements)
    code, patterns = code_patterns(spec, runtime)
    return {
        "code": [*OWN_CODE, *code],
        "patterns": [*patterns, *artifact_patterns(spec, cls.default_artifact())],
        "requirementsFile": REQUIREMENTS_FILE.as_posix(),
        "requirementsCache": str(folder(requirements.encode(), options, runtime)),
    }


def main() -> None:
    spec, runtime = sys.argv[1:3]
    try:
        print(json.dumps(describe(spec, runtime)))
    except (ModelError, DependencyError) as exc:
        sys.exit(str(exc))


if __name__ == "__main__":
    main()
