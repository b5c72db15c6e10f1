"""Issue 14 item 8: the module splits and moves keep every old import path working.

``electlog.checkpoint`` was split into ``electlog.note`` (signed notes and key text forms) and
``electlog.checkpoint`` (checkpoints and witness cosignatures); every name users imported from
``electlog.checkpoint`` before the split still imports from there, as the same object. The bundle
and tiles (which import ``Log``) moved from ``electlog.store`` to ``electlog.publish`` above the
log; ``electlog.store``, ``electlog.store.bundle`` and ``electlog.store.tiles`` still give the
names users imported from them, as the same objects, without a warning.
"""

from __future__ import annotations

import argparse
import ast
import importlib
from pathlib import Path

import pytest

import electlog
from electlog import checkpoint, keys, merkle, note
from electlog.errors import UsageError

SRC = Path(__file__).resolve().parent.parent / "src" / "electlog"

# electlog.checkpoint.__all__ as it was before the split (issue 14 item 8).
OLD_CHECKPOINT_NAMES = (
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "MAX_NOTE_SIGNATURES",
    "MAX_TREE_SIZE",
    "Checkpoint",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "VerifiedCheckpoint",
    "Verifier",
    "WitnessSigner",
    "WitnessVerifier",
    "cosign",
    "cosignature_message",
    "key_id",
    "open_note",
    "parse_vkey",
    "sign_note",
    "verify_checkpoint",
    "verify_checkpoint_detailed",
)

NOTE_NAMES = (
    "ALG_COSIGNATURE_V1",
    "ALG_ED25519",
    "MAX_NOTE_SIGNATURES",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "Verifier",
    "key_id",
    "note_key_id",
    "open_note",
    "parse_vkey",
    "sign_note",
)


@pytest.mark.parametrize("name", OLD_CHECKPOINT_NAMES)
def test_every_old_checkpoint_name_still_imports(name: str) -> None:
    module = importlib.import_module("electlog.checkpoint")
    assert name in module.__all__
    assert getattr(module, name) is not None


@pytest.mark.parametrize("name", NOTE_NAMES)
def test_note_names_are_the_same_objects_from_both_modules(name: str) -> None:
    assert name in note.__all__
    assert getattr(checkpoint, name) is getattr(note, name)


def test_top_level_names_come_from_their_homes() -> None:
    assert electlog.NoteSigner is note.NoteSigner
    assert electlog.sign_note is note.sign_note
    assert electlog.Checkpoint is checkpoint.Checkpoint
    assert electlog.cosign is checkpoint.cosign


def test_note_key_id_is_the_old_key_id_and_not_the_author_key_id() -> None:
    assert checkpoint.key_id is note.note_key_id
    assert note.key_id is note.note_key_id
    signer = note.NoteSigner.generate("example.org/log", rng_seed=bytes(32))
    assert note.note_key_id(signer.name, note.ALG_ED25519, signer.public_key) == signer.key_id
    # the entry-author key id in electlog.keys is another function with another result type
    assert keys.key_id is not note.note_key_id
    assert isinstance(keys.key_id(signer.public_key), bytes)


