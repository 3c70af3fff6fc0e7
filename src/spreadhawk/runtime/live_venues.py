"""The live row's venues: one ``CcxtVenue`` per venue name, holding its key store account's API key
(``ccxt_venues``); ``live_venues`` adds a ``PolymarketVenue`` for each venue whose ``[[live]]``
sections say ``exchange = "polymarket"`` (``polymarket_venues``).

A venue name is one exchange account: the ``[[live]]`` sections naming it must agree on the exchange
and name the key store ``account`` whose key trades there. The keys are read from the encrypted key
store (never from the config): its passphrase from ``SPREADHAWK_KEYSTORE_PASSPHRASE`` or the OS
keyring. No secret appears in an error message: the key store's errors name the entry, not its value.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.keystore import ApiCredentials, KeyStore, KeystoreError, Secret, default_store_path
from spreadhawk.runtime.config import ConfigError, RunConfig

if TYPE_CHECKING:
    from spreadhawk.venues.ccxt.venue import CcxtVenue
    from spreadhawk.venues.polymarket.venue import PolymarketVenue

PASSPHRASE_ENV = "SPREADHAWK_KEYSTORE_PASSPHRASE"
Credentials = Callable[[str, str], ApiCredentials]  # (exchange, account) -> the account's credentials


def keystore_credentials(config: RunConfig, environ: Mapping[str, str] = os.environ) -> Credentials:
    """Credentials read from the config's key store (default: ``$SPREADHAWK_KEYSTORE``, else ~/.spreadhawk)."""
    section = config.live_trading
    path = config.resolve(section.keystore) if section.keystore else default_store_path(environ)
    passphrase = Secret(environ[PASSPHRASE_ENV]) if environ.get(PASSPHRASE_ENV) else None

    def read(exchange: str, account: str) -> ApiCredentials:
        try:
            return _open_store(Path(path)).get(exchange, account, passphrase)
        except KeystoreError as exc:
            raise ConfigError(f"key store: {exc}") from None

    return read


def _open_store(path: Path) -> KeyStore:
    if not path.is_file():
        raise KeystoreError(f"no key store at {path} (add a key: spreadhawk keys add EXCHANGE --account NAME)")
    from spreadhawk.keystore.oskeyring import os_keyring  # noqa: PLC0415 (only when a key is read)

    return KeyStore(path, keyring=os_keyring())


def ccxt_venues(
    config: RunConfig, instruments: dict[InstrumentId, Instrument], credentials: Credentials
) -> dict[str, CcxtVenue]:
    """One trading venue per venue name the ``[[live]]`` sections feed; errors name the section."""
    from spreadhawk.venues.ccxt.urls import local_urls  # noqa: PLC0415 (ccxt loads slowly)
    from spreadhawk.venues.ccxt.venue import CcxtVenue  # noqa: PLC0415

    if not config.live:
        raise ConfigError("live trading needs at least one [[live]] section (venue, exchange, instruments, account)")
    by_venue: dict[str, list[int]] = {}
    for index, section in enumerate(config.live):
        by_venue.setdefault(section.venue, []).append(index)
    traded = sorted({instruments[iid].venue for iid in instruments})
    unfed = [name for name in traded if name not in by_venue]
    if unfed:
        raise ConfigError(f"instruments on venue {unfed[0]} but no [[live]] section trades it")
    venues: dict[str, CcxtVenue] = {}
    for name, indexes in sorted(by_venue.items()):
        sections = [config.live[i] for i in indexes]
        exchanges = sorted({s.exchange for s in sections})
        if len(exchanges) > 1:
            raise ConfigError(
                f"live.{indexes[1]}: venue {name} is traded through {' and '.join(exchanges)}; one venue name is "
                "one exchange account: give the instruments of the other account another venue name"
            )
        accounts = sorted({s.account for s in sections if s.account})
        if len(accounts) != 1:
            problem = "names no key store account" if not accounts else f"names accounts {', '.join(accounts)}"
            raise ConfigError(f"live.{indexes[0]}.account: venue {name} {problem}; give exactly one")
        section = sections[0]
        keys = credentials(section.exchange, accounts[0])
        traded_here = [inst for inst in instruments.values() if inst.venue == name]
        try:
            urls = local_urls(section.exchange, section.host) if section.host else None
            venues[name] = CcxtVenue(
                name,
                section.exchange,
                traded_here,
                api_key=keys.api_key.reveal(),
                api_secret=keys.api_secret.reveal(),
                urls=urls,
                visibility_window_s=config.live_trading.visibility_window_s,
                trade_poll_s=config.live_trading.trade_poll_s,
            )
        except ValueError as exc:
            raise ConfigError(f"live.{indexes[0]}: {exc}") from None
    return venues


