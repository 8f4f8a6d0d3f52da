"""Keys that know the model (model/trees.py): requests in one cell of a tree ensemble's
thresholds get bit-identical answers from the library itself, for every supported
library, at random points and at every boundary (each threshold, the next float either
side, the floats float32 rounds onto it, ±0.0, beyond the first and last); the wrong
comparison is caught; and through the app a hit in a cell answers what the library
answers for that exact request."""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from model.contract import ModelError, TreeIntervals
from model.iris import FEATURES, IrisTrees
from model.trees import Cells, TreeError, _float32, thresholds
from service.factory import create_app
from service.settings import SettingsError
from tests.conftest import make_settings

FIELDS = ("a", "b", "c")
RNG = np.random.default_rng(7)
X = np.round(RNG.normal(0, 1, (400, 3)), 2)  # repeated values: thresholds land between them
X[::17, 1] = 0.0
Y_CLASS = (X[:, 0] + X[:, 1] * X[:, 2] > 0.2).astype(int)
Y_REG = X[:, 0] * 3 + np.sin(X[:, 1] * 4) + X[:, 2]


def sklearn_models() -> dict[str, Callable[[], Any]]:
    from sklearn import ensemble, tree

    return {
        "DecisionTreeClassifier": lambda: tree.DecisionTreeClassifier(max_depth=5, random_state=0)
        .fit(X, Y_CLASS),
        "ExtraTreeRegressor": lambda: tree.ExtraTreeRegressor(max_depth=5, random_state=0)
        .fit(X, Y_REG),
        "RandomForestRegressor": lambda: ensemble.RandomForestRegressor(
            n_estimators=8, max_depth=4, random_state=0).fit(X, Y_REG),
        "ExtraTreesClassifier": lambda: ensemble.ExtraTreesClassifier(
            n_estimators=8, max_depth=4, random_state=0).fit(X, Y_CLASS),
        "GradientBoostingClassifier": lambda: ensemble.GradientBoostingClassifier(
            n_estimators=10, max_depth=3, random_state=0).fit(X, Y_CLASS),
        "HistGradientBoostingRegressor": lambda: ensemble.HistGradientBoostingRegressor(
            max_iter=20, random_state=0).fit(X, Y_REG),
        "HistGradientBoostingClassifier": lambda: ensemble.HistGradientBoostingClassifier(
            max_iter=20, random_state=0).fit(X, Y_CLASS),
    }  # fmt: skip


def xgboost_models() -> dict[str, Callable[[], Any]]:
    xgboost = pytest.importorskip("xgboost")
    return {
        "XGBRegressor": lambda: xgboost.XGBRegressor(n_estimators=15, max_depth=3).fit(X, Y_REG),
        "XGBClassifier": lambda: xgboost.XGBClassifier(n_estimators=15, max_depth=3)
        .fit(X, Y_CLASS),
    }  # fmt: skip


def lightgbm_models() -> dict[str, Callable[[], Any]]:
    lightgbm = pytest.importorskip("lightgbm")
    params = {"n_estimators": 15, "num_leaves": 8, "min_child_samples": 5, "verbose": -1}
    return {
        "LGBMRegressor": lambda: lightgbm.LGBMRegressor(**params).fit(X, Y_REG),
        "LGBMClassifier": lambda: lightgbm.LGBMClassifier(**params).fit(X, Y_CLASS),
        # zero as missing: a split's missing type is Zero, zero takes its default way
        "LGBMRegressor zero_as_missing": lambda: lightgbm.LGBMRegressor(
            **params, zero_as_missing=True).fit(X, Y_REG),
    }  # fmt: skip


def predict(model: Any, points: np.ndarray) -> np.ndarray:
    """The library's own answer for each exact point (probabilities where it has them)."""
    return model.predict_proba(points) if hasattr(model, "predict_proba") else model.predict(points)


def boundary_values(column: list[float]) -> list[float]:
    """Each threshold, the next float64 either side, the float32 values either side of it
    (as float64: what float32 rounds onto it), midpoints, ±0.0, and beyond both ends."""
    values = [0.0, -0.0, column[0] - 10, column[-1] + 10] if column else [0.0, -1.0, 1.0]
    for t in column:
        t32 = np.float32(t)
        values += [t, np.nextafter(t, -np.inf), np.nextafter(t, np.inf), float(t32),
                   float(np.nextafter(t32, np.float32(-np.inf))),
                   float(np.nextafter(t32, np.float32(np.inf)))]  # fmt: skip
    values += [(a + b) / 2 for a, b in itertools.pairwise(column)]
    return [float(v) for v in values]


