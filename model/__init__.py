"""Flight-delay model: training from real data, the verified artifact, the predictor.

Importing this package is cheap: nothing here imports scikit-learn, numpy or pandas
until a model is trained or unpickled, so a cold process that answers from the cache
never pays for them.
"""

from model.artifact import ArtifactError, ModelArtifact
from model.features import CATEGORICAL, FEATURES, NUMERIC

__all__ = ["CATEGORICAL", "FEATURES", "NUMERIC", "ArtifactError", "ModelArtifact"]
