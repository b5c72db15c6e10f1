"""Issue 19 step 1 / issue 18 item 6: the public-seed consistent sampler reproduces the published
values of Rivest's consistent_sampler docstrings and of Arlo's sampler snapshot tests."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from electlog.errors import ElectlogError, UsageError
from electlog.rla import sampling
from electlog.rla.sampling import (
    Ticket,
    ballot_id,
    first_fraction,
    next_fraction,
    parse_ballot_id,
    sample,
    sampler,
    sha256_hex,
    sha256_uniform,
    trim,
)

# --- ron-rivest/consistent_sampler docstrings -------------------------------------------------


def test_sha256_helpers_match_the_reference_docstrings() -> None:
    assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert sha256_uniform("abc") == (
        "0.56998071861792858926477341561059638840106636224182943832566300809078486324348"
    )


def test_first_fraction_reference_value() -> None:
    assert first_fraction("AB-130", "01382438112797316654") == (
        "0.26299714122838008416507544297546663599715395525154425586041245287750224561854"
    )


def test_next_fraction_reference_values() -> None:
    assert next_fraction("0.25471") == (
        "0.642853261655004694691182528114375607701032283189922170593838029306715548381901"
    )
    first = "0.26299714122838008416507544297546663599715395525154425586041245287750224561854"
    assert next_fraction(first) == (
        "0.8232357229934205790595761924514048157652891124687533667363938813600770093316"
    )


def test_trim_keeps_digits_after_the_leading_nines() -> None:
    assert trim("0.9991234567890", 4) == "0.9991234"
    assert trim("0.12345", 9) == "0.12345"


def test_without_replacement_reference_order_and_tickets() -> None:
    got = [t.as_tuple() for t in sampler(["ab-1", "ab-2", "cd-1", "ef-3"], "314159")]
    assert got == [
        ("0.317685817", "cd-1", 1),
        ("0.832984519", "ef-3", 1),
        ("0.9098039269", "ab-1", 1),
        ("0.9231549043", "ab-2", 1),
    ]


def test_with_replacement_reference_eight_draws() -> None:
    ids = [
        t.id for t in sampler(["A#2", "B#7", "C#1", "D#4"], "314159", with_replacement=True, take=8)
    ]
    assert ids == ["D#4", "C#1", "C#1", "B#7", "A#2", "C#1", "D#4", "B#7"]


def test_ticket_heap_reference_values() -> None:
    """make_ticket_heap(['dog', 'cat', 'fish', 'goat'], 'xy()134!g2n') in the reference."""
    seed = "xy()134!g2n"
    assert first_fraction("cat", seed) == (
        "0.24866413894129579898796850445568128508290132707747976039848637531569373309555"
    )
    assert first_fraction("goat", seed) == (
        "0.49599842072022713663423753308080171636735689997237236247068925068573448764387"
    )
    assert [t.id for t in sampler(["dog", "cat", "fish", "goat"], seed)] == [
        "cat",
        "dog",
        "goat",
        "fish",
    ]


# --- votingworks/arlo server/tests/audit_math/snapshots/snap_test_sampler.py -----------------

ARLO_SEED = "12345678901234567890abcdefghijklmnopqrstuvwxyz😊"
ARLO_SAMPLE = [
    ("0.000617786129909912", ("pct 2", 3), 1),
    ("0.002991631653037245", ("pct 3", 24), 1),
    ("0.012057030610635061", ("pct 1", 25), 1),
    ("0.017930028930651931", ("pct 4", 19), 1),
    ("0.025599454926985137", ("pct 3", 15), 1),
    ("0.045351055354441163", ("pct 1", 7), 1),
    ("0.063913979803461405", ("pct 1", 8), 1),
    ("0.064553852798863609", ("pct 1", 22), 1),
    ("0.078998835671540970", ("pct 1", 20), 1),
    ("0.090240829778172783", ("pct 3", 12), 1),
    ("0.096136506157297637", ("pct 1", 20), 2),
    ("0.104280162683637014", ("pct 4", 17), 1),
    ("0.108948480696023984", ("pct 1", 25), 2),
    ("0.111195681310332785", ("pct 1", 4), 1),
    ("0.114438612046531251", ("pct 4", 3), 1),
    ("0.130457464320709301", ("pct 2", 1), 1),
    ("0.133484785501449819", ("pct 1", 12), 1),
    ("0.134519219670087860", ("pct 3", 20), 1),
    ("0.135840440920085144", ("pct 3", 10), 1),
    ("0.138772253094235762", ("pct 4", 20), 1),
]
# Arlo passes (batch, position) tuples; the reference sampler hashes str(id).
ARLO_IDS = [str((f"pct {b}", p)) for b in range(1, 5) for p in range(1, 26)]


def _arlo(rows: list[Ticket]) -> list[tuple[str, str, int]]:
    return [t.as_tuple() for t in rows]


def test_arlo_snapshot_twenty_draws_with_replacement() -> None:
    got = sample(ARLO_IDS, ARLO_SEED, 20, with_replacement=True, digits=18)
    assert _arlo(got) == [(n, str(i), g) for n, i, g in ARLO_SAMPLE]
    assert got[0].ticket_number == "0.000617786129909912"
    assert got[0].id == "('pct 2', 3)"
    assert (got[10].ticket_number, got[10].id, got[10].generation) == (
        "0.096136506157297637",
        "('pct 1', 20)",
        2,
    )


def test_arlo_snapshot_ten_then_ten_more_is_the_twenty() -> None:
    first = sample(ARLO_IDS, ARLO_SEED, 10, with_replacement=True, digits=18)
    more = sample(ARLO_IDS, ARLO_SEED, 10, with_replacement=True, drop=10, digits=18)
    assert len(first) == len(more) == 10
    assert _arlo(first + more) == [(n, str(i), g) for n, i, g in ARLO_SAMPLE]


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    ids=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=25, unique=True),
    seed=st.text(max_size=10),
    data=st.data(),
)
def test_consistency_a_subset_keeps_its_relative_order(
    ids: list[str], seed: str, data: st.DataObject
) -> None:
    subset = data.draw(st.lists(st.sampled_from(ids), unique=True))
    full = [t.id for t in sampler(ids, seed)]
    part = [t.id for t in sampler(subset, seed)]
    assert part == [i for i in full if i in set(subset)]
    assert sorted(full) == sorted(ids)


@settings(max_examples=20, deadline=None)
@given(
    ids=st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=8, unique=True),
    seed=st.text(max_size=8),
    k=st.integers(0, 12),
    n=st.integers(0, 12),
)
def test_drop_take_continues_the_same_sequence(ids: list[str], seed: str, k: int, n: int) -> None:
    whole = sample(ids, seed, k + n, with_replacement=True)
    assert (
        sample(ids, seed, k, with_replacement=True)
        + sample(ids, seed, n, with_replacement=True, drop=k)
        == whole
    )
    # each id's ticket numbers grow with its generation
    last: dict[str, str] = {}
    for t in sample(ids, seed, k + n, with_replacement=True, digits=80):
        assert t.ticket_number > last.get(t.id, "0.")
        last[t.id] = t.ticket_number


def test_ballot_ids_round_trip() -> None:
    assert ballot_id("c01-main#2", 17) == "c01-main#2#17"
    assert parse_ballot_id("c01-main#2#17") == ("c01-main#2", 17)
    for bad in ("nobox", "#3", "box#0", "box#03", "box#x", "box#"):
        with pytest.raises(UsageError, match="ballot id"):
            parse_ballot_id(bad)
    with pytest.raises(UsageError, match="position"):
        ballot_id("b", 0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: list(sampler(["a", "a"], "s")), "appears twice"),
        (lambda: list(sampler(["a", 3], "s")), "every id must be a str"),  # type: ignore[list-item]
        (lambda: list(sampler(["a"], 5)), "seed must be a str"),  # type: ignore[arg-type]
        (lambda: list(sampler(["a"], "s", drop=-1)), "drop"),
        (lambda: list(sampler(["a"], "s", take=1.5)), "take"),
        (lambda: list(sampler(["a"], "s", digits=0)), "digits"),
        (lambda: list(sampler(None, "s")), "iterable"),  # type: ignore[arg-type]
        (lambda: next_fraction("1.5"), "ticket number"),
        (lambda: sample(["a"], "s", -1), "size"),
    ],
)
def test_bad_input_raises_usage_error(call: object, match: str) -> None:
    with pytest.raises(ElectlogError, match=match):
        call()  # type: ignore[operator]


def test_module_depends_on_the_standard_library_and_errors_only() -> None:
    """The election layer imports the sampler: it must not pull in anything above it."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(sampling.__file__).read_text(encoding="utf-8"))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert {m for m in imported if m.startswith("electlog")} == {"electlog.errors"}


def test_importing_the_sampler_does_not_import_the_election_layer() -> None:
    import subprocess
    import sys

    code = (
        "import sys, electlog.rla.sampling\n"
        "assert not any(m.startswith('electlog.election') for m in sys.modules), "
        "sorted(m for m in sys.modules if m.startswith('electlog'))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_hashing_a_non_text_or_unencodable_id_is_a_usage_error() -> None:
    for bad in (None, b"ab-1", 7):
        with pytest.raises(UsageError, match="must be a str"):
            sampling.sha256_hex(bad)  # type: ignore[arg-type]
        with pytest.raises(UsageError, match="must be a str"):
            sampling.sha256_uniform(bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="not valid Unicode"):
        sampling.sha256_hex("ab-\ud800")
