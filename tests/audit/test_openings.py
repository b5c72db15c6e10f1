"""Issue 18 item 5: the authorised tier (openings bundles and ``electlog verify --openings``).

Under the ``minimal`` profile ``c_birth`` and ``c_basis`` hide the voter's age and basis
evidence from the public. The registrar's openings, age-encrypted to listed auditors, let an
authorised audit rebuild every commitment and replay ``voter.underage`` and
``voter.basis_invalid``: an underage registration that the public audit must pass (its signature
is valid, its birth date committed) is named at its entry index.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import pytest

from audit_support import seed, witness_time
from electlog.audit import BytesSource, Report, Trust, audit, read_openings, seal_openings
from electlog.audit.openings import generate_identity
from electlog.checkpoint import Checkpoint, NoteSigner, WitnessSigner, cosign
from electlog.election import (
    Opening,
    OpeningsDocument,
    RuleSet,
    Scenario,
    VoterRegisteredV2,
    birth_commitment,
    decode_event,
    field_salt,
    registration_openings,
)
from electlog.election.events import AnyVoterRegistered
from electlog.election.openings import (
    COMMITTED_FIELDS,
    OPENINGS_MAGIC,
    committed_fields_of,
    detail_openings,
)
from electlog.errors import OpeningsError, UsageError
from electlog.events import Entry, Statement
from electlog.log import Log
from electlog.note import sign_note
from electlog.store.sqlite import SQLiteStore

pytest.importorskip("pyrage")

CHILD = "c1-v03"
CHILD_BORN = _dt.date(2015, 6, 1)
NEWCOMER = "c2-v07"
DETAILED = {(t, schema) for t, schema, f in COMMITTED_FIELDS if t != VoterRegisteredV2.TYPE}


class _Underage(Scenario):
    """The small scenario under ``minimal``, with one registration of a child (a valid
    signature: the registrar signed it, and the public cannot see the birth date)."""

    def registration(
        self, voter: str, community: str, group: str, household: str, **kw: Any
    ) -> AnyVoterRegistered:
        if voter == CHILD:
            kw["birth_date"] = CHILD_BORN
        if voter == NEWCOMER:  # non-local, but resident for less than the year the rules ask
            kw.update(basis="non_local_approved", years_resident=0, approval_ref="minutes 7")
        born = kw.get("birth_date", _dt.date(1960 + (sum(map(ord, voter)) % 40), 3, 1))
        self.records[voter] = {
            "birth_date": born,
            "basis": kw.get("basis", "local_resident"),
            "years_resident": kw.get("years_resident"),
            "approval_ref": kw.get("approval_ref"),
        }
        return super().registration(voter, community, group, household, **kw)

    def __init__(self, *args: Any, **kw: Any) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        super().__init__(*args, **kw)


@attrs.define
class _Election:
    scenario: _Underage
    log: Log
    entries: list[bytes]
    note: str
    trust: Trust
    doc: OpeningsDocument

    def source(self) -> BytesSource:
        return BytesSource(self.entries, [self.note], origin=self.log.origin)

    def index_of(self, voter: str) -> int:
        for i, data in enumerate(self.entries):
            st = Entry.from_bytes(data, verify=False).statement
            if st.type == VoterRegisteredV2.TYPE and st.body.get("voter") == voter:
                return i
        raise LookupError(voter)


def _openings(s: _Underage, log: Log) -> OpeningsDocument:
    """What the registrar keeps: every v2 registration's openings, from its records."""
    openings: list[Opening] = []
    definition = decode_event(log.get(0).statement)
    details = {key: opened for key, (_salt, opened) in s.details.items()}
    for i in range(len(log)):
        st = log.get(i).statement
        if (st.type, st.schema) in DETAILED:
            openings += detail_openings(
                i,
                decode_event(st),
                secret=s.detail_secret,
                election_id=definition.election_id,  # type: ignore[attr-defined]
                details=details,
            )
        if st.type != VoterRegisteredV2.TYPE:
            continue
        ev = decode_event(st)
        assert isinstance(ev, VoterRegisteredV2)
        rec = s.records[ev.voter]
        openings += registration_openings(i, s.salts[ev.voter], **rec)
    return OpeningsDocument.make(
        origin=log.origin,
        election=definition.election_id,  # type: ignore[attr-defined]
        size=len(log),
        root=log.root(),
        openings=openings,
    )


