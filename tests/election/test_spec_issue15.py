"""Issue 15, items 1–8: the rules and the format specification agree with the code at the edges
a third-party verifier has to get right."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from audit_support import (
    ElectionLog,
    body_of,
    build_election,
    rechain,
    resign,
    seed,
    write_bundle,
)
from electlog import merkle
from electlog.audit import Trust, audit, finding_info
from electlog.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    NoteSigner,
    NoteVerifier,
    WitnessSigner,
    cosign,
    open_note,
    sign_note,
    verify_checkpoint,
)
from electlog.codec import decode_map, encode
from electlog.election.events import (
    BallotIssued,
    BallotRecorded,
    BoxOpened,
    BoxSealed,
    PostList,
    ResultDeclared,
    RoundCalled,
    UnitClosed,
    UnitOpened,
)
from electlog.election.progress import community_progress
from electlog.election.rules import REVOTE_RULES, RuleSet
from electlog.election.scenario import UNIT_OBSERVERS, Scenario
from electlog.election.tally import PostMarks, PostSpec, RoundResult, tally_round
from electlog.errors import (
    AuditError,
    BundleError,
    CheckpointError,
    ConsistencyProofError,
    EntryError,
    InclusionProofError,
    NoteError,
    UsageError,
)
from electlog.events import (
    MAX_ENTRY_SIZE,
    SIGNATURE_CONTEXT,
    ZERO_HASH,
    Entry,
    Statement,
    _check_text,
)
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.publish import BundleReader

# --------------------------------------------------------------------------- item 2: re-votes


def _hold_round(
    s: Scenario, number: int, day: int, ballots: Sequence[dict[str, PostMarks]]
) -> None:
    """Round ``number`` of c1 on election day + ``day``: one unit, one box, a ballot issued to
    each of the first voters (principals of proxies excluded) and recorded with ``ballots``."""
    k = s.keys
    unit, box = f"c1-r{number}-t", f"c1-r{number}-t-box"
    observers = UNIT_OBSERVERS["c1-r1-main"]
    cs = s.e.state.community("c1")
    voters = [v for v in s.voters["c1"] if v not in cs.proxies][: len(ballots)]
    assert len(voters) == len(ballots)
    s.submit_many(
        k.polling,
        [
            (
                UnitOpened(
                    unit=unit, community="c1", round=number, kind="main", observers=observers
                ),
                s.at(day, 7, 30),
            ),
            (BoxSealed(unit=unit, box=box), s.at(day, 7, 45)),
            *((BallotIssued(unit=unit, voter=v), s.at(day, 9, i)) for i, v in enumerate(voters)),
            (UnitClosed(unit=unit), s.at(day, 18)),
        ],
    )
    s.submit(k.counting, BoxOpened(box=box, observers=observers), s.at(day, 18, 30))
    s.submit_many(
        k.counting,
        [
            (BallotRecorded(box=box, serial=bytes([number, i]) * 8, marks=m), s.at(day, 19, i))
            for i, m in enumerate(ballots)
        ],
    )
    result = s.e.tally("c1", number).to_dict()
    s.submit(
        k.committee, ResultDeclared(community="c1", round=number, result=result), s.at(day, 21)
    )


def _call(
    s: Scenario, number: int, source: int, kind: str, candidates: tuple[str, ...], day: int
) -> None:
    s.submit(
        s.keys.committee,
        RoundCalled(
            community="c1",
            round=number,
            source_round=source,
            kind=kind,
            posts=(PostList(post="member", seats=1, candidates=candidates),),
        ),
        s.at(day, 22),
    )


def _member(*fors: str) -> dict[str, PostMarks]:
    return {
        "director": PostMarks(in_favour=("c1-v00",)),
        "deputy": PostMarks(in_favour=("c1-v02",)),
        "member": PostMarks(in_favour=tuple(sorted(fors))),
    }


def _only(*fors: str) -> dict[str, PostMarks]:
    return {"member": PostMarks(in_favour=fors)} if fors else {}


def _first_round_tie(rule: str) -> Scenario:
    """Round 1 of c1: 20 ballots; member (2 seats) v04 16, v05 12, v06 12: v04 elected, v05 and
    v06 tied at the cut-off, both above the majority (11 needed)."""
    s = Scenario(0, rules=RuleSet(revote_rule=rule)).run_until("vote")
    ballots = (
        [_member("c1-v05", "c1-v06")] * 4
        + [_member("c1-v04", "c1-v05")] * 8
        + [_member("c1-v04", "c1-v06")] * 8
    )
    _hold_round(s, 1, 0, ballots)
    member = s.e.tally("c1", 1).posts["member"]
    assert member.elected == ("c1-v04",) and member.tied == ("c1-v05", "c1-v06")
    assert member.revote_seats == 1 and s.e.tally("c1", 1).min_votes == 11
    return s


@pytest.mark.parametrize("rule", REVOTE_RULES)
def test_revote_after_a_first_round_tie(rule: str) -> None:
    s = _first_round_tie(rule)
    _call(s, 2, 1, "revote", ("c1-v05", "c1-v06"), 0)
    # 9 of 20 ballots: the most votes, not more than half of the ballots cast
    _hold_round(s, 2, 7, [_only("c1-v05")] * 9 + [_only("c1-v06")] * 8 + [_only()] * 3)
    result = s.e.tally("c1", 2)
    member = result.posts["member"]
    if rule == "most_votes":  # the ruling: among the tied, the most votes win
        assert result.revote and result.min_votes == 1
        assert member.elected == ("c1-v05",) and member.unfilled == 0
        assert member.reasons["c1-v05"].startswith("elected: 9 votes (re-vote among the tied")
    else:  # the first round's threshold again: more than 1/2 of 20 ballots cast
        assert not result.revote and result.min_votes == 11
        assert member.elected == () and member.unfilled == 1


def _supplementary_tie(rule: str) -> Scenario:
    """Round 1 leaves a member seat unfilled (v04 16 elected; v05 6, v06 6, v23 4); the
    supplementary round 2 (v05, v06; 7 of 20 needed) ties 8 to 8."""
    s = Scenario(0, rules=RuleSet(revote_rule=rule)).run_until("vote")
    ballots = (
        [_member("c1-v04", "c1-v05")] * 6
        + [_member("c1-v04", "c1-v06")] * 6
        + [_member("c1-v04", "c1-v23")] * 4
        + [_member()] * 4
    )
    _hold_round(s, 1, 0, ballots)
    assert s.e.tally("c1", 1).posts["member"].unfilled == 1
    _call(s, 2, 1, "supplementary", ("c1-v05", "c1-v06"), 0)
    _hold_round(s, 2, 7, [_only("c1-v05")] * 8 + [_only("c1-v06")] * 8 + [_only()] * 4)
    second = s.e.tally("c1", 2)
    assert second.supplementary and second.min_votes == 7
    assert second.posts["member"].tied == ("c1-v05", "c1-v06")
    _call(s, 3, 2, "revote", ("c1-v05", "c1-v06"), 7)
    return s


@pytest.mark.parametrize("rule", REVOTE_RULES)
def test_revote_after_a_supplementary_round_tie(rule: str) -> None:
    s = _supplementary_tie(rule)
    # 5 of 20: the most votes, below 1/3 of the ballots cast (7) and far below 1/2 (11)
    _hold_round(s, 3, 14, [_only("c1-v05")] * 5 + [_only("c1-v06")] * 4 + [_only()] * 11)
    member = s.e.tally("c1", 3).posts["member"]
    if rule == "most_votes":
        assert member.elected == ("c1-v05",)
    else:  # the supplementary round's threshold: at least 1/3 (7 votes); the seat stays vacant
        assert s.e.tally("c1", 3).min_votes == 7 and s.e.tally("c1", 3).supplementary
        assert member.elected == () and member.unfilled == 1
    # either way nothing is owed for c1's member seat: no loop of 另行选举
    pending = community_progress(s.e.state, "c1").pending
    assert not any("member" in p for p in pending), pending


def test_a_tie_in_a_revote_calls_another_revote() -> None:
    s = _supplementary_tie("most_votes")
    _hold_round(s, 3, 14, [_only("c1-v05")] * 6 + [_only("c1-v06")] * 6 + [_only()] * 8)
    member = s.e.tally("c1", 3).posts["member"]
    assert member.tied == ("c1-v05", "c1-v06") and member.revote_seats == 1
    _call(s, 4, 3, "revote", ("c1-v05", "c1-v06"), 14)  # admitted: the tie warrants it
    _hold_round(s, 4, 21, [_only("c1-v06")] * 3 + [_only()] * 17)
    assert s.e.tally("c1", 4).posts["member"].elected == ("c1-v06",)


def test_revote_tally_is_plurality_with_at_least_one_vote() -> None:
    posts = [PostSpec(post="m", seats=1, candidates=("a", "b"), rank=0)]
    ballots = (
        [{"m": PostMarks(in_favour=("a",))}] * 2 + [{"m": PostMarks(in_favour=("b",))}] + [{}] * 7
    )
    result: RoundResult = tally_round(posts, ballots, registered=12, issued=10, revote=True)
    assert result.min_votes == 1 and result.posts["m"].elected == ("a",)
    nobody = tally_round(posts, [{}] * 10, registered=12, issued=10, revote=True)
    assert nobody.posts["m"].elected == () and nobody.posts["m"].unfilled == 1
    with pytest.raises(UsageError, match="not both"):
        tally_round(posts, [], registered=1, issued=0, revote=True, supplementary=True)


def test_revote_rule_keeps_old_rule_bodies_and_hashes() -> None:
    default = RuleSet()
    assert "revote_rule" not in default.to_body()  # a body written before the field existed
    assert RuleSet.from_body(default.to_body()) == default
    other = RuleSet(revote_rule="source_threshold")
    assert other.to_body()["revote_rule"] == "source_threshold"
    assert RuleSet.from_body(other.to_body()) == other and other.hash() != default.hash()
    with pytest.raises(EntryError, match=r"is the default of a body .* written by omission"):
        RuleSet.from_body({**default.to_body(), "revote_rule": "most_votes"})
    with pytest.raises(EntryError, match="revote_rule must be one of"):
        RuleSet.from_body({**default.to_body(), "revote_rule": "coin"})
    with pytest.raises(UsageError, match="revote_rule"):
        RuleSet(revote_rule="coin")


# --------------------------------------------------------------------------- item 1


@pytest.fixture(scope="module")
def el() -> ElectionLog:
    return build_election(0)


def test_auditor_reports_an_unregistered_write_in(el: ElectionLog) -> None:
    """A ballot whose write-in names nobody on the roll (the writer refuses it) is the error
    rule.writein.not_registered when a tampered or foreign log carries it."""
    entries = list(el.entries)
    i = el.index_of("ballot.recorded")
    body = body_of(entries[i])
    post = sorted(body["marks"])[0]
    body["marks"][post] = {"against": [], "for": [], "write_ins": ["nobody-on-the-roll"]}
    entries[i] = resign(entries[i], el.keys.counting, body=body)
    report = audit(el.source(rechain(entries, i, el.key_map())), el.trust)
    (finding,) = report.by_code("rule.writein.not_registered")
    assert finding.index == i and finding.severity.value == "error"
    assert finding_info("rule.writein.not_registered").severity.value == "error"


# --------------------------------------------------------------------------- item 3


def _sized_entry(size: int, key: SigningKey) -> bytes:
    """Canonical signed entry bytes of exactly ``size`` bytes (the body pads it), assembled
    without electlog's size check."""

    def build(pad: int) -> bytes:
        st = Statement(
            log="example.org/size",
            type="demo.pad",
            schema=1,
            author=key.key_id,
            seq=1,
            prev=ZERO_HASH,
            time=0,
            body={"pad": b"x" * pad},
        ).to_bytes()
        sig = key.sign(SIGNATURE_CONTEXT + st)
        return encode({"key": key.public.raw, "sig": sig, "stmt": st})

    base = len(build(1000))
    data = build(1000 + size - base)
    assert len(data) == size
    return data


