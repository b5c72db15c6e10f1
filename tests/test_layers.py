"""The package layout as contracts: import-linter runs the ``[tool.importlinter]`` contracts of
pyproject.toml over the package (layers, imports pointing down only; the log core without the
optional extras), and docs/design.md's picture is checked to be the same layers, row for row.

A copy of the package with an upward import and an unlisted top-level module shows that the
contracts do catch both.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
SRC = ROOT / "src" / "electlog"

_RUN = (
    "import sys\n"
    "from importlinter.cli import lint_imports\n"
    "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))\n"
)


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _picture_rows() -> list[str]:
    """The first column of the text block under docs/design.md's "Package layout" heading."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text[text.index("## Package layout") :]
    block = re.search(r"```text\n(.*?)```", section, re.S)
    assert block is not None, "design.md's Package layout has no text picture"
    rows = []
    for line in block.group(1).splitlines():
        if line and not line[0].isspace():
            rows.append(re.split(r"\s{2,}", line)[0].strip())
    return rows


def _normal(row: str) -> str:
    return " | ".join(part.strip() for part in row.split("|"))


def test_the_import_contracts_are_kept() -> None:
    # in a child process: import-linter configures logging with disable_existing_loggers, which
    # would silence every logger already made in this test process (electlog.serve's caplog test)
    run = subprocess.run(
        [sys.executable, "-c", _RUN, str(PYPROJECT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_design_picture_is_the_layers_contract() -> None:
    layers = [_normal(row) for row in _contracts()["layers"]["layers"]]  # type: ignore[union-attr]
    assert [_normal(row) for row in _picture_rows()] == layers


def test_every_top_level_module_has_a_layer() -> None:
    layers = _contracts()["layers"]["layers"]
    named = {
        part.strip().strip("()")
        for row in layers  # type: ignore[union-attr]
        for part in row.split("|")
    }
    present = {
        p.stem if p.is_file() else p.name
        for p in SRC.iterdir()
        if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").exists()
    }
    assert present <= named, f"modules without a layer: {sorted(present - named)}"


def test_every_listed_exception_is_still_an_import() -> None:
    # an ignore_imports line that no longer matches an import hides nothing and should go
    for contract in _contracts().values():
        for line in contract.get("ignore_imports", []):  # type: ignore[union-attr]
            importer, imported = (s.strip() for s in line.split("->"))
            module = importer.removeprefix("electlog.").replace(".", "/")
            path = SRC / f"{module}.py"
            if not path.exists():
                path = SRC / module / "__init__.py"
            target = imported.removeprefix("electlog.")
            head, _, tail = target.rpartition(".")
            text = path.read_text(encoding="utf-8")
            forms = [
                f"electlog.{target}",
                f"..{target}",
                f".{tail}" if head else f".. import {tail}",
                f"import {imported}",  # an optional extra's package (import-linter's external)
            ]
            assert any(form in text for form in forms), f"{line}: no such import in {path.name}"


def test_the_contracts_catch_an_upward_import_and_an_unplaced_module(tmp_path: Path) -> None:
    copy = tmp_path / "src" / "electlog"
    shutil.copytree(SRC, copy, ignore=shutil.ignore_patterns("__pycache__"))
    codec = copy / "codec.py"
    codec.write_text(
        codec.read_text(encoding="utf-8") + "\nfrom electlog.election import rules  # upward\n",
        encoding="utf-8",
    )
    (copy / "newlayer.py").write_text('"""A module nobody placed."""\n', encoding="utf-8")
    store = copy / "store" / "memory.py"
    store.write_text(store.read_text(encoding="utf-8") + "\nimport httpx  # an extra\n")
    config = tmp_path / "pyproject.toml"
    shutil.copy(PYPROJECT, config)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    run = subprocess.run(
        [sys.executable, "-c", _RUN, str(config)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    assert "electlog.codec -> electlog.election.rules" in out, out
    assert "newlayer" in out, out
    assert "electlog.store is not allowed to import httpx" in out, out


def _size_table() -> dict[str, str]:
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text[text.index("### Module sizes and complexity") :]
    return {m.group(1): m.group(0) for m in re.finditer(r"^\| `([\w/]+\.py)` \|.*$", section, re.M)}


def test_every_module_over_600_lines_is_listed_with_its_reason() -> None:
    listed = _size_table()
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > 600:
            assert rel in listed, f"{rel} has {lines} lines: split it or list it in design.md"


def test_every_complexity_exemption_is_listed_with_its_reason() -> None:
    ruff = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["ruff"]["lint"]
    assert ruff["mccabe"]["max-complexity"] == 15
    assert "C90" in ruff["select"]
    listed = _size_table()
    for pattern, codes in ruff["per-file-ignores"].items():
        if "C901" in codes and pattern.startswith("src/"):
            rel = pattern.removeprefix("src/electlog/")
            assert rel in listed and "C901" in listed[rel], f"{pattern}: say why in design.md"
    for path in sorted(SRC.rglob("*.py")):
        if "noqa: C901" in path.read_text(encoding="utf-8"):
            rel = path.relative_to(SRC).as_posix()
            assert rel in listed and "C901" in listed[rel], f"{rel}'s noqa: say why in design.md"
