"""The layout of the state package (issue 14 item 2): every event type has exactly one check
and one apply registered, every projection exactly one hashed data function, an unknown
projection raises, and no module of the package is over ~600 lines."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from electlog.election.events import EVENT_SCHEMAS, EVENT_TYPES, KeyAuthorised
from electlog.election.facade import log_events
from electlog.election.scenario import build_small_election
from electlog.election.state import SIGNER_ROLES, ElectionState
from electlog.election.state._base import HANDLERS, applies, checks
from electlog.election.state.hashing import PROJECTIONS, projection, projection_data
from electlog.errors import UsageError

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "electlog" / "election" / "state"
MAX_LINES = 600


def test_every_event_type_has_one_check_and_one_apply() -> None:
    assert set(HANDLERS) == set(EVENT_SCHEMAS.values()) == set(SIGNER_ROLES)
    for etype, handler in HANDLERS.items():
        assert handler.type is etype
        assert handler.complete, etype.__name__


def test_a_second_handler_for_a_type_is_refused() -> None:
    def again(st: object, ctx: object, ev: object) -> None:
        raise AssertionError("never registered")

    before = (HANDLERS[KeyAuthorised].check, HANDLERS[KeyAuthorised].apply)
    with pytest.raises(UsageError, match="two check handlers"):
        checks(KeyAuthorised)(again)
    with pytest.raises(UsageError, match="two apply handlers"):
        applies(KeyAuthorised)(again)
    assert (HANDLERS[KeyAuthorised].check, HANDLERS[KeyAuthorised].apply) == before


def test_projection_registry_is_explicit() -> None:
    assert ElectionState.PROJECTIONS == PROJECTIONS
    with pytest.raises(UsageError, match="registered twice"):
        projection("keys")(lambda st: None)
    with pytest.raises(UsageError, match="not in PROJECTIONS"):
        projection("ballots")(lambda st: None)


def test_unknown_projection_raises_instead_of_falling_through() -> None:
    log, keys, _ = build_small_election(origin="test.example/state-package")
    state = ElectionState.rebuild(keys.authority.key_id, log_events(log))
    hashes = state.state_hashes()
    assert list(hashes) == list(PROJECTIONS)
    for name in PROJECTIONS:
        assert state.state_hash(name) == hashes[name]
    for bad in ("result", "", "Results", "ballots"):
        with pytest.raises(UsageError, match="unknown projection"):
            state.state_hash(bad)
        with pytest.raises(UsageError, match="unknown projection"):
            projection_data(state, bad)


def test_no_module_of_the_package_is_over_600_lines() -> None:
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.glob("*.py")}
    assert len(sizes) >= 10
    assert not {n: s for n, s in sizes.items() if s > MAX_LINES}, sizes


DESIGN = (PACKAGE.parent.parent.parent.parent / "docs" / "design.md").read_text(encoding="utf-8")
PARTITION = DESIGN[DESIGN.index("#### The state's partition") :]


def test_the_documented_partition_covers_every_event_and_names_real_state() -> None:
    """docs/design.md's partition: the district events are exactly those that name no
    community, unit or box; every other event type belongs to one community; the district
    part's attributes exist on the state."""
    district_bullet = PARTITION[PARTITION.index("- **District part.**") :]
    district_bullet = district_bullet[: district_bullet.index("- **Community part**")]
    events_line = district_bullet[district_bullet.index("Events of the district part:") :]
    documented = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", events_line))
    scoped = {"community", "unit", "box"}
    district = {
        name
        for name, etype in EVENT_TYPES.items()
        if not scoped & {f.name for f in attrs.fields(etype)}
    }
    assert documented == district
    state = ElectionState(bytes(32))
    attributes = set(re.findall(r"`([a-z_]+)`", district_bullet[: district_bullet.index("Events")]))
    assert len(attributes) >= 10
    assert not {a for a in attributes if not hasattr(state, a)}, attributes
