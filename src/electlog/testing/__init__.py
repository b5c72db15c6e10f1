"""Test helpers shipped with electlog for people who build on it.

* :mod:`electlog.testing.store_conformance` — :class:`StoreConformance`, the abstract pytest test
  case every store backend must pass; subclass it with ``make_store`` / ``reopen_store`` to test
  your own backend (see docs/storage.md).

Submodules import pytest (and hypothesis where they offer strategies); importing
``electlog.testing`` itself needs neither.
"""
