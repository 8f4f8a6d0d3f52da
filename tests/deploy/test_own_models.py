"""Models of a user's own, kept in a folder of the checkout, package as they serve:
README's "Deploy your own model" run as written (a list-valued request and a
dependency predcache does not have), README's "Bring a model you already have" (an ONNX
file made elsewhere, a model in one file, no scikit-learn at serve time), a TF-IDF model
(`sklearn.feature_extraction`, which no list written for the flight model kept), a
pandas ColumnTransformer pipeline (pandas is its own requirement), a LightGBM export
folder with a data file beside its module (and the OpenMP library Lambda lacks,
shipped); and the models make package must refuse in one line: one answering through
XGBoost without declaring it, one writing beside itself, one holding 1.5 GiB.

Each runs `make package MODEL=…` in a copy of this checkout of its own, all at once
(its tracked files with their times, so make redoes nothing; its venv, node_modules and
.predcache shared), which ends by running the unzipped package on the runtime's Python
as Lambda would (deploy/check_package.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.deploy, pytest.mark.own_models]

REVIEWS = """
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from model.artifact import write_artifact
from model.contract import Model

EXAMPLE = {"text": "the staff were friendly and the room was spotless", "lang": "en"}
CORPUS = [
    ("friendly staff and a spotless room", 1), ("great breakfast, would stay again", 1),
    ("quiet, clean and close to the station", 1), ("lovely view and a helpful desk", 1),
    ("dirty room and rude staff", 0), ("noisy all night, never again", 0),
    ("the shower was broken and cold", 0), ("overpriced and far from everything", 0),
]


class Review(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": EXAMPLE})

    text: str = Field(min_length=1, max_length=2000)
    lang: Literal["en"] | None = None


class Score(BaseModel):
    positive: float


class Reviews(Model):
    name = "review-sentiment"
    Request = Review
    Value = Score
    artifact_file = "reviews.pkl"

    def predict_many(self, rows):
        proba = self.artifact.pipeline().predict_proba([row["text"] for row in rows])
        return [{"positive": float(p)} for p in proba[:, 1]]

    @classmethod
    def train(cls, out: Path) -> dict:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        texts, labels = zip(*CORPUS, strict=True)
        model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, labels)
        return write_artifact(model, out, {"model_name": cls.name})
"""

UNDECLARED = """
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from model.artifact import write_artifact
from model.contract import Model


class Words(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"text": "on time"}})

    text: str


class Count(BaseModel):
    words: int


# Counts words through XGBoost without declaring it: served here (README's model installs
# XGBoost in the venv), missing from its zip. Nothing else it runs needs more than
# predcache (its artifact is a plain dict), so its training never waits on XGBoost, and
# only its answer can fail.
class Undeclared(Model):
    name = "undeclared"
    Request = Words
    Value = Count
    artifact_file = "undeclared.pkl"

    def predict_many(self, rows):
        import xgboost  # noqa: F401

        return [{"words": len(row["text"].split())} for row in rows]

    @classmethod
    def train(cls, out: Path) -> dict:
        return write_artifact({"counts": "words"}, out, {"model_name": cls.name})
"""


# The most common production shape: a ColumnTransformer over a pandas DataFrame's named
# columns, then gradient-boosted trees; pandas is its own requirement, not a rule's
CHURN = """
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from model.artifact import write_artifact
from model.contract import Model, Real

EXAMPLE = {"plan": "basic", "minutes": 310.5, "calls": 4}


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": EXAMPLE})

    plan: Literal["basic", "pro"]
    minutes: Real = Field(ge=0)
    calls: int = Field(ge=0)


class Churn(BaseModel):
    churn: float


class ChurnModel(Model):
    name = "churn"
    Request = Customer
    Value = Churn
    artifact_file = "churn.pkl"
    requirements = ("pandas>=2",)

    def predict_many(self, rows):
        import pandas as pd

        proba = self.artifact.pipeline().predict_proba(pd.DataFrame(rows))[:, 1]
        return [{"churn": float(p)} for p in proba]

    @classmethod
    def train(cls, out: Path) -> dict:
        import numpy as np
        import pandas as pd
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder

        rng = np.random.default_rng(0)
        df = pd.DataFrame({"plan": rng.choice(["basic", "pro"], 400),
                           "minutes": rng.uniform(0, 600, 400), "calls": rng.integers(0, 10, 400)})
        churned = (df["calls"] > 5) | (df["minutes"] > 500)
        columns = ColumnTransformer([("plan", OneHotEncoder(), ["plan"])], remainder="passthrough")
        model = make_pipeline(columns, HistGradientBoostingClassifier(max_iter=20))
        return write_artifact(model.fit(df, churned), out, {"model_name": cls.name})