def test_entry_of_exactly_the_maximum_size_and_one_byte_over(tmp_path: Path) -> None:
    key = SigningKey.from_seed(seed(9))
    assert MAX_ENTRY_SIZE == 65_535
    largest = _sized_entry(MAX_ENTRY_SIZE, key)
    entry = Entry.from_bytes(largest)
    log = Log("example.org/size")
    log.append(entry)
    write_bundle(tmp_path / "ok.bundle", log.origin, [largest], [])
    with BundleReader(tmp_path / "ok.bundle") as reader:
        assert [data for _, data, _ in reader] == [largest]

    over = _sized_entry(MAX_ENTRY_SIZE + 1, key)
    with pytest.raises(EntryError, match="65536 bytes, more than 65535"):
        Entry.from_bytes(over)
    with pytest.raises(EntryError, match="more than 65535"):
        Entry.create(Statement.from_bytes(decode_map(over)["stmt"]), key)
    write_bundle(tmp_path / "over.bundle", log.origin, [over], [])
    with BundleReader(tmp_path / "over.bundle") as reader, pytest.raises(BundleError) as err:
        list(reader)
    assert "65536 bytes, more than 65535" in str(err.value) and err.value.last_good_index == -1


# --------------------------------------------------------------------------- item 4

FORMAT = (Path(__file__).resolve().parents[2] / "docs" / "format.md").read_text("utf-8")