def points_for(trees: dict, count: int = 4000) -> np.ndarray:
    """Random points whose every coordinate is a boundary value or a random number."""
    columns = [boundary_values(trees["thresholds"][i] if i < len(trees["thresholds"]) else [])
               for i in range(len(FIELDS))]  # fmt: skip
    picked = [RNG.choice(np.array(c), count) for c in columns]
    noise = RNG.normal(0, 1.5, (count, len(FIELDS)))
    random_rows = RNG.random((count, len(FIELDS))) < 0.2
    return np.where(random_rows, noise, np.column_stack(picked))


def conflicts(model: Any, cells: Cells, points: np.ndarray) -> int:
    """How many cells hold points the library answers differently (bit for bit)."""
    answers = predict(model, points)
    seen: dict[tuple, set[bytes]] = defaultdict(set)
    for point, answer in zip(points, answers, strict=True):
        key = tuple(cells.key_row(dict(zip(FIELDS, map(float, point), strict=True))).values())
        seen[key].add(np.asarray(answer).tobytes())
    return sum(len(answers_) > 1 for answers_ in seen.values())


MODELS = {"sklearn": sklearn_models, "xgboost": xgboost_models, "lightgbm": lightgbm_models}
CASES = [(family, name) for family, make in MODELS.items() for name in make()]


@pytest.fixture(scope="module")
def trained() -> dict[str, Any]:
    return {name: build() for make in MODELS.values() for name, build in make().items()}


@pytest.mark.parametrize(("family", "name"), CASES)
def test_requests_in_one_cell_get_bit_identical_answers(
    family: str, name: str, trained: dict
) -> None:
    model = trained[name]
    trees = thresholds(model)
    assert sum(map(len, trees["thresholds"])) > 5  # the ensemble really splits
    cells = Cells(FIELDS, trees)
    assert conflicts(model, cells, points_for(trees)) == 0


# the mistake that matters for each library: its trees' float32 cast dropped (sklearn's
# thresholds lie between float32 values, so no input ties them), or `<=` and `<` swapped
MISTAKES = {
    "sklearn": (bisect.bisect_left, float),
    "sklearn-hist": (bisect.bisect_right, float),
    "xgboost": (bisect.bisect_left, _float32),
    "lightgbm": (bisect.bisect_right, float),
}


@pytest.mark.parametrize(("family", "name"), CASES)
def test_the_wrong_comparison_is_caught(family: str, name: str, trained: dict) -> None:
    """With each library's comparison made wrong, the boundary points land in cells whose
    answers differ: these tests can fail."""
    model = trained[name]
    trees = thresholds(model)
    cells = Cells(FIELDS, trees)
    cells.bisect, cells.narrow = MISTAKES[trees["library"]]
    assert conflicts(model, cells, points_for(trees)) > 0


def test_a_pipeline_passes_only_columns_through_unchanged(trained: dict) -> None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    tree = trained["DecisionTreeClassifier"]
    assert thresholds(Pipeline([("keep", "passthrough"), ("trees", tree)])) == thresholds(tree)
    with pytest.raises(TreeError, match=r"step 'scale' \(StandardScaler\) changes the columns"):
        thresholds(Pipeline([("scale", StandardScaler()), ("trees", tree)]))
    with pytest.raises(TreeError, match="LogisticRegression is not a tree ensemble"):
        from sklearn.linear_model import LogisticRegression

        thresholds(LogisticRegression().fit(X, Y_CLASS))


@pytest.fixture(scope="module")
def iris_trees(tmp_path_factory: pytest.TempPathFactory) -> Path:
    artifact = tmp_path_factory.mktemp("iris") / IrisTrees.artifact_file
    IrisTrees.train(artifact)
    return artifact


def test_a_hit_in_a_cell_answers_what_the_trees_answer_for_that_request(
    iris_trees: Path,
) -> None:
    import pickle

    client = TestClient(create_app(make_settings(iris_trees, model="model.iris:IrisTrees")))
    first = {"sepal_length": 5.9, "sepal_width": 3.0, "petal_length": 5.1, "petal_width": 1.8}
    near = {**first, "sepal_length": 5.9000001, "petal_width": 1.8000002}
    answers = [client.post("/predict", json=body).json() for body in (first, near)]
    assert [a["cache"] for a in answers] == ["MISS", "HIT-L1"]
    trees = pickle.loads(iris_trees.read_bytes())
    proba = trees.predict_proba(np.array([[near[f] for f in FEATURES]]))[0]
    assert list(answers[1]["probabilities"].values()) == [float(p) for p in proba]


