"""The private key material of a simulated election: generated, saved, loaded.

Every key and secret comes from the operating system's CSPRNG (:meth:`SimulationKeys.generate`);
nothing is derived from the simulation's seed, its origin or any other public value. The seed
decides only the public shape of the district (people, plans, ballots, times). Reusing a saved
key set (:meth:`SimulationKeys.load`) with the same seed rebuilds the same log byte for byte.

A saved key set is a directory (mode 0700) of files (mode 0600)::

    manifest.json          which file holds which key (format below)
    authority.pem          the election authority (PKCS#8 PEM, Ed25519)
    log.skey               the log's checkpoint key (PRIVATE+KEY+<origin>+<hex8>+<base64>)
    witnesses/witness-a.skey, ...   the witnesses' cosigning keys (same form, type 0x04)
    roles/c01-registrar.pem, ...   one key per community and role (PKCS#8 PEM)
    audit-board.pem        the audit board (PKCS#8 PEM; a set saved before it existed has none)
    dedup.secret           the registrars' dedup secret (64 hex digits, 32 bytes)
    salt.secret            the secret commitment salts derive from (64 hex digits, 32 bytes)

``manifest.json`` (format ``electlog.simulation-keys``, version 1) lists each file with the
public key it must hold, so a swapped, truncated or foreign file is refused by name::

    {"format": "electlog.simulation-keys", "version": 1, "origin": "<log origin>",
     "authority": {"file": "authority.pem", "public": "ed25519-pub:<base64>"},
     "log": {"file": "log.skey", "vkey": "<note verifier key>"},
     "witnesses": [{"file": "witnesses/witness-a.skey", "vkey": "<witness verifier key>"}, ...],
     "roles": [{"community": "c01", "role": "registrar", "file": "roles/c01-registrar.pem",
                "public": "ed25519-pub:<base64>"}, ...],
     "audit_board": {"file": "audit-board.pem", "public": "ed25519-pub:<base64>"},
     "secrets": {"dedup": "dedup.secret", "salt": "salt.secret"}}

Every community named in ``roles`` has a key for each of the five simulated roles.

The ``witnesses/`` part belongs to the simulated witnesses, not to the log's operator:
:meth:`SimulationKeys.load` reads only their verifier keys from the manifest and never opens
those files (unless asked with ``witness_keys=True``, for in-process cosigning in tests), and
``electlog demo`` hands each file to its own ``electlog witness`` process
(:func:`witness_key_files`). A set saved by an older version, with ``witness-a.skey`` at the
top, loads the same way: the manifest names every file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Final

import attrs

from electlog import _json
from electlog._files import NotASmallFileError, read_small_file
from electlog.checkpoint import WitnessSigner, WitnessVerifier
from electlog.election.rules import Role
from electlog.errors import ElectlogError, KeySetError, StorageError, UsageError
from electlog.keys import SigningKey, VerifyKey, write_secret_file
from electlog.note import NoteSigner

__all__ = [
    "KEYSET_FORMAT",
    "KEYSET_VERSION",
    "MANIFEST_NAME",
    "ROLES",
    "WITNESS_NAMES",
    "SimulationKeys",
    "witness_key_files",
]

KEYSET_FORMAT: Final = "electlog.simulation-keys"
KEYSET_VERSION: Final = 1
MANIFEST_NAME: Final = "manifest.json"
ROLES: Final = (
    Role.ELECTION_COMMITTEE,
    Role.REGISTRAR,
    Role.VETTING_COMMITTEE,
    Role.POLLING_STATION,
    Role.COUNTING_UNIT,
)
"""The roles every simulated community has a key for."""
WITNESS_NAMES: Final = ("witness.observers.example/a", "witness.university.example/b")
"""The witnesses of a simulated election (both must cosign: quorum 2)."""
WITNESS_DIR: Final = "witnesses"
"""The part of a saved key set that holds the witnesses' private keys."""
SECRET_BYTES: Final = 32
_SALT_CONTEXT: Final = b"electlog-simulate/commitment-salt/v1\x00"
_SALT_BYTES: Final = 16
_COMMUNITY_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_FILE_PART_RE: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def _check_secret(name: str) -> Any:
    def check(_inst: object, _attribute: object, value: object) -> None:
        if not isinstance(value, bytes) or len(value) != SECRET_BYTES:
            raise UsageError(f"SimulationKeys.{name} must be {SECRET_BYTES} bytes")

    return check


