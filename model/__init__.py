"""Models behind the cache: the framework (`contract`, `artifact`, `values`,
`training`) and each model in its own home (`flight_delay/`, the default, with its data
and training; `iris.py`).

Importing this package is cheap: nothing here imports scikit-learn, numpy or pandas
until a model is trained or loaded, so a cold process that answers from the cache
never pays for them.
"""

from model.artifact import ArtifactError, ModelArtifact

__all__ = ["ArtifactError", "ModelArtifact"]
