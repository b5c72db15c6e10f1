"""Reading the golden vectors of docs/format.md (tables and text blocks) and of their JSON copies
in tests/vectors/electlog/ (what another implementation loads; see the README there)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FORMAT_MD = ROOT / "docs" / "format.md"
VECTORS = ROOT / "tests" / "vectors" / "electlog"


def _rows(table: str) -> list[list[str]]:
    """The body rows of a Markdown table, cells stripped of spaces and backticks."""
    rows = []
    for line in table.strip().splitlines():
        if not line.startswith("|") or re.fullmatch(r"\|[\s|:-]+\|", line):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append([c[1:-1] if c.startswith("`") and c.endswith("`") else c for c in cells])
    return rows[1:]  # the header row


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n### ", start + len(heading))
    return text[start : end if end != -1 else len(text)]


def _codec_rows(text: str, heading: str) -> list[list[str]]:
    section = _section(text, heading)
    table = "\n".join(line for line in section.splitlines() if line.startswith("|"))
    return _rows(table)


def read_format_md() -> dict[str, Any]:
    """Every golden vector of docs/format.md, in the shape of the JSON files."""
    text = FORMAT_MD.read_text(encoding="utf-8")
    out: dict[str, Any] = {}

    out["codec"] = {
        "accepted": [{"python": v, "hex": h} for v, h in _codec_rows(text, "### 1.6 ")],
        "rejected": [
            {"hex": h, "error": e, "offset": int(o)} for h, e, o in _codec_rows(text, "### 1.7 ")
        ],
    }

    events = re.search(r"<!-- vectors:events -->(.*?)<!-- /vectors:events -->", text, re.S)
    assert events is not None
    out["events"] = {"outputs": {name: value for name, value in _rows(events.group(1))}}

    merkle: dict[str, Any] = {"inclusion": [], "consistency": []}
    for marker in re.finditer(r"<!-- vectors:(merkle-[\w-]+)((?: \w+=\d+)*) -->\n", text):
        params = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", marker.group(2))}
        table = text[marker.end() :].split("\n\n", 1)[0]
        rows = _rows(table)
        kind = marker.group(1)
        if kind == "merkle-leaves":
            merkle["leaves"] = [{"data": d, "hash": h} for _, d, h in rows]
        elif kind == "merkle-roots":
            merkle["roots"] = [{"size": int(s), "root": r} for s, r in rows]
        elif kind == "merkle-inclusion":
            merkle["inclusion"].append({**params, "proof": [h for _, h in rows]})
        else:
            merkle["consistency"].append({**params, "proof": [h for _, h in rows]})
    out["merkle"] = merkle

    blocks = re.finditer(r"Vector `checkpoint\.([\w-]+)`:\n\n```text\n(.*?)```", text, re.S)
    out["checkpoint"] = {"outputs": {name: value for name, value in ((m[1], m[2]) for m in blocks)}}

    bundle = re.search(r"### 5\.3 Vector: the empty bundle.*?```text\n(.*?)```", text, re.S)
    assert bundle is not None
    out["bundle"] = {"empty": {"parts": bundle.group(1).split()}}
    return out


def read_json(name: str) -> dict[str, Any]:
    data = json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data
