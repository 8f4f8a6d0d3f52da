"""The flight-delay model's name, artifact file and feature schema, shared by its
training and its class."""

MODEL_NAME = "flight-delay"
ARTIFACT_FILE = "flight_delay.pkl"

# Order matters: it is the column order of the matrix the pipeline was fitted on.
CATEGORICAL: tuple[str, ...] = ("carrier", "origin", "dest")
NUMERIC: tuple[str, ...] = ("month", "day", "weekday", "hour")
FEATURES: tuple[str, ...] = CATEGORICAL + NUMERIC

TARGET_DELAY_MINUTES = 15