def _count_details(statements: Iterable[Statement]) -> dict[str, int]:
    """How many committed details (fields of schema-2 events other than the registration's)
    the ``statements`` hold, by field, counted from their bodies."""
    counts: dict[str, int] = {}
    for st in statements:
        for cf in committed_fields_of(st.type, st.schema):
            if st.type != VoterRegisteredV2.TYPE:
                assert isinstance(st.body[cf.attribute], bytes)
                counts[cf.field] = counts.get(cf.field, 0) + 1
    return dict(sorted(counts.items()))


def _detail_fields(log: Log) -> dict[str, int]:
    return _count_details(log.get(i).statement for i in range(len(log)))


def bundle_detail_fields(path: Path) -> dict[str, int]:
    """:func:`_count_details` of the entries of the bundle at ``path``."""
    from electlog.publish.bundle import BundleReader

    with BundleReader(path) as reader:
        return _count_details(
            Entry.from_bytes(data, verify=False).statement for _, data, _ in reader
        )


def _build(log: Log | None = None, scenario: type[_Underage] | None = None) -> _Election:
    s = (scenario or _Underage)(5, rules=RuleSet(public_profile="minimal"), log=log).run_all()
    log = s.log
    signer = NoteSigner.generate(log.origin, rng_seed=seed(40))
    witnesses = [WitnessSigner.generate(f"w{i}.example", rng_seed=seed(50 + i)) for i in range(2)]
    entries = [log.get_bytes(i) for i in range(len(log))]
    note = sign_note(
        Checkpoint(origin=log.origin, size=len(log), root=log.root()).to_text(), [signer]
    )
    for w in witnesses:
        note = cosign(note, w, witness_time(entries, len(log)))
    trust = Trust.create(
        origin=log.origin,
        authority_key=s.keys.authority.public,
        log_key=signer.vkey,
        witnesses=[w.vkey for w in witnesses],
        quorum=2,
    )
    return _Election(s, log, entries, note, trust, _openings(s, log))


@pytest.fixture(scope="module")
def election() -> _Election:
    return _build()


def _codes(report: Report) -> list[tuple[str, int | None]]:
    return [(f.code, f.index) for f in report.findings]


# --------------------------------------------------------------------------- the audit


def test_an_underage_registration_passes_publicly_and_is_named_by_the_openings(
    election: _Election,
) -> None:
    public = audit(election.source(), election.trust)
    assert public.clean and public.tier == "public" and public.authorised is None
    assert _codes(public) == [("profile.public_unverified", None)]

    report = audit(election.source(), election.trust, openings=election.doc)
    child, newcomer = election.index_of(CHILD), election.index_of(NEWCOMER)
    assert report.tier == "authorised" and report.verdict == "findings"
    assert _codes(report) == [
        ("rule.voter.underage", child),
        ("rule.voter.basis_invalid", newcomer),
        ("openings.checked", None),
    ]
    basis = report.by_code("rule.voter.basis_invalid")[0]
    assert "non-local voter needs 1 year(s) of residence" in basis.message
    underage = report.by_code("rule.voter.underage")[0]
    assert "aged 10 on election day, under 18" in underage.message
    assert underage.evidence == {"field": "birth", "ids": [CHILD], "tier": "authorised"}
    registrations = public.counts.events[VoterRegisteredV2.TYPE]
    details = _detail_fields(election.log)
    assert details["reason"] > 0 and details["rel"] == details["attestation"] > 0
    assert report.authorised == {
        "tier": "authorised",
        "election": election.doc.election,
        "checkpoint": {"size": len(election.log), "root": election.log.root().hex()},
        "openings": 2 * registrations + sum(details.values()),
        "checked": {"basis": registrations, "birth": registrations, **details},
        "rules": [
            "proxy.not_close_relative",
            "voter.basis_invalid",
            "voter.removal_code_mismatch",
            "voter.underage",
        ],
    }
    assert report.counts.findings == {"error": 2, "warning": 0, "info": 1}
    # the same through the sharded replay
    assert _codes(audit(election.source(), election.trust, jobs=2, openings=election.doc)) == (
        _codes(report)
    )


