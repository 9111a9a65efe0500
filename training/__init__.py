"""Models: data and split (:mod:`training.data`), the calibrated LightGBM bundle
(:mod:`training.model`, :mod:`training.calibration`), pure evaluation
(:mod:`training.evaluate`, :mod:`training.metrics`), reports (:mod:`training.plots`,
:mod:`training.model_card`), MLflow (:mod:`training.tracking`) and the jobs
(:mod:`training.train`, :mod:`training.promote`).
"""