"""

# An export folder as a training job writes it (LightGBM's own text format beside the
# columns it was trained on: no pickle, `load` reads both), a data file beside the module
# (the cultivars' names), and LightGBM, whose wheel links the system's OpenMP
# (libgomp.so.1), which Lambda's runtime lacks: make package ships it into lib/
WINE = """
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from model.artifact import register_artifact
from model.contract import Model, Real

EXAMPLE = {"alcohol": 13.2, "malic_acid": 1.8, "color_intensity": 4.4, "proline": 1050.0}
CULTIVARS = json.loads((Path(__file__).parent / "cultivars.json").read_text())


class Wine(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": EXAMPLE})

    alcohol: Real
    malic_acid: Real
    color_intensity: Real
    proline: Real


class Cultivar(BaseModel):
    cultivar: str
    probability: float


class WineTrees(Model):
    name = "wine-lightgbm"
    Request = Wine
    Value = Cultivar
    artifact_file = "wine"
    requirements = ("lightgbm>=4.5",)

    def load(self, path: Path):
        import lightgbm

        columns = json.loads((path / "columns.json").read_text())
        return lightgbm.Booster(model_file=str(path / "model.txt")), columns

    def predict_many(self, rows):
        import numpy as np

        booster, columns = self.artifact.pipeline()
        x = np.array([[row[name] for name in columns] for row in rows])
        proba = booster.predict(x, num_threads=1)
        return [{"cultivar": CULTIVARS[int(p.argmax())], "probability": float(p.max())}
                for p in proba]

    @classmethod
    def train(cls, out: Path) -> dict:
        import lightgbm
        from sklearn.datasets import load_wine

        data = load_wine()
        columns = [data.feature_names.index(name) for name in EXAMPLE]
        params = {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1}
        booster = lightgbm.train(params, lightgbm.Dataset(data.data[:, columns], data.target),
                                 num_boost_round=20)
        out.mkdir(parents=True, exist_ok=True)
        booster.save_model(str(out / "model.txt"))
        (out / "columns.json").write_text(json.dumps(list(EXAMPLE)))
        return register_artifact(out, {"model_name": cls.name})
"""

# Two models that answer here and cannot on Lambda: one writes beside its own module
# (Lambda's code is read-only), one holds 1.5 GiB while it answers (serverless.yml's
# memorySize is 1,024 MB)
UNFIT = """
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from model.artifact import write_artifact
from model.contract import Model


class Words(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"text": "on time"}})

    text: str


class Count(BaseModel):
    words: int


class Jotter(Model):
    name = "jotter"
    Request = Words
    Value = Count
    artifact_file = "jotter.pkl"

    def predict_many(self, rows):
        (Path(__file__).parent / "last_batch.txt").write_text(str(len(rows)))
        return [{"words": len(row["text"].split())} for row in rows]

    @classmethod
    def train(cls, out: Path) -> dict:
        return write_artifact({"counts": "words"}, out, {"model_name": cls.name})


class Hog(Jotter):
    name = "hog"
    artifact_file = "hog.pkl"

    def predict_many(self, rows):
        held = b"x" * (1536 * 2**20)  # 1.5 GiB, written, so it is resident
        return [{"words": len(row["text"].split()) + held[:0].count(b"x")} for row in rows]