def test_the_report_writers_say_which_tier_ran(election: _Election) -> None:
    from electlog.audit import validate_report_dict

    report = audit(election.source(), election.trust, openings=election.doc)
    data = json.loads(report.to_json())
    validate_report_dict(data)
    assert list(data)[-1] == "authorised" and data["authorised"]["tier"] == "authorised"
    text = report.to_text()
    assert "tier         authorised:" in text and "rule.voter.underage" in text
    html = report.to_html()
    assert '<section id="authorised"><h2>Authorised tier</h2>' in html
    public = audit(election.source(), election.trust)
    assert "authorised" not in json.loads(public.to_json())
    assert "tier         authorised" not in public.to_text()


def _replace(doc: OpeningsDocument, index: int, field: str, **changes: Any) -> OpeningsDocument:
    ops = [
        attrs.evolve(o, **changes) if (o.index, o.field) == (index, field) else o
        for o in doc.openings
    ]
    return attrs.evolve(doc, openings=tuple(ops))


def test_a_wrong_salt_or_value_is_a_mismatch_naming_entry_and_field(election: _Election) -> None:
    i = election.index_of("c2-v04")
    salt = election.scenario.salts["c2-v04"]
    wrong_salt = _replace(election.doc, i, "birth", salt=field_salt(salt, "basis"))
    report = audit(election.source(), election.trust, openings=wrong_salt)
    mismatch = report.by_code("openings.mismatch")
    assert [(f.index, f.evidence) for f in mismatch] == [(i, {"field": "birth"})]
    assert f"c_birth of entry {i} does not match" in mismatch[0].message
    assert report.verdict == "findings"

    wrong_value = _replace(election.doc, i, "basis", value={
        "approval_ref": "", "basis": "local_resident", "years_resident": "3"
    })  # fmt: skip
    report = audit(election.source(), election.trust, openings=wrong_value)
    assert [(f.index, f.evidence["field"]) for f in report.by_code("openings.mismatch")] == [
        (i, "basis")
    ]
    # a malformed value (not a date) is a mismatch too, not an exception
    bad_date = _replace(election.doc, i, "birth", value={"birth_date": "1 March 1970"})
    report = audit(election.source(), election.trust, openings=bad_date)
    assert "malformed" in report.by_code("openings.mismatch")[0].message
    # the child's own mismatch hides the age: its rule is not replayed on a wrong value
    child = election.index_of(CHILD)
    fake = _replace(election.doc, child, "birth", value={"birth_date": "1970-01-01"})
    codes = _codes(audit(election.source(), election.trust, openings=fake))
    assert ("openings.mismatch", child) in codes and ("rule.voter.underage", child) not in codes


def _first_detail(doc: OpeningsDocument, field: str) -> Opening:
    return next(o for o in doc.openings if o.field == field)


def test_a_wrong_salt_on_a_committed_detail_is_a_mismatch(election: _Election) -> None:
    """Every committed detail is matched: a ``c_reason`` opening with another entry's salt,
    or a changed text, is ``openings.mismatch`` naming its entry and field."""
    reason = _first_detail(election.doc, "reason")
    other = next(
        o for o in election.doc.openings if o.field == "reason" and o.index != reason.index
    )
    wrong_salt = _replace(election.doc, reason.index, "reason", salt=other.salt)
    report = audit(election.source(), election.trust, openings=wrong_salt)
    mismatch = report.by_code("openings.mismatch")
    assert [(f.index, f.evidence) for f in mismatch] == [(reason.index, {"field": "reason"})]
    assert f"c_reason of entry {reason.index} does not match" in mismatch[0].message
    assert report.verdict == "findings"
    # the same for the other details: a changed text, a malformed attestation
    grounds = _first_detail(election.doc, "grounds")
    attestation = _first_detail(election.doc, "attestation")
    tampered = _replace(election.doc, grounds.index, "grounds", value={"grounds": "none"})
    tampered = _replace(tampered, attestation.index, "attestation", value={"attestation": "x"})
    report = audit(election.source(), election.trust, openings=tampered)
    assert [(f.index, f.evidence["field"]) for f in report.by_code("openings.mismatch")] == [
        (grounds.index, "grounds"),
        (attestation.index, "attestation"),
    ]
    assert "malformed" in report.by_code("openings.mismatch")[1].message
    # a detail opening dropped is missing
    dropped = attrs.evolve(
        election.doc,
        openings=tuple(o for o in election.doc.openings if o != grounds),
    )
    missing = audit(election.source(), election.trust, openings=dropped)
    assert [(f.index, f.evidence) for f in missing.by_code("openings.missing")] == [
        (grounds.index, {"field": "grounds"})
    ]


