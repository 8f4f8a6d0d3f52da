"""The model's feature schema, shared by training and serving."""

# Order matters: it is the column order of the matrix the pipeline was fitted on.
CATEGORICAL: tuple[str, ...] = ("carrier", "origin", "dest")
NUMERIC: tuple[str, ...] = ("month", "day", "weekday", "hour")
FEATURES: tuple[str, ...] = CATEGORICAL + NUMERIC

TARGET_DELAY_MINUTES = 15
