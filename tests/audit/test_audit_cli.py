"""``electlog verify``, ``electlog prove`` and ``electlog tally``: outputs and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit_support import ElectionLog, build_election, flip, write_bundle
from electlog import merkle
from electlog.audit._report_json import validate_report_dict
from electlog.cli import main


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


@pytest.fixture(scope="module")
def files(el: ElectionLog, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    good = d / "good.bundle"
    write_bundle(good, el.origin, el.entries, el.notes)
    entries = list(el.entries)
    entries[120] = flip(entries[120], 70)
    bad = d / "bad.bundle"
    write_bundle(bad, el.origin, entries, el.notes)
    trust = d / "trust.json"
    el.trust.save(trust)
    since = d / "since.note"
    since.write_text(el.notes[0], encoding="utf-8")
    forked = build_election(1, origin=el.origin)  # another history under the same origin
    fork_note = d / "fork.note"
    fork_note.write_text(_note_by(el, forked, 100), encoding="utf-8")
    return {"good": good, "bad": bad, "trust": trust, "since": since, "fork": fork_note}


def _note_by(el: ElectionLog, other: ElectionLog, size: int) -> str:
    """A note for ``other``'s tree of ``size`` entries, signed by ``el``'s log key and
    witnesses: what a forking log would have shown someone earlier."""
    from electlog.checkpoint import Checkpoint, cosign, sign_note

    text = Checkpoint(origin=el.origin, size=size, root=other.log.root(size)).to_text()
    note = sign_note(text, [el.log_signer])
    for w in el.witnesses:
        note = cosign(note, w, 1_790_000_000)
    return note


def test_verify_clean_text(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["verify", str(files["good"]), "--trust", str(files["trust"])])
    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("VERDICT: CLEAN\n")
    assert err == ""  # no progress bar on a pipe unless asked


def test_verify_findings_json(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "verify",
            str(files["bad"]),
            "--trust",
            str(files["trust"]),
            "--format",
            "json",
            "--jobs",
            "2",
        ]
    )
    out, _ = capsys.readouterr()
    assert code == 1
    data = json.loads(out)
    validate_report_dict(data)
    assert data["verdict"] == "findings"
    assert data["findings"][0]["code"] == "entry.signature_invalid"
    assert data["findings"][0]["index"] == 120
    assert data["run"]["jobs"] == 2


def test_verify_html_to_file(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "report.html"
    code = main(
        [
            "verify",
            str(files["good"]),
            "--trust",
            str(files["trust"]),
            "--format",
            "html",
            "--output",
            str(out_file),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0 and out == ""
    assert "report written to" in err
    assert 'id="verdict">Verdict: CLEAN' in out_file.read_text(encoding="utf-8")


def test_verify_since(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "verify",
            str(files["good"]),
            "--trust",
            str(files["trust"]),
            "--since",
            str(files["since"]),
            "--format",
            "json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["since"]["consistent"] is True
    code = main(
        [
            "verify",
            str(files["good"]),
            "--trust",
            str(files["trust"]),
            "--since",
            str(files["fork"]),
            "--format",
            "json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    fork = [f for f in data["findings"] if f["code"] == "fork.inconsistent"]
    assert len(fork) == 1
    assert fork[0]["evidence"]["since_note"] == files["fork"].read_text(encoding="utf-8")
    assert fork[0]["evidence"]["log_note"].startswith(data["origin"] + "\n")
    assert all(len(h) == 64 for h in fork[0]["evidence"]["proof"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trust", "/nonexistent/trust.json"], "cannot read trust file"),
        (["--trust", "BAD"], "not valid JSON"),
        (["--trust", "TRUST", "--jobs", "0"], "jobs"),
        (["--trust", "TRUST", "--since", "/nonexistent.note"], "--since"),
        (["--trust", "TRUST", "--format", "pdf"], "invalid choice"),
    ],
)
def test_verify_could_not_run(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    bad_trust = tmp_path / "bad.json"
    bad_trust.write_text("{nope")
    args = [
        str(bad_trust) if a == "BAD" else str(files["trust"]) if a == "TRUST" else a for a in args
    ]
    with pytest.raises(SystemExit) if "--format" in args else _no_raise():
        code = main(["verify", str(files["good"]), *args])
        assert code == 2
    assert message in capsys.readouterr().err


class _no_raise:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_verify_unreadable_source(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"this is not a bundle at all")
    assert main(["verify", str(junk), "--trust", str(files["trust"])]) == 2
    assert "bad magic" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "missing"), "--trust", str(files["trust"])]) == 2


def test_verify_progress_when_asked(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["verify", str(files["good"]), "--trust", str(files["trust"]), "--progress"])
    _, err = capsys.readouterr()
    assert code == 0
    n = len(build_election(0).entries)
    assert "verifying" in err and f"{n}/{n}" in err


def test_prove_inclusion(
    el: ElectionLog, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "prove",
                "inclusion",
                str(files["good"]),
                "--index",
                "42",
                "--size",
                "200",
                "--format",
                "json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["root"] == el.log.root(200).hex()
    merkle.verify_inclusion(
        bytes.fromhex(data["leaf_hash"]),
        42,
        200,
        [bytes.fromhex(h) for h in data["proof"]],
        el.log.root(200),
    )
    assert main(["prove", "inclusion", str(files["good"]), "--index", "42", "--size", "200"]) == 0
    out, err = capsys.readouterr()
    assert out.split() == data["proof"]
    assert "# root " + data["root"] in err
    assert main(["prove", "inclusion", str(files["good"]), "--index", "500"]) == 2


def test_prove_consistency(
    el: ElectionLog, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prove", "consistency", str(files["good"]), "--size1", "100"]) == 0
    proof = [bytes.fromhex(h) for h in capsys.readouterr().out.split()]
    assert proof == el.log.consistency_proof(100)
    merkle.verify_consistency(100, len(el.entries), proof, el.log.root(100), el.log.root())
    assert main(["prove", "consistency", str(files["good"]), "--size1", "0"]) == 2


def test_tally(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tally", str(files["good"]), "--trust", str(files["trust"])]) == 0
    out = capsys.readouterr().out
    assert "c1 Community One (all_voters)" in out and "c2 Community Two" in out
    assert "member (1 seat(s)): elected c1-v05 (16)" in out
    assert (
        main(
            [
                "tally",
                str(files["good"]),
                "--trust",
                str(files["trust"]),
                "--community",
                "c2",
                "--format",
                "json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["c2"]
    assert data["c2"]["rounds"]["1"]["result"]["posts"]["member"]["elected"] == ["c2-v03", "c2-v02"]
    assert (
        main(["tally", str(files["good"]), "--trust", str(files["trust"]), "--community", "c9"])
        == 2
    )
    assert main(["tally", str(files["bad"]), "--trust", str(files["trust"])]) == 1
    assert "the audit's verdict is FINDINGS" in capsys.readouterr().err


def test_console_script_exit_codes(files: dict[str, Path]) -> None:
    run = [sys.executable, "-m", "electlog", "verify", "--trust", str(files["trust"])]
    for source, status in ((files["good"], 0), (files["bad"], 1), ("/nonexistent", 2)):
        done = subprocess.run([*run, str(source)], check=False, capture_output=True)
        assert done.returncode == status, done.stderr