POLYMARKET = "polymarket"
POLYMARKET_CLOB = "https://clob.polymarket.com"
POLYMARKET_USER_CHANNEL = "wss://ws-subscriptions-clob.polymarket.com/ws/user"


def live_venues(
    config: RunConfig, instruments: dict[InstrumentId, Instrument], credentials: Credentials
) -> dict[str, CcxtVenue | PolymarketVenue]:
    """Every ``[[live]]`` venue: Polymarket's through ``PolymarketVenue``, the others through ccxt."""
    polymarket = {s.venue for s in config.live if s.exchange == POLYMARKET}
    if not polymarket:
        return dict(ccxt_venues(config, instruments, credentials))
    others = config.model_copy(update={"live": [s for s in config.live if s.venue not in polymarket]})
    venues: dict[str, CcxtVenue | PolymarketVenue] = {}
    if others.live:
        rest = {iid: inst for iid, inst in instruments.items() if inst.venue not in polymarket}
        venues.update(ccxt_venues(others, rest, credentials))
    traded = {iid: inst for iid, inst in instruments.items() if inst.venue in polymarket}
    venues.update(polymarket_venues(config, traded, credentials))
    return venues


def polymarket_venues(
    config: RunConfig, instruments: dict[InstrumentId, Instrument], credentials: Credentials
) -> dict[str, PolymarketVenue]:
    """One ``PolymarketVenue`` per venue name of the ``exchange = "polymarket"`` sections.

    The key store account (``spreadhawk keys add polymarket --account NAME``) holds the wallet: its
    address as the API key, its private key as the secret (the CLOB's API credentials are derived
    from the wallet at start). ``host``: a local emulator (``http://127.0.0.1:PORT``, its user channel
    at ``ws://.../ws/user``); empty: Polymarket's CLOB. The venue's id journal (client id -> orderID,
    see ``venues.polymarket.ids``) lives beside the key store: ``polymarket-<venue>.ids``."""
    from eth_account import Account  # noqa: PLC0415 (only when Polymarket is traded)

    from spreadhawk.venues.polymarket.venue import PolymarketVenue  # noqa: PLC0415

    venues: dict[str, PolymarketVenue] = {}
    for index, section in enumerate(config.live):
        if section.exchange != POLYMARKET or section.venue in venues:
            continue
        if not section.account:
            raise ConfigError(f"live.{index}.account: venue {section.venue} names no key store account")
        keys = credentials(POLYMARKET, section.account)
        try:
            wallet = str(Account.from_key(keys.api_secret.reveal()).address)
        except (ValueError, TypeError):
            raise ConfigError(
                f"key store {POLYMARKET}/{section.account}: the secret is not a wallet private key"
            ) from None
        if keys.api_key.reveal().lower() != wallet.lower():
            raise ConfigError(
                f"key store {POLYMARKET}/{section.account}: the API key must be the address of the secret's wallet"
            )
        host = section.host.rstrip("/") if section.host else POLYMARKET_CLOB
        ws_url = host.replace("http", "ws", 1) + "/ws/user" if section.host else POLYMARKET_USER_CHANNEL
        journal_dir = Path(
            config.resolve(config.live_trading.keystore) if config.live_trading.keystore else default_store_path()
        ).parent
        traded_here = [inst for inst in instruments.values() if inst.venue == section.venue]
        try:
            venues[section.venue] = PolymarketVenue(
                section.venue,
                traded_here,
                private_key=keys.api_secret.reveal(),
                host=host,
                ws_url=ws_url,
                id_journal=journal_dir / f"polymarket-{section.venue}.ids",
            )
        except ValueError as exc:
            raise ConfigError(f"live.{index}: {exc}") from None
    return venues