"""


def readme_section(title: str) -> str:
    return (ROOT / "README.md").read_text().split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def checkout(copy: Path) -> Path:
    """A copy of this checkout with README's model saved where it says, and the others."""
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, tracked):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, copy / name)
    (ROOT / ".predcache").mkdir(exist_ok=True)
    for shared in (".venv", "node_modules", ".predcache"):  # .predcache: the runtime's botocore
        (copy / shared).symlink_to(ROOT / shared)
    shutil.copytree(ROOT / "model" / "artifacts", copy / "model" / "artifacts")
    text = readme_section("Deploy your own model")
    saved_as = re.search(r"Save this as\s+`([^`]+)`", text).group(1)
    (copy / saved_as).parent.mkdir(parents=True)
    (copy / saved_as).write_text(re.search(r"```python\n(.*?)```", text, re.S).group(1))
    (copy / "mymodels" / "reviews.py").write_text(REVIEWS)
    (copy / "mymodels" / "broken.py").write_text(UNDECLARED)
    (copy / "mymodels" / "churn.py").write_text(CHURN)
    (copy / "mymodels" / "wine.py").write_text(WINE)
    (copy / "mymodels" / "cultivars.json").write_text('["class_0", "class_1", "class_2"]')
    (copy / "mymodels" / "unfit.py").write_text(UNFIT)
    brought = readme_section("Bring a model you already have")
    export, spec_code = re.findall(r"```python\n(.*?)```", brought, re.S)
    (copy / "export.py").write_text(export)
    (copy / re.search(r"Save it as `([^`]+)`", brought).group(1)).write_text(spec_code)
    return copy


def bring(copy: Path) -> None:
    """README's "Bring a model you already have" before its `make package`: the export
    made elsewhere and `predcache manifest`, as written, from the venv."""
    shell = re.search(r"```sh\n(.*?)```", readme_section("Bring a model you already have"),
                      re.S).group(1).splitlines()  # fmt: skip
    for line in shell[:2]:
        argv = line.split()
        subprocess.run([str(copy / argv[0]), *argv[1:]], cwd=copy, check=True, timeout=120)