def _documented_forbidden() -> set[int]:
    block = FORMAT[
        FORMAT.index("<!-- forbidden-characters -->") : FORMAT.index(
            "<!-- /forbidden-characters -->"
        )
    ]
    out: set[int] = set()
    for first, last in re.findall(r"U\+([0-9A-F]{4})(?:–U\+([0-9A-F]{4}))?", block):
        out.update(range(int(first, 16), int(last or first, 16) + 1))
    return out


def _statement(**changes: object) -> Statement:
    fields: dict[str, object] = {
        "log": "example.org/chars",
        "type": "demo.char",
        "schema": 1,
        "author": bytes(32),
        "seq": 1,
        "prev": ZERO_HASH,
        "time": 0,
        "body": {},
    }
    fields.update(changes)
    statement = Statement(**fields)  # type: ignore[arg-type]
    statement.validate()
    return statement


def test_forbidden_characters_of_log_and_type_are_exactly_the_documented_ones() -> None:
    forbidden = _documented_forbidden()
    assert {0x00, 0x20, 0x7F, 0x80, 0x85, 0x9F, 0xA0, 0x3000} <= forbidden
    assert 0x200B not in forbidden and 0xFEFF not in forbidden and 0x21 not in forbidden
    # every Unicode white-space character is forbidden
    assert {c for c in range(0x110000) if chr(c).isspace()} <= forbidden
    rejected = set()
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue  # not a character of valid UTF-8
        try:
            _check_text(f"a{chr(c)}b", "type", 64)
        except EntryError:
            rejected.add(c)
    assert rejected == forbidden
    for c in (0x7F, 0x80, 0x85, 0x9F, 0xA0, 0x2028):  # through the public statement API
        with pytest.raises(EntryError, match=f"U\\+{c:04X}"):
            _statement(type=f"demo.{chr(c)}")
        with pytest.raises(EntryError, match="white space or control"):
            _statement(log=f"example.org/{chr(c)}")
    assert _statement(type="demo.\u200b\ufeff名").type == "demo.\u200b\ufeff名"


