"""The operator commands end to end: keygen → append → checkpoint (cosigned) → export → verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from electlog.audit import Trust
from electlog.cli import main
from electlog.keys import VerifyKey
from electlog.log import Log
from electlog.publish.bundle import BundleReader
from electlog.publish.tiles import TilesReader
from electlog.store import open_store

ORIGIN = "example.org/cli-operator"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_operator_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(tmp_path / "log.sqlite")
    code, author_pub, _ = run(capsys, "keygen", "author", "--out", str(tmp_path / "a.pem"))
    assert code == 0
    code, log_vkey, _ = run(
        capsys, "keygen", "log", "--name", ORIGIN, "--out", str(tmp_path / "log.skey")
    )
    assert code == 0
    code, witness_vkey, _ = run(
        capsys, "keygen", "witness", "--name", "w.example", "--out", str(tmp_path / "w.skey")
    )
    assert code == 0

    receipts = []
    for i in range(5):
        body = json.dumps({"n": i, "digest": "hex:" + bytes([i]).hex() * 4})
        code, out, err = run(
            capsys, "append", store, "--origin", ORIGIN, "--key", str(tmp_path / "a.pem"),
            "--type", "demo.note", "--body", body, "--time", str(1_790_000_000_000_000 + i),
        )  # fmt: skip
        assert code == 0, err
        receipts.append(json.loads(out))
    assert [r["index"] for r in receipts] == [0, 1, 2, 3, 4]

    # the appended entries carry the given body, with "hex:" strings as bytes
    with open_store(store, create=False) as s:
        log = Log(s)
        third = log.get(2)
        assert third.statement.body == {"n": 2, "digest": b"\x02" * 4}
        assert third.author == VerifyKey.from_text(author_pub.strip()).key_id
        assert receipts[2]["leaf_hash"] == third.leaf_hash.hex()

    code, note, _ = run(
        capsys, "checkpoint", store, "--log-key", str(tmp_path / "log.skey"),
        "--witness-key", str(tmp_path / "w.skey"), "--timestamp", "1790000000",
    )  # fmt: skip
    assert code == 0
    assert note.startswith(f"{ORIGIN}\n5\n") and "— w.example " in note

    bundle, tiles = tmp_path / "log.bundle", tmp_path / "tiles"
    code, _, _ = run(capsys, "export", store, "--bundle", str(bundle), "--tiles", str(tiles))
    assert code == 0
    reader = BundleReader(bundle)
    assert [i for i, _, _ in reader] == [0, 1, 2, 3, 4]
    root = TilesReader(tiles).root(5)
    with open_store(store, create=False) as s:
        assert Log(s).root(5) == root

    trust = tmp_path / "trust.json"
    Trust.create(
        origin=ORIGIN,
        authority_key=author_pub.strip(),
        log_key=log_vkey.strip(),
        witnesses=[witness_vkey.strip()],
        quorum=1,
    ).save(trust)
    code, out, err = run(capsys, "verify", str(bundle), "--trust", str(trust), "--no-election")
    assert code == 0, out + err

    # bad input is a clear error and exit 2, never a traceback
    code, _, err = run(
        capsys, "append", store, "--key", str(tmp_path / "a.pem"), "--type", "demo.note",
        "--body", '{"x": 1.5}',
    )  # fmt: skip
    assert code == 2 and "floats are not allowed" in err
    code, _, err = run(capsys, "append", store, "--key", str(tmp_path / "a.pem"),
                       "--type", "demo.note", "--body", "[1]")  # fmt: skip
    assert code == 2 and "JSON object" in err
    code, _, err = run(capsys, "append", store, "--key", str(tmp_path / "a.pem"),
                       "--type", "demo.note", "--body", '{"x": 1, "x": 2}')  # fmt: skip
    assert code == 2 and "'x' twice" in err and "Traceback" not in err
    with open_store(store, create=False) as s:
        assert s.size() == 5  # nothing appended by the refused commands