def _check_witnesses(_inst: object, _attribute: object, value: object) -> None:
    if not isinstance(value, tuple) or not all(isinstance(w, WitnessSigner) for w in value):
        raise UsageError("SimulationKeys.witnesses must be a tuple of WitnessSigner")


def _check_witness_verifiers(inst: SimulationKeys, _attribute: object, value: object) -> None:
    if (
        not isinstance(value, tuple)
        or not value
        or not all(isinstance(w, WitnessVerifier) for w in value)
    ):
        raise UsageError(
            "SimulationKeys.witness_verifiers must be a non-empty tuple of WitnessVerifier"
        )
    if len({w.name for w in value}) != len(value):
        raise UsageError("SimulationKeys.witnesses must have distinct names")
    if inst.witnesses and [w.vkey for w in inst.witnesses] != [w.vkey for w in value]:
        raise UsageError(
            "SimulationKeys.witnesses (private keys) must be the keys of witness_verifiers, "
            "in the same order"
        )


def _verifiers_of(keys: SimulationKeys) -> tuple[WitnessVerifier, ...]:
    return tuple(w.verifier() for w in keys.witnesses)


def _check_roles(_inst: object, _attribute: object, value: object) -> None:
    if not isinstance(value, Mapping):
        raise UsageError("SimulationKeys.roles must map '<community>/<role>' to a SigningKey")
    for name, key in value.items():
        if not isinstance(key, SigningKey) or not isinstance(name, str):
            raise UsageError("SimulationKeys.roles must map '<community>/<role>' to a SigningKey")
        community, _, role = name.partition("/")
        if not _COMMUNITY_RE.fullmatch(community) or role not in {r.value for r in ROLES}:
            raise UsageError(f"SimulationKeys.roles: {name!r} is not '<community>/<role>'")


def _type_check(kind: type, what: str) -> Any:
    def check(_inst: object, _attribute: object, value: object) -> None:
        if not isinstance(value, kind):
            raise UsageError(f"SimulationKeys.{what} must be a {kind.__name__}")

    return check


