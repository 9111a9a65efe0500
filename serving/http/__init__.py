"""The HTTP decision service: :mod:`serving.http.service` (BentoML, ``ContactGate``) and the
gate in front of it, :mod:`serving.http.auth` (API keys, roles, body checks).

Nothing is imported here: BentoML loads slowly, and ``bentoml serve
serving.http.service:ContactGate`` names the module itself.
"""
