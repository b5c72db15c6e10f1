"""Issue 15 item 13: the command line without ceremony (version, help lines, 80 columns, every
core by default, plain damage messages, one finding for a wrong trust file, --since usage
errors, tally --no-election gone, messages that do not repeat their code)."""

from __future__ import annotations

import argparse
import io
import json
import os
import re
from pathlib import Path

import pytest
from rich.console import Console

import electlog
from audit_support import ElectionLog, build_election, resign, write_bundle
from electlog.audit import audit, load_trust
from electlog.cli import build_parser, main
from electlog.cli.demo import run_demo
from electlog.keys import SigningKey

# options deliberately hidden: removed, kept only to say why (a usage error)
HIDDEN = {("electlog tally", "--no-election")}


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


@pytest.fixture(scope="module")
def files(el: ElectionLog, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli15")
    good = d / "good.bundle"
    write_bundle(good, el.origin, el.entries, el.notes)
    trust = d / "trust.json"
    el.trust.save(trust)
    wrong = d / "wrong-trust.json"
    data = json.loads(trust.read_text())
    data["authority_key"] = SigningKey.from_seed(b"\x66" * 32).public.to_text()
    wrong.write_text(json.dumps(data))
    return {"good": good, "trust": trust, "wrong": wrong, "dir": d}


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"electlog {electlog.__version__}\n"


def _missing_help(parser: argparse.ArgumentParser, path: str) -> list[str]:
    missing: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {c.dest: c.help for c in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    missing.append(f"{path} {name}")
                missing += _missing_help(sub, f"{path} {name}")
        elif isinstance(action, argparse._HelpAction):
            continue
        else:
            name = action.option_strings[-1] if action.option_strings else action.dest
            if action.help == argparse.SUPPRESS:
                if (path, name) not in HIDDEN:
                    missing.append(f"{path} {name} (hidden)")
            elif not action.help or not action.help.strip():
                missing.append(f"{path} {name}")
    return missing


def test_every_subcommand_and_option_has_a_help_line() -> None:
    parser = build_parser()
    assert _missing_help(parser, "electlog") == []
    # the walk does reach the nested parsers (prove inclusion / consistency)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert {"keygen", "append", "checkpoint", "export", "verify", "prove", "tally"} <= set(
        sub.choices
    )


def test_a_missing_help_line_is_caught() -> None:
    parser = argparse.ArgumentParser(prog="x")
    sub = parser.add_subparsers()
    p = sub.add_parser("thing")
    p.add_argument("--bare")
    assert _missing_help(parser, "x") == ["x thing", "x thing --bare"]


def _lines(text: str) -> list[str]:
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return [part for line in plain.split("\n") for part in line.split("\r")]


def test_demo_output_fits_80_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=80)
    code = run_demo("d", voters=1140, seed=1, jobs=1, console=console, progress=True)
    assert code == 0
    lines = _lines(buf.getvalue())
    too_wide = [line for line in lines if len(line) > 80]
    assert too_wide == []
    assert not any("…" in line for line in lines)  # nothing cut
    assert any("auditing with 1 job(s)" in line and "100%" in line for line in lines)
    # the results table: every community by name, and the district total
    rows = [line for line in lines if re.match(r"\s+c\d\d \w+\s+[\d,]+\s", line)]
    assert len(rows) == 19 and any("c18 Yangguang" in row for row in rows)
    assert any(re.match(r"\s+district \(19\)\s+1,140\s", line) for line in lines)
    assert "  electlog verify d/election.bundle --trust d/trust.json \\" in lines
    assert "      --format html --output report.html" in lines


def test_the_longest_progress_line_fits_80_columns() -> None:
    from electlog.cli.demo import _Steps

    buf = io.StringIO()
    steps = _Steps(Console(file=buf, force_terminal=True, width=80), live=True)
    # the longest step of the build (simulate/_run.py's phases)
    with steps.bar("building the election", 445_000) as update:
        update(123_456, 445_000, "appointing election committees")
    lines = _lines(buf.getvalue())
    assert any(
        "building the election: appointing election committees" in line and "100%" in line
        for line in lines
    )
    assert max(len(line) for line in lines) <= 80 and not any("…" in line for line in lines)


