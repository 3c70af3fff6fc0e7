"""Polymarket's signatures, shared by the adapter (which signs) and the emulator (which verifies).

* L1: an EIP-712 ``ClobAuth`` message (domain ``ClobAuthDomain`` v1, the chain id) signed by the
  wallet; it proves the wallet for creating or deriving API credentials.
* L2: an HMAC-SHA256 of ``timestamp + method + path + body`` keyed with the API secret (urlsafe
  base64), sent in ``POLY_SIGNATURE`` on every trading request.
* Orders: an EIP-712 ``Order`` (domain ``Polymarket CTF Exchange`` v1, the chain id and the exchange
  contract, which differs for neg-risk markets). The struct hash is the order's id at Polymarket
  (``orderID``), so it is known before the order is sent: the adapter records it ahead of the request
  (see ``venues.polymarket.ids``).

The signing libraries are py-clob-client's own dependencies (py-order-utils, poly-eip712-structs).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from poly_eip712_structs import make_domain  # type: ignore[import-untyped]
from py_clob_client.config import get_contract_config  # type: ignore[import-untyped]
from py_clob_client.signing.model import ClobAuth  # type: ignore[import-untyped]
from py_order_utils.model import Order  # type: ignore[import-untyped]

__all__ = [
    "CLOB_AUTH_MESSAGE",
    "SignatureError",
    "clob_auth_signer",
    "exchange_address",
    "hmac_signature",
    "order_hash",
    "order_signer",
]

CLOB_AUTH_MESSAGE = "This message attests that I control the given wallet"
_SIDES = {"BUY": 0, "SELL": 1}


class SignatureError(ValueError):
    """A signature or signed payload that cannot be read (the message names what is wrong)."""


def exchange_address(chain_id: int, neg_risk: bool) -> str:
    """The CTF exchange contract orders are signed for (neg-risk markets have their own)."""
    return str(get_contract_config(chain_id, neg_risk).exchange)


def _recover(digest: bytes, signature: str) -> str:
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
        return str(Account._recover_hash(digest, signature=raw))
    except Exception as exc:  # eth_account raises several kinds for a malformed signature
        raise SignatureError(f"unreadable signature: {type(exc).__name__}: {exc}") from None


def clob_auth_signer(address: str, timestamp: str, nonce: int, signature: str, chain_id: int) -> str:
    """The address that signed this L1 ``ClobAuth`` message."""
    message = ClobAuth(address=address, timestamp=timestamp, nonce=nonce, message=CLOB_AUTH_MESSAGE)
    domain = make_domain(name="ClobAuthDomain", version="1", chainId=chain_id)
    return _recover(keccak(message.signable_bytes(domain)), signature)


def hmac_signature(secret: str, timestamp: str, method: str, path: str, body: str) -> str:
    """The L2 ``POLY_SIGNATURE`` of a request (``body`` exactly as sent; empty for none)."""
    key = base64.urlsafe_b64decode(secret)
    digest = hmac.new(key, f"{timestamp}{method}{path}{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()


def _order_struct(order: dict[str, Any]) -> Any:
    try:
        return Order(
            salt=int(order["salt"]),
            maker=str(order["maker"]),
            signer=str(order["signer"]),
            taker=str(order["taker"]),
            tokenId=int(order["tokenId"]),
            makerAmount=int(order["makerAmount"]),
            takerAmount=int(order["takerAmount"]),
            expiration=int(order["expiration"]),
            nonce=int(order["nonce"]),
            feeRateBps=int(order["feeRateBps"]),
            side=_SIDES[str(order["side"])],
            signatureType=int(order["signatureType"]),
        )
    except KeyError as exc:
        raise SignatureError(f"order field {exc.args[0]} missing or invalid") from None
    except (TypeError, ValueError) as exc:
        raise SignatureError(f"order field not a number: {exc}") from None


def _digest(order: dict[str, Any], chain_id: int, neg_risk: bool) -> bytes:
    domain = make_domain(
        name="Polymarket CTF Exchange",
        version="1",
        chainId=str(chain_id),
        verifyingContract=exchange_address(chain_id, neg_risk),
    )
    return bytes(keccak(_order_struct(order).signable_bytes(domain=domain)))


def order_hash(order: dict[str, Any], chain_id: int, neg_risk: bool) -> str:
    """The order's id at Polymarket: ``0x`` + its EIP-712 hash (hex)."""
    return "0x" + _digest(order, chain_id, neg_risk).hex()


def order_signer(order: dict[str, Any], chain_id: int, neg_risk: bool) -> str:
    """The address whose key produced ``order["signature"]``."""
    return _recover(_digest(order, chain_id, neg_risk), str(order.get("signature", "")))