FAR = ("c1-v07", "neighbour")  # the principal whose proxy is forged, and the true relationship
REMOVED = "c2-x01"


class _Forged(_Underage):
    """:class:`_Underage` with two acts the public audit cannot judge, both validly signed:
    ``c1-v07``'s proxy is a neighbour (``c_rel`` commits to it) while ``close_relative`` says
    true; and a voter registered and removed before the roll, as ``eligibility_ended`` (code
    of ``died``), whose committed detail is ``duplicate``."""

    def proxy(
        self, community: str, principal: str, proxy: str, relationship: str, attestation: bytes
    ) -> Any:
        if principal == FAR[0]:
            forged = super().proxy(community, principal, proxy, FAR[1], attestation)
            assert forged.close_relative is False
            return attrs.evolve(forged, close_relative=True)
        return super().proxy(community, principal, proxy, relationship, attestation)

    def register_voters(self) -> None:
        super().register_voters()
        ev = self.registration(REMOVED, "c2", "c2-g1", "c2-hx")
        self.submit(self.keys.registrar, ev, self.at(-30, 13))
        removal = self.removal(REMOVED, "c2", "died", detail="duplicate")
        assert removal.reason == "eligibility_ended"
        self.submit(self.keys.registrar, removal, self.at(-30, 14))


def test_a_forged_relationship_and_a_contradicting_removal_are_named_by_the_openings() -> None:
    forged = _build(scenario=_Forged)
    log, source, trust = forged.log, forged.source(), forged.trust
    public = audit(source, trust)
    assert public.clean and _codes(public) == [("profile.public_unverified", None)]

    report = audit(source, trust, openings=forged.doc)
    proxy_at = next(
        i
        for i in range(len(log))
        if log.get(i).statement.type == "proxy.authorised"
        and log.get(i).statement.body["principal"] == FAR[0]
    )
    removed_at = next(
        i
        for i in range(len(log))
        if log.get(i).statement.type == "voter.removed"
        and log.get(i).statement.body["voter"] == REMOVED
    )
    codes = _codes(report)
    assert ("rule.proxy.not_close_relative", proxy_at) in codes
    assert ("rule.voter.removal_code_mismatch", removed_at) in codes
    assert not [c for c in codes if c[0].startswith("openings.") and c[0] != "openings.checked"]
    proxy = report.by_code("rule.proxy.not_close_relative")[0]
    assert "'neighbour'" in proxy.message and proxy.evidence["field"] == "rel"
    assert proxy.evidence["tier"] == "authorised"
    removal = report.by_code("rule.voter.removal_code_mismatch")[0]
    assert removal.evidence == {"field": "reason", "ids": [REMOVED], "tier": "authorised"}
    assert "'duplicate' is code duplicate" in removal.message
    assert "eligibility_ended" in removal.message


def test_missing_unknown_and_another_log_are_named(election: _Election) -> None:
    i = election.index_of("c2-v04")
    fewer = attrs.evolve(
        election.doc,
        openings=tuple(o for o in election.doc.openings if (o.index, o.field) != (i, "basis")),
    )
    report = audit(election.source(), election.trust, openings=fewer)
    missing = report.by_code("openings.missing")
    assert [(f.index, f.evidence) for f in missing] == [(i, {"field": "basis"})]
    assert "c_basis" in missing[0].message

    extra = Opening(index=0, field="birth", salt=bytes(16), value={"birth_date": "2000-01-01"})
    more = attrs.evolve(election.doc, openings=(*election.doc.openings, extra))
    report = audit(election.source(), election.trust, openings=more)
    assert _codes(report)[:2] == [("openings.unknown", 0), ("rule.voter.underage", 23)]

    other = attrs.evolve(election.doc, root=bytes(32))
    report = audit(election.source(), election.trust, openings=other)
    assert _codes(report) == [("openings.log_mismatch", None)]
    assert report.authorised is not None and report.authorised["checked"] == {}
    other = attrs.evolve(election.doc, election="another-election")
    assert (
        "another-election"
        in audit(election.source(), election.trust, openings=other).findings[0].message
    )