def test_a_manifest_whose_thresholds_differ_is_refused_on_the_miss(
    iris_trees: Path, tmp_path: Path
) -> None:
    import json
    import shutil

    from model.artifact import manifest_path_for

    copy = tmp_path / iris_trees.name
    shutil.copyfile(iris_trees, copy)
    manifest = json.loads(manifest_path_for(iris_trees).read_text())
    manifest["trees"]["thresholds"][0][0] += 0.05  # keys would no longer be the trees' cells
    manifest_path_for(copy).write_text(json.dumps(manifest))
    client = TestClient(create_app(make_settings(copy, model="model.iris:IrisTrees")))
    answer = client.post("/predict", json=IrisTrees.example())
    assert answer.status_code == 503 and answer.headers["retry-after"]


@pytest.mark.parametrize(
    ("keys", "said"),
    [
        (
            TreeIntervals("sepal_length", "petal_size"),
            "names \\['petal_size'\\], not in its Request",
        ),
        (None, "holds no split thresholds"),
    ],
)
def test_a_model_whose_keys_cannot_be_built_refuses_to_start(
    keys: Any, said: str, iris_trees: Path, tmp_path: Path
) -> None:
    artifact = iris_trees
    if keys is None:  # an artifact registered without its thresholds
        from model.artifact import register_artifact

        artifact = tmp_path / iris_trees.name
        artifact.write_bytes(iris_trees.read_bytes())
        register_artifact(artifact, {"model_name": IrisTrees.name})
        keys = IrisTrees.keys
    import sys

    name = f"Broken{abs(hash(said))}"  # MODEL's classes are looked up once per name
    setattr(sys.modules[__name__], name, type(name, (IrisTrees,), {"keys": keys}))
    with pytest.raises((SettingsError, ModelError), match=said):
        create_app(make_settings(artifact, model=f"{__name__}:{name}"))


def test_inspect_shows_a_requests_cell(
    iris_trees: Path, moto_endpoint: str, table: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
) -> None:  # fmt: skip
    import json

    from service.ops import cli

    monkeypatch.setenv("MODEL", "model.iris:IrisTrees")
    target = ["--endpoint", moto_endpoint, "--table", table, "--model-path", str(iris_trees)]
    assert cli.main(["inspect", json.dumps(IrisTrees.example()), *target]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["cell_bounds"] == "le"  # a cell holds low < x <= high
    for name, value in IrisTrees.example().items():
        cell = report["cell"][name]
        assert cell["low"] is None or cell["low"] < value
        assert cell["high"] is None or value <= cell["high"]


class IrisXGBoost(IrisTrees):
    """Iris trees made elsewhere, in XGBoost's own JSON format, read by its own `load`."""

    name = "iris-xgboost"
    artifact_file = "iris_xgboost.json"

    def load(self, path: Path) -> Any:
        import xgboost

        booster = xgboost.Booster()
        booster.load_model(str(path))
        return booster

    def predict_many(self, rows: Any) -> Any:
        import xgboost

        x = xgboost.DMatrix(np.array([[row[f] for f in FEATURES] for row in rows]))
        return [{"species": "setosa", "probabilities": {s: float(p) for s, p in zip(
            ("setosa", "versicolor", "virginica"), proba, strict=True)}}
            for proba in self.artifact.pipeline().predict(x)]  # fmt: skip

    def is_valid(self, value: Any) -> bool:
        return isinstance(value, dict)


def test_predcache_manifest_reads_the_thresholds_through_the_models_own_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import json

    import xgboost
    from sklearn.datasets import load_iris

    from model.artifact import manifest_path_for
    from service.ops import cli

    data = load_iris()
    made = tmp_path / IrisXGBoost.artifact_file
    xgboost.XGBClassifier(n_estimators=10, max_depth=3).fit(data.data, data.target) \
        .get_booster().save_model(str(made))  # fmt: skip
    monkeypatch.setenv("MODEL", f"{__name__}:IrisXGBoost")
    assert cli.main(["manifest", str(made), "--name", IrisXGBoost.name]) == 0
    trees = json.loads(manifest_path_for(made).read_text())["trees"]
    assert trees["library"] == "xgboost" and all(trees["thresholds"])
    client = TestClient(create_app(make_settings(made, model=f"{__name__}:IrisXGBoost")))
    first = IrisTrees.example()
    near = {**first, "sepal_width": first["sepal_width"] + 1e-7}
    assert [client.post("/predict", json=b).json()["cache"] for b in (first, near)] == [
        "MISS", "HIT-L1"]  # fmt: skip


def test_the_start_up_line_names_the_interval_fields(
    iris_trees: Path, capsys: pytest.CaptureFixture
) -> None:
    from tests.service.test_published_schema import started_lines

    capsys.readouterr()
    create_app(make_settings(iris_trees, model="model.iris:IrisTrees"))
    (started,) = started_lines(capsys)
    assert set(started["keys"]["interval"]) == set(FEATURES)
    assert all(count > 0 for count in started["keys"]["interval"].values())
