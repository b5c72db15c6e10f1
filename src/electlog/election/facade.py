"""The :class:`Election` facade: check, sign, append and apply in one call.

Writers (registration desks, polling-station apps, counting tools) use :class:`Election`:
:meth:`Election.submit` checks an event against the current projections, signs it as the next
entry of the author's chain, appends it to the log and folds it into the state. A
:class:`~electlog.errors.RuleViolation` leaves the log unchanged and rewinds the author's chain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence

from electlog.errors import ElectlogError, EntryError, RuleViolation, UsageError
from electlog.events import Author, Entry
from electlog.keys import SigningKey
from electlog.log import Log, Receipt, _verified_batch

from .events import ElectionDefined, ElectionEvent, decode_event
from .state import ElectionState, EventContext
from .tally import RoundResult

__all__ = ["Election", "log_events"]


def log_events(log: Log) -> Iterator[tuple[EventContext, ElectionEvent]]:
    """Every entry of ``log`` as ``(EventContext, event)``.

    Raises :class:`EntryError` naming the entry index if an entry is not an election event.
    """
    for index, entry in enumerate(log):
        yield _context(index, entry), _decode(index, entry)


def _check(state: ElectionState, ctx: EventContext, event: ElectionEvent, item: int) -> None:
    """Check batch item ``item``'s event against ``state``; a refusal names the item."""
    try:
        state.check(ctx, event)
    except RuleViolation as exc:
        raise RuleViolation(
            exc.code, f"batch item {item}: {exc.message}", ids=exc.ids, item=item
        ) from exc


def _context(index: int, entry: Entry) -> EventContext:
    st = entry.statement
    return EventContext(index=index, time=st.time, signer=st.author, leaf_hash=entry.leaf_hash)


def _decode(index: int, entry: Entry) -> ElectionEvent:
    try:
        return decode_event(entry.statement)
    except EntryError as exc:
        raise EntryError(f"entry {index}: {exc}") from exc


def _canonical(event: ElectionEvent) -> ElectionEvent:
    """The event as a replay will see it (bodies re-parsed strictly)."""
    if not isinstance(event, ElectionEvent) or not event.TYPE:
        raise UsageError(f"not an election event: {event!r}")
    return type(event).from_body(event.to_body())