def test_the_plaintext_document_is_canonical_and_strict(election: _Election) -> None:
    data = election.doc.to_bytes()
    assert data.startswith(OPENINGS_MAGIC)
    assert OpeningsDocument.from_bytes(data) == election.doc
    for bad, why in (
        (data + b"\x00", "after the last opening"),
        (data[:-1], "truncated"),
        (b"electlog/openings/v0\n" + data[len(OPENINGS_MAGIC) :], "not an openings document"),
    ):
        with pytest.raises(OpeningsError, match=why):
            OpeningsDocument.from_bytes(bad)
    # two records swapped: refused, not re-sorted silently
    head = len(OPENINGS_MAGIC)
    n = int.from_bytes(data[head : head + 4], "big")
    pos = head + 4 + n
    first = 4 + int.from_bytes(data[pos : pos + 4], "big")
    second = 4 + int.from_bytes(data[pos + first : pos + first + 4], "big")
    swapped = (
        data[:pos]
        + data[pos + first : pos + first + second]
        + data[pos : pos + first]
        + data[pos + first + second :]
    )
    with pytest.raises(OpeningsError, match="not sorted"):
        OpeningsDocument.from_bytes(swapped)
    with pytest.raises(UsageError, match="two openings of entry"):
        attrs.evolve(election.doc, openings=(*election.doc.openings, election.doc.openings[0]))


def test_the_registry_names_each_committed_field_once() -> None:
    fields = committed_fields_of(VoterRegisteredV2.TYPE, 2)
    assert [(f.field, f.attribute) for f in fields] == [("basis", "c_basis"), ("birth", "c_birth")]
    assert all(COMMITTED_FIELDS[(f.event_type, f.schema, f.field)] is f for f in fields)
    assert committed_fields_of(VoterRegisteredV2.TYPE, 1) == ()


def test_a_receipt_opens_c_birth_alone_without_the_name(election: _Election) -> None:
    """What a voter shows with their receipt: the birth field's opening. It rebuilds c_birth,
    carries neither the name nor the registration salt, and another field's salt fails."""
    voter = "c2-v05"
    s = election.scenario
    reg = decode_event(election.log.get(election.index_of(voter)).statement)
    assert isinstance(reg, VoterRegisteredV2)
    birth = next(
        o
        for o in election.doc.openings
        if (o.index, o.field) == (election.index_of(voter), "birth")
    )
    assert birth_commitment(birth.salt, _dt.date.fromisoformat(birth.value["birth_date"])) == (
        reg.c_birth
    )
    shown = repr(birth.to_body()).encode() + birth.salt
    assert s.personal[voter]["name"].encode() not in shown and s.salts[voter] not in shown
    assert birth_commitment(
        field_salt(s.salts[voter], "basis"), s.records[voter]["birth_date"]
    ) != (reg.c_birth)


# --------------------------------------------------------------------------- encryption


def test_sealed_for_the_listed_auditors_only(election: _Election, tmp_path: Path) -> None:
    keys = []
    for name in ("a", "b", "c"):
        text, recipient = generate_identity()
        (tmp_path / name).write_text(text)
        keys.append(recipient)
    sealed = seal_openings(election.source(), election.doc, keys[:2])
    assert sealed.startswith(b"age-encryption.org/v1\n")
    assert read_openings(sealed, tmp_path / "a") == election.doc
    assert read_openings(sealed, tmp_path / "b") == election.doc
    with pytest.raises(OpeningsError, match="cannot decrypt the openings"):
        read_openings(sealed, tmp_path / "c")
    (tmp_path / "junk").write_text("# nothing here\n")
    with pytest.raises(OpeningsError, match="holds no age identity"):
        read_openings(sealed, tmp_path / "junk")
    (tmp_path / "bad").write_text("AGE-SECRET-KEY-1XYZ\n")
    with pytest.raises(OpeningsError, match="line 1 is a malformed age identity"):
        read_openings(sealed, tmp_path / "bad")
    with pytest.raises(OpeningsError, match="cannot decrypt"):
        read_openings(b"not an age file", tmp_path / "a")
    with pytest.raises(UsageError, match="not an age X25519 recipient"):
        seal_openings(election.source(), election.doc, ["ssh-ed25519 AAAA"])
    # a document for another checkpoint is refused before anything is encrypted
    with pytest.raises(OpeningsError, match="checkpoint root"):
        seal_openings(election.source(), attrs.evolve(election.doc, root=bytes(32)), keys[:1])


