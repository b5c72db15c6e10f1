"""A Griffe extension for the API reference (mkdocs.yml): electlog's docstrings cite code with
Sphinx roles (:class:`Log`, :meth:`~electlog.log.Log.append`, :func:`audit` ...). mkdocstrings
renders docstrings as Markdown, where a role is plain text; this extension rewrites each role
into a cross-reference that mkdocs-autorefs turns into a link to that object's entry in the API
reference. The target is resolved from the docstring's own scope, as Sphinx would; a target
outside the reference (a private helper, the standard library) stays code, unlinked.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(
    r":(?:py:)?(?P<role>class|func|meth|mod|data|attr|exc|obj|const):`(?P<tilde>~?)(?P<target>[^`]+)`"
)


def _canonical(root: griffe.Object, path: str) -> str:
    """Where ``path`` (``electlog.Log.append``) is defined (``electlog.log.Log.append``): the
    reference documents each object once, at its definition."""
    if not path.startswith(f"{root.path}."):
        return path
    try:
        return str(root[path.removeprefix(f"{root.path}.")].canonical_path)
    except (griffe.AliasResolutionError, griffe.CyclicAliasError, KeyError, ValueError):
        return path


def _identifier(obj: griffe.Object, root: griffe.Object, target: str) -> str:
    """The full path of ``target`` as seen from ``obj``'s docstring, or ``target`` itself."""
    target = target.lstrip(".")
    if not target.startswith("electlog"):
        head, _, rest = target.partition(".")
        try:
            resolved = obj.resolve(head)
        except (griffe.NameResolutionError, KeyError, AttributeError, ValueError):
            return target
        target = f"{resolved}.{rest}" if rest else resolved
    return _canonical(root, target)


def rewrite(text: str, obj: griffe.Object, root: griffe.Object) -> str:
    """Every Sphinx role of ``text`` as an optional autorefs cross-reference."""

    def one(match: re.Match[str]) -> str:
        target = match["target"].strip()
        explicit = re.fullmatch(r"(?P<title>.+?)\s*<(?P<target>[^<>]+)>", target)
        if explicit is not None:  # :role:`title <target>`
            title, target = explicit["title"], explicit["target"].strip()
        else:
            title = target.rpartition(".")[2] if match["tilde"] else target.lstrip(".")
            if match["role"] in ("func", "meth"):
                title += "()"
        identifier = _identifier(obj, root, target)
        return f'<autoref identifier="{identifier}" optional>`{title}`</autoref>'

    return _ROLE.sub(one, text)


class SphinxRoles(griffe.Extension):
    """Rewrites the Sphinx roles of every docstring once the package is loaded."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        seen: set[int] = set()
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            if obj.docstring is not None:
                obj.docstring.value = rewrite(obj.docstring.value, obj, pkg)
            stack.extend(m for m in obj.members.values() if not m.is_alias)