def test_checkpoint_control_characters_are_c0_without_newline() -> None:
    root = base64.b64encode(bytes(32)).decode()
    for c in (0x7F, 0x80, 0x85, 0x9F, 0xA0, 0x2028):
        cp = Checkpoint.from_text(f"origin\n1\n{root}\next{chr(c)}\n")
        assert cp.extensions == (f"ext{chr(c)}",)
    for c in (*range(0x0A), *range(0x0B, 0x20)):
        with pytest.raises(CheckpointError, match="control character"):
            Checkpoint.from_text(f"origin\n1\n{root}\next{chr(c)}\n")


# --------------------------------------------------------------------------- item 5


def _raw_entry(key: SigningKey, **fields: object) -> bytes:
    """Entry bytes of any statement map, signed, with no statement validation."""
    st = encode(fields)
    return encode({"key": key.public.raw, "sig": key.sign(SIGNATURE_CONTEXT + st), "stmt": st})


def test_a_first_statement_with_a_nonzero_prev_is_malformed_not_a_chain_error(
    el: ElectionLog,
) -> None:
    with pytest.raises(EntryError, match="seq 1"):
        _statement(prev=b"\x01" * 32)
    entries = list(el.entries)
    i = el.index_of("key.authorised")
    st = Entry.from_bytes(entries[i], verify=False).statement
    entries.append(
        _raw_entry(
            SigningKey.from_seed(seed(77)),
            v=1,
            log=el.origin,
            type=st.type,
            schema=1,
            author=SigningKey.from_seed(seed(77)).key_id,
            seq=1,
            prev=b"\x01" * 32,
            time=st.time,
            body=st.body,
        )
    )
    report = audit(el.source(entries), el.trust)
    (finding,) = report.by_code("entry.malformed")
    assert finding.index == len(entries) - 1 and "seq 1" in finding.message
    assert not {"chain.prev_mismatch", "chain.seq_gap"} & report.codes()


