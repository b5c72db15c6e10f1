"""Checks shared by the durable stores (SQLite, PostgreSQL): staged-node validation at commit,
and the integrity checks run when an existing store is opened."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from .. import merkle
from ..checkpoint import Checkpoint
from ..errors import CheckpointError, ElectlogError, StoreCorruptedError, UsageError

__all__ = [
    "STORE_FORMAT_VERSION",
    "TAIL_CHECK",
    "check_checkpoint_root",
    "check_level_counts",
    "check_tail_leaves",
    "checkpoint_text",
    "expected_level_counts",
    "validate_staged_nodes",
]

STORE_FORMAT_VERSION: Final = 1
"""Version of the durable stores' table layout, recorded in each store's ``meta`` table."""

TAIL_CHECK: Final = 64
"""How many of the newest entries have their leaf hash recomputed when a store is opened."""


def checkpoint_text(note: str) -> str:
    """The checkpoint text of a signed note: everything up to and including the newline before
    the last blank line (the signature lines follow that blank line)."""
    cut = note.rfind("\n\n")
    return note[: cut + 1] if cut >= 0 else note


def expected_level_counts(size: int) -> dict[int, int]:
    """Number of complete Merkle nodes per level >= 1 in a tree of ``size`` leaves."""
    out: dict[int, int] = {}
    level = 1
    while size >> level:
        out[level] = size >> level
        level += 1
    return out


def validate_staged_nodes(nodes: Mapping[tuple[int, int], bytes], old: int, new: int) -> None:
    """Raise :class:`UsageError` unless ``nodes`` are exactly the level >= 1 nodes completed by
    growing the tree from ``old`` to ``new`` leaves (each a 32-byte hash)."""
    want = 0
    level = 1
    while new >> level:
        want += (new >> level) - (old >> level)
        level += 1
    if len(nodes) != want:
        raise UsageError(
            f"{len(nodes)} Merkle nodes staged for growing the tree from {old} to {new} leaves, "
            f"expected {want}"
        )
    for (lvl, idx), h in nodes.items():
        if lvl < 1 or not (old >> lvl) <= idx < (new >> lvl):
            raise UsageError(
                f"Merkle node (level {lvl}, index {idx}) is not completed by growing the tree "
                f"from {old} to {new} leaves"
            )
        if type(h) is not bytes or len(h) != merkle.HASH_SIZE:
            raise UsageError(f"Merkle node (level {lvl}, index {idx}) is not a 32-byte hash")


def check_level_counts(counts: Mapping[int, int], size: int, where: str) -> None:
    """Raise :class:`StoreCorruptedError` unless the stored node rows per level match ``size``."""
    want = expected_level_counts(size)
    got = {lvl: n for lvl, n in counts.items() if n}
    if got != want:
        diff = sorted(
            (lvl, got.get(lvl, 0), want.get(lvl, 0))
            for lvl in set(got) | set(want)
            if got.get(lvl, 0) != want.get(lvl, 0)
        )
        lvl, have, need = diff[0]
        raise StoreCorruptedError(
            f"{where}: level {lvl} holds {have} Merkle nodes, a tree of {size} entries has {need}"
        )


def check_tail_leaves(rows: Iterable[tuple[int, bytes, bytes]], where: str) -> None:
    """Recompute the leaf hash of each ``(index, data, leaf)`` row."""
    for idx, data, leaf in rows:
        if hashlib.sha256(b"\x00" + bytes(data)).digest() != bytes(leaf):
            raise StoreCorruptedError(f"{where}: entry {idx} does not hash to its stored leaf hash")


def check_checkpoint_root(
    origin: str,
    size: int,
    stored_size: int,
    note: str,
    get_node: Callable[[int, int], bytes],
    where: str,
) -> None:
    """Check a stored checkpoint against the stored tree: it parses, names this log, records
    the size it commits to, does not exceed the tree, and its root equals the stored tree's root
    at that size. Raises :class:`StoreCorruptedError`."""
    try:
        cp = Checkpoint.from_text(checkpoint_text(note))
    except (CheckpointError, UsageError) as exc:
        raise StoreCorruptedError(f"{where}: latest checkpoint does not parse: {exc}") from exc
    if cp.origin != origin:
        raise StoreCorruptedError(
            f"{where}: latest checkpoint is for log {cp.origin!r}, the store holds {origin!r}"
        )
    if cp.size != stored_size:
        raise StoreCorruptedError(
            f"{where}: latest checkpoint commits to size {cp.size} but is recorded with size "
            f"{stored_size}"
        )
    if cp.size > size:
        raise StoreCorruptedError(
            f"{where}: latest checkpoint commits to {cp.size} entries, the store holds {size}"
        )
    try:
        root = merkle.root_at(get_node, cp.size)
    except ElectlogError as exc:
        raise StoreCorruptedError(
            f"{where}: tree at checkpoint size {cp.size} is incomplete: {exc}"
        ) from exc
    if root != cp.root:
        raise StoreCorruptedError(
            f"{where}: stored tree root at size {cp.size} is {root.hex()}, the latest "
            f"checkpoint says {cp.root.hex()}"
        )


def check_entries_contiguous(count: int, lo: int | None, hi: int | None, where: str) -> int:
    """Entries must be exactly indexes ``0 .. count - 1``; returns the size."""
    if count == 0:
        return 0
    if lo != 0 or hi != count - 1:
        raise StoreCorruptedError(
            f"{where}: {count} entries stored with indexes {lo}..{hi}, not 0..{count - 1}"
        )
    return count


def ordered_levels(nodes: Sequence[tuple[int, int, bytes]]) -> dict[tuple[int, int], bytes]:
    """Nodes as a dict, keeping only level >= 1."""
    return {(lvl, idx): h for lvl, idx, h in nodes if lvl >= 1}
