"""Credentials never print their secrets, whatever prints them (RELIABILITY.md S17)."""

from __future__ import annotations

import logging
import pickle

import pytest

from spreadhawk.keystore import ApiCredentials, Secret

CANARY_KEY = "CANARYKEY-5f1d2c"
CANARY_SECRET = "CANARYSECRET-9a7e41"
CANARY_PASS = "CANARYPASS-33b0"


def creds() -> ApiCredentials:
    return ApiCredentials("binance", "main", Secret(CANARY_KEY), Secret(CANARY_SECRET), Secret(CANARY_PASS))


def assert_clean(text: str) -> None:
    for canary in (CANARY_KEY, CANARY_SECRET, CANARY_PASS):
        assert canary not in text


def test_repr_str_and_format_never_show_a_secret() -> None:
    c = creds()
    texts = [repr(c), str(c), f"{c}", f"{c!r}", f"{c:>80}", "%s %r" % (c, c), "{}".format(c)]  # noqa: UP031, UP032
    texts += [repr(c.api_secret), str(c.api_secret), f"{c.api_secret}", f"{c.api_secret:>30}", repr(c.fields())]
    texts += [repr([c]), repr({"c": c}), str((c,))]
    for text in texts:
        assert_clean(text)
    # Allow-list: exchange and account, and not even a masked placeholder for the secret fields.
    assert repr(c) == "ApiCredentials(exchange='binance', account='main')"


def test_logging_never_shows_a_secret(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("spreadhawk.test.keystore")
    c = creds()
    with caplog.at_level(logging.DEBUG, logger="spreadhawk.test.keystore"):
        log.info("credentials %s", c)
        log.info("credentials %r", c)
        log.info("secret %s", c.api_secret)
        log.info(f"credentials {c} {c.api_secret}")  # the f-string path is the point
        try:
            raise ValueError(c)
        except ValueError:
            log.exception("failed with %s", c)
    assert caplog.records
    assert_clean(caplog.text)


def test_reveal_is_the_one_way_out() -> None:
    c = creds()
    assert c.api_key.reveal() == CANARY_KEY
    assert c.api_secret.reveal() == CANARY_SECRET
    assert c.passphrase is not None
    assert c.passphrase.reveal() == CANARY_PASS


def test_secrets_compare_by_value_but_cannot_be_hashed_or_pickled() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    with pytest.raises(TypeError):
        hash(Secret("a"))
    with pytest.raises(TypeError):
        pickle.dumps(Secret("a"))
    with pytest.raises(TypeError):
        pickle.dumps(creds())


def test_plain_strings_are_refused() -> None:
    with pytest.raises(TypeError):
        ApiCredentials("binance", "main", CANARY_KEY, Secret(CANARY_SECRET))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]
