"""Point-in-time features: one encoder and one set of kernels for training and serving.

* :func:`build_training_frame`: for every outbound contact of a history, the features of
  :mod:`features.definitions` from the events strictly before it, and its labels;
* :func:`features_as_of`: the same features for candidate contacts at given instants, from
  frames (``frame.py``);
* :func:`features_of_records`: the same for a request's few candidates whose histories are
  Python records (``records.py``);
* :func:`label_contacts` / :func:`contact_labels`: the one label definition (``labels.py``).

Both input paths hand their columns to one encoder (``encode.py``: event flags, subjects,
candidate defaults, consent scopes) and the same kernels (``kernels.py``, outputs in named
slots), so training/serving parity holds by construction. ``cli.py`` is the
``contactgate features`` command.
"""

from features.pointintime.frame import build_training_frame, features_as_of
from features.pointintime.labels import HORIZON_DAYS, contact_labels, label_contacts
from features.pointintime.numbers import NumberTable, number_table
from features.pointintime.records import features_of_records, warm_up

__all__ = [
    "HORIZON_DAYS",
    "NumberTable",
    "build_training_frame",
    "contact_labels",
    "features_as_of",
    "features_of_records",
    "label_contacts",
    "number_table",
    "warm_up",
]
