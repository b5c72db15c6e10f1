"""The SQLite store's check in an audit, per entry: ``python -m benchmarks.store_check STORE``.

CPU time of this process (``time.process_time``, best of ``--repeat``), in µs per entry:

* ``full check``: the store's full integrity check (``sqlite_full_check``: every leaf hash,
  node and head recomputed from the entry bytes), what an audit ran beside the replay before;
* ``tree check``: the check an audit of the whole file runs there now (``sqlite_tree_check``:
  the full check without its passes over the entry bytes, each level of the stored tree hashed);
* ``level digests``: what that costs the auditing process: hashing the levels of the tree it
  builds anyway (a ``CompactMerkleTree`` of the store's leaf hashes built with
  ``keep_digests``, minus one built without, plus ``level_digests``).
"""

from __future__ import annotations

import argparse
import sys

from ._harness import best_cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.store_check")
    parser.add_argument("store", help="a SQLite store")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    from electlog.audit._replay import CompactMerkleTree
    from electlog.audit._store_check import sqlite_full_check, sqlite_tree_check
    from electlog.store import SQLiteStore

    with SQLiteStore(args.store, read_only=True) as store:
        n = store.size()
        leaves = list(store.leaf_hashes(0, n))
    chunks = [leaves[i : i + 2000] for i in range(0, n, 2000)]

    def tree(digests: bool) -> None:
        t = CompactMerkleTree()
        try:
            if digests:
                t.keep_digests()
            for chunk in chunks:
                t.extend(chunk)
            if digests:
                t.level_digests()
        finally:
            t.close()

    path = str(args.store)
    results = {
        "full check": best_cpu(lambda: sqlite_full_check(path), args.repeat),
        "tree check": best_cpu(lambda: sqlite_tree_check(path), args.repeat),
        "level digests": best_cpu(lambda: tree(True), args.repeat)
        - best_cpu(lambda: tree(False), args.repeat),
    }
    print(f"{n:,} entries of {args.store}, CPU µs per entry:")
    for name, seconds in results.items():
        print(f"  {name:<14} {seconds / n * 1e6:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