def make_package(checkout: Path, spec: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MODEL", "MODEL_PATH", "MAKEFLAGS")}
    return subprocess.run(["make", "--no-print-directory", "package", f"MODEL={spec}"],
                          cwd=checkout, env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip


README_MODEL = re.search(r"```sh\n(make package MODEL=(\S+))\n```",
                         readme_section("Deploy your own model")).group(2)  # fmt: skip
BROUGHT_MODEL = re.search(r"make package MODEL=(\S+)",
                          readme_section("Bring a model you already have")).group(1)  # fmt: skip
Packaged = tuple[Path, subprocess.CompletedProcess]  # the checkout, make package's run
MODELS = (README_MODEL, "mymodels.reviews:Reviews", "mymodels.broken:Undeclared", BROUGHT_MODEL,
          "mymodels.churn:ChurnModel", "mymodels.wine:WineTrees",
          "mymodels.unfit:Jotter", "mymodels.unfit:Hog")  # fmt: skip


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Packaged]:
    """Each model packaged as README says, all at once, each in a checkout of its own
    (a package is built in the checkout's .serverless/)."""
    from concurrent.futures import ThreadPoolExecutor

    def package(spec: str, folder: Path) -> Packaged:
        copy = checkout(folder)
        if spec == BROUGHT_MODEL:
            bring(copy)
        return copy, make_package(copy, spec)

    folders = [tmp_path_factory.mktemp("checkout") for _ in MODELS]  # not thread-safe
    with ThreadPoolExecutor(len(MODELS)) as pool:
        return dict(zip(MODELS, pool.map(package, MODELS, folders), strict=True))


ANSWERED = "on python3.12 answered its example MISS, HIT-L1, HIT-L2"  # check_package's line


def test_readme_model_packages_with_its_own_dependency(packaged: dict) -> None:
    """README's commands as written: the digits model (a list of 64 pixels, XGBoost)."""
    checkout, done = packaged[README_MODEL]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "package OK" in done.stdout
    with zipfile.ZipFile(checkout / ".serverless" / "predcache.zip") as archive:
        names = set(archive.namelist())
    assert {"mymodels/digits.py", "mymodels/__pycache__/digits.cpython-312.pyc",
            "model/artifacts/digits.pkl", "xgboost/core.py"} <= names  # fmt: skip
    assert "xgboost_cpu.libs" in {name.split("/")[0] for name in names}  # its OpenMP
    assert ANSWERED in done.stdout  # the unzipped package, on the runtime's Python


def test_a_tfidf_model_keeps_what_it_loads(packaged: dict) -> None:
    checkout, done = packaged["mymodels.reviews:Reviews"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with zipfile.ZipFile(checkout / ".serverless" / "predcache.zip") as archive:
        names = set(archive.namelist())
    assert "sklearn/feature_extraction/text.py" in names
    assert "mymodels/reviews.py" in names
    assert not any(name.startswith("sklearn/ensemble/") for name in names)  # never opened
    assert ANSWERED in done.stdout


def test_a_requirement_left_out_stops_the_package_in_one_line(packaged: dict) -> None:
    """Served here (the venv has XGBoost), but the zip does not carry it: the packaged
    function's own run says so (its training never needs XGBoost, so this does not
    hang on whether README's model has installed it yet)."""
    checkout, done = packaged["mymodels.broken:Undeclared"]
    assert done.returncode != 0
    assert "trained undeclared" in done.stdout
    said = [line for line in (done.stdout + done.stderr).splitlines()
            if "No module named 'xgboost'" in line]  # fmt: skip
    assert said, done.stdout[-3000:] + done.stderr[-3000:]
    assert said[-1].startswith("MODEL=mymodels.broken:Undeclared: the function answered")
    assert not (checkout / ".serverless" / "predcache.zip").exists()


def shipped(checkout: Path) -> set[str]:
    with zipfile.ZipFile(checkout / ".serverless" / "predcache.zip") as archive:
        return set(archive.namelist())


def test_an_onnx_file_made_elsewhere_packages_without_scikit_learn(packaged: dict) -> None:
    """README's "Bring a model you already have": a model in one file, its artifact an
    ONNX file with a manifest from `predcache manifest`, answered by onnxruntime."""
    checkout, done = packaged[BROUGHT_MODEL]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    names = shipped(checkout)
    assert {
        "iris_onnx.py",
        "__pycache__/iris_onnx.cpython-312.pyc",
        "model/artifacts/iris.onnx",
        "model/artifacts/iris.onnx.manifest.json",
        "onnxruntime/__init__.py",
    } <= names
    tops = {name.split("/")[0] for name in names}
    assert not tops & {"sklearn", "scipy", "scipy.libs", "pandas"}  # never opened: left out
    assert ANSWERED in done.stdout


def test_a_pandas_column_transformer_pipeline_packages_with_pandas(packaged: dict) -> None:
    checkout, done = packaged["mymodels.churn:ChurnModel"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    names = shipped(checkout)
    assert {"pandas/__init__.py", "sklearn/compose/_column_transformer.py"} <= names
    assert ANSWERED in done.stdout


def test_a_lightgbm_export_folder_ships_with_the_openmp_lambda_lacks(packaged: dict) -> None:
    """Its artifact a folder (LightGBM's text and the columns), a data file beside its
    module; LightGBM's library needs libgomp.so.1, which neither its wheel nor Lambda's
    runtime has: the zip carries this machine's copy in lib/ (on Lambda's
    LD_LIBRARY_PATH) with its copyright file, the build says its licence, and the
    package answers."""
    checkout, done = packaged["mymodels.wine:WineTrees"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    names = shipped(checkout)
    assert {"lib/libgomp.so.1", "lib/LICENSES/libgomp.so.1.txt", "lightgbm/lib/lib_lightgbm.so",
            "model/artifacts/wine/model.txt", "model/artifacts/wine/columns.json",
            "model/artifacts/wine.manifest.json", "mymodels/cultivars.json"} <= names  # fmt: skip
    assert not any(n.startswith("mymodels/__pycache__/") and "312" not in n for n in names)
    said = done.stdout + done.stderr
    assert "lib/libgomp.so.1 for lib_lightgbm.so, from this machine's libgomp1: GPL-3.0" in said
    assert ANSWERED in done.stdout


@pytest.mark.parametrize(
    ("spec", "cause"),
    [
        ("mymodels.unfit:Jotter", "Read-only file system: '"),
        ("mymodels.unfit:Hog", "MiB here, over 90% of its MemorySize of 1,024 MiB"),
    ],
)
def test_a_model_lambda_would_stop_is_refused_in_one_line(
    packaged: dict, spec: str, cause: str
) -> None:
    checkout, done = packaged[spec]
    assert done.returncode != 0
    said = [line for line in (done.stdout + done.stderr).splitlines() if cause in line]
    assert said, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"MODEL={spec}" in said[-1]
    if spec.endswith("Jotter"):
        assert "mymodels/last_batch.txt" in said[-1]  # the path it wrote
    assert not (checkout / ".serverless" / "predcache.zip").exists()
