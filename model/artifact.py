"""The model artifact on disk: a pickled pipeline plus a JSON manifest.

The manifest names the artifact's SHA-256. Loading reads the artifact's bytes once,
checks them against the manifest and only then unpickles those same bytes, so a
tampered or swapped file is refused before any of its code can run.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).resolve().parent / "artifacts" / "flight_delay.pkl"
VERSION_HEX_CHARS = 12


class ArtifactError(RuntimeError):
    """The artifact or its manifest is missing, unreadable or does not match."""


def manifest_path_for(artifact_path: Path) -> Path:
    """The manifest lives beside the artifact, with the same stem."""
    return artifact_path.with_suffix(".json")


def write_artifact(obj: Any, artifact_path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Pickle `obj`, then write the manifest completed with its hash and size."""
    blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    artifact_path.parent.mkdir(parents=True, exist_ok=True)
    artifact_path.write_bytes(blob)
    sha256 = hashlib.sha256(blob).hexdigest()
    full = {
        **manifest,
        "model_version": sha256[:VERSION_HEX_CHARS],
        "artifact": {
            "file": artifact_path.name,
            "sha256": sha256,
            "bytes": len(blob),
        },
    }
    manifest_path_for(artifact_path).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return full


@dataclass
class ModelArtifact:
    """A verified artifact whose pipeline is unpickled on first use.

    Construction reads the manifest and hashes the artifact (hashlib only): a
    service can key its cache on `version` and answer cache hits without ever
    importing scikit-learn.
    """

    path: Path
    manifest: dict[str, Any] = field(init=False)
    _pipeline: Any = field(init=False, default=None, repr=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.manifest = self._read_manifest()
        self._verified_bytes()

    @property
    def name(self) -> str:
        return str(self.manifest["model_name"])

    @property
    def version(self) -> str:
        return str(self.manifest["model_version"])

    @property
    def loaded(self) -> bool:
        return self._pipeline is not None

    def pipeline(self) -> Any:
        """The fitted pipeline, unpickled once (thread-safe) from re-verified bytes."""
        if self._pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    blob = self._verified_bytes()
                    self._pipeline = pickle.loads(blob)
        return self._pipeline

    def _read_manifest(self) -> dict[str, Any]:
        mpath = manifest_path_for(self.path)
        try:
            manifest = json.loads(mpath.read_text())
        except FileNotFoundError as exc:
            raise ArtifactError(
                f"model manifest {mpath} not found (train with `make model`)"
            ) from exc
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"model manifest {mpath} is unreadable: {exc}") from exc
        for key in ("model_name", "model_version", "artifact"):
            if key not in manifest:
                raise ArtifactError(f"model manifest {mpath} lacks {key!r}")
        return manifest

    def _verified_bytes(self) -> bytes:
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError as exc:
            raise ArtifactError(
                f"model artifact {self.path} not found (train with `make model`)"
            ) from exc
        except OSError as exc:
            raise ArtifactError(f"model artifact {self.path} is unreadable: {exc}") from exc
        expected = self.manifest["artifact"].get("sha256", "")
        actual = hashlib.sha256(blob).hexdigest()
        if actual != expected or actual[:VERSION_HEX_CHARS] != self.version:
            raise ArtifactError(
                f"model artifact {self.path} does not match its manifest: sha256 {actual[:12]}… "
                f"!= {str(expected)[:12]}… (model_version {self.version}); refusing to unpickle"
            )
        return blob
