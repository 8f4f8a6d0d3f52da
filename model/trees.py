"""Keys that know the model: a tree ensemble answers with a function that is constant
between its split thresholds, so requests whose every input column falls between the
same pair of adjacent thresholds get bit-identical answers and may share one entry.

`TreeIntervals("f1", "f2", …)` on a model class names the request fields that are the
ensemble's input columns, in column order. The thresholds per column are read from the
ensemble when its artifact is written or registered (`write_artifact`, `predcache
manifest`) and kept in the manifest (`trees`), so a key is computed from the manifest
alone: a cache hit imports no tree library and never loads the model. When the model is
loaded (on a miss) they are read again from the loaded object and must match.

A value's cell is computed with the library's own comparison:

- scikit-learn `DecisionTree*`, `RandomForest*`, `ExtraTrees*`, `GradientBoosting*`: left
  when `x <= t`, on `float32(x)` (its trees cast their input);
- scikit-learn `HistGradientBoosting*`: `x <= t` on `x` as float64;
- XGBoost (`Booster`, `XGBClassifier`, `XGBRegressor`): `x < t` on `float32(x)`;
- LightGBM (`Booster`, `LGBMClassifier`, `LGBMRegressor`): `x <= t` on `x` as float64,
  a value with `|x| <= 1e-35` read as 0.0 (as its predictor reads it), and a column with
  a split whose missing type is `Zero` keeps zero a cell of its own.

With `x <= t` two values take the same branch at every threshold exactly when the same
number of thresholds lies strictly below them (`bisect_left`); with `x < t`, at or below
them (`bisect_right`). The open intervals below the first and above the last threshold
are cells too. Anything else (a transformer before the trees, a categorical split, an
object none of these) is refused in one line naming what was found.
"""

from __future__ import annotations

import bisect
import json
from array import array
from collections.abc import Iterable, Mapping
from typing import Any

# LightGBM's kZeroThreshold, the float 1e-35f (include/LightGBM/meta.h): its predictor
# reads a value with |x| at or below it as 0.0 (a sparse zero), and a split whose
# missing type is Zero sends zero its default way
LIGHTGBM_ZERO = 1.0000000180025095e-35
# what each library's trees compare, and how (the manifest's `trees.rule`)
RULES = {
    "sklearn": ("le", "float32"),
    "sklearn-hist": ("le", "float64"),
    "xgboost": ("lt", "float32"),
    "lightgbm": ("le", "float64-lightgbm"),
}


class TreeError(ValueError):
    """The object is not an ensemble whose thresholds can key requests; says why, in one line."""


class TreeIntervals:
    """`keys = TreeIntervals("f1", "f2", …)`: the request fields that are the ensemble's
    input columns, in column order, keyed by the interval each value falls in."""

    def __init__(self, *fields: str) -> None:
        if not fields or len(set(fields)) != len(fields):
            raise TreeError("TreeIntervals names each input column once, in column order")
        self.fields = fields

    def __repr__(self) -> str:
        return f"TreeIntervals{self.fields!r}"


def _float32(x: float) -> float:
    return array("f", (x,))[0]


def _lightgbm_value(x: float) -> float:
    return 0.0 if abs(x) <= LIGHTGBM_ZERO else x


NARROW = {"float32": _float32, "float64": float, "float64-lightgbm": _lightgbm_value}


class Cells:
    """Values → cells, from a manifest's `trees` (no tree library needed)."""

    def __init__(self, fields: tuple[str, ...], trees: Mapping[str, Any]) -> None:
        self.comparison, self.dtype = RULES[trees["library"]]
        thresholds = trees["thresholds"]
        if len(thresholds) > len(fields):
            raise TreeError(
                f"the ensemble splits on {len(thresholds)} columns; TreeIntervals names "
                f"{len(fields)}: name every input column, in order"
            )
        self.columns = [
            (name, list(thresholds[i]) if i < len(thresholds) else [], i in trees.get("zero", ()))
            for i, name in enumerate(fields)
        ]
        self.bisect = bisect.bisect_left if self.comparison == "le" else bisect.bisect_right
        self.narrow = NARROW[self.dtype]

    def cell(self, value: float, thresholds: list[float], zero: bool) -> int | str:
        value = self.narrow(value)
        if zero and value == 0.0:
            return "zero"
        return self.bisect(thresholds, value)

    def key_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """`row` with each interval field replaced by its cell."""
        keyed = dict(row)
        for name, thresholds, zero in self.columns:
            keyed[name] = self.cell(keyed[name], thresholds, zero)
        return keyed

    def counts(self) -> dict[str, int]:
        """Each field's threshold count (its cells are one more)."""
        return {name: len(thresholds) for name, thresholds, _ in self.columns}


