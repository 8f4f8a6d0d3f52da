"""A second model behind the same cache: iris species from four flower measurements.

Where the contract could break for the flight-delay model it does not: float features
(centimetres) and an answer that is not one probability (a species and the
probability of each of the three). Trained on the iris data set that scikit-learn
ships (150 flowers, Fisher 1936; `sklearn.datasets.load_iris`, no download).

    MODEL=model.iris:Iris        measurements rounded to 1 mm (the data's own precision)
    MODEL=model.iris:IrisExact   measurements as sent (any other float is another entry)
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from model.artifact import write_artifact
from model.contract import Model, Real, Rounded, TreeIntervals

MODEL_NAME = "iris-species"
SPECIES = ("setosa", "versicolor", "virginica")
FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
EXAMPLE = {"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1, "petal_width": 1.8}
SEED = 0
Length = Annotated[Real, Field(gt=0, le=30, description="centimetres")]
Rounded1 = Annotated[Length, Rounded(1)]


class Measurements(BaseModel):
    """One flower, in centimetres."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"example": EXAMPLE})

    sepal_length: Length
    sepal_width: Length
    petal_length: Length
    petal_width: Length


class RoundedMeasurements(Measurements):
    """One flower, in centimetres, rounded to 1 mm: measurements that differ by less
    share a cache entry."""

    sepal_length: Rounded1
    sepal_width: Rounded1
    petal_length: Rounded1
    petal_width: Rounded1


class SpeciesValue(BaseModel):
    species: str = Field(description="the most probable species")
    probabilities: dict[str, float] = Field(description="P(species) for each of the three")


class Iris(Model):
    """Iris species from sepal and petal sizes (standardised, multinomial logistic regression)."""

    name = MODEL_NAME
    Request = RoundedMeasurements
    Value = SpeciesValue
    artifact_file = "iris.pkl"

    def predict_many(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        import numpy as np

        matrix = np.array([[row[name] for name in FEATURES] for row in rows], dtype=float)
        proba = self.artifact.pipeline().predict_proba(matrix)
        return [
            {
                "species": SPECIES[int(p.argmax())],
                "probabilities": {s: float(q) for s, q in zip(SPECIES, p, strict=True)},
            }
            for p in proba
        ]

    def is_valid(self, value: Any) -> bool:
        if not super().is_valid(value):
            return False
        probabilities = value["probabilities"]
        return (
            probabilities.keys() == set(SPECIES)
            and all(0.0 <= p <= 1.0 for p in probabilities.values())
            and abs(sum(probabilities.values()) - 1.0) < 1e-6
            and value["species"] == max(probabilities, key=probabilities.__getitem__)
        )

    @classmethod
    def train(cls, out: Path) -> dict[str, Any]:
        return train(out)

    @staticmethod
    def payload(i: int) -> dict[str, Any]:
        """The i-th flower of a 1 mm grid over the data's range (1.69 million, no repeats)."""
        values = {}
        for name, (low, steps) in GRID.items():
            values[name], i = round(low + (i % steps) / 10, 1), i // steps
        return values


class IrisExact(Iris):
    """The same model and artifact, keyed on the measurements exactly as sent."""

    Request = Measurements


class IrisTrees(Iris):
    """Iris on gradient-boosted trees, keyed by the interval each measurement falls in
    between the trees' split thresholds (`TreeIntervals`): measurements the trees cannot
    tell apart share one entry, and no answer changes, bit for bit."""

    name = "iris-trees"
    Request = Measurements
    artifact_file = "iris_trees.pkl"
    keys = TreeIntervals(*FEATURES)

    @classmethod
    def train(cls, out: Path) -> dict[str, Any]:
        from sklearn.ensemble import HistGradientBoostingClassifier

        return train(out, HistGradientBoostingClassifier(max_iter=50, random_state=SEED),
                     name=cls.name)  # fmt: skip


class IrisTreesExact(IrisTrees):
    """The same trees and artifact, keyed on the measurements exactly as sent."""

    keys = None


GRID = {"sepal_length": (4.0, 41), "sepal_width": (2.0, 26),
        "petal_length": (1.0, 61), "petal_width": (0.1, 26)}  # fmt: skip


def _steps(estimator: Any) -> list[Any]:
    return [step for _, step in getattr(estimator, "steps", [(None, estimator)])]


def train(out: Path, estimator: Any = None, name: str = MODEL_NAME) -> dict[str, Any]:
    """Fit on a stratified 70 % of the flowers, report accuracy on the rest, refit on all;
    `estimator` (default: standardised multinomial logistic regression) is cloned for each."""
    from sklearn.base import clone
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if estimator is None:
        estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    data = load_iris()
    assert tuple(data.target_names) == SPECIES
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, stratify=data.target, random_state=SEED
    )

    def build() -> Any:
        return clone(estimator)

    accuracy = float(build().fit(x_train, y_train).score(x_test, y_test))
    pipeline = build().fit(data.data, data.target)
    manifest = {
        "model_name": name,
        "estimator": "+".join(type(step).__name__ for step in _steps(estimator)),
        "features": list(FEATURES),
        "classes": list(SPECIES),
        "metrics": {"accuracy_holdout": round(accuracy, 4), "split": "stratified 70/30"},
        "training": {"data": "sklearn.datasets.load_iris (Fisher 1936)", "rows": 150, "seed": SEED},
        "versions": {
            "python": platform.python_version(),
            **{n: metadata.version(n) for n in ("scikit-learn", "numpy")},
        },
    }
    return write_artifact(pipeline, Path(out), manifest)