def test_max_tree_size_is_defined_once() -> None:
    assert checkpoint.MAX_TREE_SIZE is merkle.MAX_TREE_SIZE
    assert merkle.MAX_TREE_SIZE == 2**63 - 1
    root = bytes(32)
    assert checkpoint.Checkpoint(origin="o", size=merkle.MAX_TREE_SIZE, root=root).size
    with pytest.raises(UsageError, match="outside"):
        checkpoint.Checkpoint(origin="o", size=merkle.MAX_TREE_SIZE + 1, root=root)
    assignments = [
        path.relative_to(SRC).as_posix()
        for path in sorted(SRC.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name) and target.id == "MAX_TREE_SIZE"
    ]
    assert assignments == ["merkle.py"]


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = "electlog." * (node.level > 0) + (node.module or "")
            found.add(base if node.level else node.module or "")
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _resolved_imports(path: Path) -> set[str]:
    """Every module ``path`` imports (function-level imports too), relative ones resolved; a
    ``from PACKAGE import name`` counts as importing ``PACKAGE.name`` as well."""
    parts = ["electlog", *path.relative_to(SRC).with_suffix("").parts]
    package = parts[:-1]  # the package a relative import starts from (also for __init__.py)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base_parts = package[: len(package) - node.level + 1] if node.level else []
            base = ".".join([*base_parts, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_note_layer_sits_below_checkpoints() -> None:
    imported = _imported_modules(SRC / "note.py")
    electlog_imports = {m for m in imported if m.startswith("electlog")}
    assert electlog_imports == {"electlog.errors"}
    assert "electlog.note" in _imported_modules(SRC / "checkpoint.py")


def test_every_registered_cli_module_exists() -> None:
    # build_parser skips a missing command module silently (the server extras may be absent),
    # so a stale name in _COMMAND_MODULES would drop its subcommands without an error.
    from electlog import cli

    for name in cli._COMMAND_MODULES:
        module = importlib.import_module(f"electlog.cli.{name}")
        assert callable(module.register)
    assert "operator" in cli._COMMAND_MODULES
    choices = {
        command
        for action in cli.build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
        for command in action.choices
    }
    assert {"keygen", "append", "checkpoint", "export", "verify", "demo"} <= choices


# ------------------------------------------------------------------ bundle and tiles above the log

# what users imported from electlog.store.bundle / electlog.store.tiles / electlog.store before the
# bundle and tiles moved to electlog.publish (docs/storage.md, auditing.md, publishing.md did)
OLD_BUNDLE_NAMES = (
    "BUNDLE_FORMAT_VERSION",
    "BUNDLE_MAGIC",
    "MAX_BUNDLE_CHECKPOINTS",
    "MAX_BUNDLE_CHECKPOINT_BYTES",
    "MAX_BUNDLE_HEADER_SIZE",
    "MAX_BUNDLE_NOTE_SIZE",
    "BundleImport",
    "BundleInfo",
    "BundleReader",
    "export_bundle",
    "import_bundle",
)
OLD_TILES_NAMES = (
    "MAX_TILES_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "DirectoryFetcher",
    "TilesFetcher",
    "TilesInfo",
    "TilesReader",
    "bundle_bytes",
    "entries_path",
    "export_tiles",
    "http_fetcher",
    "parse_tile_path",
    "tile_bytes",
    "tile_path",
)
OLD_STORE_NAMES = (
    "BundleImport",
    "BundleInfo",
    "BundleReader",
    "TilesInfo",
    "TilesReader",
    "export_bundle",
    "export_tiles",
    "import_bundle",
)


@pytest.mark.parametrize(
    ("old", "new", "name"),
    [("electlog.store.bundle", "electlog.publish.bundle", n) for n in OLD_BUNDLE_NAMES]
    + [("electlog.store.tiles", "electlog.publish.tiles", n) for n in OLD_TILES_NAMES]
    + [("electlog.store", "electlog.publish", n) for n in OLD_STORE_NAMES],
)
def test_old_bundle_and_tiles_paths_give_the_same_objects(old: str, new: str, name: str) -> None:
    new_module = importlib.import_module(new)
    assert name in new_module.__all__
    assert getattr(importlib.import_module(old), name) is getattr(new_module, name)


def test_the_old_paths_warn_nothing() -> None:
    import subprocess
    import sys

    code = (
        "import warnings\n"
        "warnings.simplefilter('error')\n"
        "from electlog.store import BundleReader, export_bundle, import_bundle, TilesReader\n"
        "from electlog.store.bundle import BundleReader as B\n"
        "from electlog.store.tiles import entries_path, tile_path, export_tiles\n"
        "assert B is BundleReader\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", code], check=True)


def test_an_unknown_store_name_is_still_an_attribute_error() -> None:
    import electlog.store

    with pytest.raises(AttributeError, match="NoSuchThing"):
        _ = electlog.store.NoSuchThing  # type: ignore[attr-defined]


def test_the_store_layer_imports_nothing_above_it_but_the_compatibility_paths() -> None:
    # bundle and tiles import Log (to export and import a log), so they sit above it; the store
    # modules themselves import neither the log nor publish. The two shim modules and the
    # package's lazy hook for the old names are the only exceptions (and import-linter's
    # contract lists the same ones).
    shims = {"store/bundle.py", "store/tiles.py", "store/__init__.py"}
    for path in sorted((SRC / "store").glob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        imported = _resolved_imports(path)
        above = {
            m
            for m in imported
            if m.startswith(("electlog.log", "electlog.publish", "electlog.election"))
        }
        if rel in shims:
            assert above, f"{rel} is no longer a compatibility path: drop it from the shims"
            assert all(m.startswith("electlog.publish") for m in above), (rel, above)
        else:
            assert not above, f"{rel} imports {above}"
    for name in ("bundle", "_tiles_export"):  # the reason they sit above the log
        assert "electlog.log" in _resolved_imports(SRC / "publish" / f"{name}.py")


def test_the_publish_layer_lives_in_its_own_package() -> None:
    for name in ("bundle.py", "tiles.py", "_tiles_http.py", "_tiles_layout.py", "__init__.py"):
        assert (SRC / "publish" / name).exists()
    assert not (SRC / "store" / "_tiles_http.py").exists()
    shim = (SRC / "store" / "bundle.py").read_text(encoding="utf-8")
    assert "class " not in shim and "def " not in shim, "the old path holds code again"