def _sorted(per_column: Mapping[int, Iterable[float]]) -> list[list[float]]:
    width = max(per_column, default=-1) + 1
    return [sorted(set(map(float, per_column.get(i, ())))) for i in range(width)]


def _sklearn_tree(estimators: Iterable[Any]) -> dict[str, Any]:
    per_column: dict[int, list[float]] = {}
    for tree in estimators:
        for feature, threshold in zip(tree.tree_.feature, tree.tree_.threshold, strict=True):
            if feature >= 0:
                per_column.setdefault(int(feature), []).append(float(threshold))
    return {"library": "sklearn", "thresholds": _sorted(per_column)}


def _sklearn_hist(model: Any) -> dict[str, Any]:
    per_column: dict[int, list[float]] = {}
    for predictors in model._predictors:
        for predictor in predictors:
            nodes = predictor.nodes
            if nodes["is_categorical"].any():
                raise TreeError(f"{type(model).__name__} has categorical splits: not keyable")
            split = nodes[nodes["is_leaf"] == 0]
            pairs = zip(split["feature_idx"], split["num_threshold"], strict=True)
            for feature, threshold in pairs:
                per_column.setdefault(int(feature), []).append(float(threshold))
    return {"library": "sklearn-hist", "thresholds": _sorted(per_column)}


def _xgboost(booster: Any) -> dict[str, Any]:
    """From the model's own JSON (`save_raw`): `split_conditions` are float32 thresholds
    written in their shortest decimal form, so each is read back as the float32 it names
    (a text dump prints them rounded further)."""
    model = json.loads(bytes(booster.save_raw("json")))
    per_column: dict[int, list[float]] = {}
    for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
        if any(tree.get("split_type", ())):
            raise TreeError("the XGBoost model has categorical splits: not keyable")
        for node, left in enumerate(tree["left_children"]):
            if left != -1:
                feature = tree["split_indices"][node]
                threshold = _float32(tree["split_conditions"][node])  # printed, not exact
                per_column.setdefault(int(feature), []).append(threshold)
    return {"library": "xgboost", "thresholds": _sorted(per_column)}


def _lightgbm(booster: Any) -> dict[str, Any]:
    per_column: dict[int, list[float]] = {}
    zero: set[int] = set()

    def walk(node: Mapping[str, Any]) -> None:
        if "split_feature" not in node:
            return
        if node.get("decision_type") != "<=":
            raise TreeError("the LightGBM model has categorical splits: not keyable")
        feature = int(node["split_feature"])
        per_column.setdefault(feature, []).append(float(node["threshold"]))
        if node.get("missing_type") == "Zero":
            zero.add(feature)
        walk(node["left_child"])
        walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return {"library": "lightgbm", "thresholds": _sorted(per_column), "zero": sorted(zero)}


def _unwrap(obj: Any) -> Any:
    """The last step of a pipeline whose earlier steps pass their columns through."""
    steps = getattr(obj, "steps", None)
    if steps is None:
        return obj
    for name, step in steps[:-1]:
        if step not in (None, "passthrough"):
            raise TreeError(
                f"the pipeline's step {name!r} ({type(step).__name__}) changes the columns "
                "before the trees: interval keys need the request's own values"
            )
    return steps[-1][1]


def thresholds(obj: Any) -> dict[str, Any]:
    """The manifest's `trees` of a supported ensemble (or a pipeline ending in one);
    TreeError naming what was found otherwise."""
    model = _unwrap(obj)
    kind = type(model).__name__
    module = type(model).__module__.split(".")[0]
    if module == "sklearn":
        if kind.startswith("HistGradientBoosting"):
            return _sklearn_hist(model)
        if kind.startswith(("RandomForest", "ExtraTrees", "GradientBoosting")):
            estimators = model.estimators_  # a list, or GradientBoosting's 2-D array
            return _sklearn_tree(estimators.ravel() if hasattr(estimators, "ravel") else estimators)
        if kind.startswith(("DecisionTree", "ExtraTree")):
            return _sklearn_tree([model])
    if module == "xgboost":
        return _xgboost(model if kind == "Booster" else model.get_booster())
    if module == "lightgbm":
        return _lightgbm(model if kind == "Booster" else model.booster_)
    raise TreeError(f"{type(model).__module__}.{kind} is not a tree ensemble predcache can key")
