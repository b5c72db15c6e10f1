"""Keys and secrets of a simulated election: from the OS CSPRNG, never from the public seed;
saved, reloaded and reused (issue 11 item 3).

Before this, every key, the registrars' dedup secret and the commitment salts were SHA-256 of
the seed and the origin, both public: a second run with the same seed reproduced trust.json, so
a forged election verified CLEAN against the first run's trust file, and the dedup secret
recovered every ID number."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import stat
from pathlib import Path
from typing import Any

import attrs
import pytest

from electlog.cli import main
from electlog.election.events import VoterRegistered, decode_event
from electlog.election.receipts import commitment, dedup_tag
from electlog.errors import KeySetError, UsageError
from electlog.log import Log
from electlog.simulate import (
    ROLES,
    WITNESS_NAMES,
    DistrictConfig,
    SimulationKeys,
    SimulationResult,
    simulate_district,
)
from electlog.simulate._keys import witness_key_files
from electlog.simulate._population import build_population
from electlog.store.memory import MemoryStore

ORIGIN = "district.example/test-keys"
SEED = 5  # (seeds 7 and 11 cannot build a 1,140-voter district on main either)
VOTERS = 1140  # the smallest district the demo allows (60 voters x 19 communities)
CIDS = [f"c{i:02d}" for i in range(1, 20)]


def _old_seed_bytes(seed: int, label: str) -> bytes:
    """What the simulator used to derive every key and secret from (public data only)."""
    return hashlib.sha256(f"electlog-simulate/v1\x00{seed}\x00{label}".encode()).digest()


def _old_rng(seed: int, label: str) -> random.Random:
    return random.Random(int.from_bytes(_old_seed_bytes(seed, label)[:16], "big"))


@pytest.fixture(scope="module")
def built() -> tuple[Log, SimulationResult]:
    log = Log(MemoryStore(ORIGIN))
    return log, simulate_district(log, voters=VOTERS, seed=SEED, profile="full")


# --------------------------------------------------------------------------- nothing from the seed


def test_no_key_or_secret_is_the_old_derivation_from_seed_and_origin(built: Any) -> None:
    _, result = built
    keys = result.keys
    old = {
        _old_seed_bytes(SEED, label)
        for label in (
            "registrars' dedup secret",
            f"{ORIGIN}/authority",
            f"{ORIGIN}/log",
            *(f"{ORIGIN}/{name}" for name in WITNESS_NAMES),
            *(f"{ORIGIN}/{cid}/{role}" for cid in CIDS for role in ROLES),
        )
    }
    assert len(old) == 1 + 1 + 1 + 2 + 19 * 5  # dedup, authority, log, witnesses, roles
    mine = {
        keys.dedup_secret,
        keys.salt_secret,
        keys.authority.seed(),
        *(key.seed() for key in keys.roles.values()),
    }
    assert keys.audit_board is not None
    mine.add(keys.audit_board.seed())
    assert len(mine) == 2 + 1 + 19 * 5 + 1
    assert mine.isdisjoint(old)
    # the log and witness keys are not the old ones either (compare public keys)
    from electlog.checkpoint import NoteSigner, WitnessSigner

    assert keys.log.vkey != NoteSigner(ORIGIN, _old_seed_bytes(SEED, f"{ORIGIN}/log")).vkey
    for w in keys.witnesses:
        assert w.vkey != WitnessSigner(w.name, _old_seed_bytes(SEED, f"{ORIGIN}/{w.name}")).vkey


def test_dedup_tags_and_commitments_need_the_secrets(built: Any) -> None:
    """Every registration's dedup tag is HMAC under the set's dedup secret and its commitment
    uses the set's secret salt for that voter — and neither matches the old public
    derivation, so the ID numbers cannot be recovered from the seed."""
    log, result = built
    keys = result.keys
    pop = build_population(DistrictConfig.scaled(VOTERS), _old_rng(SEED, "population"))
    people = {v.vid: v for c in pop.communities for v in c.voters}
    for extra in pop.extras.values():
        people.update({v.vid: v for v in extra})
    old_secret = _old_seed_bytes(SEED, "registrars' dedup secret")
    old_salts = _old_rng(SEED, "salts")
    old_salt_values = {old_salts.randbytes(16) for _ in range(3 * VOTERS)}
    regs = [ev for e in log if isinstance(ev := decode_event(e.statement), VoterRegistered)]
    assert len(regs) > VOTERS
    for ev in regs:
        v = people[ev.voter]
        assert ev.dedup == dedup_tag(keys.dedup_secret, v.idn)
        assert ev.dedup != dedup_tag(old_secret, v.idn)
        salt = keys.salt_for(ev.voter)
        assert salt not in old_salt_values
        assert ev.commitment == commitment(salt, {"id_number": v.idn, "name": v.name})


def test_salts_are_per_voter_and_per_key_set() -> None:
    a = SimulationKeys.generate(ORIGIN, ["c01"])
    b = SimulationKeys.generate(ORIGIN, ["c01"])
    assert a.salt_for("c01-v00001") == a.salt_for("c01-v00001")
    assert a.salt_for("c01-v00001") != a.salt_for("c01-v00002")
    assert a.salt_for("c01-v00001") != b.salt_for("c01-v00001")
    assert len(a.salt_for("c01-v00001")) == 16
    with pytest.raises(UsageError):
        a.salt_for("")


def test_generate_gives_every_role_and_witness_and_never_repeats() -> None:
    a = SimulationKeys.generate(ORIGIN, CIDS)
    b = SimulationKeys.generate(ORIGIN, CIDS)
    assert set(a.roles) == {f"{cid}/{role.value}" for cid in CIDS for role in ROLES}
    assert a.communities == tuple(CIDS)
    assert [w.name for w in a.witnesses] == list(WITNESS_NAMES)
    assert a.origin == ORIGIN == a.log.name
    assert a.authority.public != b.authority.public and a.log.vkey != b.log.vkey
    assert a.dedup_secret != b.dedup_secret and a.salt_secret != b.salt_secret
    with pytest.raises(UsageError):
        SimulationKeys.generate(ORIGIN, ["c01", "c01"])
    with pytest.raises(UsageError):
        SimulationKeys.generate(ORIGIN, ["c 1"])


def test_repr_shows_no_private_material() -> None:
    keys = SimulationKeys.generate(ORIGIN, ["c01", "c02"])
    text = repr(keys) + str(keys)
    private = [
        keys.dedup_secret.hex(),
        keys.salt_secret.hex(),
        keys.authority.seed().hex(),
        keys.log.skey,
        *(w.skey for w in keys.witnesses),
        *(k.seed().hex() for k in keys.roles.values()),
    ]
    assert not any(p in text for p in private)
    assert repr(keys.dedup_secret) not in text and repr(keys.salt_secret) not in text


def test_simulation_result_repr_shows_no_secret(built: Any) -> None:
    _, result = built
    text = repr(result)
    assert result.keys.dedup_secret.hex() not in text
    assert repr(result.keys.dedup_secret) not in text
    assert repr(result.keys.salt_secret) not in text
    assert result.keys.log.skey not in text


# --------------------------------------------------------------------------- simulate_district


def test_a_key_set_must_fit_the_election() -> None:
    other_origin = SimulationKeys.generate("district.example/other", CIDS)
    with pytest.raises(KeySetError, match=r"district\.example/other"):
        simulate_district(Log(ORIGIN), voters=VOTERS, seed=1, keys=other_origin)
    too_few = SimulationKeys.generate(ORIGIN, CIDS[:5])
    with pytest.raises(KeySetError, match="c06/"):
        simulate_district(Log(ORIGIN), voters=VOTERS, seed=1, keys=too_few)
    with pytest.raises(UsageError):
        simulate_district(Log(ORIGIN), voters=VOTERS, seed=1, keys="keys/")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- files


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_load_round_trip_modes_and_manifest(tmp_path: Path) -> None:
    keys = SimulationKeys.generate(ORIGIN, CIDS[:3])
    target = keys.save(tmp_path / "set")
    assert target == tmp_path / "set"
    assert _mode(target) == 0o700 and _mode(target / "roles") == 0o700
    assert _mode(target / "witnesses") == 0o700
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert files == sorted(
        [
            "manifest.json",
            "authority.pem",
            "audit-board.pem",
            "log.skey",
            "witnesses/witness-a.skey",
            "witnesses/witness-b.skey",
            "dedup.secret",
            "salt.secret",
            *(f"roles/{cid}-{role.value}.pem" for cid in CIDS[:3] for role in ROLES),
        ]
    )
    assert all(_mode(target / f) == 0o600 for f in files)
    manifest = json.loads((target / "manifest.json").read_text())
    assert (manifest["format"], manifest["version"], manifest["origin"]) == (
        "electlog.simulation-keys",
        1,
        ORIGIN,
    )
    assert manifest["authority"] == {
        "file": "authority.pem",
        "public": keys.authority.public.to_text(),
    }
    assert {(r["community"], r["role"]) for r in manifest["roles"]} == {
        (cid, role.value) for cid in CIDS[:3] for role in ROLES
    }
    assert manifest["secrets"] == {"dedup": "dedup.secret", "salt": "salt.secret"}
    assert keys.audit_board is not None
    assert manifest["audit_board"] == {
        "file": "audit-board.pem",
        "public": keys.audit_board.public.to_text(),
    }
    # the manifest holds only public keys
    assert keys.dedup_secret.hex() not in (target / "manifest.json").read_text()
    assert manifest["witnesses"] == [
        {"file": f"witnesses/witness-{x}.skey", "vkey": w.vkey}
        for x, w in zip("ab", keys.witnesses, strict=True)
    ]
    again = SimulationKeys.load(target, witness_keys=True)
    assert again.authority.public == keys.authority.public
    assert again.log.skey == keys.log.skey
    assert [w.skey for w in again.witnesses] == [w.skey for w in keys.witnesses]
    # the operator's load: the witnesses' public keys only
    operator = SimulationKeys.load(target)
    assert operator.witnesses == ()
    assert operator.witness_verifiers == keys.witness_verifiers
    assert [v.vkey for v in operator.witness_verifiers] == [w.vkey for w in keys.witnesses]
    assert {n: k.seed() for n, k in again.roles.items()} == {
        n: k.seed() for n, k in keys.roles.items()
    }
    assert (again.dedup_secret, again.salt_secret) == (keys.dedup_secret, keys.salt_secret)


def test_save_refuses_an_existing_key_set(tmp_path: Path) -> None:
    keys = SimulationKeys.generate(ORIGIN, ["c01"])
    keys.save(tmp_path / "set")
    before = (tmp_path / "set" / "dedup.secret").read_bytes()
    with pytest.raises(KeySetError, match="refusing to overwrite"):
        SimulationKeys.generate(ORIGIN, ["c01"]).save(tmp_path / "set")
    assert (tmp_path / "set" / "dedup.secret").read_bytes() == before
    (tmp_path / "plain").write_text("x")
    with pytest.raises(KeySetError, match="not a directory"):
        keys.save(tmp_path / "plain")
    # an existing empty directory is fine, and is made private
    (tmp_path / "empty").mkdir(mode=0o755)
    keys.save(tmp_path / "empty")
    assert _mode(tmp_path / "empty") == 0o700


@pytest.fixture
def saved(tmp_path: Path) -> tuple[SimulationKeys, Path]:
    keys = SimulationKeys.generate(ORIGIN, ["c01", "c02"])
    return keys, keys.save(tmp_path / "set")


def _private_texts(keys: SimulationKeys, root: Path) -> list[str]:
    texts = [keys.dedup_secret.hex(), keys.salt_secret.hex(), keys.log.skey]
    texts += [w.skey for w in keys.witnesses]
    for pem in root.rglob("*.pem"):
        body = "".join(pem.read_text().splitlines()[1:-1])
        texts.append(body)
    return texts


def _edit_manifest(root: Path, edit: Any) -> None:
    path = root / "manifest.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda r: (r / "manifest.json").unlink(), "manifest.json"),
        (lambda r: (r / "manifest.json").write_text("{not json"), "manifest.json"),
        (lambda r: (r / "roles" / "c02-registrar.pem").unlink(), "c02-registrar.pem"),
        (lambda r: (r / "salt.secret").unlink(), "salt.secret"),
        (lambda r: (r / "log.skey").write_text("PRIVATE+KEY+garbage\n"), "log.skey"),
        (lambda r: (r / "authority.pem").write_bytes(b"-----BEGIN x\n"), "authority.pem"),
        (lambda r: (r / "dedup.secret").write_text("abcd\n"), "dedup.secret"),
        # an oversized file is refused unread (a sparse 2 MiB secret)
        (lambda r: os.truncate(r / "dedup.secret", 2 << 20), "dedup.secret is larger than"),
        (
            # two role files swapped: each holds a valid key, not the one the manifest lists
            lambda r: (
                shutil.move(r / "roles" / "c01-registrar.pem", r / "tmp.pem"),
                shutil.move(r / "roles" / "c02-registrar.pem", r / "roles" / "c01-registrar.pem"),
                shutil.move(r / "tmp.pem", r / "roles" / "c02-registrar.pem"),
            ),
            "c01-registrar.pem",
        ),
        (
            lambda r: shutil.copy(r / "witnesses/witness-a.skey", r / "witnesses/witness-b.skey"),
            "witness-b.skey",
        ),
        (lambda r: (r / "witnesses/witness-a.skey").unlink(), "witness-a.skey"),
        (
            lambda r: _edit_manifest(r, lambda m: m["witnesses"][0].__setitem__("vkey", "x")),
            "witnesses[0] lists a malformed verifier key",
        ),
        (
            lambda r: _edit_manifest(
                r,
                lambda m: m.__setitem__(
                    "roles",
                    [x for x in m["roles"] if x["role"] != "registrar" or x["community"] != "c02"],
                ),
            ),
            "c02/registrar",
        ),
        (lambda r: _edit_manifest(r, lambda m: m.__setitem__("version", 2)), "version 2"),
        (
            lambda r: _edit_manifest(
                r, lambda m: m["authority"].__setitem__("file", "../../etc/passwd")
            ),
            "authority",
        ),
        (lambda r: _edit_manifest(r, lambda m: m.__setitem__("witnesses", [])), "witness"),
    ],
)
def test_load_names_what_is_missing_or_corrupt_and_never_echoes_keys(
    saved: tuple[SimulationKeys, Path], damage: Any, named: str
) -> None:
    keys, root = saved
    private = _private_texts(keys, root)
    damage(root)
    with pytest.raises(KeySetError) as info:
        SimulationKeys.load(root, witness_keys=True)
    message = str(info.value)
    assert named in message
    assert not any(p in message for p in private)
    assert info.value.__cause__ is None or not any(p in str(info.value.__cause__) for p in private)


def test_load_of_no_directory(tmp_path: Path) -> None:
    with pytest.raises(KeySetError, match="no key set"):
        SimulationKeys.load(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(KeySetError, match=r"manifest\.json is missing"):
        SimulationKeys.load(tmp_path / "empty")


# --------------------------------------------------------------------------- electlog demo


def _demo(*args: str) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["demo", "--voters", str(VOTERS), "--jobs", "1", *args])
    return code, buf.getvalue()


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("demo-keys") / "first"
    code, out = _demo("--seed", "5", "--dir", str(target))
    assert code == 0, out
    return target


def test_demo_same_seed_new_keys_and_no_shared_trust(first_run: Path, tmp_path: Path) -> None:
    """Without --keys every run has new keys: the same seed gives another trust file, and a
    log built by the second run does not verify clean against the first run's trust file."""
    second = tmp_path / "second"
    code, _ = _demo("--seed", "5", "--dir", str(second))
    assert code == 0
    assert (second / "trust.json").read_bytes() != (first_run / "trust.json").read_bytes()
    assert (first_run / "keys" / "dedup.secret").read_bytes() != (
        second / "keys" / "dedup.secret"
    ).read_bytes()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        verdict = main(
            [
                "verify",
                str(second / "election.bundle"),
                "--trust",
                str(first_run / "trust.json"),
                "--jobs",
                "1",
            ]
        )
    assert verdict != 0
    assert "CLEAN" not in buf.getvalue().splitlines()[0]


