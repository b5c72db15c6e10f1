"""docs/election.md and the code agree: every rule code with its parameter, every event type
with its signer role and fields; every code the rules raise is a documented RULES entry."""

from __future__ import annotations

import re
from pathlib import Path

from electlog.election import codes
from electlog.election.codes import RULES
from electlog.election.events import EVENT_TYPES
from electlog.election.state import SIGNER_ROLES

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "election.md").read_text(encoding="utf-8")
DOMAIN = DOC[DOC.index("<!-- section:domain") : DOC.index("<!-- /section:domain -->")]
STATE_SRC = "\n".join(
    p.read_text(encoding="utf-8")
    for p in sorted((ROOT / "src" / "electlog" / "election" / "state").glob("*.py"))
)


def _rows(first_cell: str, header: str | None = None) -> dict[str, list[str]]:
    """Table rows of the domain section whose first cell is a backticked name (only of the
    table whose header line starts with ``header``, if given)."""
    out = {}
    inside = header is None
    for line in DOMAIN.splitlines():
        if header is not None and line.startswith("| "):
            if line.startswith(header):
                inside = True
                continue
            if not line.startswith("| `") and not line.startswith("|-"):
                inside = False
        elif header is not None and not line.startswith("|"):
            inside = False
        m = re.match(r"^\| `([^`]+)` \|(.*)\|$", line)
        if inside and m and re.fullmatch(first_cell, m.group(1)):
            out[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return out


def test_every_rule_code_is_documented_with_its_parameter_and_kind() -> None:
    rows = _rows(r"[a-z_]+\.[a-z_]+")
    for code, info in RULES.items():
        assert code in rows, f"{code} missing from docs/election.md"
        kind, parameter, summary = rows[code][:3]
        assert kind == info.kind, code
        want = (
            "—"
            if info.parameter is None
            else ", ".join(f"`{p.strip()}`" for p in info.parameter.split(","))
        )
        assert parameter == want, code
        assert summary == info.summary, code


def test_every_raised_code_is_a_rule() -> None:
    used = set(re.findall(r"\bC\.([A-Z_]+)\b", STATE_SRC))
    assert len(used) > 40
    values = {getattr(codes, name) for name in used}
    assert values <= set(RULES), sorted(values - set(RULES))
    # and every code constant of codes.py is in the table
    constants = {getattr(codes, n) for n in codes.__all__ if n.isupper() and n != "RULES"}
    assert constants == set(RULES)
    # the codes not raised by check are exactly the void/finding ones
    not_raised = set(RULES) - values
    assert not_raised == {c for c, r in RULES.items() if r.kind != "violation"}


def test_every_event_type_is_documented_with_role_and_fields() -> None:
    index = _rows(r"[a-z_]+\.[a-z_]+", "| type | class | signer role |")
    bodies = _rows(r"[a-z_]+\.[a-z_]+", "| type | fields |")
    assert set(index) == set(bodies) == set(EVENT_TYPES)
    for name, cls in EVENT_TYPES.items():
        role = index[name][1]
        assert role == ", ".join(str(r) for r in SIGNER_ROLES[cls]), name
        documented = re.findall(r"`([a-z_]+)` \(", bodies[name][0])
        assert documented == [f for f, _ in cls._FIELDS], name
