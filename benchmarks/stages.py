"""The audit's cost per stage per entry: ``python -m benchmarks.stages STORE TRUST``.

Measures, in this one process (CPU time, ``time.process_time``, best of ``--repeat``), each stage
the audit runs for every entry of an election log in a SQLite store, and prints one line per
stage in µs per entry: what docs/benchmarks.md's scaling model is built from. The stages are the
audit's own functions, called as the audit calls them:

* ``read``: the source's chunks (``electlog.audit._sources``);
* ``route`` (parent): ``ShardedReplay.feed_entries`` with shards that take the chunks and
  never reply: the routing decode of each statement (``shards.peek``), the choice of community,
  the fields the log-wide checks read, each shard's list of entries;
* ``checks`` (parent): author chains, the Merkle tree, claimed times and the cross-community
  claims of the routed chunks, every entry applied with its own leaf hash
  (``ShardedReplay._checks``), the tree's groups of 16 leaves that two shards held whole given
  as their replies bring them (the parent hashes the others);
* ``decode`` (worker): the strict decode (``decoding.parse_entry``) and the leaf hash;
* ``verify`` (worker): ``keys.verify_many`` of the chunk; ``raw verify``: the raw loop of the
  same library by the route the verifier takes (the baseline of rows b1/b2); with libsodium,
  ``raw wrapper``: the raw loop through PyNaCl's ``nacl.bindings.crypto_sign_open``, which
  allocates an output and copies the message out (for comparison);
* ``replay`` (worker): the election's check and apply of each event (``Replay._election``).
"""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

from ._harness import best_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stages")
    parser.add_argument("store", help="an election log's SQLite store (electlog demo's)")
    parser.add_argument("trust", help="its trust file")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--limit", type=int, default=200_000, help="entries measured")
    args = parser.parse_args(argv)

    from electlog.audit._decoding import parse_entry
    from electlog.audit._pipeline import VerifiedEntry, verify_chunk
    from electlog.audit._replay import FindingSink, Replay
    from electlog.audit._shards import (
        ALL,
        APPLIED,
        ShardedReplay,
        _chunk_groups,
        _merge,
        _own_groups,
    )
    from electlog.audit._sources import open_source
    from electlog.audit.trust import load_trust
    from electlog.events import SIGNATURE_CONTEXT, entry_leaf_hash
    from electlog.keys import verify_backend, verify_many

    gc.set_threshold(100_000, 50, 1000)
    trust = load_trust(args.trust)
    chunks: list[list[bytes]] = []
    n = 0

    def read() -> None:
        nonlocal chunks, n
        src = open_source(args.store)
        try:
            chunks = []
            n = 0
            for chunk in src.chunks(2000):
                chunks.append(chunk)
                n += len(chunk)
                if n >= args.limit:
                    break
        finally:
            src.close()

    results: dict[str, float] = {"read": best_cpu(read, args.repeat)}

    class _Statuses:
        """The shards as the parent sees them, replying nothing: the routed chunks stay
        pending (what the checks stage then reads)."""

        jobs = 2
        election = True
        in_flight = 1 << 30

        def send(self, shard: int, msg: Any) -> None:
            if shard == 0 and msg[0] == "chunk":
                routings.append(msg[3])

        def receive(self, kind: str, shard: int, tag: int) -> Any:
            raise AssertionError("no chunk is collected here")

    routed: list[Any] = []
    routings: list[bytes] = []

    def route() -> None:
        routings.clear()
        replay = ShardedReplay(trust, FindingSink(), _Statuses())
        for chunk in chunks:
            replay.feed_entries(chunk)
        routed[:] = [metas for _, _, metas in replay._pending]

    results["route"] = best_cpu(route, args.repeat)

    # the workers' replies: every entry applied, with its own leaf hash (so each author's
    # chain holds, as in a clean audit: zeros here would make every entry a chain finding)
    leaf_hashes = [b"".join([entry_leaf_hash(data) for data in chunk]) for chunk in chunks]
    # the two shards' parts of each chunk's Merkle groups, as their replies bring them (the
    # workers hash the groups of 16 entries they hold whole; the parent the others)
    parts = []
    for ws, hashes in zip(routings, leaf_hashes, strict=True):
        mine = [
            _own_groups(
                w,
                ws,
                b"".join([hashes[32 * k : 32 * k + 32] for k, s in enumerate(ws) if s in (w, ALL)]),
            )
            for w in range(2)
        ]
        parts.append((_merge([m[0] for m in mine]), _merge([m[1] for m in mine])))

    def checks() -> None:
        replay = ShardedReplay(trust, FindingSink(), _Statuses())
        base = 0
        for metas, hashes, (flags, nodes) in zip(routed, leaf_hashes, parts, strict=True):
            groups = _chunk_groups(hashes, flags, nodes)
            replay._checks(base, metas, bytes([APPLIED]) * len(metas), hashes, groups)
            base += len(metas)

    results["checks"] = best_cpu(checks, args.repeat)

    def decode() -> None:
        for chunk in chunks:
            for data in chunk:
                entry_leaf_hash(data)
                parse_entry(data)

    results["decode"] = best_cpu(decode, args.repeat)
    triples = []
    for chunk in chunks:
        for data in chunk:
            p = parse_entry(data)
            triples.append((p.public_key, p.signature, SIGNATURE_CONTEXT + p.statement_bytes))
    results["verify"] = best_cpu(lambda: verify_many(triples), args.repeat)
    if verify_backend() == "nacl":
        # the route the verifier takes: the cffi function, no message copied out
        from nacl._sodium import ffi, lib

        sign_open, null = lib.crypto_sign_open, ffi.NULL

        def raw() -> None:
            for pub, sig, msg in triples:
                signed = sig + msg
                sign_open(null, null, signed, len(signed), pub)
    else:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        keys = {pub: Ed25519PublicKey.from_public_bytes(pub) for pub, _, _ in triples}

        def raw() -> None:
            for pub, sig, msg in triples:
                keys[pub].verify(sig, msg)

    results["raw verify"] = best_cpu(raw, args.repeat)
    if verify_backend() == "nacl":  # PyNaCl's public wrapper: for comparison, not a baseline
        from nacl.bindings import crypto_sign_open

        def raw_wrapper() -> None:
            for pub, sig, msg in triples:
                crypto_sign_open(sig + msg, pub)

        results["raw wrapper"] = best_cpu(raw_wrapper, args.repeat)
    verified = [r for chunk in chunks for r in verify_chunk(chunk) if isinstance(r, VerifiedEntry)]

    def replay_all() -> None:
        sink = FindingSink()
        replay = Replay(trust, sink, election=True)
        state = replay.state
        assert state is not None
        try:
            for i, r in enumerate(verified):
                _, log, etype, schema, author, seq, prev, t, body, _ = r
                replay._election(
                    i, state, log, etype, schema, author, seq, prev, t, dict(body), r[0]
                )
        finally:
            replay.close()

    results["replay"] = best_cpu(replay_all, 1)
    print(f"{n:,} entries of {args.store} ({verify_backend()} backend), CPU µs per entry:")
    for name, seconds in results.items():
        print(f"  {name:<12} {seconds / n * 1e6:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
