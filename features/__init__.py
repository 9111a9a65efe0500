"""Data: the file contracts, phone numbers, reply keywords, the simulator and the features.

Modules and subpackages (import what you need; nothing heavy loads with the package):
:mod:`features.schema` (record contracts), :mod:`features.io` and :mod:`features.validate`
(contract files), :mod:`features.phone` (normalisation), :mod:`features.replies` (reply
keywords), :mod:`features.definitions` (the feature set), :mod:`features.pointintime`
(point-in-time features and labels), :mod:`features.simulate` (synthetic histories),
:mod:`features.distributed` (the frame on a Dask cluster, storage to storage),
:mod:`features.pseudonyms` (numbers of a pseudonymised export and their facts),
:mod:`features.paths` (where things live).
"""
