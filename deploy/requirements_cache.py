"""Where `make package` keeps the Lambda zip's installed requirements between packages.

    python deploy/requirements_cache.py [RUNTIME]  ->  ~/.cache/predcache/requirements/<key>

serverless-python-requirements' static cache is keyed on the requirements file
alone, yet what it caches is already slimmed by `slimPatterns` and fetched for one
platform and Python version: a changed pattern would be served the old folder. The
key here covers the requirements, every option of the plugin, and the runtime, so a
folder is reused only for the package it was built for: by every package of `make
test-deploy`, and by every checkout on this machine (the folder lives in the user's
cache, `$XDG_CACHE_HOME` or `~/.cache`, where the plugin keeps its own by default).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.ops.template import runtime, template  # noqa: E402

REQUIREMENTS = ROOT / "deploy" / "requirements-lambda.txt"


def cache_key(requirements: bytes, options: dict, runtime_name: str) -> str:
    shaping = {k: v for k, v in options.items() if k != "cacheLocation"}
    digest = hashlib.sha256(requirements)
    digest.update(json.dumps([shaping, runtime_name], sort_keys=True).encode())
    return digest.hexdigest()[:16]


def main() -> None:
    """RUNTIME as given (make passes its own: `$(shell)` does not see make's command-line
    variables), else the template's default."""
    options = template()["custom"]["pythonRequirements"]
    chosen = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else runtime()
    key = cache_key(REQUIREMENTS.read_bytes(), options, chosen)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    print(cache / "predcache" / "requirements" / key)


if __name__ == "__main__":
    main()
