"""The model contract: what a model gives the service, in one small class.

A model subclasses `Model`: it names itself, declares the schema of a request (a
pydantic model: types, bounds, canonical form, an OpenAPI example) and of the value it
computes for one (what the cache stores, and checks on every read), and computes values
for a batch of validated rows. The server owns everything else: HTTP, keys, tiers,
metrics, verifying the artifact. As with MLServer's `MLModel` or MLflow's
`PythonModel`, `MODEL=package.module:Class` picks the model a process serves.

Floats: `Real` is a finite JSON number in one canonical form (`1` and `1.0` are one
value, `-0.0` is `0.0`; `"1.0"`, `true`, NaN and 1e400 are refused), so payloads that
mean the same share a cache entry while any other difference changes the key;
`Rounded(n)` also rounds a field to `n` decimals before its bounds are checked,
trading exactness for hit rate (the answer then names the input it was computed for).
`Integer` is a JSON integer (`7` and `7.0`; `"7"`, `true` and `7.5` are refused).

Identity: a key holds the model's name, its artifact's hash, its code's identity
(`code_version` if the model pins it, else a hash of every Python file of the model's
code home, `code_home`: a release that changes the code, a helper module included,
never reads the previous one's entries) and `value_schema`.

Artifacts come in any format (`load(path)`, `model.artifact`); values are stored in
their JSON form (`model.values`); a tree ensemble's input fields may be keyed by the
interval between split thresholds they fall in (`keys = TreeIntervals(…)`,
`model.trees`).
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import math
import operator
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer, Strict
from pydantic_core import PydanticCustomError

from model.artifact import ArtifactError, ModelArtifact
from model.trees import Cells, TreeError, TreeIntervals, thresholds
from model.values import is_stored_form

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
DEFAULT_MODEL = "model.flight_delay:FlightDelay"
# a folder names its model once: `model = "pkg.module:Class"` in this file, in the
# folder predcache runs in (MODEL, when set, wins)
PROJECT_FILE = Path("predcache.toml")


class ModelError(ValueError):
    """`MODEL` names nothing the service can serve; the message says why, in one line."""


def _canonical(value: float) -> float:
    return value + 0.0  # -0.0 + 0.0 is 0.0: one key for one number


# A JSON number (not a string, not a boolean), finite, in one canonical form.
# The canonical form is written when the request is dumped (the key, the model's rows):
# as a validator it would hide a field's own bounds (`Field(gt=0)` after it) from the
# published schema, which then said `gt` where JSON Schema says `exclusiveMinimum`
Real = Annotated[float, Strict(), Field(allow_inf_nan=False), PlainSerializer(_canonical)]


def _whole_number(value: Any) -> Any:
    """Accept 7 and 7.0, refuse "7" and true: strings and booleans are not numbers here."""
    if isinstance(value, bool | str):
        raise PydanticCustomError(
            "int_type", "Input should be a JSON integer, not {kind}", {"kind": type(value).__name__}
        )
    return value


# A JSON integer: 7 and 7.0 are one value; "7", true and 7.5 are refused.
Integer = Annotated[int, BeforeValidator(_whole_number)]


# a published bound: whether it bounds from below, the test a rounded value must pass,
# and on which side of the bound rounding starts to pass (half a unit of the last decimal)
BOUNDS: dict[str, tuple[bool, Callable[[float, float], bool], int]] = {
    "minimum": (True, operator.ge, -1),
    "exclusiveMinimum": (True, operator.gt, 1),
    "maximum": (False, operator.le, 1),
    "exclusiveMaximum": (False, operator.lt, -1),
}


class Rounded:
    """A field's quantisation: `Annotated[Real, Rounded(2)]` rounds to 2 decimals, before
    the field's own checks (its bounds then hold for the value the model computes on)."""

    def __init__(self, decimals: int) -> None:
        self.decimals = decimals

    def _round(self, value: Any) -> Any:
        # only real numbers: anything else is left for the field's own checks to refuse
        return round(value, self.decimals) if type(value) in (float, int) else value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(self._round, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        """The field's bounds as the unrounded numbers that pass them (`gt=0` with
        `Rounded(1)` takes 0.05, not 0.01): what a client generated from the published
        schema sends is accepted, and nothing refused is published as valid."""
        published = dict(handler(schema))
        for key, (lower, passes, side) in BOUNDS.items():
            if key in published:
                bound = published.pop(key)
                start = bound + side * 0.5 * 10.0**-self.decimals  # where rounding flips

                def rounded_passes(x: float, b: float = bound, test: Any = passes) -> bool:
                    return test(round(x, self.decimals), b)

                published["minimum" if lower else "maximum"] = _edge(start, rounded_passes, lower)
        return published


def _edge(start: float, passes: Callable[[float], bool], lower: bool) -> float:
    """The first (lower) or last (upper) float that passes, a few steps from `start`
    (binary floats near a decimal midpoint round either way)."""
    inward, outward = (math.inf, -math.inf) if lower else (-math.inf, math.inf)
    x = start
    for _ in range(64):
        if passes(x):
            break
        x = math.nextafter(x, inward)
    for _ in range(64):
        if not passes(math.nextafter(x, outward)):
            break
        x = math.nextafter(x, outward)
    return x


def rounded_fields(request: type[BaseModel]) -> tuple[str, ...]:
    """The request fields a model quantises (answers then say what they were computed for)."""
    return tuple(
        name
        for name, info in request.model_fields.items()
        if any(isinstance(m, Rounded) for m in info.metadata)
    )


class Model:
    """One model behind the cache. Subclasses set the class attributes and `predict_many`.

    `name` must equal the artifact manifest's `model_name`; `value_schema` versions
    the shape of `Value` (bump it when that changes: it is part of every key and
    item); `extras` are `Value` fields answered after `model_version` and `cache`.
    `train` and `payload` are optional: how to make an artifact, and the i-th of
    many distinct realistic requests (what `warm`, `stress` and `bench` send).
    `keys = TreeIntervals("f1", …)` keys a tree ensemble's input fields by the interval
    each value falls in (`model.trees`: no answer changes, bit for bit).
    `requirements` are what `predict_many` needs beyond predcache's own dependencies
    (PEP 508 strings, e.g. `"onnxruntime>=1.20"`): every job that loads the model
    installs them, and `make package` ships them. Import them where they are used
    (in `predict_many`, `train`), not at the module's top: the module must import
    without them, and a cache hit never pays for them.
    """

    name: ClassVar[str]
    Request: ClassVar[type[BaseModel]]
    Value: ClassVar[type[BaseModel]]
    value_schema: ClassVar[int] = 1
    extras: ClassVar[tuple[str, ...]] = ()
    artifact_file: ClassVar[str]
    requirements: ClassVar[tuple[str, ...]] = ()
    code_version: ClassVar[str | None] = None
    keys: ClassVar[TreeIntervals | None] = None

    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact = artifact
        if type(self).load is not Model.load:  # the model reads its own format
            artifact.loader = self.load  # (the default's unpickle needs no second hash)
        self.cells = self._cells()
        if self.cells is not None:
            artifact.verify = self._same_trees

    def _cells(self) -> Cells | None:
        """The interval keys `keys` declares, from the manifest's thresholds (ModelError
        in one line for a field the request lacks, a rounded one, or no thresholds)."""
        if self.keys is None:
            return None
        fields = self.keys.fields
        unknown = [f for f in fields if f not in self.Request.model_fields]
        if unknown:
            raise ModelError(f"{self.name}: TreeIntervals names {unknown}, not in its Request")
        rounded = set(fields) & set(rounded_fields(self.Request))
        if rounded:
            raise ModelError(f"{self.name}: {sorted(rounded)} cannot be both Rounded and "
                             "interval fields")  # fmt: skip
        trees = self.artifact.manifest.get("trees")
        if trees is None:
            raise ModelError(
                f"{self.name}: its manifest {self.artifact.path.name} holds no split thresholds "
                "for TreeIntervals: write the artifact with write_artifact, or register it with "
                "`predcache manifest` with MODEL naming this model"
            )
        try:
            return Cells(fields, trees)
        except TreeError as exc:
            raise ModelError(f"{self.name}: {exc}") from None

    def _same_trees(self, loaded: Any) -> None:
        """The loaded ensemble's thresholds are the manifest's, or the artifact is refused."""
        try:
            found = thresholds(loaded)
        except TreeError as exc:
            raise ArtifactError(f"{self.artifact.path}: {exc}") from None
        if found != self.artifact.manifest["trees"]:
            raise ArtifactError(
                f"{self.artifact.path}: its split thresholds differ from its manifest's; "
                "refusing it (keys computed from the manifest would not be its cells)"
            )

    def load(self, path: Path) -> Any:
        """The object `predict_many` uses (`self.artifact.pipeline()`), from the verified
        artifact at `path`: a file in any format or a folder. Called once, on the first
        miss (or at start with MODEL_PRELOAD=1), never on a hit. The default unpickles
        the very bytes that were verified; override it for any other format, importing
        the format's library here (`onnxruntime.InferenceSession(str(path))`)."""
        return self.artifact.unpickled()

    @property
    def identity(self) -> str:
        """What a key and a stored item name as the version that computed them: the
        artifact's hash, and the code's identity unless the model pins it to ''."""
        code = self.code_identity()
        return f"{self.artifact.version}+{code}" if code else self.artifact.version

    @classmethod
    def code_identity(cls) -> str:
        """`code_version` if pinned (a model whose edits never change its answers can
        keep its entries across releases), else the first 12 hex of a hash of the
        source of the model's code (`code_files`) for its class and each of its bases
        below `Model`: an edit of a helper module changes the key."""
        if cls.code_version is not None:
            return cls.code_version
        own = tuple(k for k in cls.__mro__ if issubclass(k, Model) and k is not Model)
        return _source_hash(own)

    def predict_many(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One value per validated row, in order (may load the artifact's object)."""
        raise NotImplementedError

    def is_valid(self, value: Any) -> bool:
        """Whether a value read from a tier is one this model computes: by default,
        exactly the JSON form `Value` writes (`model.values`; override with a faster
        exact check)."""
        return is_stored_form(self.Value, value)

    @classmethod
    def default_artifact(cls) -> Path:
        return ARTIFACTS / cls.artifact_file

    @classmethod
    def example(cls) -> dict[str, Any]:
        """The request schema's OpenAPI example (every model must give one)."""
        return dict(cls.Request.model_config["json_schema_extra"]["example"])

    @classmethod
    def train(cls, out: Path) -> dict[str, Any]:
        """Fit the model on its data and write the artifact and manifest at `out`."""
        raise NotImplementedError(f"{cls.name} has no training of its own: drop in an artifact")

    @staticmethod
    def payload(i: int) -> dict[str, Any]:
        """The i-th of many distinct realistic request bodies."""
        raise NotImplementedError


def project_model() -> str:
    """The model the folder predcache runs in names (`model` in predcache.toml), else
    the flight-delay model."""
    if not PROJECT_FILE.is_file():
        return DEFAULT_MODEL
    import tomllib

    try:
        named = tomllib.loads(PROJECT_FILE.read_text()).get("model")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"{PROJECT_FILE}: {exc}") from None
    if not isinstance(named, str) or not named:
        raise ModelError(f'{PROJECT_FILE}: give model = "package.module:Class"')
    return named


def served_spec() -> str:
    """The model a job serves: MODEL, else the folder's predcache.toml, else the default."""
    return os.environ.get("MODEL") or project_model()


def code_home(module_name: str) -> Path:
    """Where a model module's code lives, as `make package` ships it: its top-level
    package's folder, or the file itself for a top-level module (`mymodel.py`); inside
    predcache's own `model` package, the model's own subpackage or file (the framework
    beside it is predcache's, not the model's)."""
    parts = module_name.split(".")
    depth = 2 if parts[0] == __name__.split(".")[0] else 1
    spec = importlib.util.find_spec(".".join(parts[:depth]))
    if spec is not None and spec.submodule_search_locations:  # a package (or namespace)
        return Path(next(iter(spec.submodule_search_locations)))
    if spec is None or spec.origin is None:
        raise ModelError(f"{module_name}: no source to package or hash")
    return Path(spec.origin)


def code_files(home: Path) -> list[Path]:
    """The Python files of a code home, in a fixed order (caches left out)."""
    if home.is_file():
        return [home]
    return sorted(p for p in home.rglob("*.py") if "__pycache__" not in p.parts)


@functools.cache
def _source_hash(classes: tuple[type, ...]) -> str:
    """Over the classes' names, and the relative paths and source of every file of the
    homes their modules live in."""
    digest = hashlib.sha256()
    for klass in classes:
        digest.update(f"{klass.__module__}:{klass.__qualname__}\0".encode())
    for home in dict.fromkeys(code_home(k.__module__) for k in classes):
        for path in code_files(home):
            digest.update(f"{path.relative_to(home.parent)}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@functools.cache
def model_class(spec: str) -> type[Model]:
    """The `Model` subclass `spec` (`package.module:Class`) names."""
    module_name, _, attribute = spec.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute or "")
    except (ImportError, AttributeError, ValueError) as exc:
        raise ModelError(
            f"MODEL={spec!r} does not import ({type(exc).__name__}: {exc}); "
            "give package.module:Class"
        ) from None
    if not (isinstance(found, type) and issubclass(found, Model)):
        raise ModelError(f"MODEL={spec!r} is not a model (a subclass of model.contract.Model)")
    try:
        found.example()
    except (AttributeError, KeyError, TypeError):
        raise ModelError(
            f"MODEL={spec!r}: its Request needs an OpenAPI example "
            '(model_config = ConfigDict(json_schema_extra={"example": {...}}))'
        ) from None
    return found


def load_model(spec: str, artifact_path: Path | None = None) -> Model:
    """The model `spec` names on its verified artifact (its own default, or `artifact_path`);
    `ModelError` naming MODEL when the artifact's manifest is another model's."""
    cls = model_class(spec)
    artifact = ModelArtifact(artifact_path or cls.default_artifact())
    if artifact.name != cls.name:
        raise ModelError(
            f"MODEL={spec!r} serves {cls.name!r}, but the artifact {artifact.path} is "
            f"{artifact.name!r}'s: set MODEL_PATH to a {cls.name} artifact"
        )
    return cls(artifact)


__all__ = [
    "DEFAULT_MODEL",
    "ArtifactError",
    "Integer",
    "Model",
    "ModelError",
    "Real",
    "Rounded",
    "TreeIntervals",
    "code_files",
    "code_home",
    "load_model",
    "model_class",
    "project_model",
    "rounded_fields",
    "served_spec",
]
