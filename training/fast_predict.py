"""One-row predictions through LightGBM's single-row C API, for the pre-dial check.

``Booster.predict`` on one row spends ~150 µs here in Python set-up (a predictor object,
input checks, buffers) for trees that take a few microseconds; a dial scores two boosters.
LightGBM's C API has a path for exactly this: ``LGBM_BoosterPredictForMatSingleRowFastInit``
fixes the prediction settings once (probability output, iterations, column count, one
thread) and ``LGBM_BoosterPredictForMatSingleRowFast`` then scores a row. Same trees, same
transform (the objective's sigmoid), same handling of missing values and categorical splits
as ``Booster.predict`` — ``tests/training/test_fast_predict.py`` checks that they agree.
LightGBM serialises single-row calls on a booster with its own lock, so one instance may be
shared by threads.
"""

from __future__ import annotations

import ctypes
import weakref

import lightgbm as lgb
import numpy as np
from lightgbm.basic import _LIB, _c_str, _safe_call

_PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL: transformed output (probability for binary)
_DTYPE_FLOAT64 = 1  # C_API_DTYPE_FLOAT64


class SingleRowPredictor:
    """``predict(row)`` = ``booster.predict(row[None, :], num_iteration=...)[0]``."""

    def __init__(self, booster: lgb.Booster, num_iteration: int) -> None:
        self.columns = booster.num_feature()
        self.num_iteration = num_iteration
        self._booster = booster  # the handle below points into it: keep it alive
        self._config = ctypes.c_void_p()
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(_PREDICT_NORMAL),
                ctypes.c_int(0),  # start iteration
                ctypes.c_int(num_iteration if num_iteration and num_iteration > 0 else -1),
                ctypes.c_int(_DTYPE_FLOAT64),
                ctypes.c_int32(self.columns),
                _c_str("num_threads=1"),
                ctypes.byref(self._config),
            )
        )
        weakref.finalize(self, _free, self._config)

    def predict(self, row: np.ndarray) -> float:
        row = np.ascontiguousarray(row, dtype=np.float64)
        if row.shape != (self.columns,):
            raise ValueError(f"expected {self.columns} features, got shape {row.shape}")
        out = ctypes.c_double()
        length = ctypes.c_int64()
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFast(
                self._config,
                row.ctypes.data_as(ctypes.c_void_p),
                ctypes.byref(length),
                ctypes.byref(out),
            )
        )
        return out.value

    def __reduce__(self):  # a C handle cannot travel: rebuild it where it lands
        return (SingleRowPredictor, (self._booster, self.num_iteration))


def _free(config: ctypes.c_void_p) -> None:
    if config.value:
        _LIB.LGBM_FastConfigFree(config)
