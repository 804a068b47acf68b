"""``EncryptedSerializer``: AES-GCM encryption around any serializer.

Dumping encrypts the inner serializer's bytes and tags them ``"<inner tag>+aes"``; the payload is
a random 12-byte nonce followed by the ciphertext and its 16-byte GCM tag. The inner tag is bound
to the ciphertext as associated data, so stored tags cannot be swapped. Loading a tag without
``+aes`` passes the data to the inner serializer unchanged, so data written before encryption
was turned on stays readable (``allow_unencrypted=False`` refuses it instead).

Bound to a place: the savers pass each value's *place* (a tuple of strings: what it is and
where it lives, e.g. ``("blob", thread_id, checkpoint_ns, channel, version)``). A value dumped
with a place is tagged ``"<inner tag>+aesb"`` and its place is part of the associated data too,
so a ciphertext copied to another thread, namespace, channel, write or version fails to
decrypt there (``EncryptedPlacementError``); ``reseal`` moves a value to a new place without
loading it (``copy_thread``). Values without a place, and ``"+aes"`` rows written before
binding, stay unbound and readable anywhere.

Keys are 16, 24 or 32 bytes (AES-128/192/256), given as ``key=`` or read from the
``WAYPOINT_AES_KEY`` environment variable; see ``parse_key`` for the accepted text forms.
Needs the ``cryptography`` package (``pip install 'waypoint-graph[crypto]'``).
"""

from __future__ import annotations

import base64
import binascii
import os
import json
from collections.abc import Sequence
from typing import Any

from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.errors import EncryptedPlacementError, SerializationError

ENV_VAR = "WAYPOINT_AES_KEY"
LANGGRAPH_ENV_VAR = "LANGGRAPH_AES_KEY"  # read by from_pycryptodome_aes, as LangGraph does
SUFFIX = "+aes"
BOUND_SUFFIX = "+aesb"
"""Tag suffix of a value sealed to its place (the place is part of the associated data)."""
Place = Sequence[str]
NONCE_SIZE = 12
_GCM_TAG_SIZE = 16
_KEY_SIZES = (16, 24, 32)


def parse_key(key: bytes | bytearray | str) -> bytes:
    """Turn a key given as bytes or text into 16, 24 or 32 raw bytes.

    Bytes are used as they are. Text (surrounding whitespace ignored) may carry an explicit
    ``hex:`` or ``base64:`` prefix; without one, text whose UTF-8 encoding is 16, 24 or 32
    bytes long is the raw key, else it is decoded as hex, then as base64 (standard or URL-safe
    alphabet, padding optional). So a 32-character hex string is a raw 32-byte key unless it
    is written ``hex:...``.
    """
    if isinstance(key, bytes | bytearray):
        raw = bytes(key)
        if len(raw) not in _KEY_SIZES:
            raise SerializationError(f"AES key must be 16, 24 or 32 bytes, got {len(raw)} bytes")
        return raw
    if not isinstance(key, str):
        raise SerializationError(f"AES key must be bytes or str, got {type(key).__name__}")
    text = key.strip()
    candidates: list[bytes | None]
    if text.startswith("hex:"):
        candidates = [_from_hex(text[4:])]
    elif text.startswith("base64:"):
        candidates = [_from_base64(text[7:])]
    else:
        candidates = [text.encode("utf-8"), _from_hex(text), _from_base64(text)]
    for candidate in candidates:
        if candidate is not None and len(candidate) in _KEY_SIZES:
            return candidate
    raise SerializationError(
        "AES key must be 16, 24 or 32 bytes: give raw text of that length, or hex/base64 "
        "(optionally prefixed 'hex:' or 'base64:') that decodes to it"
    )


def _from_hex(text: str) -> bytes | None:
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def _from_base64(text: str) -> bytes | None:
    if not text.isascii():
        return None
    standard = text.translate(str.maketrans("-_", "+/"))  # accept the URL-safe alphabet too
    try:
        return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _aesgcm_class() -> Any:
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError as exc:
        raise SerializationError(
            "EncryptedSerializer needs the 'cryptography' package: pip install 'waypoint-graph[crypto]'"
        ) from exc
    return AESGCM


