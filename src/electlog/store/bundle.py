"""The bundle file moved to :mod:`electlog.publish.bundle` (it sits above the log); this path
keeps working, with the same objects and no warning."""

from __future__ import annotations

from ..publish.bundle import (
    BUNDLE_FORMAT_VERSION,
    BUNDLE_MAGIC,
    MAX_BUNDLE_CHECKPOINT_BYTES,
    MAX_BUNDLE_CHECKPOINTS,
    MAX_BUNDLE_HEADER_SIZE,
    MAX_BUNDLE_NOTE_SIZE,
    BundleImport,
    BundleInfo,
    BundleReader,
    export_bundle,
    import_bundle,
)

__all__ = [
    "BUNDLE_FORMAT_VERSION",
    "BUNDLE_MAGIC",
    "MAX_BUNDLE_CHECKPOINTS",
    "MAX_BUNDLE_CHECKPOINT_BYTES",
    "MAX_BUNDLE_HEADER_SIZE",
    "MAX_BUNDLE_NOTE_SIZE",
    "BundleImport",
    "BundleInfo",
    "BundleReader",
    "export_bundle",
    "import_bundle",
]
