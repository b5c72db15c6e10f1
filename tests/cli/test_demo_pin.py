"""The demo bundle pinned byte for byte (issue 14: behaviour does not change).

A small simulated district (the smallest the simulator builds with its default shape: 19
communities, 1,140 voters) is built through the library API with a key set made from fixed
seeds inside this test, exported as a bundle, and the SHA-256 of the bundle and of the trust
file are compared with the values recorded here. Any change to an event's encoding, to the
admission rules' outcome (an event refused or accepted differently changes the log), to the
simulator's choices, to the checkpoints or to the bundle format changes a hash.

If a hash changes on purpose (a deliberate format or rule change), say so in the commit and
update the constant; a refactor must leave both unchanged.

Two pins: ``full`` (the values recorded before public profiles existed, unchanged since: a
``full`` log is still written byte for byte as the previous versions wrote it) and
``minimal`` (the default profile of new elections, with the audit board's eligibility
sample).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from electlog.audit import Trust
from electlog.checkpoint import NoteSigner, WitnessSigner
from electlog.keys import SigningKey
from electlog.log import Log
from electlog.publish.bundle import export_bundle
from electlog.simulate import (
    ROLES,
    WITNESS_NAMES,
    DistrictConfig,
    SimulationKeys,
    SimulationResult,
    simulate_district,
)
from electlog.store.memory import MemoryStore

SEED = 1
VOTERS = 1140
ORIGIN = "district.example/pin"
PINS = {
    # profile: (entries, bundle SHA-256, trust file SHA-256)
    "full": (
        5254,
        "23ca6b71a2e389690603172bfb811ae505c9d9eee2cad4891aeed99dd0b0b2b7",
        "a61571d914d50b9e2a1d6255f6b43ba31086cc870be48bf075c83808e703054c",
    ),
    "minimal": (
        5257,
        "d4e43e2a8bdd704c49d904355c5879f3eeadcdc932a937e40ae12b4772f90ffc",
        "a61571d914d50b9e2a1d6255f6b43ba31086cc870be48bf075c83808e703054c",
    ),
}


def _fixed(label: str) -> bytes:
    """32 bytes fixed by ``label`` (test keys only: public, so never for a real election)."""
    return hashlib.sha256(b"electlog-test/demo-pin/" + label.encode("utf-8")).digest()


def pinned_keys(config: DistrictConfig) -> SimulationKeys:
    """The key set of the pinned district, every key from a fixed seed (not the CSPRNG)."""
    return SimulationKeys(
        authority=SigningKey.from_seed(_fixed("authority")),
        log=NoteSigner.generate(config.origin, rng_seed=_fixed("log")),
        witnesses=tuple(WitnessSigner.generate(n, rng_seed=_fixed(n)) for n in WITNESS_NAMES),
        roles={
            f"{cid}/{role.value}": SigningKey.from_seed(_fixed(f"{cid}/{role.value}"))
            for cid in config.community_ids
            for role in ROLES
        },
        dedup_secret=_fixed("dedup"),
        salt_secret=_fixed("salt"),
        audit_board=SigningKey.from_seed(_fixed("audit_board")),
    )


def build_pinned(bundle: Path, profile: str = "full") -> tuple[Log, SimulationResult, str]:
    """Build the pinned district under ``profile`` into memory, export it to ``bundle``;
    return the log, the simulation result and the trust file's JSON text."""
    config = DistrictConfig.scaled(VOTERS, origin=ORIGIN)
    log = Log(MemoryStore(config.origin))
    result = simulate_district(
        log, seed=SEED, config=config, keys=pinned_keys(config), profile=profile
    )
    export_bundle(log, bundle)
    trust = Trust.create(**result.trust_fields())  # type: ignore[arg-type]
    return log, result, trust.to_json()


@pytest.mark.parametrize("profile", ["full", "minimal"])
def test_demo_bundle_and_trust_file_are_byte_identical(tmp_path: Path, profile: str) -> None:
    bundle = tmp_path / "election.bundle"
    _, result, trust_json = build_pinned(bundle, profile)
    PINNED_SIZE, PINNED_BUNDLE_SHA256, PINNED_TRUST_SHA256 = PINS[profile]
    bundle_hash = hashlib.sha256(bundle.read_bytes()).hexdigest()
    trust_hash = hashlib.sha256(trust_json.encode("utf-8")).hexdigest()
    changed = []
    if result.size != PINNED_SIZE:
        changed.append(f"the log has {result.size} entries, pinned {PINNED_SIZE}")
    if bundle_hash != PINNED_BUNDLE_SHA256:
        changed.append(f"bundle SHA-256 {bundle_hash}, pinned {PINNED_BUNDLE_SHA256}")
    if trust_hash != PINNED_TRUST_SHA256:
        changed.append(f"trust file SHA-256 {trust_hash}, pinned {PINNED_TRUST_SHA256}")
    assert not changed, (
        f"the pinned demo election ({profile} profile, seed {SEED}, {VOTERS} voters, fixed "
        "keys) changed: "
        + "; ".join(changed)
        + ". A refactor must not change the log; if this change is deliberate (a format or "
        "rule change), say so in the commit and update the pinned values in this test."
    )


def test_pinned_keys_are_fixed_not_random() -> None:
    """The pin is only a pin if the keys are the same on every run."""
    config = DistrictConfig.scaled(VOTERS, origin=ORIGIN)
    a, b = pinned_keys(config), pinned_keys(config)
    assert a.authority.key_id == b.authority.key_id
    assert a.log.name == ORIGIN
    assert [w.name for w in a.witnesses] == list(WITNESS_NAMES)
    assert {k: v.key_id for k, v in a.roles.items()} == {k: v.key_id for k, v in b.roles.items()}
    assert len(a.roles) == len(config.community_ids) * len(ROLES)
