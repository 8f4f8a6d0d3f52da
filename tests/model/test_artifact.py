"""Artifacts as they come: a file in any format or a folder, hashed against its manifest
before the model's own `load(path)` runs; `predcache manifest` vouches for one made
elsewhere; a mismatch, a `load` that raises or a missing library is a 503 on the miss
(hits still answer), never a wrong answer; the code identity covers the model's package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from model.artifact import ArtifactError, ModelArtifact, manifest_path_for, register_artifact
from model.contract import Model
from tests.model.test_contract_faults import BODY, Toy, serve


class Weights(Toy):
    """Its artifact is a folder of plain text files (a tokenizer beside its weights)."""

    artifact_file = "weights"
    loads: ClassVar[int] = 0

    def load(self, path: Path) -> Any:
        type(self).loads += 1
        return {p.stem: float(p.read_text()) for p in path.glob("*.txt")}

    def predict_many(self, rows: Any) -> Any:
        w = self.artifact.pipeline()
        return [{"progression": w["age"] * r["age"] + w["bmi"] * r["bmi"]} for r in rows]

    @classmethod
    def train(cls, out: Path) -> dict:
        out.mkdir(parents=True)
        (out / "age.txt").write_text("2")
        (out / "bmi.txt").write_text("4")
        return register_artifact(out, {"model_name": cls.name})


class Broken(Weights):
    def load(self, path: Path) -> Any:
        raise ValueError("not a model this library reads")


class NoLibrary(Weights):
    def load(self, path: Path) -> Any:
        import onnxruntime_that_is_not_installed  # noqa: F401


def test_a_folder_artifact_is_verified_then_loaded_by_the_model_once(tmp_path: Path) -> None:
    Weights.loads = 0
    client = serve(Weights, tmp_path)
    answers = [client.post("/predict", json=BODY) for _ in range(2)]
    assert [a.json()["cache"] for a in answers] == ["MISS", "HIT-L1"]
    assert answers[0].json()["progression"] == 2 * 0.5 + 4 * 0.25
    assert Weights.loads == 1
    manifest = json.loads(manifest_path_for(tmp_path / "weights").read_text())
    assert manifest["artifact"] | {"sha256": "…"} == {
        "file": "weights", "kind": "folder", "sha256": "…", "bytes": 2, "files": 2}  # fmt: skip


@pytest.mark.parametrize("change", ["add", "remove", "edit", "rename"])
def test_a_folder_changed_after_its_manifest_is_refused(change: str, tmp_path: Path) -> None:
    folder = tmp_path / "weights"
    Weights.train(folder)
    {
        "add": lambda: (folder / "extra.txt").write_text("1"),
        "remove": lambda: (folder / "bmi.txt").unlink(),
        "edit": lambda: (folder / "bmi.txt").write_text("5"),
        "rename": lambda: (folder / "bmi.txt").rename(folder / "bmj.txt"),
    }[change]()
    with pytest.raises(ArtifactError, match="does not match its manifest"):
        ModelArtifact(folder)


@pytest.mark.parametrize("cls", [Broken, NoLibrary])
def test_a_load_that_fails_is_a_503_on_the_miss_and_nothing_is_kept(
    cls: type[Weights], tmp_path: Path
) -> None:
    client = serve(cls, tmp_path)
    answer = client.post("/predict", json=BODY)
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"]
    assert client.get("/stats").json()["l1_items"] == 0


def test_a_file_changed_after_start_is_refused_before_load(tmp_path: Path) -> None:
    client = serve(Weights, tmp_path)
    (tmp_path / "weights" / "age.txt").write_text("3")  # swapped under a running process
    assert client.post("/predict", json=BODY).status_code == 503


def test_predcache_manifest_vouches_for_a_file_made_elsewhere(tmp_path: Path) -> None:
    made = tmp_path / "model.json"  # XGBoost's own format: not its own manifest
    made.write_text('{"learner": {}}')
    predcache = Path(sys.executable).parent / "predcache"
    done = subprocess.run([predcache, "manifest", str(made), "--name", "digits"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert "model.json.manifest.json: digits, model_version" in done.stdout
    artifact = ModelArtifact(made)
    assert (artifact.name, artifact.manifest["artifact"]["kind"]) == ("digits", "file")
    missing = subprocess.run([predcache, "manifest", str(tmp_path / "nope"), "--name", "x"],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 1 and "not found" in missing.stderr


HELPER_MODEL = """
from model.contract import Model
from {package}.helpers import score


class Scored(Model):
    name = "scored"

    def predict_many(self, rows):
        return [{{"y": score(r["x"])}} for r in rows]
"""


def code_identity(root: Path) -> str:
    script = "from mypkg.models import Scored; print(Scored.code_identity())"
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          text=True, check=True,
                          env={"PYTHONPATH": f"{root}:{Path.cwd()}", "PATH": ""})  # fmt: skip
    return done.stdout.strip()


def test_an_edit_of_a_helper_module_changes_the_code_identity(tmp_path: Path) -> None:
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "models.py").write_text(HELPER_MODEL.format(package="mypkg"))
    (package / "helpers.py").write_text("def score(x):\n    return x * 2.0\n")
    before = code_identity(tmp_path)
    (package / "helpers.py").write_text("def score(x):\n    return x * 3.0\n")
    assert code_identity(tmp_path) != before


def test_a_model_pinning_code_version_keeps_its_identity() -> None:
    class Pinned(Model):
        code_version = "v7"

    assert Pinned.code_identity() == "v7"
