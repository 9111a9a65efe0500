"""The MLflow entry point of a registered contact-risk model, logged as code.

MLflow runs this file when the model is loaded through ``mlflow.pyfunc.load_model``; the
model's weights are the bundle in its artifacts (:class:`training.tracking.RiskPyfunc`).
Logging a file rather than a pickled object keeps the registered model free of pickled code.
"""

from mlflow.models import set_model

from training.tracking import RiskPyfunc

set_model(RiskPyfunc())
