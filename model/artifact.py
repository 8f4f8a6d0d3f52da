"""The model artifact on disk, in any format, and the JSON manifest that vouches for it.

An artifact is one file (a pickle, `model.onnx`, XGBoost's `model.json`/`.ubj`,
LightGBM's `model.txt`, a joblib file) or a folder (an MLflow model, a tokenizer
beside its weights). Its manifest names its SHA-256: of the file's bytes, or of a
folder's files (each relative path and each file's own SHA-256, in a fixed order), so
a file added, removed, renamed or changed is a mismatch. Loading verifies first and
only then lets anything read it: a pickle is unpickled from the very bytes that were
hashed; a model's own `load(path)` runs once the path has been verified. Formats that
need no pickle run no code when they load.

A pickle's manifest is `<stem>.json` beside it (`flight_delay.pkl`,
`flight_delay.json`); any other artifact's is `<name>.manifest.json` beside it
(`model.onnx.manifest.json`), so no artifact can be its own manifest.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION_HEX_CHARS = 12
PICKLE_SUFFIX = ".pkl"


class ArtifactError(RuntimeError):
    """The artifact or its manifest is missing, unreadable or does not match."""


def manifest_path_for(artifact_path: Path) -> Path:
    """Beside the artifact: `<stem>.json` for a pickle, else `<name>.manifest.json`."""
    if artifact_path.suffix == PICKLE_SUFFIX:
        return artifact_path.with_suffix(".json")
    return artifact_path.with_name(f"{artifact_path.name}.manifest.json")


def folder_files(folder: Path) -> list[Path]:
    """A folder artifact's files, in the order its hash takes them."""
    return sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.as_posix())


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise ArtifactError(f"model artifact {path} not found (train with `make model`)") from exc
    except OSError as exc:
        raise ArtifactError(f"model artifact {path} is unreadable: {exc}") from exc


def _digest(path: Path) -> tuple[str, int, int]:
    """(SHA-256, bytes, files) of a file or a folder; ArtifactError when unreadable."""
    if not path.is_dir():
        blob = _read(path)
        return hashlib.sha256(blob).hexdigest(), len(blob), 1
    digest, size, files = hashlib.sha256(), 0, folder_files(path)
    for member in files:
        blob = _read(member)
        size += len(blob)
        relative = member.relative_to(path).as_posix()
        digest.update(f"{relative}\0{hashlib.sha256(blob).hexdigest()}\n".encode())
    return digest.hexdigest(), size, len(files)


def register_artifact(
    artifact_path: Path, manifest: dict[str, Any], loaded: Any = None
) -> dict[str, Any]:
    """Write the manifest of an artifact already on disk (made by predcache or elsewhere),
    completed with its hash, size and kind, and the split thresholds of `loaded` (the
    artifact's object) when it is a tree ensemble (`model.trees`); returns it."""
    artifact_path = Path(artifact_path)
    sha256, size, files = _digest(artifact_path)
    full = {
        **manifest,
        **_trees(loaded),
        "model_version": sha256[:VERSION_HEX_CHARS],
        "artifact": {
            "file": artifact_path.name,
            "kind": "folder" if artifact_path.is_dir() else "file",
            "sha256": sha256,
            "bytes": size,
            "files": files,
        },
    }
    manifest_path_for(artifact_path).write_text(json.dumps(full, indent=2, sort_keys=True) + "\n")
    return full


def write_artifact(obj: Any, artifact_path: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Pickle `obj` to `artifact_path`, then write its manifest."""
    artifact_path.parent.mkdir(parents=True, exist_ok=True)
    artifact_path.write_bytes(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    return register_artifact(artifact_path, manifest, obj)


def _trees(loaded: Any) -> dict[str, Any]:
    """`{"trees": …}` for a tree ensemble, else nothing (any other object keys exactly)."""
    from model.trees import TreeError, thresholds

    if loaded is None:
        return {}
    try:
        return {"trees": thresholds(loaded)}
    except TreeError:
        return {}


@dataclass
class ModelArtifact:
    """A verified artifact whose object is loaded on first use.

    Construction reads the manifest and hashes the artifact (hashlib only): a service
    can key its cache on `version` and answer cache hits without importing any model
    library. `loader` (the model's `load`) makes the object from the verified path;
    without one, the verified bytes are unpickled.
    """

    path: Path
    loader: Callable[[Path], Any] | None = None
    verify: Callable[[Any], None] | None = None  # raises ArtifactError for a loaded misfit
    manifest: dict[str, Any] = field(init=False)
    _pipeline: Any = field(init=False, default=None, repr=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.manifest = self._read_manifest()
        self._verify()

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
        """The model's object, loaded once (thread-safe) after the artifact is verified
        again; ArtifactError when it does not match or its loader fails."""
        if self._pipeline is None:
            with self._lock:
                if self._pipeline is None:
                    self._pipeline = self._load()
        return self._pipeline

    def unpickled(self) -> Any:
        """The object unpickled from the bytes just verified (never from a second read)."""
        return pickle.loads(self._verify())

    def _load(self) -> Any:
        loaded = self._loaded()
        if self.verify is not None:
            self.verify(loaded)
        return loaded

    def _loaded(self) -> Any:
        if self.loader is None:
            return self.unpickled()
        self._verify()
        try:
            loaded = self.loader(self.path)
        except ImportError:  # a format's library missing: said as it is (503)
            raise
        except Exception as exc:
            said = str(exc).strip().splitlines()[:1]
            raise ArtifactError(
                f"model artifact {self.path}: load raised {type(exc).__name__}: "
                f"{''.join(said)[:300]}"
            ) from exc
        if loaded is None:
            raise ArtifactError(f"model artifact {self.path}: load returned None")
        return loaded

    def _read_manifest(self) -> dict[str, Any]:
        mpath = manifest_path_for(self.path)
        try:
            manifest = json.loads(mpath.read_text())
        except FileNotFoundError as exc:
            raise ArtifactError(
                f"model manifest {mpath} not found (train with `make model`, or "
                f"`predcache manifest {self.path} --name NAME` for an artifact made elsewhere)"
            ) from exc
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"model manifest {mpath} is unreadable: {exc}") from exc
        for key in ("model_name", "model_version", "artifact"):
            if key not in manifest:
                raise ArtifactError(f"model manifest {mpath} lacks {key!r}")
        return manifest

    def _verify(self) -> bytes:
        """Hash the artifact against its manifest; a file's verified bytes (b'' for a
        folder)."""
        if self.path.is_dir():
            actual, blob = _digest(self.path)[0], b""
        else:
            blob = _read(self.path)
            actual = hashlib.sha256(blob).hexdigest()
        expected = self.manifest["artifact"].get("sha256", "")
        if actual != expected or actual[:VERSION_HEX_CHARS] != self.version:
            raise ArtifactError(
                f"model artifact {self.path} does not match its manifest: sha256 {actual[:12]}… "
                f"!= {str(expected)[:12]}… (model_version {self.version}); refusing to load it"
            )
        return blob