class Election:
    """An election: its log and the state replayed from it.

    Create a new one with :meth:`create` (signs the genesis) or resume with :meth:`open`.
    """

    def __init__(self, log: Log, state: ElectionState) -> None:
        self._log = log
        self._state = state

    @property
    def log(self) -> Log:
        """The underlying log."""
        return self._log

    @property
    def state(self) -> ElectionState:
        """The current projections."""
        return self._state

    @classmethod
    def create(
        cls,
        log: Log,
        authority: SigningKey,
        definition: ElectionDefined,
        *,
        time: int | dt.datetime | dt.date,
    ) -> Election:
        """Start an election in an empty ``log``: sign and append ``definition`` (the genesis)
        with the ``authority`` key at ``time`` (µs UTC, or a local ``datetime`` / ``date`` in the
        election's time zone, see :meth:`RuleSet.timestamp`). ``definition.rules_hash`` is
        computed from its RuleSet when the definition was built without one."""
        if not isinstance(time, int):
            time = definition.rules.timestamp(time)
        if len(log) != 0:
            raise UsageError("Election.create needs an empty log")
        election = cls(log, ElectionState(authority.key_id))
        election.submit(election.author(authority), definition, time=time)
        return election

    @classmethod
    def open(cls, log: Log, authority_key_id: bytes, *, verify: bool = False) -> Election:
        """Resume an election by replaying ``log``.

        With ``verify=False`` (default) the log is trusted (it was checked when written) and
        only applied; with ``verify=True`` every event is checked again and the first
        :class:`RuleViolation` is raised (the auditor reports all of them instead).
        """
        state = ElectionState(authority_key_id)
        step = state.admit if verify else state.apply
        for ctx, event in log_events(log):
            step(ctx, event)
        return cls(log, state)

    def timestamp(self, when: dt.datetime | dt.date) -> int:
        """The claimed time (µs UTC) of a local date and time in the election's time zone
        (:meth:`RuleSet.timestamp` of the genesis RuleSet)."""
        definition = self._state.definition
        if definition is None:
            raise UsageError("the election has no genesis yet")
        return definition.rules.timestamp(when)

    def author(self, key: SigningKey) -> Author:
        """An :class:`Author` for ``key`` resumed at its head in this log."""
        head = self._log.author_head(key.key_id)
        if head is None:
            return Author(key, self._log.origin)
        return Author(key, self._log.origin, seq=head.seq, prev=head.prev)

    def submit(
        self, author: Author, event: ElectionEvent, *, time: int | dt.datetime | dt.date
    ) -> Receipt:
        """Check ``event`` against the state, sign it as ``author``'s next entry at ``time``
        (µs UTC, or a local ``datetime`` / ``date``: :meth:`timestamp`), append it and apply
        it. On :class:`RuleViolation` (or a refused append) nothing is appended and the
        author's chain is rewound."""
        if not isinstance(time, int):
            time = self.timestamp(time)
        event = _canonical(event)
        head = author.head()
        entry = author.sign(event.TYPE, event.to_body(), time=time, schema=event.SCHEMA)
        ctx = EventContext(
            index=len(self._log), time=time, signer=author.key_id, leaf_hash=entry.leaf_hash
        )
        try:
            self._state.check(ctx, event)
            receipt = self._log.append(entry)
        except ElectlogError:
            author.rewind(head)
            raise
        self._state.apply(ctx, event)
        return receipt

    def submit_many(
        self, author: Author, events: Iterable[tuple[ElectionEvent, int]]
    ) -> list[Receipt]:
        """Submit a batch of ``(event, time)`` by one author with one log commit.

        Each event is checked against the state including the batch's earlier events. On a
        violation nothing of the batch is appended, the state is restored (replayed from the
        log) and the :class:`RuleViolation` names the batch item; the author's chain is rewound.
        """
        items: Sequence[tuple[ElectionEvent, int]] = list(events)
        if not items:
            return []
        head = author.head()
        state = self._state
        base = len(self._log)
        entries: list[Entry] = []
        touched = False
        try:
            for i, (raw, time) in enumerate(items):
                try:
                    event = _canonical(raw)
                except EntryError as exc:
                    raise EntryError(f"batch item {i}: {exc}") from exc
                entry = author.sign(event.TYPE, event.to_body(), time=time, schema=event.SCHEMA)
                ctx = EventContext(
                    index=base + i, time=time, signer=author.key_id, leaf_hash=entry.leaf_hash
                )
                _check(state, ctx, event, i)
                touched = True
                state.apply(ctx, event)
                entries.append(entry)
            return self._log.append_many(entries)
        except BaseException:
            author.rewind(head)
            if touched:
                self._state = ElectionState.rebuild(state.authority_key_id, log_events(self._log))
            raise

    def append_entries(self, entries: Sequence[Entry]) -> list[Receipt]:
        """Admit a batch of entries signed elsewhere (e.g. by polling-station software, received
        by the log service) with one log commit: each entry's event is decoded and checked
        against the state including the batch's earlier events, then the batch goes through
        :meth:`Log.append_many` (signatures, log id, author chains).

        All or nothing: on a :class:`RuleViolation` (``item`` names the batch position), an
        entry that is not an election event (:class:`EntryError` naming the batch item) or a
        refused append, nothing is appended and the state is restored.

        Each entry is verified first (a :class:`~electlog.events.VerifiedEntry` as it is, any
        other parsed from its bytes), so the rules judge exactly what is appended, never the
        attributes a plain :class:`Entry` merely claims."""
        items = list(entries)
        for i, item in enumerate(items):
            if not isinstance(item, Entry):
                raise UsageError(f"batch item {i}: expected an Entry")
        batch = _verified_batch(items)
        if not batch:
            return []
        state = self._state
        base = len(self._log)
        touched = False
        try:
            for i, entry in enumerate(batch):
                try:
                    event = decode_event(entry.statement)
                except EntryError as exc:
                    raise EntryError(f"batch item {i}: {exc}") from exc
                ctx = _context(base + i, entry)
                _check(state, ctx, event, i)
                touched = True
                state.apply(ctx, event)
            return self._log.append_many(batch)
        except BaseException:
            if touched:
                self._state = ElectionState.rebuild(state.authority_key_id, log_events(self._log))
            raise

    def tally(self, community: str, round: int = 1) -> RoundResult:
        """The recomputed result of a community's round from the ballots recorded so far."""
        return self._state.result(community, round)
