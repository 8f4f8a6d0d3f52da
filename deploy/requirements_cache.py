"""Where `make package` keeps the Lambda zip's installed requirements between packages:
`~/.cache/predcache/requirements/<key>` (deploy/model_package.py asks for it).

serverless-python-requirements' static cache is keyed on the requirements file
alone, yet what it caches is already slimmed by `slimPatterns` and fetched for one
platform and Python version: a changed pattern would be served the old folder. The
key here covers the requirements (predcache's and the model's own), every option of
the plugin, and the runtime, so a folder is reused only for the package it was built
for: by every package of `make test-deploy`, and by every checkout on this machine
(the folder lives in the user's cache, `$XDG_CACHE_HOME` or `~/.cache`, where the
plugin keeps its own by default).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def cache_key(requirements: bytes, options: dict, runtime_name: str) -> str:
    shaping = {k: v for k, v in options.items() if k != "cacheLocation"}
    digest = hashlib.sha256(requirements)
    digest.update(json.dumps([shaping, runtime_name], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def user_cache() -> Path:
    """predcache's folder in the user's cache (`$XDG_CACHE_HOME` or `~/.cache`)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "predcache"


def remember(path: Path, text: str) -> None:
    """Write a file of the user's cache whole or not at all: packages built side by side
    (make test-deploy's) read what another is writing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(text)
    os.replace(partial, path)


def folder(requirements: bytes, options: dict, runtime_name: str) -> Path:
    """The requirements folder of exactly these inputs."""
    return user_cache() / "requirements" / cache_key(requirements, options, runtime_name)