def test_another_schema_version_is_a_malformed_event(el: ElectionLog) -> None:
    entries = list(el.entries)
    i = el.index_of("voter.registered", 3)
    entries[i] = resign(entries[i], el.keys.registrar, schema=3)  # 2 is the minimal profile's
    report = audit(el.source(rechain(entries, i, el.key_map())), el.trust)
    malformed = report.by_code("event.malformed")
    assert [f.index for f in malformed] == [i] and "schema version 3" in malformed[0].message
    assert "entry.malformed" not in report.codes()
    assert not {c for c in report.codes() if c.startswith("chain.")}


# --------------------------------------------------------------------------- item 6


LOG_KEY = NoteSigner.generate("log.example/spec", rng_seed=seed(1))
WITNESS = WitnessSigner.generate("witness.example/spec", rng_seed=seed(2))
STRANGER = WitnessSigner.generate("stranger.example/spec", rng_seed=seed(3))


def _cosigned() -> str:
    text = Checkpoint(origin=LOG_KEY.name, size=1, root=bytes(32)).to_text()
    return cosign(
        cosign(sign_note(text, [LOG_KEY]), WITNESS, 1_700_000_000), STRANGER, 1_700_000_001
    )


def _with_line(note: str, name: str, payload: bytes) -> str:
    return note + f"— {name} {base64.b64encode(payload).decode()}\n"


def test_note_text_ends_at_the_first_newline_of_the_last_blank_line() -> None:
    text = "first\n\nsecond\n"
    note = sign_note(text, [LOG_KEY])
    assert note == text + "\n— " + note.split("— ", 1)[1]
    assert open_note(note, [LOG_KEY.verifier()]).text == text


@pytest.mark.parametrize("length", [71, 73])
def test_a_known_witness_line_of_the_wrong_length_rejects_the_checkpoint(length: int) -> None:
    note = _cosigned()
    line = next(x for x in note.splitlines() if x.startswith(f"— {WITNESS.name} "))
    raw = base64.b64decode(line.split(" ")[2])
    assert len(raw) == 4 + 72
    body = raw[:4] + (raw[4:] + b"\x00")[:length]
    bad = note.replace(line + "\n", "")
    bad = _with_line(bad, WITNESS.name, body)
    with pytest.raises(CheckpointError) as err:
        verify_checkpoint(bad, LOG_KEY.verifier(), [WITNESS.verifier()], quorum=1)
    assert "invalid signature for key witness.example/spec" in str(err.value.__cause__)
    # the same line by a witness nobody trusts is ignored
    assert verify_checkpoint(bad, LOG_KEY.verifier(), [], quorum=0).size == 1


def test_a_non_canonical_line_by_an_unknown_key_rejects_the_whole_note() -> None:
    note = _cosigned()
    line = next(x for x in note.splitlines() if x.startswith(f"— {STRANGER.name} "))
    encoded = line.split(" ")[2]
    assert encoded.endswith("==")  # 76 bytes: the last character before '==' has 4 spare bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = encoded[-3]
    noncanonical = encoded[:-3] + alphabet[alphabet.index(last) | 1] + "=="
    assert base64.b64decode(noncanonical) == base64.b64decode(encoded)
    bad = note.replace(encoded, noncanonical)
    with pytest.raises(NoteError, match="not canonical base64"):
        open_note(bad, [LOG_KEY.verifier()])
    with pytest.raises(CheckpointError):
        verify_checkpoint(bad, LOG_KEY.verifier(), [WITNESS.verifier()], quorum=1)
    # the well-formed line of that unknown key is simply ignored
    opened = open_note(note, [LOG_KEY.verifier()])
    assert {s.name for s in opened.unverified_sigs} == {WITNESS.name, STRANGER.name}


# --------------------------------------------------------------------------- item 7


def test_one_range_for_sizes_and_indexes() -> None:
    top = 2**63 - 1
    assert merkle.MAX_TREE_SIZE == top == MAX_TREE_SIZE
    leaf = merkle.leaf_hash(b"")
    with pytest.raises(InclusionProofError, match="out of range"):
        merkle.verify_inclusion(leaf, 0, top + 1, [], leaf)
    with pytest.raises(ConsistencyProofError, match="out of range"):
        merkle.verify_consistency(1, top + 1, [leaf], leaf, leaf)
    with pytest.raises(InclusionProofError, match="proof has 0 hashes"):
        merkle.verify_inclusion(leaf, 0, top, [], leaf)  # in range: judged on its proof
    root = base64.b64encode(bytes(32)).decode()
    assert Checkpoint.from_text(f"o\n{top}\n{root}\n").size == top
    with pytest.raises(CheckpointError, match="exceeds 2\\*\\*63-1"):
        Checkpoint.from_text(f"o\n{top + 1}\n{root}\n")
    with pytest.raises(EntryError, match="2\\*\\*63-1"):
        _statement(seq=top + 1)