def test_demo_with_keys_rebuilds_the_same_log_byte_for_byte(
    first_run: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    code, out = _demo("--seed", "5", "--keys", str(first_run / "keys"), "--dir", str(again))
    assert code == 0
    assert (again / "election.bundle").read_bytes() == (first_run / "election.bundle").read_bytes()
    assert (again / "trust.json").read_bytes() == (first_run / "trust.json").read_bytes()
    assert "reused with --keys" in out
    assert not (again / "keys").exists()  # no second copy of the private keys
    # another seed with the same keys: another district under the same trust file
    other = tmp_path / "other"
    assert _demo("--seed", "3", "--keys", str(first_run / "keys"), "--dir", str(other))[0] == 0
    assert (other / "trust.json").read_bytes() == (first_run / "trust.json").read_bytes()
    assert (other / "election.bundle").read_bytes() != (first_run / "election.bundle").read_bytes()


def test_demo_force_with_its_own_keys_keeps_them(first_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(first_run, copy)
    bundle = (copy / "election.bundle").read_bytes()
    secret = (copy / "keys" / "dedup.secret").read_bytes()
    code, _ = _demo("--seed", "5", "--keys", str(copy / "keys"), "--dir", str(copy), "--force")
    assert code == 0
    assert (copy / "keys" / "dedup.secret").read_bytes() == secret
    assert (copy / "election.bundle").read_bytes() == bundle
    # without --keys, --force replaces the keys with new ones
    assert _demo("--seed", "5", "--dir", str(copy), "--force")[0] == 0
    assert (copy / "keys" / "dedup.secret").read_bytes() != secret
    assert (copy / "election.bundle").read_bytes() != bundle


def test_demo_refuses_a_key_set_for_another_district_before_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = DistrictConfig.scaled(VOTERS)
    pop = build_population(config, random.Random(0))
    assert config.community_ids == tuple(c.cid for c in pop.communities)
    SimulationKeys.generate("district.example/elsewhere", config.community_ids).save(
        tmp_path / "elsewhere"
    )
    SimulationKeys.generate(config.origin, config.community_ids[:-1]).save(tmp_path / "short")
    for name, named in (("elsewhere", "district.example/elsewhere"), ("short", "c19/")):
        code, _ = _demo("--keys", str(tmp_path / name), "--dir", str(tmp_path / f"out-{name}"))
        assert code == 2
        assert named in capsys.readouterr().err
        assert not (tmp_path / f"out-{name}").exists()


def test_demo_with_a_bad_key_dir_exits_2_and_names_it(
    first_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _demo("--keys", str(tmp_path / "absent"), "--dir", str(tmp_path / "x"))
    assert code == 2
    assert "absent" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # refused before anything was written
    broken = tmp_path / "broken"
    shutil.copytree(first_run / "keys", broken)
    (broken / "roles" / "c07-counting_unit.pem").unlink()
    code, _ = _demo("--keys", str(broken), "--dir", str(tmp_path / "y"))
    assert code == 2
    err = capsys.readouterr().err
    assert "c07-counting_unit.pem" in err and "missing" in err


def test_a_manifest_with_a_repeated_key_is_refused(tmp_path: Path) -> None:
    keys = SimulationKeys.generate(ORIGIN, ["c01"])
    target = keys.save(tmp_path / "set")
    manifest = target / "manifest.json"
    text = manifest.read_text().rstrip()
    assert text.endswith("}")
    manifest.write_text(text[:-1] + ', "origin": "elsewhere.example/log"}\n')
    with pytest.raises(KeySetError, match=r"manifest\.json.*'origin' twice"):
        SimulationKeys.load(target)


def test_the_operators_load_never_reads_the_witnesses_key_files(
    saved: tuple[SimulationKeys, Path],
) -> None:
    """``keys/witnesses/`` is the witnesses' part: the default load takes their verifier keys
    from the manifest and never opens their files (a garbled one does not matter to it), and a
    set loaded so cannot be saved (it lacks the witnesses' keys) nor cosign in-process."""
    keys, root = saved
    (root / "witnesses" / "witness-a.skey").write_text("PRIVATE+KEY+garbage\n")
    operator = SimulationKeys.load(root)
    assert operator.witnesses == () and operator.witness_verifiers == keys.witness_verifiers
    with pytest.raises(KeySetError, match=r"witness-a\.skey is not a valid key file"):
        SimulationKeys.load(root, witness_keys=True)
    with pytest.raises(KeySetError, match="does not hold the witnesses' private keys"):
        operator.save(root.parent / "copy")
    assert not (root.parent / "copy").exists()
    full = SimulationKeys.generate(ORIGIN, CIDS)
    without = attrs.evolve(full, witnesses=(), witness_verifiers=full.witness_verifiers)
    with pytest.raises(UsageError, match="holds no witness private keys"):
        simulate_district(Log(ORIGIN), voters=VOTERS, seed=1, keys=without)
    assert [(v.vkey, p.name) for v, p in witness_key_files(root)] == [
        (w.vkey, f"witness-{x}.skey") for x, w in zip("ab", keys.witnesses, strict=True)
    ]


def test_a_key_set_of_the_old_layout_still_loads(saved: tuple[SimulationKeys, Path]) -> None:
    """Sets saved before ``witnesses/`` existed kept the witness keys at the top: the manifest
    names every file, so they load (and feed the demo's witness processes) unchanged."""
    keys, root = saved
    for x in "ab":
        shutil.move(root / "witnesses" / f"witness-{x}.skey", root / f"witness-{x}.skey")
    (root / "witnesses").rmdir()
    _edit_manifest(
        root,
        lambda m: [
            w.__setitem__("file", w["file"].removeprefix("witnesses/")) for w in m["witnesses"]
        ],
    )
    again = SimulationKeys.load(root, witness_keys=True)
    assert [w.skey for w in again.witnesses] == [w.skey for w in keys.witnesses]
    assert [p for _, p in witness_key_files(root)] == [
        root / "witness-a.skey",
        root / "witness-b.skey",
    ]


def test_witness_private_and_public_keys_must_match() -> None:
    keys = SimulationKeys.generate(ORIGIN, ["c01"])
    other = SimulationKeys.generate(ORIGIN, ["c01"])
    with pytest.raises(UsageError, match="must be the keys of witness_verifiers"):
        attrs.evolve(keys, witness_verifiers=other.witness_verifiers)
    with pytest.raises(UsageError, match="non-empty"):
        attrs.evolve(keys, witnesses=(), witness_verifiers=())


def test_a_publish_hook_that_stores_no_checkpoint_is_refused() -> None:
    calls: list[int] = []

    def forgetful(log: Log, log_key: object, timestamp: int) -> None:
        calls.append(timestamp)

    with pytest.raises(UsageError, match="stored no checkpoint of the whole log"):
        simulate_district(Log(ORIGIN), voters=VOTERS, seed=1, publish=forgetful)
    assert len(calls) == 1 and calls[0] > 0
    with pytest.raises(UsageError, match="publish must be callable"):
        simulate_district(Log(ORIGIN), voters=VOTERS, seed=1, publish=3)  # type: ignore[arg-type]