def test_verify_uses_every_core_by_default(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["verify", str(files["good"]), "--trust", str(files["trust"]), "--format", "json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["run"]["jobs"] == (os.cpu_count() or 1)
    assert main([*args, "--jobs", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["run"]["jobs"] == 1
    assert main([*args, "--jobs", "0"]) == 2
    assert "jobs" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"hello, this is text\n"])
def test_an_empty_or_text_file_says_no_entry_was_read(
    files: dict[str, Path], content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    path = files["dir"] / "not-a-log.txt"
    path.write_bytes(content)
    assert main(["verify", str(path), "--trust", str(files["trust"])]) == 2
    err = capsys.readouterr().err.replace(str(path), "<path>")  # a temp path may hold "-1"
    assert "no entry was read" in err and "-1" not in err


def test_a_directory_without_tiles_suggests_the_bundle_inside(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "election.bundle").write_bytes(files["good"].read_bytes())
    assert main(["verify", str(tmp_path), "--trust", str(files["trust"])]) == 2
    err = capsys.readouterr().err
    assert f"'{tmp_path / 'election.bundle'}': verify that instead" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["verify", str(empty), "--trust", str(files["trust"])]) == 2
    assert "verify that instead" not in capsys.readouterr().err


def test_a_wrong_trust_file_gives_one_summary_finding(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["verify", str(files["good"]), "--trust", str(files["wrong"])]) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "VERDICT: FINDINGS (1 error(s), 0 warning(s))"
    assert "trust.authority_unused: this trust file's authority key" in lines[1]
    assert "rule.signer.unauthorised" not in out and "rule.genesis" not in out
    report = audit(files["good"], load_trust(files["wrong"]))
    (finding,) = report.findings
    assert finding.code == "trust.authority_unused" and finding.index == 0
    summarised = finding.evidence["summarised"]
    assert summarised["rule.genesis.not_authority"] == 1
    assert summarised["rule.signer.unauthorised"] >= 10


def test_a_forged_genesis_under_a_used_authority_key_is_listed(el: ElectionLog) -> None:
    """When the trust file's authority key did sign entries, another key's genesis is a forgery
    to report finding by finding, not a wrong trust file."""
    entries = list(el.entries)
    entries[0] = resign(entries[0], SigningKey.from_seed(b"\x77" * 32))
    report = audit(el.source(entries), el.trust)
    codes = report.codes()
    assert "trust.authority_unused" not in codes
    assert "rule.genesis.not_authority" in codes
    (genesis,) = report.by_code("rule.genesis.not_authority")
    assert genesis.index == 0


def test_messages_do_not_repeat_their_code(
    el: ElectionLog, capsys: pytest.CaptureFixture[str]
) -> None:
    entries = list(el.entries)
    entries[0] = resign(entries[0], SigningKey.from_seed(b"\x77" * 32))
    report = audit(el.source(entries), el.trust)
    rule_findings = [f for f in report.findings if f.code.startswith("rule.")]
    assert rule_findings
    for f in report.findings:
        rule = f.code.removeprefix("rule.")
        assert not f.message.startswith((f"{f.code}:", f"{rule}:")), f
    from electlog.audit._report_text import render_text

    assert "rule.genesis.not_authority: genesis.not_authority:" not in render_text(report)


def test_since_that_is_not_a_signed_note_is_a_usage_error(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["verify", str(files["good"]), "--trust", str(files["trust"]), "--since"]
    assert main([*args, str(files["trust"])]) == 2
    err = capsys.readouterr().err
    assert "is not a signed checkpoint note" in err
    # a well-formed note that does not verify is still the audit's finding (exit 1)
    from electlog.checkpoint import Checkpoint, NoteSigner, sign_note

    other = NoteSigner.from_skey(NoteSigner.generate("elsewhere").skey)
    note = sign_note(Checkpoint(origin="elsewhere", size=1, root=b"\0" * 32).to_text(), [other])
    stranger = files["dir"] / "stranger.note"
    stranger.write_text(note)
    assert main([*args, str(stranger)]) == 1
    assert "since.unverified" in capsys.readouterr().out


def test_tally_no_election_is_gone(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["tally", str(files["good"]), "--trust", str(files["trust"]), "--no-election"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--no-election was removed from tally" in err and "electlog verify" in err
