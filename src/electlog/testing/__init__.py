"""Test helpers shipped with electlog for people who build on it.

* :mod:`electlog.testing.store_conformance` — :class:`StoreConformance`, the abstract pytest test
  case every store backend must pass; subclass it with ``make_store`` / ``reopen_store`` to test
  your own backend (see docs/storage.md).
* :mod:`electlog.testing.strategies` — hypothesis strategies: keys, RuleSets, election
  definitions, schema-valid events of every type, ballots, whole signed elections
  (``signed_event_streams``) and tampered copies paired with the finding the auditor must report
  (``tamperings``); see docs/testing.md.
* :mod:`electlog.testing.stateful` — ``StoreMachine`` (any store against an in-memory model) and
  ``ElectionMachine`` (an election phase by phase, projections against a rebuild, audit clean).
* :mod:`electlog.testing._hypothesis_setup` — the ``hypothesis`` entry point that makes
  ``st.from_type`` work for every election event type.

Submodules import pytest (and hypothesis where they offer strategies); importing
``electlog.testing`` itself needs neither.
"""
