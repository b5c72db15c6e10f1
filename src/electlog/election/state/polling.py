"""Polling: proxies, observers, polling units, ballot boxes and ballots (issued at a unit,
recorded from a box)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import codes as C
from ..events import (
    AnyProxyAuthorised,
    BallotIssued,
    BallotRecorded,
    BoxMerged,
    BoxOpened,
    BoxSealed,
    BoxTransferred,
    ObserverAccredited,
    ProxyAuthorised,
    ProxyAuthorisedV2,
    ProxyListPublished,
    UnitClosed,
    UnitOpened,
)
from ..rules import ElectionMode
from ._base import EventContext, _effective_marks, _violation, _writeins_registered, applies, checks
from ._model import BoxState, CommunityState, UnitState
from .audit_board import note_ballot

if TYPE_CHECKING:
    from ._state import ElectionState


def _proxy_row(p: AnyProxyAuthorised) -> list[Any]:
    if isinstance(p, ProxyAuthorisedV2):  # minimal: the relationship and attestation committed
        return [p.principal, p.proxy, p.c_rel, p.c_attestation]
    return [p.principal, p.proxy, p.relationship, p.attestation]


def _proxy_data(cs: CommunityState) -> list[list[Any]]:
    return [_proxy_row(p) for p in sorted(cs.proxies.values(), key=lambda p: p.principal)]


# ------------------------------------------------------------------ proxies


@checks(ProxyAuthorisedV2)
def _check_proxy_v2(st: ElectionState, ctx: EventContext, ev: ProxyAuthorisedV2) -> None:
    _check_proxy(st, ctx, ev)


@checks(ProxyAuthorised)
def _check_proxy(st: ElectionState, ctx: EventContext, ev: AnyProxyAuthorised) -> None:
    cs = st.communities[ev.community]
    if cs.roll_day is None:
        raise _violation(C.PHASE_OUT_OF_WINDOW, "proxy before the roll is published", ev.principal)
    if cs.proxy_list_published:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW, "proxy after the proxy list is published", ev.principal
        )
    for who in (ev.principal, ev.proxy):
        if who not in cs.roll:
            raise _violation(
                C.PROXY_NOT_REGISTERED, f"not a registered voter of {ev.community}", who
            )
    if ev.principal == ev.proxy:
        raise _violation(C.PROXY_NOT_REGISTERED, "a voter cannot be their own proxy", ev.proxy)
    if ev.proxy in cs.proxies:
        raise _violation(C.PROXY_NOT_REGISTERED, "the proxy gave a proxy themselves", ev.proxy)
    if ev.principal in cs.principals_of:
        raise _violation(
            C.PROXY_NOT_REGISTERED, "the principal holds proxies for others", ev.principal
        )
    if isinstance(ev, ProxyAuthorisedV2):  # the relationship itself is committed (c_rel)
        if not ev.close_relative:
            raise _violation(
                C.PROXY_NOT_CLOSE_RELATIVE,
                "the committee does not state that the proxy is a close relative",
                ev.principal,
                ev.proxy,
            )
    elif ev.relationship not in st.rules.proxy_relationships:
        raise _violation(
            C.PROXY_NOT_CLOSE_RELATIVE,
            f"relationship {ev.relationship!r} is not a close relative",
            ev.principal,
            ev.proxy,
        )
    if ev.principal in cs.proxies:
        raise _violation(C.REF_DUPLICATE, "principal already gave a proxy", ev.principal)
    if ev.principal in cs.voted:
        raise _violation(
            C.PROXY_PRINCIPAL_VOTED,
            "the principal has already been issued a ballot",
            ev.principal,
        )
    held = cs.principals_of.get(ev.proxy, set())
    if len(held) >= st.rules.proxy_cap:
        raise _violation(
            C.PROXY_CAP_EXCEEDED,
            f"proxy already holds {len(held)} principal(s), cap {st.rules.proxy_cap}",
            ev.proxy,
            ev.principal,
        )


@applies(ProxyAuthorisedV2)
def _apply_proxy_v2(st: ElectionState, ctx: EventContext, ev: ProxyAuthorisedV2) -> None:
    _apply_proxy(st, ctx, ev)


@applies(ProxyAuthorised)
def _apply_proxy(st: ElectionState, ctx: EventContext, ev: AnyProxyAuthorised) -> None:
    cs = st.communities[ev.community]
    if ev.principal in cs.proxies:
        return
    cs.proxies[ev.principal] = ev
    cs.principals_of.setdefault(ev.proxy, set()).add(ev.principal)


@checks(ProxyListPublished)
def _check_proxy_list(st: ElectionState, ctx: EventContext, ev: ProxyListPublished) -> None:
    cs = st.communities[ev.community]
    if cs.proxy_list_published:
        raise _violation(C.REF_DUPLICATE, "proxy list already published", ev.community)
    want = st.proxy_hash(ev.community)
    if ev.count != len(cs.proxies) or ev.list_hash != want:
        raise _violation(
            C.PROXY_LIST_MISMATCH,
            f"published {ev.count} proxies / hash {ev.list_hash.hex()[:16]}…, replayed "
            f"{len(cs.proxies)} / {want.hex()[:16]}…",
            ev.community,
        )


@applies(ProxyListPublished)
def _apply_proxy_list(st: ElectionState, ctx: EventContext, ev: ProxyListPublished) -> None:
    st.communities[ev.community].proxy_list_published = True


# ------------------------------------------------------------------ units and boxes


def _check_observers(
    st: ElectionState, cs: CommunityState, observers: tuple[str, ...], what: str
) -> None:
    distinct = set(observers)
    if len(distinct) < st.rules.min_observers:
        raise _violation(
            C.UNIT_OBSERVERS,
            f"{what}: {len(distinct)} distinct observer(s), {st.rules.min_observers} needed",
            what,
        )
    bad = sorted(o for o in distinct if o in cs.candidates)
    if bad:
        raise _violation(C.UNIT_OBSERVER_IS_CANDIDATE, f"{what}: an observer is a candidate", *bad)
    strangers = sorted(o for o in distinct if o not in cs.observers)
    if strangers:
        raise _violation(
            C.OBSERVER_NOT_ACCREDITED,
            f"{what}: observer(s) not accredited in {cs.community}",
            *strangers,
        )


@checks(ObserverAccredited)
def _check_observer_accredited(
    st: ElectionState, ctx: EventContext, ev: ObserverAccredited
) -> None:
    cs = st.communities[ev.community]
    if ev.observer in cs.observers:
        raise _violation(C.REF_DUPLICATE, "observer already accredited", ev.observer)
    if ev.observer in cs.candidates:
        raise _violation(
            C.UNIT_OBSERVER_IS_CANDIDATE, "a candidate cannot be an observer", ev.observer
        )


@applies(ObserverAccredited)
def _apply_observer_accredited(
    st: ElectionState, ctx: EventContext, ev: ObserverAccredited
) -> None:
    st.communities[ev.community].observers.setdefault(ev.observer, ev.organisation)


@checks(UnitOpened)
def _check_unit_opened(st: ElectionState, ctx: EventContext, ev: UnitOpened) -> None:
    cs = st.communities[ev.community]
    if ev.unit in st.units:
        raise _violation(C.REF_DUPLICATE, "unit id already used", ev.unit)
    rs = cs.rounds.get(ev.round)
    if rs is None:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW,
            f"round {ev.round} of {ev.community} has no candidate list / was not called",
            ev.unit,
        )
    if rs.declared is not None:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW, f"round {ev.round} result already declared", ev.unit
        )
    if ev.round == 1 and st.local_day(ctx.time) < st.election_day:
        raise _violation(C.PHASE_OUT_OF_WINDOW, "unit opened before election day", ev.unit)
    if not cs.proxy_list_published:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW,
            "voting before the community's proxy list is published",
            ev.unit,
        )
    _counting_not_begun(st, ev.community, ev.round, "unit.opened", ev.unit)
    _check_observers(st, cs, ev.observers, ev.unit)
    busy = sorted(o for o in set(ev.observers) if o in cs.observing)
    if busy:
        raise _violation(
            C.OBSERVER_BUSY,
            f"{ev.unit}: observer(s) already at open unit {cs.observing[busy[0]]}",
            *busy,
        )


@applies(UnitOpened)
def _apply_unit_opened(st: ElectionState, ctx: EventContext, ev: UnitOpened) -> None:
    if ev.unit in st.units:
        return
    rs = st.communities[ev.community].rounds.get(ev.round)
    if rs is None:
        return
    st.units[ev.unit] = UnitState(ev, ctx.index)
    rs.units.append(ev.unit)
    observing = st.communities[ev.community].observing
    for o in ev.observers:
        observing.setdefault(o, ev.unit)


def _open_unit(st: ElectionState, unit_id: str, what: str) -> UnitState:
    unit = st.units[unit_id]  # existence checked by _scope_of
    if unit.closed:
        raise _violation(C.UNIT_NOT_OPEN, f"{what} at a closed unit", unit_id)
    return unit


@checks(UnitClosed)
def _check_unit_closed(st: ElectionState, ctx: EventContext, ev: UnitClosed) -> None:
    _open_unit(st, ev.unit, "unit.closed")


@applies(UnitClosed)
def _apply_unit_closed(st: ElectionState, ctx: EventContext, ev: UnitClosed) -> None:
    unit = st.units.get(ev.unit)
    if unit is not None and not unit.closed:
        unit.closed = True
        observing = st.communities[unit.community].observing
        for o in unit.observers:
            if observing.get(o) == unit.unit:
                del observing[o]


def _counting_not_begun(
    st: ElectionState, community: str, number: int, what: str, *ids: str
) -> None:
    """Phases by log order: once a round's first box is opened, nothing more is issued,
    opened or sealed for that round, whatever time an event claims."""
    rs = st.communities[community].rounds.get(number)
    if rs is not None and rs.counting_at is not None:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW,
            f"{what}: counting of {community} round {number} began at entry {rs.counting_at}",
            *ids,
        )


@checks(BoxSealed)
def _check_box_sealed(st: ElectionState, ctx: EventContext, ev: BoxSealed) -> None:
    unit = _open_unit(st, ev.unit, "box.sealed")
    _counting_not_begun(st, unit.community, unit.round, "box.sealed", ev.box)
    if ev.box in st.boxes:
        raise _violation(C.BOX_SEQUENCE, "box already sealed", ev.box)


@applies(BoxSealed)
def _apply_box_sealed(st: ElectionState, ctx: EventContext, ev: BoxSealed) -> None:
    unit = st.units.get(ev.unit)
    if unit is not None and ev.box not in st.boxes:
        st.boxes[ev.box] = BoxState(ev.box, ev.unit)
        unit.boxes.append(ev.box)


@checks(BoxTransferred)
def _check_box_transferred(st: ElectionState, ctx: EventContext, ev: BoxTransferred) -> None:
    box = st.boxes[ev.box]
    if box.opened:
        raise _violation(C.BOX_SEQUENCE, "an opened box cannot be transferred", ev.box)
    if box.merged_into is not None:
        raise _violation(
            C.BOX_SEQUENCE, f"box was merged into {box.merged_into}; it holds nothing", ev.box
        )
    to = st.units.get(ev.to_unit)
    origin = st.units[box.unit]
    if to is None or to.community != origin.community or to.round != origin.round:
        raise _violation(C.REF_UNKNOWN, "no unit of the same community and round", ev.to_unit)


@applies(BoxTransferred)
def _apply_box_transferred(st: ElectionState, ctx: EventContext, ev: BoxTransferred) -> None:
    box = st.boxes.get(ev.box)
    if box is not None and ev.to_unit in st.units:
        box.custody = ev.to_unit


@checks(BoxMerged)
def _check_box_merged(st: ElectionState, ctx: EventContext, ev: BoxMerged) -> None:
    box = st.boxes[ev.box]  # existence checked by _scope_of
    into = st.boxes.get(ev.into)
    if into is None:
        raise _violation(C.REF_UNKNOWN, "box.merged: unknown target box", ev.into)
    if ev.box == ev.into:
        raise _violation(C.BOX_SEQUENCE, "a box cannot be merged into itself", ev.box)
    for b in (box, into):
        if b.opened:
            raise _violation(C.BOX_SEQUENCE, "an opened box cannot be merged", b.box)
        if b.merged_into is not None:
            raise _violation(C.BOX_SEQUENCE, "box already merged into another", b.box)
    unit = st.units[box.unit]
    if not unit.closed:
        raise _violation(
            C.BOX_SEQUENCE, f"box merged while its unit {unit.unit} is still open", ev.box
        )
    target = st.units[into.unit]
    if target.community != unit.community or target.round != unit.round:
        raise _violation(
            C.BOX_SEQUENCE, "boxes of different communities or rounds", ev.box, ev.into
        )


@applies(BoxMerged)
def _apply_box_merged(st: ElectionState, ctx: EventContext, ev: BoxMerged) -> None:
    box = st.boxes.get(ev.box)
    into = st.boxes.get(ev.into)
    if box is None or into is None or box is into or box.merged_into is not None:
        return
    box.merged_into = ev.into
    batch = into.batch
    for u in box.batch:
        if u not in batch:
            batch.append(u)


@checks(BoxOpened)
def _check_box_opened(st: ElectionState, ctx: EventContext, ev: BoxOpened) -> None:
    box = st.boxes[ev.box]
    if box.opened:
        raise _violation(C.BOX_SEQUENCE, "box already opened", ev.box)
    if box.merged_into is not None:
        raise _violation(
            C.BOX_SEQUENCE, f"box was merged into {box.merged_into}; it is never opened", ev.box
        )
    unit = st.units[box.unit]
    if not unit.closed:
        raise _violation(
            C.BOX_SEQUENCE, f"box opened while its unit {unit.unit} is still open", ev.box
        )
    _check_observers(st, st.communities[unit.community], ev.observers, ev.box)
    issued = st.batch_issued(ev.box)
    if issued < st.rules.min_count_batch:
        raise _violation(
            C.BOX_SMALL_BATCH,
            f"{issued} ballot(s) issued into the counting batch of {ev.box} "
            f"(units {', '.join(sorted(box.batch))}), fewer than "
            f"{st.rules.min_count_batch}: merge it into another box first",
            ev.box,
        )


@applies(BoxOpened)
def _apply_box_opened(st: ElectionState, ctx: EventContext, ev: BoxOpened) -> None:
    box = st.boxes.get(ev.box)
    if box is not None:
        box.opened = True
        unit = st.units[box.unit]
        rs = st.communities[unit.community].rounds.get(unit.round)
        if rs is not None and rs.counting_at is None:
            rs.counting_at = ctx.index


# ------------------------------------------------------------------ ballots


@checks(BallotIssued)
def _check_ballot_issued(st: ElectionState, ctx: EventContext, ev: BallotIssued) -> None:
    unit = _open_unit(st, ev.unit, "ballot.issued")
    _counting_not_begun(st, unit.community, unit.round, "ballot.issued", ev.unit, ev.voter)
    cs = st.communities[unit.community]
    rs = cs.rounds[unit.round]
    principal = ev.voter
    if ev.proxy_for is not None:
        principal = ev.proxy_for
        auth = cs.proxies.get(principal)
        if auth is None or auth.proxy != ev.voter:
            raise _violation(
                C.PROXY_NOT_AUTHORISED,
                "no proxy authorisation of this voter for this principal",
                ev.voter,
                principal,
            )
    elif principal in cs.proxies:
        raise _violation(
            C.PROXY_PRINCIPAL_VOTED,
            f"gave a proxy to {cs.proxies[principal].proxy}; cannot vote in person",
            principal,
        )
    reg = cs.roll.get(principal)
    if reg is None:
        raise _violation(C.BALLOT_NOT_REGISTERED, f"not on the roll of {unit.community}", principal)
    if ev.proxy_for is not None and ev.voter not in cs.roll:
        raise _violation(
            C.BALLOT_NOT_REGISTERED, f"proxy not on the roll of {unit.community}", ev.voter
        )
    if cs.mode == ElectionMode.GROUP_REP and principal not in cs.entitled:
        raise _violation(C.BALLOT_NOT_ENTITLED, "not an elected group representative", principal)
    if principal in rs.issued_voters:
        raise _violation(
            C.BALLOT_DUPLICATE_ISSUE,
            f"already issued a ballot in round {unit.round}",
            principal,
        )
    if cs.mode == ElectionMode.HOUSEHOLD_REP:
        key = (reg.group, reg.household)
        if rs.issued_households.get(key, 0) >= st.rules.household_ballots:
            raise _violation(
                C.HOUSEHOLD_DUPLICATE_BALLOT,
                f"household already received its ballot in round {unit.round}",
                reg.household,
                principal,
            )


@applies(BallotIssued)
def _apply_ballot_issued(st: ElectionState, ctx: EventContext, ev: BallotIssued) -> None:
    unit = st.units.get(ev.unit)
    if unit is None:
        return
    cs = st.communities[unit.community]
    rs = cs.rounds[unit.round]
    principal = ev.proxy_for if ev.proxy_for is not None else ev.voter
    if rs.registered is None:
        rs.registered = st.electorate(cs.community)
    if cs.frozen_at is None:
        cs.frozen_at = ctx.index
    unit.issued += 1
    rs.issued += 1
    rs.issued_voters.add(principal)
    cs.voted.add(principal)
    reg = cs.roll.get(principal)
    if reg is not None and cs.mode == ElectionMode.HOUSEHOLD_REP:
        key = (reg.group, reg.household)
        rs.issued_households[key] = rs.issued_households.get(key, 0) + 1


@checks(BallotRecorded)
def _check_ballot_recorded(st: ElectionState, ctx: EventContext, ev: BallotRecorded) -> None:
    box = st.boxes[ev.box]
    if not box.opened:
        raise _violation(C.BOX_SEQUENCE, "ballot recorded from a box not opened", ev.box)
    unit = st.units[box.unit]
    rs = st.communities[unit.community].rounds[unit.round]
    if rs.declared is not None:
        raise _violation(
            C.PHASE_OUT_OF_WINDOW, f"round {unit.round} result already declared", ev.box
        )
    if ev.serial in rs.serials:
        raise _violation(
            C.BALLOT_DUPLICATE_SERIAL, "ballot serial already recorded", ev.serial.hex()
        )
    _writeins_registered(ev.marks, st.communities[unit.community].roll.__contains__)


@applies(BallotRecorded)
def _apply_ballot_recorded(st: ElectionState, ctx: EventContext, ev: BallotRecorded) -> None:
    box = st.boxes.get(ev.box)
    if box is None:
        return
    unit = st.units[box.unit]
    cs = st.communities[unit.community]
    rs = cs.rounds[unit.round]
    roll = cs.roll
    marks, voided = _effective_marks(ev.marks, roll.__contains__)
    rs.void_writeins += voided
    rs.tally.add(marks)
    rs.serials.add(ev.serial)
    box.recorded += 1
    note_ballot(st, ctx, ev.box, marks)
    unit.recorded += 1
