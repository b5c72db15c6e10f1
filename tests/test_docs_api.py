"""The API reference (docs/api/, mkdocstrings): it covers every public package, and the Griffe
extension that turns the docstrings' Sphinx roles into cross-references resolves them to the
objects' definitions (``mkdocs build --strict`` in CI then renders every page)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import griffe
import pytest

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "docs" / "api"

PUBLIC_PACKAGES = (
    "electlog",
    "electlog.codec",
    "electlog.keys",
    "electlog.events",
    "electlog.signer",
    "electlog.merkle",
    "electlog.note",
    "electlog.checkpoint",
    "electlog.log",
    "electlog.errors",
    "electlog.store",
    "electlog.publish",
    "electlog.election",
    "electlog.audit",
    "electlog.export",
    "electlog.net",
    "electlog.testing",
)


def _extension() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "griffe_sphinx_roles", ROOT / "tools" / "griffe_sphinx_roles.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def package() -> griffe.Object:
    return griffe.load("electlog", search_paths=[str(ROOT / "src")])


def test_every_public_package_has_a_reference_entry() -> None:
    documented = {
        m.group(1)
        for page in API.glob("*.md")
        for m in re.finditer(r"^::: ([\w.]+)$", page.read_text(encoding="utf-8"), re.M)
    }
    assert set(PUBLIC_PACKAGES) <= documented, sorted(set(PUBLIC_PACKAGES) - documented)
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in API.glob("*.md"):
        assert f"api/{page.name}" in nav, f"{page.name} is not in the mkdocs nav"


def test_roles_become_cross_references_to_definitions(package: griffe.Object) -> None:
    rewrite = _extension().rewrite
    core = package["audit.core"]
    text = (
        ":class:`~electlog.Log`, :func:`audit`, :class:`Trust`, "
        ":attr:`Report.results <electlog.audit.Report.results>`, :mod:`electlog.merkle`"
    )
    out = rewrite(text, core, package)
    refs = re.findall(r'<autoref identifier="([^"]+)" optional>`([^`]+)`</autoref>', out)
    assert refs == [
        ("electlog.log.Log", "Log"),
        ("electlog.audit.core.audit", "audit()"),
        ("electlog.audit.trust.Trust", "Trust"),
        ("electlog.audit.report.Report.results", "Report.results"),
        ("electlog.merkle", "electlog.merkle"),
    ]
    assert ":class:" not in out and ":func:" not in out


def test_an_unknown_target_stays_an_unlinked_name(package: griffe.Object) -> None:
    out = _extension().rewrite(":class:`fractions.Fraction`", package["election.tally"], package)
    assert out == '<autoref identifier="fractions.Fraction" optional>`fractions.Fraction`</autoref>'


# the project's design notes and issues live outside the repository: code and docs cite only
# what a reader of the repository can open
_OUTSIDE = re.compile(r"\bGUIDE\b|\b[Ii]ssues? #?[0-9]+|\.\./shared/")


def test_no_reference_to_documents_outside_the_repository() -> None:
    paths = [
        *sorted((ROOT / "src").rglob("*.py")),
        *sorted((ROOT / "docs").rglob("*.md")),
        ROOT / "README.md",
        ROOT / "mkdocs.yml",
        ROOT / "pyproject.toml",
    ]
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in paths
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if _OUTSIDE.search(line)
    ]
    assert not found, "\n".join(found)


def test_design_names_only_log_methods_that_exist() -> None:
    from electlog.log import Log

    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = text[text.index("### `electlog.log`") :]
    section = section[: section.index("\n### ")]
    named = set(re.findall(r"`(\w+)\(", section)) - {"Log", "Receipt"}
    assert {"append", "add_checkpoint", "publish_checkpoint"} <= named
    missing = sorted(name for name in named if not hasattr(Log, name))
    assert not missing, f"design.md names Log methods that do not exist: {missing}"
