"""The auditor's trust file: round trip and strict parsing with the field at fault named."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from electlog import NoteSigner, SigningKey, WitnessSigner
from electlog.audit import TRUST_FORMAT, Trust, load_trust
from electlog.errors import TrustFileError

ORIGIN = "example.org/trust-test"


def _trust_dict() -> dict[str, object]:
    authority = SigningKey.from_seed(bytes([1]) * 32)
    log_key = NoteSigner.generate(ORIGIN, rng_seed=bytes([2]) * 32)
    w1 = WitnessSigner.generate("w1.example", rng_seed=bytes([3]) * 32)
    w2 = WitnessSigner.generate("w2.example", rng_seed=bytes([4]) * 32)
    return {
        "format": TRUST_FORMAT,
        "origin": ORIGIN,
        "authority_key": authority.public.to_text(),
        "log_key": log_key.vkey,
        "witnesses": [w1.vkey, w2.vkey],
        "quorum": 2,
    }


def test_round_trip(tmp_path: Path) -> None:
    data = _trust_dict()
    trust = Trust.from_dict(data)
    assert trust.origin == ORIGIN
    assert trust.quorum == 2
    assert [w.name for w in trust.witnesses] == ["w1.example", "w2.example"]
    assert trust.to_dict() == data
    path = tmp_path / "trust.json"
    trust.save(path)
    assert json.loads(path.read_text()) == data
    again = load_trust(path)
    assert again == trust
    assert again.authority_key.key_id == SigningKey.from_seed(bytes([1]) * 32).key_id


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format": "electlog-trust/2"}, "format"),
        ({"origin": ""}, "origin"),
        ({"origin": 7}, "origin"),
        ({"authority_key": "ed25519-pub:AAAA"}, "authority_key"),
        ({"authority_key": "not a key"}, "authority_key"),
        ({"log_key": "example.org/trust-test+00000000+AQ=="}, "log_key"),
        ({"witnesses": "w1"}, "witnesses"),
        ({"witnesses": ["nonsense"]}, "witnesses[0]"),
        ({"quorum": 3}, "quorum"),
        ({"quorum": -1}, "quorum"),
        ({"quorum": True}, "quorum"),
        ({"quorum": "2"}, "quorum"),
    ],
)
def test_bad_fields_are_named(change: dict[str, object], field: str) -> None:
    data = _trust_dict()
    data.update(change)
    with pytest.raises(TrustFileError) as info:
        Trust.from_dict(data)
    assert f"'{field}'" in str(info.value)


def test_log_key_must_be_named_after_origin() -> None:
    data = _trust_dict()
    data["log_key"] = NoteSigner.generate("other.example/log", rng_seed=bytes(32)).vkey
    with pytest.raises(TrustFileError, match=r"'log_key'.*origin"):
        Trust.from_dict(data)


def test_witness_listed_twice_or_log_key_as_witness() -> None:
    data = _trust_dict()
    witnesses = data["witnesses"]
    assert isinstance(witnesses, list)
    data["witnesses"] = [witnesses[0], witnesses[0]]
    data["quorum"] = 1
    with pytest.raises(TrustFileError, match="'witnesses'"):
        Trust.from_dict(data)
    log_key = NoteSigner.generate(ORIGIN, rng_seed=bytes([2]) * 32)
    as_witness = WitnessSigner(ORIGIN, bytes([2]) * 32).vkey  # same public key as the log key
    assert log_key.vkey != as_witness
    data["witnesses"] = [as_witness]
    with pytest.raises(TrustFileError, match="log's own key"):
        Trust.from_dict(data)


def test_unknown_and_missing_fields() -> None:
    data = _trust_dict()
    data["extra"] = 1
    with pytest.raises(TrustFileError, match=r"unknown field.*extra"):
        Trust.from_dict(data)
    data = _trust_dict()
    del data["quorum"]
    with pytest.raises(TrustFileError, match=r"missing field.*quorum"):
        Trust.from_dict(data)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(TrustFileError, match="cannot read trust file"):
        load_trust(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TrustFileError, match=r"bad\.json: trust file is not valid JSON"):
        load_trust(bad)
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(TrustFileError, match="not valid JSON"):
        load_trust(bad)
    bad.write_text("[]")
    with pytest.raises(TrustFileError, match="JSON object"):
        load_trust(bad)


def test_create_from_objects() -> None:
    data = _trust_dict()
    trust = Trust.from_dict(data)
    made = Trust.create(
        origin=ORIGIN,
        authority_key=trust.authority_key,
        log_key=trust.log_key,
        witnesses=list(trust.witnesses),
        quorum=1,
    )
    assert made.log_key == trust.log_key
    assert made.quorum == 1
    assert Trust.from_json(made.to_json()) == made


@pytest.mark.parametrize(
    ("field", "weaker"),
    [("quorum", "0"), ("witnesses", "[]"), ("log_key", '"x"'), ("origin", '"other"')],
)
def test_a_repeated_field_is_refused_whatever_its_value(
    tmp_path: Path, field: str, weaker: str
) -> None:
    # Python's json keeps the last of two equal keys: a trust file that says "quorum": 2 and
    # then "quorum": 0 would audit with no witness at all while a reader sees 2.
    text = json.dumps(_trust_dict(), indent=2)
    assert text.endswith("\n}")
    doubled = text[:-2] + f',\n  "{field}": {weaker}\n}}'
    path = tmp_path / "trust.json"
    path.write_text(doubled)
    with pytest.raises(TrustFileError, match=rf"trust\.json: .*key '{field}' twice"):
        load_trust(path)
    with pytest.raises(TrustFileError, match="twice"):
        Trust.from_json(doubled)
    # the same value twice is refused too: a duplicate key is malformed, not merely dangerous
    again = text[:-2] + f',\n  "{field}": {json.dumps(_trust_dict()[field])}\n}}'
    with pytest.raises(TrustFileError, match="twice"):
        Trust.from_json(again)


def test_non_standard_json_constants_are_refused() -> None:
    text = json.dumps(_trust_dict()).replace('"quorum": 2', '"quorum": NaN')
    with pytest.raises(TrustFileError, match="NaN"):
        Trust.from_json(text)


# --------------------------------------------------------------------------- witness URLs


def _with_urls() -> dict[str, object]:
    data = _trust_dict()
    witnesses = data["witnesses"]
    assert isinstance(witnesses, list)
    data["witnesses"] = [
        {"vkey": witnesses[0], "url": "https://witness-1.example/prefix"},
        witnesses[1],  # the old form: a verifier key string, no URL known
    ]
    return data


def test_witness_urls_round_trip(tmp_path: Path) -> None:
    data = _with_urls()
    trust = Trust.from_dict(data)
    assert trust.witness_urls == ("https://witness-1.example/prefix", None)
    assert [w.name for w in trust.witnesses] == ["w1.example", "w2.example"]
    assert trust.to_dict() == data
    path = tmp_path / "trust.json"
    trust.save(path)
    assert load_trust(path) == trust
    # a trust file of the old form reads as before, with no URL known
    old = Trust.from_dict(_trust_dict())
    assert old.witness_urls == (None, None)
    assert old.to_dict() == _trust_dict()


def test_create_with_witness_urls() -> None:
    base = Trust.from_dict(_trust_dict())
    urls = ["http://127.0.0.1:7380", "http://[::1]:7381/w"]
    made = Trust.create(
        origin=ORIGIN,
        authority_key=base.authority_key,
        log_key=base.log_key,
        witnesses=list(base.witnesses),
        quorum=2,
        witness_urls=urls,
    )
    assert made.witness_urls == tuple(urls)
    assert made.to_dict()["witnesses"] == [
        {"vkey": w.vkey, "url": u} for w, u in zip(base.witnesses, urls, strict=True)
    ]
    assert Trust.from_json(made.to_json()) == made
    with pytest.raises(TrustFileError, match="1 URL"):
        Trust.create(
            origin=ORIGIN,
            authority_key=base.authority_key,
            log_key=base.log_key,
            witnesses=list(base.witnesses),
            witness_urls=urls[:1],
        )
    with pytest.raises(TrustFileError, match=r"witnesses\[1\]\.url.*password"):
        Trust.create(
            origin=ORIGIN,
            authority_key=base.authority_key,
            log_key=base.log_key,
            witnesses=list(base.witnesses),
            witness_urls=[None, "http://user:secret@witness.example"],
        )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("", "non-empty"),
        (7, "non-empty string"),
        (None, "non-empty string"),
        ("witness.example", "http"),
        ("ftp://witness.example", "http"),
        ("file:///etc/passwd", "http"),
        ("http://", "host"),
        ("http:///add-checkpoint", "host"),
        ("http://user@witness.example", "user name or password"),
        ("https://user:pw@witness.example", "user name or password"),
        ("http://witness.example:99999", "not a valid URL"),
        ("http://witness.example:0", "port 0"),
        ("http://witness.example:", "empty port"),
        ("http://witness.example:80x", "not a valid URL"),
        ("http://witness.example/?a=1", "query"),
        ("http://witness.example/#frag", "fragment"),
        ("http://witness example", "printable ASCII"),
        ("http://wïtness.example", "printable ASCII"),
        ("http://witness.example/\n", "printable ASCII"),
        ("http://-witness-.example", "host"),
        ("http://" + "a" * 2100 + ".example", "longer than"),
    ],
)
def test_bad_witness_urls_are_refused(url: object, why: str) -> None:
    data = _with_urls()
    witnesses = data["witnesses"]
    assert isinstance(witnesses, list)
    witnesses[0] = {"vkey": witnesses[0]["vkey"], "url": url}
    with pytest.raises(TrustFileError) as info:
        Trust.from_dict(data)
    assert "'witnesses[0].url'" in str(info.value)
    assert why in str(info.value)


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ({"vkey": "w"}, r"missing \['url'\]"),
        ({"url": "http://w.example"}, r"missing \['vkey'\]"),
        ({"vkey": "w", "url": "http://w.example", "name": "x"}, r"unknown field.*name"),
        ({"vkey": "nonsense", "url": "http://w.example"}, r"'witnesses\[0\]\.vkey'"),
        ({"vkey": 3, "url": "http://w.example"}, r"'witnesses\[0\]\.vkey'"),
        ([1, 2], r"'witnesses\[0\]'"),
    ],
)
def test_malformed_witness_objects_are_refused(item: object, why: str) -> None:
    data = _trust_dict()
    witnesses = data["witnesses"]
    assert isinstance(witnesses, list)
    witnesses[0] = item
    data["quorum"] = 1
    with pytest.raises(TrustFileError, match=why):
        Trust.from_dict(data)


def test_witness_clients_from_the_urls() -> None:
    data = _with_urls()
    data["quorum"] = 1
    trust = Trust.from_dict(data)
    clients = trust.witness_clients(timeout=2.0)
    try:
        assert [c.verifier for c in clients] == [trust.witnesses[0]]
        assert clients[0].url == "https://witness-1.example/prefix/add-checkpoint"
    finally:
        for client in clients:
            client.close()
    # quorum 2, one URL: no checkpoint could ever be published through these
    data = _with_urls()
    with pytest.raises(TrustFileError, match="fewer than its quorum 2"):
        Trust.from_dict(data).witness_clients()
    data["quorum"] = 0
    data["witnesses"] = []
    assert Trust.from_dict(data).witness_clients() == []


def test_the_core_imports_trust_without_httpx() -> None:
    # witness_clients imports electlog.net (httpx) only when called
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def guard(name, *a, **k):\n"
        "    if name.split('.')[0] in ('httpx', 'starlette', 'uvicorn'):\n"
        "        raise ModuleNotFoundError(name, name=name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = guard\n"
        "from electlog.audit import Trust, load_trust\n"
        "import electlog\n"
        "assert 'httpx' not in sys.modules\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
        check=False,
    )
    assert done.stdout.strip() == "ok", done.stderr
