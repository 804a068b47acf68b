"""``EncryptedSerializer``: AES-GCM encryption around any serializer.

Dumping encrypts the inner serializer's bytes and tags them ``"<inner tag>+aes"``; the payload is
a random 12-byte nonce followed by the ciphertext and its 16-byte GCM tag. The inner tag is bound
to the ciphertext as associated data, so stored tags cannot be swapped. Loading a tag without
``+aes`` passes the data to the inner serializer unchanged, so data written before encryption
was turned on stays readable (``allow_unencrypted=False`` refuses it instead).

Keys are 16, 24 or 32 bytes (AES-128/192/256), given as ``key=`` or read from the
``WAYPOINT_AES_KEY`` environment variable; see ``parse_key`` for the accepted text forms.
Needs the ``cryptography`` package (``pip install 'waypoint[crypto]'``).
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from waypoint.checkpoint.serde.base import SerializerProtocol
from waypoint.errors import SerializationError

ENV_VAR = "WAYPOINT_AES_KEY"
LANGGRAPH_ENV_VAR = "LANGGRAPH_AES_KEY"  # read by from_pycryptodome_aes, as LangGraph does
SUFFIX = "+aes"
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
            "EncryptedSerializer needs the 'cryptography' package: pip install 'waypoint[crypto]'"
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

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        """Serialize with ``inner`` and encrypt; the tag gains ``+aes``."""
        tag, data = self.inner.dumps_typed(obj)
        nonce = os.urandom(NONCE_SIZE)
        return tag + SUFFIX, nonce + self._cipher.encrypt(nonce, data, tag.encode("utf-8"))

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        """Decrypt ``+aes`` data and load it with ``inner``; other tags go straight to ``inner``."""
        try:
            tag, payload = data
        except (TypeError, ValueError):
            raise SerializationError("loads_typed expects a (tag, bytes) pair") from None
        if not isinstance(tag, str) or not tag.endswith(SUFFIX):
            if not self.allow_unencrypted:
                raise SerializationError(
                    f"refusing unencrypted data (tag {tag!r}): allow_unencrypted is off"
                )
            return self.inner.loads_typed(data)
        inner_tag = tag[: -len(SUFFIX)]
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise SerializationError(f"loads_typed expects bytes, got {type(payload).__name__}")
        payload = bytes(payload)
        if len(payload) < NONCE_SIZE + _GCM_TAG_SIZE:
            raise SerializationError(f"encrypted payload too short ({len(payload)} bytes)")
        try:
            plain = self._cipher.decrypt(
                payload[:NONCE_SIZE], payload[NONCE_SIZE:], inner_tag.encode("utf-8")
            )
        except Exception as exc:  # cryptography's InvalidTag
            raise SerializationError(
                f"cannot decrypt {tag!r} data: wrong key, or the data or its tag was tampered with"
            ) from exc
        return self.inner.loads_typed((inner_tag, plain))


__all__ = ["ENV_VAR", "EncryptedSerializer", "parse_key"]
