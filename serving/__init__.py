"""Serving: the rules, the decision pipeline, the store, the HTTP service and the command line.

Layers, each importing only from those before it:

- :mod:`serving.domain` — plain values and pure decisions (state, reasons, the decision
  with its budget, the API contract's messages);
- :mod:`serving.rules` — the jurisdiction rule packs and the pure rules engine;
- :mod:`serving.pipeline` — the one decision pipeline (screen, authorize, batch, audit rows),
  written against typed seams (:mod:`serving.pipeline.protocols`);
- :mod:`serving.store` — the compliance store (SQLite or PostgreSQL), keys and encryption;
- :mod:`serving.http` — the BentoML service and its gate (keys, roles, body checks);
- :mod:`serving.client` — the official Python client of the HTTP service (depends on the
  contract only);
- :mod:`serving.cli` — the ``contactgate`` command line;
- :mod:`serving.settings` — the runtime every entry point starts and the service settings.
"""