class EncryptedSerializer:
    """Encrypts what ``inner`` serializes with AES-GCM; tag ``"<inner tag>+aes"``.

    Args:
        inner: the serializer whose output is encrypted (default: ``JsonPlusSerializer()``).
        key: 16/24/32 raw bytes, or text as ``parse_key`` accepts; default: ``WAYPOINT_AES_KEY``.
        allow_unencrypted: load tags without ``+aes`` through ``inner`` (default) or refuse them.
    """

    def __init__(
        self,
        inner: SerializerProtocol | None = None,
        *,
        key: bytes | str | None = None,
        allow_unencrypted: bool = True,
    ) -> None:
        if key is None:
            key = os.environ.get(ENV_VAR)
            if not key:
                raise SerializationError(
                    f"no AES key: pass key=... or set the {ENV_VAR} environment variable"
                )
        aesgcm = _aesgcm_class()
        if inner is None:
            from waypoint.checkpoint.serde.jsonplus import JsonPlusSerializer

            inner = JsonPlusSerializer()
        self.inner = inner
        self.allow_unencrypted = allow_unencrypted
        self._cipher = aesgcm(parse_key(key))

    @classmethod
    def from_pycryptodome_aes(
        cls,
        serde: SerializerProtocol | None = None,
        *,
        key: bytes | str | None = None,
        mode: Any = None,
        allow_unencrypted: bool = True,
    ) -> EncryptedSerializer:
        """LangGraph's documented constructor: AES around ``serde`` (default
        ``JsonPlusSerializer()``) with ``key``, else the ``LANGGRAPH_AES_KEY`` environment
        variable (its text's UTF-8 bytes, 16/24/32 long, as LangGraph reads it), else
        ``WAYPOINT_AES_KEY``. Waypoint encrypts with AES-GCM through ``cryptography``, so
        pycryptodome is not needed, ``mode`` may only be None, and the stored bytes are
        waypoint's format (LangGraph's EAX ciphertext is not readable, nor the reverse)."""
        if mode is not None:
            raise SerializationError(
                f"from_pycryptodome_aes(mode={mode!r}): waypoint always uses AES-GCM; drop mode"
            )
        if key is None and (text := os.environ.get(LANGGRAPH_ENV_VAR)):
            key = text.encode("utf-8")
            if len(key) not in _KEY_SIZES:
                raise SerializationError(
                    f"{LANGGRAPH_ENV_VAR} must be 16, 24 or 32 bytes long, got {len(key)}"
                )
        if key is None and not os.environ.get(ENV_VAR):
            raise SerializationError(
                f"no AES key: pass key=... or set {LANGGRAPH_ENV_VAR} or {ENV_VAR}"
            )
        return cls(serde, key=key, allow_unencrypted=allow_unencrypted)

    binds_place = True
    """Savers pass a ``place`` to :meth:`dumps_typed` / :meth:`loads_typed` when this is true."""

    def dumps_typed(self, obj: Any, place: Place | None = None) -> tuple[str, bytes]:
        """Serialize with ``inner`` and encrypt; the tag gains ``+aes``, or ``+aesb`` when the
        ciphertext is sealed to ``place``."""
        tag, data = self.inner.dumps_typed(obj)
        nonce = os.urandom(NONCE_SIZE)
        if place is None:
            return tag + SUFFIX, nonce + self._cipher.encrypt(nonce, data, tag.encode("utf-8"))
        return tag + BOUND_SUFFIX, nonce + self._cipher.encrypt(nonce, data, _aad(tag, place))

    def loads_typed(self, data: tuple[str, bytes], place: Place | None = None) -> Any:
        """Decrypt ``+aes``/``+aesb`` data and load it with ``inner``; other tags go straight to
        ``inner``. ``+aesb`` data must be loaded at the ``place`` it was sealed for."""
        tag, payload = _pair(data)
        if not isinstance(tag, str) or not tag.endswith((SUFFIX, BOUND_SUFFIX)):
            if not self.allow_unencrypted:
                raise SerializationError(
                    f"refusing unencrypted data (tag {tag!r}): allow_unencrypted is off"
                )
            return self.inner.loads_typed(data)
        inner_tag, plain = self._open(tag, payload, place)
        return self.inner.loads_typed((inner_tag, plain))

    def reseal(self, data: tuple[str, bytes], old: Place, new: Place) -> tuple[str, bytes]:
        """The ``+aesb`` value sealed for ``old`` sealed for ``new`` instead, without loading it
        (what ``copy_thread`` does with each value); any other data is returned unchanged."""
        tag, payload = _pair(data)
        if not isinstance(tag, str) or not tag.endswith(BOUND_SUFFIX):
            return data
        inner_tag, plain = self._open(tag, payload, old)
        nonce = os.urandom(NONCE_SIZE)
        return tag, nonce + self._cipher.encrypt(nonce, plain, _aad(inner_tag, new))

    def _open(self, tag: str, payload: Any, place: Place | None) -> tuple[str, bytes]:
        bound = tag.endswith(BOUND_SUFFIX)
        inner_tag = tag[: -len(BOUND_SUFFIX if bound else SUFFIX)]
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise SerializationError(f"loads_typed expects bytes, got {type(payload).__name__}")
        payload = bytes(payload)
        if len(payload) < NONCE_SIZE + _GCM_TAG_SIZE:
            raise SerializationError(f"encrypted payload too short ({len(payload)} bytes)")
        if bound and place is None:
            raise EncryptedPlacementError(
                f"{tag!r} data is sealed to the place it is stored at; load it through the "
                "saver that stored it (which knows that place), not with loads_typed alone"
            )
        aad = _aad(inner_tag, place) if bound else inner_tag.encode("utf-8")  # type: ignore[arg-type]
        try:
            return inner_tag, self._cipher.decrypt(payload[:NONCE_SIZE], payload[NONCE_SIZE:], aad)
        except Exception as exc:  # cryptography's InvalidTag
            if bound:
                raise EncryptedPlacementError(
                    f"cannot decrypt {tag!r} data expected at {_describe(place)}: it was sealed "
                    "for another place (copied or moved from another thread, namespace, channel, "
                    "write or version), or tampered with, or the key is wrong"
                ) from exc
            raise SerializationError(
                f"cannot decrypt {tag!r} data: wrong key, or the data or its tag was tampered with"
            ) from exc