@attrs.frozen(kw_only=True)
class SimulationKeys:
    """Every private key and secret of a simulated election.

    ``witness_verifiers`` are the witnesses' public keys (always there); ``witnesses`` their
    private keys, held only by a set made with :meth:`generate` or loaded with
    ``witness_keys=True``: the simulator cosigns with them in-process when it is given no
    other way to publish checkpoints (tests and property tests). ``electlog demo`` keeps them
    out of the operator's process: its witnesses are separate processes that read their own
    key files.

    ``roles`` maps ``"<community>/<role>"`` (e.g. ``"c07/registrar"``) to the key holding that
    role for that community. ``dedup_secret`` is the registrars' HMAC key for dedup tags;
    ``salt_secret`` derives each voter's commitment salt (:meth:`salt_for`). Neither appears
    in ``repr``. ``audit_board`` is the whole-election audit board's key (role
    ``audit_board``: the ``minimal`` profile's eligibility sample), ``None`` in a set made
    before it existed. Make a fresh set with :meth:`generate`; keep it with :meth:`save` and
    reuse it with :meth:`load`.
    """

    authority: SigningKey = attrs.field(validator=_type_check(SigningKey, "authority"))
    log: NoteSigner = attrs.field(validator=_type_check(NoteSigner, "log"))
    witnesses: tuple[WitnessSigner, ...] = attrs.field(
        default=(), repr=False, validator=_check_witnesses
    )
    witness_verifiers: tuple[WitnessVerifier, ...] = attrs.field(
        default=attrs.Factory(_verifiers_of, takes_self=True),
        validator=_check_witness_verifiers,
    )
    roles: Mapping[str, SigningKey] = attrs.field(validator=_check_roles)
    dedup_secret: bytes = attrs.field(repr=False, validator=_check_secret("dedup_secret"))
    salt_secret: bytes = attrs.field(repr=False, validator=_check_secret("salt_secret"))
    audit_board: SigningKey | None = attrs.field(
        default=None, validator=attrs.validators.optional(_type_check(SigningKey, "audit_board"))
    )

    # ------------------------------------------------------------------ making one

    @classmethod
    def generate(
        cls,
        origin: str,
        communities: Iterable[str],
        *,
        witnesses: Sequence[str] = WITNESS_NAMES,
    ) -> SimulationKeys:
        """A fresh key set from the OS CSPRNG: the authority key, one key per community and
        role of :data:`ROLES`, the log key named ``origin``, one key per witness name, the
        dedup secret, the salt secret and the audit board's key."""
        cids = list(communities)
        for cid in cids:
            if not isinstance(cid, str) or not _COMMUNITY_RE.fullmatch(cid):
                raise UsageError(f"community id {cid!r} cannot name a key")
        if len(set(cids)) != len(cids):
            raise UsageError("community ids must be distinct")
        return cls(
            authority=SigningKey.generate(),
            log=NoteSigner.generate(origin),
            witnesses=tuple(WitnessSigner.generate(name) for name in witnesses),
            roles={f"{cid}/{role.value}": SigningKey.generate() for cid in cids for role in ROLES},
            dedup_secret=secrets.token_bytes(SECRET_BYTES),
            salt_secret=secrets.token_bytes(SECRET_BYTES),
            audit_board=SigningKey.generate(),
        )

    # ------------------------------------------------------------------ using one

    @property
    def origin(self) -> str:
        """The log origin the set is for (the log key's name)."""
        return self.log.name

    @property
    def communities(self) -> tuple[str, ...]:
        """The communities the set has role keys for, sorted."""
        return tuple(sorted({name.partition("/")[0] for name in self.roles}))

    def salt_for(self, voter: str) -> bytes:
        """The 16-byte commitment salt of ``voter``'s registration: HMAC-SHA-256 under
        ``salt_secret`` of a fixed context and the voter id, truncated. Secret: without the
        salt secret nobody can recompute it, so a commitment reveals nothing."""
        if not isinstance(voter, str) or not voter:
            raise UsageError("voter must be a non-empty str")
        mac = hmac.new(self.salt_secret, _SALT_CONTEXT + voter.encode("utf-8"), hashlib.sha256)
        return mac.digest()[:_SALT_BYTES]

    def check_fits(self, origin: str, communities: Iterable[str]) -> None:
        """Raise :class:`~electlog.errors.KeySetError` unless this set is for the log
        ``origin`` and has every role key of each of ``communities``."""
        if self.log.name != origin:
            raise KeySetError(
                f"the key set is for the log {self.log.name!r}, not {origin!r} "
                f"(its log key is named after the origin)"
            )
        for cid in communities:
            for role in ROLES:
                if f"{cid}/{role.value}" not in self.roles:
                    raise KeySetError(
                        f"the key set has no key for {cid}/{role.value} (it has role keys for "
                        f"{len(self.communities)} communities)"
                    )

    # ------------------------------------------------------------------ files

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the set to ``directory`` (created with mode 0700; files 0600) with its
        manifest, and return the directory. Refuses (:class:`~electlog.errors.KeySetError`)
        a directory that already holds anything, and a set that does not hold the witnesses'
        private keys (one loaded without ``witness_keys``); I/O failures are
        :class:`~electlog.errors.StorageError`. The manifest is written last, so an
        interrupted save is refused by :meth:`load` as incomplete."""
        target = Path(directory)
        if not self.witnesses:
            raise KeySetError(
                "this key set does not hold the witnesses' private keys (it was loaded for the "
                "log's operator): save the directory it was loaded from instead"
            )
        try:
            if target.exists():
                if not target.is_dir():
                    raise KeySetError(f"{target} exists and is not a directory")
                if any(target.iterdir()):
                    raise KeySetError(
                        f"refusing to overwrite: {target} already holds files (a key set?); "
                        f"choose an empty or new directory"
                    )
            else:
                target.mkdir(mode=0o700, parents=True)
            target.chmod(0o700)
            roles_dir = target / "roles"
            roles_dir.mkdir(mode=0o700)
            roles_dir.chmod(0o700)
        except OSError as exc:
            raise StorageError(f"cannot create the key directory {target}: {exc.strerror}") from exc
        manifest: dict[str, Any] = {
            "format": KEYSET_FORMAT,
            "version": KEYSET_VERSION,
            "origin": self.origin,
        }
        self.authority.save(target / "authority.pem")
        manifest["authority"] = {"file": "authority.pem", "public": self.authority.public.to_text()}
        _write_line(target / "log.skey", self.log.skey)
        manifest["log"] = {"file": "log.skey", "vkey": self.log.vkey}
        manifest["witnesses"] = []
        witness_dir = target / WITNESS_DIR
        try:
            witness_dir.mkdir(mode=0o700)
            witness_dir.chmod(0o700)
        except OSError as exc:
            raise StorageError(f"cannot create {witness_dir}: {exc.strerror}") from exc
        for i, witness in enumerate(self.witnesses):
            name = f"{WITNESS_DIR}/witness-{_letters(i)}.skey"
            _write_line(target / name, witness.skey)
            manifest["witnesses"].append({"file": name, "vkey": witness.vkey})
        manifest["roles"] = []
        for role_name, key in sorted(self.roles.items()):
            community, _, role = role_name.partition("/")
            name = f"roles/{community}-{role}.pem"
            key.save(target / name)
            manifest["roles"].append(
                {"community": community, "role": role, "file": name, "public": key.public.to_text()}
            )
        if self.audit_board is not None:
            self.audit_board.save(target / "audit-board.pem")
            manifest["audit_board"] = {
                "file": "audit-board.pem",
                "public": self.audit_board.public.to_text(),
            }
        _write_line(target / "dedup.secret", self.dedup_secret.hex())
        _write_line(target / "salt.secret", self.salt_secret.hex())
        manifest["secrets"] = {"dedup": "dedup.secret", "salt": "salt.secret"}
        text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
        write_secret_file(target / MANIFEST_NAME, text.encode("utf-8"))
        return target

    @classmethod
    def load(
        cls, directory: str | os.PathLike[str], *, witness_keys: bool = False
    ) -> SimulationKeys:
        """Read a set written by :meth:`save`. Every file the manifest lists must be there and
        hold the public key the manifest says; anything missing, unreadable, malformed or
        inconsistent is a :class:`~electlog.errors.KeySetError` naming the file (never key
        material).

        The witnesses' key files are the witnesses' own: by default only their verifier keys
        are read (from the manifest) and their files are not opened. ``witness_keys=True``
        loads them too, for a simulation that cosigns in-process."""
        root = Path(directory)
        if not root.is_dir():
            raise KeySetError(f"no key set at {root}: not a directory")
        manifest_path = root / MANIFEST_NAME
        if not manifest_path.is_file():
            raise KeySetError(
                f"{manifest_path} is missing: {root} is not a saved key set (or an incomplete one)"
            )
        m = _Manifest(root, manifest_path)
        if m.get(m.data, "format", str) != KEYSET_FORMAT:
            raise KeySetError(f"{manifest_path}: format is not {KEYSET_FORMAT!r}")
        version = m.get(m.data, "version", int)
        if version != KEYSET_VERSION:
            raise KeySetError(
                f"{manifest_path}: version {version} is not supported (this electlog reads "
                f"version {KEYSET_VERSION})"
            )
        origin = m.get(m.data, "origin", str)

        entry = m.get(m.data, "authority", dict)
        authority = m.signing_key(entry, "authority")

        entry = m.get(m.data, "log", dict)
        path = m.file(entry, "log")
        log = m.parse(path, NoteSigner.from_skey)
        if log.vkey != m.get(entry, "vkey", str):
            raise KeySetError(f"{path} does not hold the log key the manifest lists")
        if log.name != origin:
            raise KeySetError(f"{path}: the log key is named {log.name!r}, not the origin")

        witnesses = []
        verifiers = []
        for path, verifier in m.witnesses():
            verifiers.append(verifier)
            if witness_keys:
                witness = m.parse(path, WitnessSigner.from_skey)
                if witness.vkey != verifier.vkey:
                    raise KeySetError(f"{path} does not hold the witness key the manifest lists")
                witnesses.append(witness)

        roles = m.roles()
        board = None
        if "audit_board" in m.data:  # a set saved before the audit board's key has none
            board = m.signing_key(m.get(m.data, "audit_board", dict), "audit_board")

        listed_secrets = m.get(m.data, "secrets", dict)
        dedup = m.secret(listed_secrets, "dedup")
        salt = m.secret(listed_secrets, "salt")
        try:
            return cls(
                authority=authority,
                log=log,
                witnesses=tuple(witnesses),
                witness_verifiers=tuple(verifiers),
                roles=roles,
                dedup_secret=dedup,
                salt_secret=salt,
                audit_board=board,
            )
        except UsageError as exc:
            raise KeySetError(f"{manifest_path}: {exc}") from None


def witness_key_files(directory: str | os.PathLike[str]) -> list[tuple[WitnessVerifier, Path]]:
    """The witnesses of the key set saved in ``directory``: each one's verifier key and the
    file holding its private key (checked to exist, not read: it is for the witness's own
    process, ``electlog witness --key FILE``). :class:`~electlog.errors.KeySetError` for a
    directory that is no key set or a manifest that lists no witness."""
    root = Path(directory)
    manifest_path = root / MANIFEST_NAME
    if not manifest_path.is_file():
        raise KeySetError(f"{manifest_path} is missing: {root} is not a saved key set")
    m = _Manifest(root, manifest_path)
    return [(verifier, path) for path, verifier in m.witnesses()]


def _letters(i: int) -> str:
    """a, b, ..., z, ba, bb, ...: a file-name suffix per witness."""
    out = ""
    while True:
        out = chr(ord("a") + i % 26) + out
        i //= 26
        if i == 0:
            return out


def _write_line(path: Path, text: str) -> None:
    write_secret_file(path, (text + "\n").encode("utf-8"))


_MAX_KEY_FILE: Final = 1 << 20
"""No file of a key set (manifest, key, secret) is larger; a larger one is refused unread."""


def _read_bounded(path: Path) -> bytes:
    """A key-set file's bytes: a regular file of at most :data:`_MAX_KEY_FILE` bytes (never a
    FIFO or device, never read without bound), else :class:`KeySetError` naming it."""
    try:
        return read_small_file(path, _MAX_KEY_FILE)
    except OSError as exc:
        raise KeySetError(f"cannot read {path}: {exc.strerror}") from None
    except NotASmallFileError as exc:
        raise KeySetError(f"{path} {exc}") from None


class _Manifest:
    """A parsed manifest and the directory its files are in; every failure is a
    :class:`KeySetError` naming the manifest or the file."""

    def __init__(self, root: Path, path: Path) -> None:
        self.root = root
        self.path = path
        try:
            self.data = _json.loads(_read_bounded(path).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise KeySetError(f"{path} is not a JSON manifest (corrupt?): {exc}") from None
        if not isinstance(self.data, dict):
            raise KeySetError(f"{path} is not a JSON object")

    def get(self, obj: dict[str, Any], name: str, kind: type) -> Any:
        value = obj.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise KeySetError(f"{self.path}: {name!r} is missing or not a {kind.__name__}")
        return value

    def file(self, entry: dict[str, Any], what: str) -> Path:
        name = entry.get("file")
        parts = PurePosixPath(name).parts if isinstance(name, str) else ()
        if not parts or not all(_FILE_PART_RE.fullmatch(p) for p in parts) or len(parts) > 2:
            raise KeySetError(f"{self.path}: {what} names no file inside the key set")
        path = self.root.joinpath(*parts)
        if not path.is_file():
            raise KeySetError(f"incomplete key set: {path} ({what}) is missing")
        return path

    def witnesses(self) -> list[tuple[Path, WitnessVerifier]]:
        """Each listed witness's key file (checked to exist, not read) and verifier key (from
        the manifest)."""
        listed = self.get(self.data, "witnesses", list)
        if not listed:
            raise KeySetError(f"{self.path}: the key set has no witness key")
        out = []
        for i, entry in enumerate(listed):
            if not isinstance(entry, dict):
                raise KeySetError(f"{self.path}: witnesses[{i}] is not an object")
            path = self.file(entry, f"witnesses[{i}]")
            try:
                verifier = WitnessVerifier.from_vkey(self.get(entry, "vkey", str))
            except ElectlogError:
                raise KeySetError(
                    f"{self.path}: witnesses[{i}] lists a malformed verifier key"
                ) from None
            out.append((path, verifier))
        return out

    def roles(self) -> dict[str, SigningKey]:
        """The role keys, by ``community/role``: each listed once, each a simulated role, and
        every community with a key for every role."""
        roles: dict[str, SigningKey] = {}
        for i, entry in enumerate(self.get(self.data, "roles", list)):
            if not isinstance(entry, dict):
                raise KeySetError(f"{self.path}: roles[{i}] is not an object")
            community = self.get(entry, "community", str)
            role = self.get(entry, "role", str)
            if not _COMMUNITY_RE.fullmatch(community) or role not in {r.value for r in ROLES}:
                raise KeySetError(f"{self.path}: roles[{i}] names no simulated role")
            name = f"{community}/{role}"
            if name in roles:
                raise KeySetError(f"{self.path}: two keys for {name}")
            roles[name] = self.signing_key(entry, f"roles[{i}]")
        for community in sorted({n.partition("/")[0] for n in roles}):
            for r in ROLES:
                if f"{community}/{r.value}" not in roles:
                    raise KeySetError(
                        f"{self.path}: incomplete key set, no key for {community}/{r.value}"
                    )
        return roles

    def read(self, path: Path) -> str:
        try:
            return _read_bounded(path).decode("utf-8").strip()
        except UnicodeDecodeError:
            raise KeySetError(f"{path} is not UTF-8 text (corrupt?)") from None

    def parse(self, path: Path, parse: Any) -> Any:
        text = self.read(path)
        try:
            return parse(text)
        except ElectlogError as exc:
            # key parsers never echo key material in their messages
            raise KeySetError(f"{path} is not a valid key file: {exc}") from None

    def signing_key(self, entry: dict[str, Any], what: str) -> SigningKey:
        path = self.file(entry, what)
        data = _read_bounded(path)
        try:
            key = SigningKey.from_pem(data)
        except ElectlogError as exc:
            raise KeySetError(f"{path} is not a valid key file: {exc}") from None
        try:
            public = VerifyKey.from_text(self.get(entry, "public", str))
        except ElectlogError:
            raise KeySetError(f"{self.path}: {what} lists a malformed public key") from None
        if key.public != public:
            raise KeySetError(f"{path} does not hold the {what} key the manifest lists")
        return key

    def secret(self, listed: dict[str, Any], name: str) -> bytes:
        path = self.file({"file": listed.get(name)}, f"the {name} secret")
        text = self.read(path)
        if not re.fullmatch(f"[0-9a-f]{{{2 * SECRET_BYTES}}}", text):
            raise KeySetError(
                f"{path} is not a {SECRET_BYTES}-byte secret ({2 * SECRET_BYTES} lower-case "
                f"hex digits; corrupt?)"
            )
        return bytes.fromhex(text)
