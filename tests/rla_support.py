"""Helpers for the risk-limiting audit's tests: the small scenario election audited by an audit
board (through the same workflow ``electlog rla`` runs), written as bundles with checkpoints."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import attrs

from audit_support import seed, witness_time, write_bundle
from electlog import NoteSigner, WitnessSigner, cosign
from electlog.audit import Report, Trust, audit
from electlog.checkpoint import Checkpoint, sign_note
from electlog.election import Election
from electlog.election.events import KeyAuthorised
from electlog.election.scenario import build_small_election
from electlog.election.tally import PostMarks
from electlog.events import Entry
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.merkle import leaf_hash, root
from electlog.rla import workflow as W

SEED_DIGITS = "01382438112797316654"
MEMBERS = ("audit-ann", "audit-bo")
Reader = Callable[[str, Mapping[str, PostMarks] | None], Mapping[str, PostMarks] | None]


def same_as_recorded(
    ballot: str, recorded: Mapping[str, PostMarks] | None
) -> Mapping[str, PostMarks] | None:
    return recorded


@attrs.define
class Audited:
    """An audited election: its log, election, keys and the audit board."""

    log: Log
    election: Election
    keys: object
    board: SigningKey
    pinned: int
    clock: Iterator[int]

    @property
    def entries(self) -> list[bytes]:
        return [self.log.get_bytes(i) for i in range(len(self.log))]

    def author(self):  # type: ignore[no-untyped-def]
        return self.election.author(self.board)

    def time(self) -> int:
        return next(self.clock)


def start_audit(
    seed_value: int = 0,
    *,
    risk_limit: str = "0.05",
    test: str = "kaplan_markov",
    replacement: bool = True,
) -> Audited:
    """The small election with an audit board key, the audit declared and the seed drawn."""
    log, keys, e = build_small_election(seed_value)
    st = e.state
    clock = itertools.count(max(st.last_time.values()) + 3_600_000_000, 1_000_000)
    board = SigningKey.from_seed(bytes([7]) * 32)
    e.submit(
        e.author(keys.authority),  # type: ignore[attr-defined]
        KeyAuthorised(key_id=board.key_id, role="audit_board", scope=(), label="audit board"),
        time=next(clock),
    )
    pinned = len(log)
    au = Audited(log=log, election=e, keys=keys, board=board, pinned=pinned, clock=clock)
    W.declare(
        e,
        au.author(),
        rounds=[],
        risk_limit=risk_limit,
        test=test,
        replacement=replacement,
        checkpoint_size=pinned,
        checkpoint_root=log.root(pinned),
        time=au.time(),
    )
    W.draw_seed(e, au.author(), SEED_DIGITS, time=au.time())
    return au


def run_round(au: Audited, community: str, number: int, read: Reader = same_as_recorded) -> int:
    """One audit round: draw, interpret every new ballot with ``read``, close. Returns the
    number of draws so far."""
    st = au.election.state
    W.draw_sample(au.election, au.author(), community, number, time=au.time())
    for row in W.retrieval_list(st, community, number):
        marks = read(row.ballot, st.audit.recorded(row.ballot))
        W.interpret(
            au.election, au.author(), community, number, row.ballot, marks, MEMBERS, time=au.time()
        )
    return W.close_round(au.election, au.author(), community, number, time=au.time()).sampled


def run_audit(au: Audited, read: Reader = same_as_recorded, *, max_rounds: int = 4) -> None:
    """Every audited round to its end: confirmed, or a full hand count when no sample is due."""
    st = au.election.state
    for community, number in list(st.audit.rounds):
        for _ in range(max_rounds):
            if not W.next_sample_size(st, community, number):
                break
            run_round(au, community, number, read)
        ra = st.audit.rounds[(community, number)]
        confirmed = bool(ra.closed) and ra.closed[-1].confirmed
        W.conclude(
            au.election,
            au.author(),
            community,
            number,
            outcome="confirmed" if confirmed else "full_hand_count",
            time=au.time(),
        )


@attrs.define
class Publisher:
    """A log key, two witnesses (quorum 2) and the trust file for ``origin``."""

    origin: str
    authority: SigningKey
    log_signer: NoteSigner = attrs.field(init=False)
    witnesses: list[WitnessSigner] = attrs.field(init=False)
    trust: Trust = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.log_signer = NoteSigner.generate(self.origin, rng_seed=seed(40))
        self.witnesses = [
            WitnessSigner.generate(f"witness{i}.example", rng_seed=seed(50 + i)) for i in range(2)
        ]
        self.trust = Trust.create(
            origin=self.origin,
            authority_key=self.authority.public,
            log_key=self.log_signer.vkey,
            witnesses=[w.vkey for w in self.witnesses],
            quorum=2,
        )

    def notes(self, entries: list[bytes], sizes: list[int]) -> list[str]:
        leaves = [leaf_hash(d) for d in entries]
        out = []
        for size in sorted(set(sizes)):
            text = Checkpoint(origin=self.origin, size=size, root=root(leaves[:size])).to_text()
            note = sign_note(text, [self.log_signer])
            stamp = witness_time(entries, size)
            for w in self.witnesses:
                note = cosign(note, w, stamp)
            out.append(note)
        return out

    def audit(self, entries: list[bytes], path: Path, pinned: int) -> Report:
        """Audit ``entries`` with witnessed checkpoints at 80, 140, the pinned size, just before
        the seed (the declaration public before the seed ceremony) and the end."""
        sizes = [80, 140, pinned, len(entries)]
        with contextlib.suppress(LookupError):
            sizes.append(index_of(entries, "audit.seed_drawn"))
        notes = self.notes(entries, sizes)
        write_bundle(path, self.origin, entries, notes)
        report = audit(path, self.trust)
        same = json.loads(report.to_json())
        same.pop("run")
        # more jobs hand a log with audit events to the serial replay: the same report; a log
        # whose only audit board events are the eligibility sample's is replayed sharded (2 and
        # 4 worker processes, community tasks), and gives the same report too
        audited = any(_type(data).startswith("audit.") for data in entries)
        runs = [{"jobs": 2}] if audited else [{"jobs": 2}, {"jobs": 4}, {"engine": "tasks"}]
        for kwargs in runs:
            more = audit(path, self.trust, **kwargs)  # type: ignore[arg-type]
            replay = more.run["replay"]
            if audited:
                assert replay.startswith("serial: "), replay
            else:
                assert replay.startswith("sharded by community"), (kwargs, replay)
            other = json.loads(more.to_json())
            other.pop("run")
            assert same == other, kwargs
        return report


def publisher(au: Audited) -> Publisher:
    return Publisher(origin=au.log.origin, authority=au.keys.authority)  # type: ignore[attr-defined]


def _type(data: bytes) -> str:
    return Entry.from_bytes(data, verify=False).statement.type


def index_of(entries: list[bytes], etype: str, nth: int = 0) -> int:
    found = 0
    for i, data in enumerate(entries):
        if _type(data) == etype:
            if found == nth:
                return i
            found += 1
    raise LookupError(etype)