def _pair(data: Any) -> tuple[Any, Any]:
    try:
        tag, payload = data
    except (TypeError, ValueError):
        raise SerializationError("loads_typed expects a (tag, bytes) pair") from None
    return tag, payload


def _aad(inner_tag: str, place: Place) -> bytes:
    """Associated data of a bound value: its inner tag and its place, unambiguously framed."""
    return inner_tag.encode("utf-8") + b"\x00" + json.dumps([str(p) for p in place]).encode("ascii")


def _describe(place: Any) -> str:
    kind, *parts = place
    names = {
        "checkpoint": ("thread_id", "checkpoint_ns", "checkpoint_id"),
        "metadata": ("thread_id", "checkpoint_ns", "checkpoint_id"),
        "blob": ("thread_id", "checkpoint_ns", "channel", "version"),
        "write": ("thread_id", "checkpoint_ns", "checkpoint_id", "task_id", "idx"),
        "page": ("thread_id", "checkpoint_ns", "lineage", "first_item"),
    }.get(kind)
    if names is None or len(names) != len(parts):
        return f"{kind} {parts!r}"
    return f"{kind} " + ", ".join(f"{n}={p!r}" for n, p in zip(names, parts))


def binds_place(serde: Any) -> bool:
    """Whether ``serde`` seals values to their place (savers then pass one)."""
    return getattr(serde, "binds_place", False) is True


__all__ = ["BOUND_SUFFIX", "ENV_VAR", "EncryptedSerializer", "binds_place", "parse_key"]
