"""The durable stores' integrity checks over their common table layout: every problem found is
collected as a :class:`~electlog.store.base.StoreDamage` (the caller decides whether to raise).

The quick check (run at every open) looks at the entry index bounds, the number of Merkle node
rows per level, the newest :data:`TAIL_CHECK` entries (leaf hashes and their authors' heads),
the heads table's shape and sequence total, and the root at the latest checkpoint. The full
check streams the whole log once in blocks of 4096 entries: every leaf hash, every Merkle node
(recomputed from the entries, so one wrong row is named once), every author head and every
checkpoint's root. Memory stays bounded: one block of rows, one hash per 4096 entries, one head
per author.

The stored-tree summary (:meth:`Scan.run` with ``digests``, for a reader that computed the
entries' leaf hashes and the tree itself: the audit) runs the full check's other checks but
reads no entry bytes: it hashes each level of the stored tree (the leaf hashes, then the nodes
of each level, in index order, each row type- and size-checked) into one SHA-256 per level and
reads the author heads, for the reader to compare with its own (:class:`StoredTree`).

Every value read from the database is type- and size-checked before use, so a damaged or
hostile row is reported as damage, never as a foreign exception.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, NamedTuple

from .. import merkle
from ..checkpoint import Checkpoint
from ..errors import CheckpointError, ElectlogError, StoreCorruptedError, UsageError
from ..events import MAX_ENTRY_SIZE, Entry
from .base import DamageKind, StoreDamage

__all__ = [
    "MAX_STORED_NOTE_SIZE",
    "SQLITE_DIGESTS",
    "SQLITE_DIGESTS_ABOVE_LEAVES",
    "TAIL_CHECK",
    "DigestQueries",
    "Scan",
    "StoredTree",
    "as_blob",
    "as_int",
    "as_note",
    "check_checkpoint_root",
    "checkpoint_text",
    "expected_level_counts",
]

TAIL_CHECK: Final = 64
"""How many of the newest entries have their leaf hash recomputed when a store is opened."""

MAX_STORED_NOTE_SIZE: Final = 64 * 1024
"""The longest checkpoint note a store hands out (a bundle's limit too)."""

_BLOCK_BITS: Final = 12
_BLOCK: Final = 1 << _BLOCK_BITS  # entries per block of the full check
_LISTED: Final = 10  # damaged rows named per problem; the rest are counted
_ENTRY_KEY: Final = b"\x83\xa3key\xc4\x20"  # every entry starts so; the public key follows
_HASH: Final = 32
_DIGEST_BLOCK: Final = 1 << 14  # rows per query of the stored-tree summary (512 KiB of
# hashes: a value read is at most 1 MiB, the SQLite store's limit)


class DigestQueries(NamedTuple):
    """The backend's queries of the stored-tree summary: ``bounds`` returns ``(lowest,
    highest entry index)``, ``node_count`` the number of node rows; ``leaves`` (parameters:
    first index, end) and ``nodes`` (level, first index, end) one row ``(rows, the sum of
    their indexes, rows whose hash is a 32-byte blob, the rows' hashes concatenated in index
    order)``; the sum is an integer only when every index is."""

    bounds: str
    node_count: str
    leaves: str
    nodes: str


SQLITE_DIGESTS: Final = DigestQueries(
    bounds="SELECT (SELECT MIN(idx) FROM entries), (SELECT MAX(idx) FROM entries)",
    node_count="SELECT COUNT(*) FROM nodes",
    leaves=(
        "SELECT COUNT(*), SUM(idx), SUM(leaf >= x'' AND length(leaf) = 32), "
        "CAST(group_concat(leaf, x'') AS BLOB) FROM entries WHERE idx >= ? AND idx < ?"
    ),
    nodes=(
        "SELECT COUNT(*), SUM(idx), SUM(hash >= x'' AND length(hash) = 32), "
        "CAST(group_concat(hash, x'') AS BLOB) FROM nodes WHERE level = ? AND idx >= ? AND idx < ?"
    ),
)
"""The stored-tree summary's queries (:class:`DigestQueries`): SQLite scans a range of the
primary key in index order, so each group_concat holds the range's hashes in that order (an
order it did not keep would only make the summary differ, and the full check run). Each row's
check without a function call where one can be spared: a value is a blob when it compares
greater than or equal to the empty blob (SQLite orders every number and text before every blob),
and the indexes are all integers when their SUM is an integer (a real among them makes it a
real; a text or blob index is never inside a numeric range); the bounds are two lookups (one
query asking for both MIN and MAX walks the table)."""
SQLITE_DIGESTS_ABOVE_LEAVES: Final = SQLITE_DIGESTS._replace(leaves="")
"""The summary without level 0, for a reader that hashes the stored leaf hashes as it reads
the entries' rows (the audit's source: the leaves' query reads every page of the entries
table, which that read reads anyway)."""


class StoredTree(NamedTuple):
    """What a store's tree rows hash to (the stored-tree summary): ``digests[level]`` is the
    SHA-256 of the concatenated complete nodes of that level in index order (level 0: the
    stored leaf hashes), for every level from 0 up to the tree's height (from level 1 when the
    reader hashes the stored leaf hashes itself, as it reads the entries:
    :data:`SQLITE_DIGESTS_ABOVE_LEAVES`); ``heads`` the stored author heads, ``{author key id:
    (seq, leaf hash of its newest entry)}``."""

    size: int
    digests: tuple[bytes, ...]
    heads: dict[bytes, tuple[int, bytes]]


def as_int(value: object, what: str, where: str) -> int:
    """``value`` if it is an integer, else :class:`StoreCorruptedError` (a NULL or text where the
    table layout has an integer)."""
    if type(value) is int:
        return value
    raise StoreCorruptedError(f"{where}: {what} is {_kind(value)}, not an integer")


def as_blob(value: object, what: str, where: str, *, size: int | None = None) -> bytes:
    """``value`` as bytes if it is a blob of ``size`` bytes (or at most
    :data:`~electlog.events.MAX_ENTRY_SIZE` when ``size`` is None), else
    :class:`StoreCorruptedError`."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        if (size is None and len(data) <= MAX_ENTRY_SIZE) or len(data) == size:
            return data
        want = f"{size}" if size is not None else f"at most {MAX_ENTRY_SIZE}"
        raise StoreCorruptedError(f"{where}: {what} is {len(data)} bytes, not {want}")
    raise StoreCorruptedError(f"{where}: {what} is {_kind(value)}, not bytes")


def as_note(value: object, what: str, where: str) -> str:
    """``value`` if it is text of at most :data:`MAX_STORED_NOTE_SIZE` characters."""
    if isinstance(value, str) and len(value) <= MAX_STORED_NOTE_SIZE:
        return value
    if isinstance(value, str):
        raise StoreCorruptedError(
            f"{where}: {what} is {len(value)} characters, more than {MAX_STORED_NOTE_SIZE}"
        )
    raise StoreCorruptedError(f"{where}: {what} is {_kind(value)}, not text")


def _kind(value: object) -> str:
    return "NULL" if value is None else type(value).__name__


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


def check_checkpoint_root(
    origin: str,
    size: int,
    stored_size: int,
    note: str,
    get_node: Callable[[int, int], bytes],
    where: str,
    label: str = "latest checkpoint",
) -> Checkpoint:
    """Check a stored checkpoint (called ``label`` in messages) against the stored tree: it
    parses, names this log, records the size it commits to, does not exceed the tree, and its
    root equals the stored tree's root at that size. Raises :class:`StoreCorruptedError`."""
    try:
        cp = Checkpoint.from_text(checkpoint_text(note))
    except (CheckpointError, UsageError) as exc:
        raise StoreCorruptedError(f"{where}: {label} does not parse: {exc}") from exc
    if cp.origin != origin:
        raise StoreCorruptedError(
            f"{where}: {label} is for log {cp.origin!r}, the store holds {origin!r}"
        )
    if cp.size != stored_size:
        raise StoreCorruptedError(
            f"{where}: {label} commits to size {cp.size} but is recorded with size {stored_size}"
        )
    if cp.size > size:
        raise StoreCorruptedError(
            f"{where}: {label} commits to {cp.size} entries, the store holds {size}"
        )
    try:
        root = merkle.root_at(get_node, cp.size)
    except ElectlogError as exc:
        raise StoreCorruptedError(
            f"{where}: the stored tree's root at the {label}'s size {cp.size} cannot be "
            f"computed: {exc}"
        ) from exc
    if root != cp.root:
        raise StoreCorruptedError(
            f"{where}: stored tree root at size {cp.size} is {root.hex()}, the {label} says "
            f"{cp.root.hex()}"
        )
    return cp


class _Bad:
    """Damaged rows of one kind: the first few named, all counted."""

    def __init__(self) -> None:
        self.items: list[tuple[int, str]] = []
        self.count = 0

    def add(self, index: int, text: str) -> None:
        self.count += 1
        if len(self.items) < _LISTED:
            self.items.append((index, text))

    def report(self, out: list[StoreDamage], kind: DamageKind, where: str) -> None:
        """One :class:`StoreDamage` naming the first rows (their entry index for an entry)."""
        if not self.count:
            return
        index = self.items[0][0] if kind in (DamageKind.LEAF, DamageKind.ENTRIES) else None
        listed = "; ".join(text for _, text in self.items)
        more = f" (and {self.count - len(self.items)} more)" if self.count > len(self.items) else ""
        out.append(StoreDamage(kind=kind, message=f"{where}: {listed}{more}", index=index))


class Scan:
    """One integrity check of a store's rows, run inside one read snapshot: ``execute(sql,
    params)`` returns a cursor (DB-API), ``queries`` are the store's
    :class:`~electlog.store._sql.Queries`. Problems are appended to :attr:`found`."""

    def __init__(
        self,
        execute: Callable[..., Any],
        queries: Any,
        origin: str,
        where: str,
        found: list[StoreDamage],
    ) -> None:
        self._execute = execute
        self._q = queries
        self._origin = origin
        self._where = where
        self.found = found
        self.size = 0
        self._foreign = False  # an entry is not in electlog's signed-entry format
        self.stored: StoredTree | None = None
        """After a run with ``digests``: the summary, None if a row is not well formed (or
        missing), which only the full check can name."""

    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        rows: list[Any] = self._execute(sql, params).fetchall()
        return rows

    def _guard(self, kind: DamageKind, fn: Callable[[], object]) -> None:
        try:
            fn()
        except StoreCorruptedError as exc:
            self.found.append(StoreDamage(kind=kind, message=str(exc)))

    def run(self, full: bool, digests: DigestQueries | None = None) -> None:
        """Every check of the quick (``full=False``) or full check, appending to :attr:`found`
        as it goes (a driver error stops it with what was found so far kept). With
        ``digests`` (and ``full``): the stored-tree summary instead of the entries' pass and
        the heads' check, in :attr:`stored`."""
        if digests is not None:
            if not full:
                raise UsageError("the stored-tree summary is part of the full check")
            self._summarise(digests)
            return
        self._guard(DamageKind.ENTRIES, self._bounds)
        self._guard(DamageKind.NODE, self._level_counts)
        heads: dict[bytes, tuple[int, bytes | None]] = {}  # None: the newest leaf is damaged
        if full:
            self._guard(DamageKind.ENTRIES, lambda: self._blocks(heads))
        else:
            self._guard(DamageKind.ENTRIES, lambda: self._tail(heads))
        self._guard(DamageKind.HEAD, lambda: self._heads(heads, full))
        self._checkpoints(full)

    # ------------------------------------------------------------------ entries and nodes

    def _bounds(self) -> None:
        row = self._rows(self._q.bounds)[0]
        count = as_int(row[0], "the entry count", self._where)
        self.size = count
        if count and (row[1] != 0 or row[2] != count - 1):
            raise StoreCorruptedError(
                f"{self._where}: {count} entries stored with indexes {row[1]}..{row[2]}, "
                f"not 0..{count - 1}"
            )

    def _level_counts(self) -> None:
        got: dict[int, int] = {}
        for level, n in self._rows(self._q.level_counts):
            got[as_int(level, "a Merkle node's level", self._where)] = as_int(
                n, "a node count", self._where
            )
        got = {lvl: n for lvl, n in got.items() if n}
        want = expected_level_counts(self.size)
        if got != want:
            lvl, have, need = min(
                (lvl, got.get(lvl, 0), want.get(lvl, 0))
                for lvl in set(got) | set(want)
                if got.get(lvl, 0) != want.get(lvl, 0)
            )
            raise StoreCorruptedError(
                f"{self._where}: level {lvl} holds {have} Merkle nodes, a tree of {self.size} "
                f"entries has {need}"
            )

    def _entry_rows(
        self, rows: Iterable[Any], bad: _Bad, leaves: list[bytes] | None
    ) -> Iterable[tuple[int, bytes, bytes | None]]:
        """Type-check ``(idx, data, leaf)`` rows and recompute each leaf hash; yields the well
        typed ones, with the stored leaf hash or None when it does not match (recorded in
        ``bad``). With ``leaves``,
        the leaf hash recomputed from every row's entry bytes is appended (32 zero bytes for a
        malformed row, so positions stay aligned): the tree must commit to the entries."""
        where = self._where
        sha256 = hashlib.sha256
        zero = b"\x00"
        for row in rows:
            idx, data, leaf = row[0], row[1], row[2]
            if type(idx) is not int:
                idx = as_int(idx, "an entry index", where)
            # the common case (a blob of a sane size and a 32-byte blob) without the general
            # checks' copies; anything else gets them, and their error
            if not (
                type(data) is bytes
                and len(data) <= MAX_ENTRY_SIZE
                and type(leaf) is bytes
                and len(leaf) == _HASH
            ):
                try:
                    data = as_blob(data, f"entry {idx}", where)
                    leaf = as_blob(leaf, f"the leaf hash of entry {idx}", where, size=_HASH)
                except StoreCorruptedError as exc:
                    bad.add(idx, str(exc).removeprefix(f"{where}: "))
                    if leaves is not None:
                        leaves.append(bytes(_HASH))
                    continue
            computed = sha256(zero + data).digest()
            if leaves is not None:
                leaves.append(computed)
            if computed != leaf:
                bad.add(idx, f"entry {idx} does not hash to its stored leaf hash")
                yield idx, data, None
            else:
                yield idx, data, leaf

    def _tail(self, heads: dict[bytes, tuple[int, bytes | None]]) -> None:
        """The newest entries: leaf hashes, and the head each one's author must have."""
        bad = _Bad()
        rows = self._rows(self._q.tail, (self.size - TAIL_CHECK,))
        for _idx, data, leaf in self._entry_rows(rows, bad, None):
            try:
                stmt = Entry.from_bytes(data, verify=False).statement
            except ElectlogError:
                self._foreign = True  # the auditor judges the entry; heads cannot be checked
                continue
            heads[stmt.author] = (stmt.seq, leaf)
        bad.report(self.found, DamageKind.LEAF, self._where)

    def _blocks(self, heads: dict[bytes, tuple[int, bytes | None]]) -> None:
        """The full pass: blocks of 4096 entries, each checked with every node inside it; the
        nodes above level 12 from the recomputed block roots."""
        bad_leaf, bad_node = _Bad(), _Bad()
        tops: list[bytes] = []
        counts: dict[bytes, int] = {}
        authors: dict[bytes, bytes] = {}
        key_at = len(_ENTRY_KEY)
        for start in range(0, self.size, _BLOCK):
            stop = min(self.size, start + _BLOCK)
            rows = self._rows(self._q.rows_range, (start, stop))
            leaves: list[bytes] = []
            for _idx, data, leaf in self._entry_rows(rows, bad_leaf, leaves):
                if data[:key_at] != _ENTRY_KEY or len(data) < key_at + 32:
                    self._foreign = True  # the auditor judges it; heads cannot be checked
                    continue
                key = data[key_at : key_at + 32]
                author = authors.get(key)
                if author is None:  # a key's hash once: a log has few authors
                    author = authors[key] = hashlib.sha256(key).digest()
                n = counts.get(author, 0) + 1
                counts[author] = n
                heads[author] = (n, leaf)
            if len(leaves) != stop - start:
                raise StoreCorruptedError(
                    f"{self._where}: entries {start}..{stop - 1} are missing (found {len(leaves)})"
                )
            top = self._check_subtree(leaves, 0, start, bad_node)
            if top is not None:
                tops.append(top)
        self._check_subtree(tops, _BLOCK_BITS, 0, bad_node)
        bad_leaf.report(self.found, DamageKind.LEAF, self._where)
        bad_node.report(self.found, DamageKind.NODE, self._where)

    def _summarise(self, q: DigestQueries) -> None:
        """The full check's checks that read no entry bytes, and :attr:`stored`. The entries'
        bounds come from the lowest and highest index (the size is the highest plus one), and
        the leaves' pass counts every index below it: the full check's count of rows, without
        a pass of its own; likewise the nodes' pass counts each level's rows, and the table's
        row count says there are no others (the full check's count per level)."""
        low, high = self._rows(q.bounds)[0]
        if low is None and high is None:
            self.size = 0
        elif low == 0 and type(high) is int:
            self.size = high + 1
        else:
            return  # stored stays None: the full check names the bounds
        self.stored = self._summary(q)
        self._checkpoints(True)

    def _summary(self, q: DigestQueries) -> StoredTree | None:
        """Each level of the stored tree hashed in index order, and the heads (None if any row
        is missing or not well formed: the full check names it)."""
        size = self.size
        counts = expected_level_counts(size)
        if self._rows(q.node_count)[0][0] != sum(counts.values()):
            return None
        levels: list[tuple[str, tuple[object, ...], int]] = (
            [(q.leaves, (), size)] if q.leaves else []
        )
        levels += [(q.nodes, (lv,), n) for lv, n in counts.items()]
        digests: list[bytes] = []
        for sql, params, n in levels:
            digest = hashlib.sha256()
            for lo in range(0, n, _DIGEST_BLOCK):
                hi = min(n, lo + _DIGEST_BLOCK)
                count, total, good, joined = self._rows(sql, (*params, lo, hi))[0]
                # exactly the rows lo..hi-1 (integer indexes are unique), each well formed
                if (
                    count != hi - lo
                    or type(total) is not int
                    or good != count
                    or type(joined) is not bytes
                ):
                    return None
                digest.update(joined)
            digests.append(digest.digest())
        heads: dict[bytes, tuple[int, bytes]] = {}
        for author, seq, prev in self._rows(self._q.heads_all):
            if not (
                type(author) is bytes
                and len(author) == _HASH
                and type(seq) is int
                and type(prev) is bytes
                and len(prev) == _HASH
            ):
                return None
            heads[author] = (seq, prev)
        return StoredTree(size, tuple(digests), heads)

    def _check_subtree(
        self, hashes: list[bytes], level: int, start: int, bad: _Bad
    ) -> bytes | None:
        """Recompute the complete nodes above ``hashes`` (consecutive nodes of ``level`` from
        leaf position ``start``) and compare each with its stored row; returns the single top
        hash when ``hashes`` is one whole aligned block of 4096, else None."""
        whole = len(hashes) == _BLOCK
        sha256 = hashlib.sha256
        prefix = b"\x01"  # RFC 6962's interior node (merkle.node_hash, whose argument checks
        # every hash here passes: each is a 32-byte digest made above)
        while len(hashes) >= 2:
            pairs = zip(hashes[0::2], hashes[1::2], strict=False)
            hashes = [sha256(prefix + left + right).digest() for left, right in pairs]
            level += 1
            lo = start >> level
            stored = {}
            for chunk in range(lo, lo + len(hashes), _BLOCK):
                hi = min(lo + len(hashes), chunk + _BLOCK)
                for idx, h in self._rows(self._q.node_rows, (level, chunk, hi)):
                    stored[idx] = h
            for k, h in enumerate(hashes):
                got = stored.get(lo + k)
                if got is None:
                    bad.add(lo + k, f"Merkle node (level {level}, index {lo + k}) is missing")
                elif got != h and (
                    not isinstance(got, bytes | bytearray | memoryview) or bytes(got) != h
                ):
                    bad.add(lo + k, f"Merkle node (level {level}, index {lo + k}) is wrong")
        return hashes[0] if whole else None

    # ------------------------------------------------------------------ heads

    def _heads(self, want: Mapping[bytes, tuple[int, bytes | None]], full: bool) -> None:
        """Stored heads against the entries: in full, exactly one head per author equal to
        (number of its entries, leaf hash of its newest entry); quickly, every head well formed,
        their sequence numbers summing to the size, and the heads of the newest entries'
        authors equal to those entries'."""
        if self._foreign:
            return  # entries in another format (a store used below the log layer)
        where = self._where
        bad = _Bad()
        stored: dict[bytes, tuple[int, bytes]] = {}
        total = 0
        for author, seq, prev in self._rows(self._q.heads_all):
            try:
                key = as_blob(author, "a head's author key id", where, size=_HASH)
                n = as_int(seq, f"the head seq of author {key.hex()[:16]}", where)
                leaf = as_blob(prev, f"the head of author {key.hex()[:16]}", where, size=_HASH)
            except StoreCorruptedError as exc:
                bad.add(-1, str(exc).removeprefix(f"{where}: "))
                continue
            stored[key] = (n, leaf)
            total += n
        if full:
            for key in sorted(set(stored) | set(want)):
                have, need = stored.get(key), want.get(key)
                if not _same_head(have, need):
                    bad.add(-1, _head_text(key, have, need))
        else:
            if total != self.size and not bad.count:
                bad.add(
                    -1,
                    f"the author heads' sequence numbers add up to {total}, the store holds "
                    f"{self.size} entries",
                )
            for key, need in want.items():
                have = stored.get(key)
                if not _same_head(have, need):
                    bad.add(-1, _head_text(key, have, need))
        if bad.count:
            listed = "; ".join(text for _, text in bad.items)
            more = f" (and {bad.count - len(bad.items)} more)" if bad.count > len(bad.items) else ""
            raise StoreCorruptedError(f"{where}: {listed}{more}")

    # ------------------------------------------------------------------ checkpoints

    def _checkpoints(self, full: bool) -> None:
        where = self._where
        sql = self._q.checkpoints if full else self._q.latest_checkpoint
        try:
            rows = self._rows(sql)
        except StoreCorruptedError as exc:
            self.found.append(StoreDamage(kind=DamageKind.CHECKPOINT, message=str(exc)))
            return
        last = len(rows) - 1
        for i, (cp_size, note) in enumerate(rows):
            label = "latest checkpoint" if i == last else f"checkpoint {i} (of {len(rows)})"

            def one(cp_size: object = cp_size, note: object = note, label: str = label) -> None:
                check_checkpoint_root(
                    self._origin,
                    self.size,
                    as_int(cp_size, f"the size of the {label}", where),
                    as_note(note, f"the {label}", where),
                    self.read_node,
                    where,
                    label,
                )

            self._guard(DamageKind.CHECKPOINT, one)

    def read_node(self, level: int, index: int) -> bytes:
        """A stored node (level 0: a leaf hash), type-checked; :class:`UsageError` if absent."""
        if level == 0:
            rows = self._rows(self._q.leaf, (index,))
        else:
            rows = self._rows(self._q.node, (level, index))
        if not rows:
            raise UsageError(f"no complete Merkle node at level {level} index {index}")
        return as_blob(rows[0][0], f"Merkle node ({level}, {index})", self._where, size=_HASH)


def _same_head(have: tuple[int, bytes] | None, need: tuple[int, bytes | None] | None) -> bool:
    """A stored head equals the one recomputed (whose leaf is None when the newest entry's
    stored leaf hash is itself damaged, reported already: then only the seq is compared)."""
    if have is None or need is None:
        return have is None and need is None
    return have[0] == need[0] and (need[1] is None or have[1] == need[1])


def _head_text(
    key: bytes, have: tuple[int, bytes] | None, need: tuple[int, bytes | None] | None
) -> str:
    who = f"author {key.hex()[:16]}"
    if have is None:
        return f"{who} has entries but no head"
    if need is None:
        return f"{who} has a head (seq {have[0]}) but no entries"
    if have[0] != need[0]:
        return f"the head of {who} says seq {have[0]}, its newest entry is seq {need[0]}"
    return f"the head of {who} is not the leaf hash of its newest entry"