# --------------------------------------------------------------------------- item 8


def test_bundle_note_rules_are_rejected_by_the_reader_and_judged_by_the_auditor(
    el: ElectionLog, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.bundle"
    write_bundle(cut, el.origin, el.entries[:150], el.notes)  # the last checkpoint is larger
    with BundleReader(cut) as reader, pytest.raises(BundleError, match="commits to"):
        list(reader)
    assert "log.truncated" in audit(cut, el.trust).codes()

    other = NoteSigner.generate("other.example/log", rng_seed=seed(5))
    foreign = sign_note(Checkpoint(origin=other.name, size=3, root=bytes(32)).to_text(), [other])
    replayed = tmp_path / "replayed.bundle"
    write_bundle(replayed, el.origin, el.entries, [*el.notes, foreign])
    with BundleReader(replayed) as reader, pytest.raises(BundleError, match="is for log"):
        list(reader)
    assert audit(replayed, el.trust).codes() == {"checkpoint.signature_invalid"}

    garbage = tmp_path / "garbage.bundle"
    write_bundle(garbage, el.origin, el.entries, [*el.notes, "not a checkpoint\n"])
    with BundleReader(garbage) as reader, pytest.raises(BundleError, match="does not parse"):
        list(reader)
    assert audit(garbage, el.trust).codes() == {"checkpoint.malformed"}


def test_bundle_file_rules_unreadable_after_the_header_and_status_2_before(
    el: ElectionLog, tmp_path: Path
) -> None:
    path = tmp_path / "damaged.bundle"
    data = bytearray(write_bundle(path, el.origin, el.entries, el.notes))
    at = data.index(el.entries[100]) + 10  # inside entry 100's payload: its CRC fails
    data[at] ^= 1
    path.write_bytes(bytes(data))
    report = audit(path, el.trust)
    (finding,) = report.by_code("source.unreadable")
    assert finding.evidence["last_good_index"] == 99
    data = bytearray(write_bundle(path, el.origin, el.entries, el.notes))
    data[0] ^= 1  # the magic
    path.write_bytes(bytes(data))
    with pytest.raises(AuditError, match="bad magic"):
        audit(path, el.trust)


# --------------------------------------------------------------------------- item 10


def test_trust_file_accepts_a_witness_note_key_as_documented(el: ElectionLog) -> None:
    """docs/auditing.md: a witness's 0x01 note verifier key is accepted in the trust file and
    read as its 0x04 cosignature key."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "auditing.md").read_text("utf-8")
    assert "type `0x01`" in doc and "strict rule (§2.3)" in doc and "strict rule (§2.1)" not in doc
    witness = el.witnesses[0]
    public = base64.b64decode(witness.vkey.split("+")[2])[1:]
    as_note = NoteVerifier(witness.name, public).vkey  # type byte 0x01 and the 0x01 key id
    assert as_note != witness.vkey
    trust = Trust.from_json(
        json.dumps({**el.trust.to_dict(), "witnesses": [as_note, el.witnesses[1].vkey]})
    )
    assert trust.witnesses[0].vkey == witness.vkey
    assert audit(el.source(), trust).verdict == "clean"


def _resized_line(note: str, prefix: str, change: int) -> str:
    line = next(x for x in note.splitlines() if x.startswith(prefix))
    dash, name, encoded = line.split(" ")
    raw = base64.b64decode(encoded)
    raw = raw + b"\x00" * change if change > 0 else raw[:change]
    return note.replace(line, f"{dash} {name} {base64.b64encode(raw).decode()}")


def test_wrong_length_lines_in_an_audit(el: ElectionLog) -> None:
    """format.md §4.3 step 7 as the auditor reports it: a trusted witness's 73-byte
    cosignature is checkpoint.cosignature_invalid, a 63-byte log signature
    checkpoint.signature_invalid."""
    last = el.notes[-1]
    witness = _resized_line(last, f"— {el.witnesses[0].name} ", 1)
    codes = audit(el.source(notes=[*el.notes[:-1], witness]), el.trust).codes()
    assert "checkpoint.cosignature_invalid" in codes and "checkpoint.signature_invalid" not in codes
    logsig = _resized_line(last, f"— {el.origin} ", -1)
    codes = audit(el.source(notes=[*el.notes[:-1], logsig]), el.trust).codes()
    assert "checkpoint.signature_invalid" in codes
