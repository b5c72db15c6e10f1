"""docs/auditing.md documents every finding code the auditor can report, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from electlog.audit import FINDINGS, all_codes, finding_info
from electlog.audit import findings as F
from electlog.audit.trust import TRUST_FORMAT, Trust

DOCS = Path(__file__).resolve().parents[2] / "docs" / "auditing.md"
ROW = re.compile(r"^\|\s*`([a-z_.]+)`\s*\|\s*(error|warning|info)\s*\|", re.MULTILINE)


def _documented() -> dict[str, str]:
    return {m.group(1): m.group(2) for m in ROW.finditer(DOCS.read_text(encoding="utf-8"))}


def test_every_code_is_documented_with_its_severity() -> None:
    documented = _documented()
    for code in all_codes():
        assert code in documented, f"{code} is missing from docs/auditing.md"
        assert documented[code] == finding_info(code).severity.value, code


def test_no_documented_code_is_stale() -> None:
    assert set(_documented()) == set(all_codes())


def test_every_fixed_code_is_a_constant_with_a_meaning() -> None:
    constants = {
        value for name, value in vars(F).items() if name.isupper() and isinstance(value, str)
    }
    assert set(FINDINGS) <= constants
    for code, info in FINDINGS.items():
        assert info.code == code and info.meaning and "." in code


def test_trust_file_fields_are_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    example = Trust.from_json(text[text.index('{\n  "format"') : text.index("}\n```") + 1])
    assert example.to_dict()["format"] == TRUST_FORMAT
    for field in example.to_dict():
        assert f"| `{field}` |" in text
