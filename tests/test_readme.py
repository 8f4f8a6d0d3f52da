"""README's "Serve your own model", run as written: the spec file, its training, the one
setting, the request; the first answer is a MISS, the next a HIT-L1."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from service.ops.processes import free_port, stop, wait_for_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def served_twice(folder: Path, env: dict[str, str], body: dict) -> tuple[dict, dict]:
    """`predcache serve` in `folder` (as `make serve` runs it), the body POSTed twice: both
    answers, the first asserted a 200."""
    predcache = str(Path(sys.executable).parent / "predcache")
    port = free_port()
    server = subprocess.Popen([predcache, "serve", "--port", str(port), "--no-advertise"],
                              cwd=folder, env=env)  # fmt: skip
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        url = f"http://127.0.0.1:{port}/predict"
        first = httpx.post(url, json=body, timeout=30)
        second = httpx.post(url, json=body, timeout=30)
    finally:
        stop(server)
    assert first.status_code == 200, first.text
    return first.json(), second.json()


def test_serve_your_own_model_as_the_readme_says(tmp_path: Path) -> None:
    text = section("Serve your own model")
    spec_file = re.search(r"Save this as\s+`([^`]+)`", text).group(1)
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    shell = re.search(r"```sh\n(.*?)```", text, re.S).group(1)
    model = re.search(r"make serve MODEL=(\S+)", shell).group(1)
    body = json.loads(re.search(r"-d '(\{.*?\})'", shell).group(1))
    (tmp_path / spec_file).parent.mkdir(parents=True)
    (tmp_path / spec_file).write_text(code)
    artifact = tmp_path / "artifact.pkl"
    env = {**os.environ, "MODEL": model, "MODEL_PATH": str(artifact), "LOG_LEVEL": "WARNING"}
    predcache = str(Path(sys.executable).parent / "predcache")
    subprocess.run([predcache, "train", "--out", str(artifact)], cwd=tmp_path, env=env,
                   check=True, timeout=120)  # fmt: skip
    first, second = served_twice(tmp_path, env, body)
    assert (first["cache"], second["cache"]) == ("MISS", "HIT-L1")
    assert isinstance(first["progression"], float)


def test_bring_a_model_you_already_have_as_the_readme_says(tmp_path: Path) -> None:
    """The ONNX file exported outside predcache, the manifest, the class with `load`,
    served: MISS then HIT-L1, the answer onnxruntime's."""
    text = section("Bring a model you already have")
    export, spec_code = re.findall(r"```python\n(.*?)```", text, re.S)
    shell = re.search(r"```sh\n(.*?)```", text, re.S).group(1).splitlines()
    spec_file = re.search(r"Save it as `([^`]+)`", text).group(1)
    (tmp_path / "export.py").write_text(export)
    (tmp_path / spec_file).write_text(spec_code)
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    env.pop("MODEL", None)
    for line in shell[:2]:  # the export and the manifest, as written, from the venv
        argv = line.split()
        argv[0] = str(bin_dir / Path(argv[0]).name)
        subprocess.run(argv, cwd=tmp_path, env=env, check=True, timeout=120)
    model = re.search(r"make serve MODEL=(\S+)", shell[2]).group(1)
    artifact = tmp_path / "model" / "artifacts" / "iris.onnx"
    env |= {"MODEL": model, "MODEL_PATH": str(artifact), "CACHE_MODE": "memory"}
    example = re.search(r"EXAMPLE = (\{.*?\})", spec_code).group(1)
    first, second = served_twice(tmp_path, env, json.loads(example.replace("'", '"')))
    assert (first["cache"], second["cache"]) == ("MISS", "HIT-L1")
    assert first["species"] == 0 and first["probability"] > 0.9
