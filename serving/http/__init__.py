"""The HTTP decision service: :mod:`serving.http.service` (BentoML, ``ContactGate``), the
gate in front of everything it serves, :mod:`serving.http.auth` (paths, methods, keys,
roles, loopback mode; bodies by :mod:`serving.http.body`), the one error model
:mod:`serving.http.errors` and the OpenAPI document :mod:`serving.http.openapi`.

Nothing is imported here: BentoML loads slowly, and ``bentoml serve
serving.http.service:ContactGate`` names the module itself.
"""
