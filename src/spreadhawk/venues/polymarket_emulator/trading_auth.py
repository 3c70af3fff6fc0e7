"""API credentials and request authentication, as Polymarket's CLOB checks them.

L1 (``POST /auth/api-key``, ``GET /auth/derive-api-key``): headers ``POLY_ADDRESS``,
``POLY_SIGNATURE`` (an EIP-712 ``ClobAuth`` signature), ``POLY_TIMESTAMP``, ``POLY_NONCE``; the
signature must recover ``POLY_ADDRESS``. The credentials of an (address, nonce) are derived from it
deterministically, as Polymarket's are (derive returns what create made).

L2 (every trading endpoint): ``POLY_ADDRESS``, ``POLY_API_KEY``, ``POLY_PASSPHRASE``,
``POLY_TIMESTAMP``, ``POLY_SIGNATURE`` (the HMAC of ``timestamp + method + path + body`` with the
secret). Anything wrong is ``AuthError`` -> HTTP 401 ``{"error": "Unauthorized/Invalid api key"}``,
Polymarket's answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from spreadhawk.venues.polymarket.eip712 import SignatureError, clob_auth_signer, hmac_signature

__all__ = ["ApiCredentials", "AuthError", "Authenticator"]

UNAUTHORIZED = "Unauthorized/Invalid api key"


class AuthError(Exception):
    """The request's credentials are missing or wrong (the message says which, for the log)."""


@dataclass(frozen=True)
class ApiCredentials:
    api_key: str
    secret: str
    passphrase: str
    address: str

    def wire(self) -> dict[str, str]:
        return {"apiKey": self.api_key, "secret": self.secret, "passphrase": self.passphrase}


class Authenticator:
    """The API keys issued, and the L1 / L2 checks."""

    def __init__(self, chain_id: int, seed: str = "spreadhawk-emulator") -> None:
        self.chain_id = chain_id
        self._seed = seed
        self.keys: dict[str, ApiCredentials] = {}

    def credentials(self, address: str, nonce: int) -> ApiCredentials:
        """The credentials of ``address`` at ``nonce`` (the same every time)."""
        digest = hashlib.sha256(f"{self._seed}|{address.lower()}|{nonce}".encode()).digest()
        creds = ApiCredentials(
            api_key=str(uuid.UUID(bytes=digest[:16])),
            secret=base64.urlsafe_b64encode(digest).decode(),
            passphrase=hashlib.sha256(digest).hexdigest(),
            address=address,
        )
        self.keys[creds.api_key] = creds
        return creds

    def level1(self, headers: Mapping[str, str]) -> ApiCredentials:
        address, signature = headers.get("POLY_ADDRESS", ""), headers.get("POLY_SIGNATURE", "")
        timestamp, nonce_text = headers.get("POLY_TIMESTAMP", ""), headers.get("POLY_NONCE", "0")
        if not (address and signature and timestamp and nonce_text.isdigit()):
            raise AuthError("L1 headers missing (POLY_ADDRESS, POLY_SIGNATURE, POLY_TIMESTAMP, POLY_NONCE)")
        try:
            signer = clob_auth_signer(address, timestamp, int(nonce_text), signature, self.chain_id)
        except SignatureError as exc:
            raise AuthError(f"L1 signature: {exc}") from None
        if signer.lower() != address.lower():
            raise AuthError(f"L1 signature recovers {signer}, not POLY_ADDRESS {address}")
        return self.credentials(address, int(nonce_text))

    def level2(self, headers: Mapping[str, str], method: str, path: str, body: str) -> ApiCredentials:
        creds = self.keys.get(headers.get("POLY_API_KEY", ""))
        if creds is None:
            raise AuthError("unknown POLY_API_KEY")
        if not hmac.compare_digest(headers.get("POLY_PASSPHRASE", ""), creds.passphrase):
            raise AuthError("wrong POLY_PASSPHRASE")
        if headers.get("POLY_ADDRESS", "").lower() != creds.address.lower():
            raise AuthError("POLY_ADDRESS is not the API key's address")
        expected = hmac_signature(creds.secret, headers.get("POLY_TIMESTAMP", ""), method, path, body)
        if not hmac.compare_digest(headers.get("POLY_SIGNATURE", ""), expected):
            raise AuthError("POLY_SIGNATURE does not match the request")
        return creds

    def by_secret(self, api_key: str, secret: str, passphrase: str) -> ApiCredentials:
        """The user channel's auth (the three values in the subscribe message)."""
        creds = self.keys.get(api_key)
        if creds is None or not (
            hmac.compare_digest(creds.secret, secret) and hmac.compare_digest(creds.passphrase, passphrase)
        ):
            raise AuthError("user channel: wrong apiKey, secret or passphrase")
        return creds