# --------------------------------------------------------------------------- the CLI


def _cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "electlog", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_cli_export_and_verify_openings(tmp_path: Path) -> None:
    store_path = tmp_path / "election.sqlite"
    store = SQLiteStore(store_path, origin="example.org/openings-cli")
    el = _build(Log(store))
    el.log.add_checkpoint(el.note)
    plaintext = tmp_path / "openings.plaintext"
    plaintext.write_bytes(el.doc.to_bytes())
    (tmp_path / "trust.json").write_text(el.trust.to_json())
    store.close()

    auditor = _cli("keygen", "auditor", "--out", "auditor.key", cwd=tmp_path)
    assert auditor.returncode == 0, auditor.stderr
    recipient = auditor.stdout.strip()
    assert recipient.startswith("age1") and (tmp_path / "auditor.key").stat().st_mode & 0o777 == (
        0o600
    )
    other = _cli("keygen", "auditor", "--out", "other.key", cwd=tmp_path)

    plain = _cli("export", store_path, "--bundle", "plain.bundle", cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    run = _cli(
        "export", store_path, "--bundle", "election.bundle", "--openings", "openings.age",
        "--recipient", recipient, "--recipient", other.stdout.strip(), "--plaintext", plaintext,
        cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "encrypted to 2 recipient(s)" in run.stdout
    bundle = (tmp_path / "election.bundle").read_bytes()
    assert bundle == (tmp_path / "plain.bundle").read_bytes()  # the openings are never inside
    assert plaintext.read_bytes() not in bundle
    assert (tmp_path / "openings.age").stat().st_mode & 0o777 == 0o600

    verify = ("verify", "election.bundle", "--trust", "trust.json", "--format", "json")
    authorised = _cli(
        *verify, "--openings", "openings.age", "--identity", "auditor.key", cwd=tmp_path
    )
    assert authorised.returncode == 1, authorised.stderr
    report = json.loads(authorised.stdout)
    child = el.index_of(CHILD)
    assert [(f["code"], f["index"]) for f in report["findings"]] == [
        ("rule.voter.underage", child),
        ("rule.voter.basis_invalid", el.index_of(NEWCOMER)),
        ("openings.checked", None),
    ]
    assert report["authorised"]["tier"] == "authorised"

    # deleting the openings leaves the public bundle and its verdict as they were
    public_before = _cli(*verify, cwd=tmp_path)
    (tmp_path / "openings.age").unlink()
    public_after = _cli(*verify, cwd=tmp_path)
    assert (tmp_path / "election.bundle").read_bytes() == bundle
    assert public_before.returncode == public_after.returncode == 0
    before, after = json.loads(public_before.stdout), json.loads(public_after.stdout)
    assert before["verdict"] == after["verdict"] == "clean"
    assert before["findings"] == after["findings"]
    assert [f["code"] for f in after["findings"]] == ["profile.public_unverified"]


def test_cli_a_wrong_identity_is_a_clear_error(tmp_path: Path, election: _Election) -> None:
    _right, recipient = generate_identity()
    wrong, _ = generate_identity()
    (tmp_path / "wrong.key").write_text(wrong)
    (tmp_path / "openings.age").write_bytes(
        seal_openings(election.source(), election.doc, [recipient])
    )
    (tmp_path / "trust.json").write_text(election.trust.to_json())
    from audit_support import write_bundle

    write_bundle(tmp_path / "e.bundle", election.log.origin, election.entries, [election.note])
    run = _cli(
        "verify", "e.bundle", "--trust", "trust.json", "--openings", "openings.age",
        "--identity", "wrong.key", cwd=tmp_path,
    )  # fmt: skip
    assert run.returncode == 2
    assert "electlog verify: error: cannot decrypt the openings with wrong.key" in run.stderr
    assert "Traceback" not in run.stderr
    half = _cli("verify", "e.bundle", "--trust", "trust.json", "--openings", "x", cwd=tmp_path)
    assert half.returncode == 2 and "--openings and --identity go together" in half.stderr
    export = _cli("export", "nowhere.sqlite", "--openings", "o.age", cwd=tmp_path)
    assert export.returncode == 2 and "--openings needs --plaintext" in export.stderr


def test_demo_minimal_keeps_the_openings_private_and_they_audit_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from electlog.audit import load_trust
    from electlog.cli import main
    from electlog.publish.bundle import BundleReader

    target = tmp_path / "demo"
    args = ["demo", "--voters", "2000", "--seed", "4", "--jobs", "1", "--dir", str(target)]
    assert main([*args, "--profile", "minimal"]) == 0
    assert "keys/openings.plaintext" in capsys.readouterr().out.replace("\n", "")
    private = target / "keys" / "openings.plaintext"
    assert private.stat().st_mode & 0o777 == 0o600
    doc = OpeningsDocument.from_bytes(private.read_bytes())
    assert not any(p.name.startswith("openings") for p in target.iterdir())  # not beside the bundle
    with BundleReader(target / "election.bundle") as reader:
        assert not any(doc.openings[0].salt in data for _, data, _ in reader)
    trust = load_trust(target / "trust.json")
    report = audit(target / "election.bundle", trust, jobs=1, openings=doc)
    registrations = report.counts.events[VoterRegisteredV2.TYPE]
    assert report.clean and _codes(report) == [("openings.checked", None)]
    assert report.authorised is not None
    details = bundle_detail_fields(target / "election.bundle")
    assert details["reason"] > 0 and details["rel"] == details["attestation"] > 0
    assert report.authorised["checked"] == {
        "basis": registrations,
        "birth": registrations,
        **details,
    }
    assert (
        report.authorised["openings"]
        == len(doc.openings)
        == 2 * registrations + sum(details.values())
    )
    # a rerun with --force and the same keys rewrites them (the demo's own file, not foreign)
    assert main([*args, "--profile", "minimal", "--force", "--keys", str(target / "keys")]) == 0
    assert OpeningsDocument.from_bytes(private.read_bytes()) == doc
    # a full-profile run writes none
    full = tmp_path / "full"
    full_args = ["demo", "--voters", "1140", "--seed", "4", "--jobs", "1", "--profile", "full"]
    assert main([*full_args, "--dir", str(full)]) == 0
    assert not (full / "keys" / "openings.plaintext").exists()


@pytest.mark.skipif(shutil.which("age") is None, reason="the age command is not installed")
def test_the_age_command_reads_the_bundle_and_its_keys_work_here(
    election: _Election, tmp_path: Path
) -> None:
    """Interoperability: an age-keygen identity decrypts in electlog, and an electlog auditor
    key decrypts with the age command; the plaintext is the document's bytes."""
    text, recipient = generate_identity()
    (tmp_path / "electlog.key").write_text(text)
    keygen = shutil.which("age-keygen")
    assert keygen is not None
    made = subprocess.run(
        [keygen, "-o", str(tmp_path / "age.key")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    age_recipient = made.stderr.strip().rsplit(" ", 1)[-1]
    assert age_recipient.startswith("age1")
    sealed = seal_openings(election.source(), election.doc, [recipient, age_recipient])
    (tmp_path / "openings.age").write_bytes(sealed)
    assert read_openings(tmp_path / "openings.age", tmp_path / "age.key") == election.doc
    for key in ("electlog.key", "age.key"):
        out = subprocess.run(
            ["age", "-d", "-i", str(tmp_path / key), str(tmp_path / "openings.age")],
            capture_output=True,
            check=True,
            timeout=60,
        )
        assert out.stdout == election.doc.to_bytes()
