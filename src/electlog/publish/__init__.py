"""The forms a log is handed over in: the bundle file and a C2SP tlog-tiles directory.

Both sit above :mod:`electlog.log`: :func:`export_bundle` and :func:`export_tiles` read a
:class:`~electlog.log.Log`, and :func:`import_bundle` sends every entry of a bundle through
:meth:`~electlog.log.Log.append_many`. The readers (:class:`BundleReader`, :class:`TilesReader`)
need nothing else: the auditor reads a bundle or a served log with them. docs/format.md sections
5 and 6 are normative for the bytes.

These names also import from :mod:`electlog.store` and the modules ``electlog.store.bundle`` /
``electlog.store.tiles``, where they lived before, as the same objects.
"""

from __future__ import annotations

from .bundle import BundleImport, BundleInfo, BundleReader, export_bundle, import_bundle
from .tiles import TilesInfo, TilesReader, export_tiles

__all__ = [
    "BundleImport",
    "BundleInfo",
    "BundleReader",
    "TilesInfo",
    "TilesReader",
    "export_bundle",
    "export_tiles",
    "import_bundle",
]
