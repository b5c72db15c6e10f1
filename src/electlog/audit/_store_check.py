"""The SQLite store's integrity check in an audit: the full check (:func:`sqlite_full_check`),
and the check an audit of every entry runs beside the replay instead (:func:`sqlite_tree_check`,
settled against the replay by :func:`settle_tree_check`). Each runs on a fresh read-only open of
the file, in a worker process when the audit has some: the functions and their results pickle.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, NamedTuple, TypeAlias

from electlog.errors import ElectlogError
from electlog.store._integrity import StoredTree
from electlog.store.base import StoreDamage
from electlog.store.sqlite import SQLiteStore

__all__ = [
    "DeferredCheck",
    "TreeCheck",
    "settle_tree_check",
    "sqlite_full_check",
    "sqlite_tree_check",
]

DeferredCheck: TypeAlias = tuple[tuple[StoreDamage, ...], str | None]
"""What a deferred full check returns: the damage found, or an error message."""


class TreeCheck(NamedTuple):
    """What :func:`sqlite_tree_check` returns (:func:`settle_tree_check` reads it)."""

    damage: tuple[StoreDamage, ...]
    stored: StoredTree | None
    error: str | None


def open_for_full_check(
    path: str | os.PathLike[str], *, cache_bytes: int, page_cache_bytes: int
) -> SQLiteStore:
    """The store at ``path``, read-only, for a caller that runs the full check next
    (:meth:`SQLiteStore.find_damage` with ``full=True``, or :meth:`SQLiteStore.stored_tree`)
    and nothing else: the quick check a read-only open runs is skipped (the full check covers
    it), and :attr:`~SQLiteStore.problems` is empty until that check."""
    return SQLiteStore(
        path,
        create=False,
        read_only=True,
        cache_bytes=cache_bytes,
        page_cache_bytes=page_cache_bytes,
        check_on_open=False,
    )


_CACHE_BYTES: Final = 1 << 20
_PAGE_CACHE_BYTES: Final = 2 << 20
"""The caches of the audit's own opens: its checks read each page about once, and a 32 MB page
cache they fill is never given back to the system (it was most of the audit's memory growth,
in the parent and in the worker running the full check)."""


def _sqlite_small_cache(path: str | Path, check_on_open: bool = True) -> SQLiteStore:
    """The store at ``path``, read-only, with small caches (:data:`_PAGE_CACHE_BYTES`)."""
    return SQLiteStore(
        path,
        create=False,
        read_only=True,
        cache_bytes=_CACHE_BYTES,
        page_cache_bytes=_PAGE_CACHE_BYTES,
        check_on_open=check_on_open,
    )


def sqlite_full_check(path: str) -> DeferredCheck:
    """Run the full integrity check of the SQLite store at ``path`` (a fresh read-only open):
    ``(damage, None)``, or ``((), message)`` when the check could not run. Picklable both
    ways, for a worker process."""
    try:
        store = open_for_full_check(
            path, cache_bytes=_CACHE_BYTES, page_cache_bytes=_PAGE_CACHE_BYTES
        )
    except ElectlogError as exc:
        return (), f"cannot open {path!r} as a log store: {exc}"
    try:
        return store.find_damage(full=True), None
    except ElectlogError as exc:
        return (), f"cannot check {path!r}: {exc}"
    finally:
        store.close()


def sqlite_tree_check(path: str) -> TreeCheck:
    """The full integrity check of the SQLite store at ``path`` without its passes over the
    entry bytes (:meth:`~electlog.store.SQLiteStore.stored_tree`: a fresh read-only open);
    picklable both ways, for a worker process."""
    try:
        store = open_for_full_check(
            path, cache_bytes=_CACHE_BYTES, page_cache_bytes=_PAGE_CACHE_BYTES
        )
    except ElectlogError as exc:
        return TreeCheck((), None, f"cannot open {path!r} as a log store: {exc}")
    try:
        damage, stored = store.stored_tree(leaves=False)  # the audit's read hashes level 0
    except ElectlogError as exc:
        return TreeCheck((), None, f"cannot check {path!r}: {exc}")
    finally:
        store.close()
    return TreeCheck(damage, stored, None)


def settle_tree_check(
    check: TreeCheck,
    path: str,
    size: int,
    digests: Sequence[bytes],
    heads: Mapping[bytes, tuple[int, bytes]],
    entries_clean: bool,
    stored_leaves: bytes | None,
) -> DeferredCheck:
    """The result :func:`sqlite_full_check` gives for the store at ``path``, from
    :func:`sqlite_tree_check`'s ``check`` and what the audit replayed from the same entries:
    ``size`` entries whose leaf hashes it computed, the :meth:`level digests
    <electlog.audit._replay.CompactMerkleTree.level_digests>` of its tree over them, the
    ``heads`` (author: seq and leaf hash of its newest entry) of its chains,
    ``entries_clean``: every entry decoded, verified, was signed for this log and continued its
    author's chain, and ``stored_leaves``: the digest of the stored leaf hashes the audit's
    read of the entries' rows hashed (:meth:`~._sources.Source.stored_leaves`; the check leaves
    level 0 to it), None if that read did not see every index from 0 with a 32-byte one.

    When the check found nothing and the stored tree hashes level by level to the replayed
    tree (so every stored leaf hash is its entry's, every stored node the one the full check
    recomputes) and the stored heads are the replayed ones (which, with every entry clean, are
    each author's entry count and newest leaf hash, as the full check counts them), the full
    check finds nothing either: ``((), None)``. Anything else (damage, or a store that differs
    from the entries) is named by the full check itself, run here."""
    stored = check.stored
    if (
        check.error is None
        and not check.damage
        and stored is not None
        and entries_clean
        and stored.size == size
        and stored_leaves is not None
        and (stored_leaves, *stored.digests) == tuple(digests)
        and stored.heads == heads
        and sum(seq for seq, _ in heads.values()) == size
    ):
        return (), None
    return sqlite_full_check(path)
