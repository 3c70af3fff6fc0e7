"""AES-256-GCM sealing and the KDFs: round trip, tampering, nonces, parameters (RELIABILITY.md S14)."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidTag

from spreadhawk.keystore.crypto import (
    NONCE_BYTES,
    KdfError,
    Sealed,
    argon2id_available,
    derive_kek,
    new_salt,
    open_sealed,
    seal,
)

CHEAP = {"n": 2**10, "r": 8, "p": 1}
AAD = b"binance:main:api_secret:1"


def flip(data: bytes, bit: int = 0) -> bytes:
    return data[: bit // 8] + bytes([data[bit // 8] ^ (1 << (bit % 8))]) + data[bit // 8 + 1 :]


def test_round_trip() -> None:
    kek = os.urandom(32)
    sealed = seal(kek, b"the secret", AAD)
    assert b"the secret" not in sealed.ct
    assert open_sealed(kek, sealed, AAD) == b"the secret"


@pytest.mark.parametrize("bit", [0, 7, 100])
def test_one_flipped_bit_in_the_ciphertext_fails(bit: int) -> None:
    kek = os.urandom(32)
    sealed = seal(kek, b"the secret", AAD)
    with pytest.raises(InvalidTag):
        open_sealed(kek, Sealed(sealed.nonce, flip(sealed.ct, bit)), AAD)


def test_one_flipped_bit_in_the_nonce_fails() -> None:
    kek = os.urandom(32)
    sealed = seal(kek, b"the secret", AAD)
    with pytest.raises(InvalidTag):
        open_sealed(kek, Sealed(flip(sealed.nonce, 5), sealed.ct), AAD)


@pytest.mark.parametrize("length", [0, 4, 8, 16])
def test_a_nonce_of_another_length_fails_as_tampering(length: int) -> None:
    # AESGCM itself raises ValueError below 8 bytes: that must not escape as a traceback.
    kek = os.urandom(32)
    sealed = seal(kek, b"the secret", AAD)
    with pytest.raises(InvalidTag):
        open_sealed(kek, Sealed((sealed.nonce * 2)[:length], sealed.ct), AAD)


@pytest.mark.parametrize(
    "aad", [b"binance:main:api_key:1", b"binance:other:api_secret:1", b"binance:main:api_secret:2"]
)
def test_other_associated_data_fails(aad: bytes) -> None:
    kek = os.urandom(32)
    sealed = seal(kek, b"the secret", AAD)
    with pytest.raises(InvalidTag):
        open_sealed(kek, sealed, aad)


def test_another_key_fails() -> None:
    sealed = seal(os.urandom(32), b"the secret", AAD)
    with pytest.raises(InvalidTag):
        open_sealed(os.urandom(32), sealed, AAD)


def test_nonces_are_unique_over_ten_thousand_encryptions() -> None:
    # The suite runs 10**4; SPREADHAWK_SOAK=1 runs the 10**5 of S14. A repeated nonce under one key
    # would reveal the XOR of two plaintexts and the GHASH key.
    kek = os.urandom(32)
    count = 100_000 if os.environ.get("SPREADHAWK_SOAK") else 10_000
    nonces = [seal(kek, b"x", AAD).nonce for _ in range(count)]
    assert all(len(n) == NONCE_BYTES for n in nonces)
    assert len(set(nonces)) == len(nonces)


def test_scrypt_honours_its_parameters() -> None:
    salt = new_salt()
    base = derive_kek(b"pass", "scrypt", CHEAP, salt)
    assert len(base) == 32
    assert derive_kek(b"pass", "scrypt", CHEAP, salt) == base
    assert derive_kek(b"pass", "scrypt", {**CHEAP, "n": 2**11}, salt) != base
    assert derive_kek(b"pass", "scrypt", {**CHEAP, "r": 4}, salt) != base
    assert derive_kek(b"pass", "scrypt", CHEAP, new_salt()) != base
    assert derive_kek(b"pasS", "scrypt", CHEAP, salt) != base


@pytest.mark.parametrize(
    "params",
    [
        {"n": 2**4, "r": 8, "p": 1},  # too weak: a tampered file must not choose a trivial KDF
        {"n": 1000, "r": 8, "p": 1},  # not a power of two
        {"n": 2**10, "r": 8},  # missing
        {"n": 2**10, "r": 8, "p": 1, "x": 1},  # unknown
        {"n": "1024", "r": 8, "p": 1},  # not an int
        {"n": True, "r": 8, "p": 1},  # bool is not an int here
    ],
)
def test_bad_scrypt_parameters_are_refused(params: dict[str, object]) -> None:
    with pytest.raises(KdfError):
        derive_kek(b"pass", "scrypt", params, new_salt())


def test_unknown_kdf_and_short_salt_are_refused() -> None:
    with pytest.raises(KdfError):
        derive_kek(b"pass", "pbkdf1", CHEAP, new_salt())
    with pytest.raises(KdfError):
        derive_kek(b"pass", "scrypt", CHEAP, b"short")


@pytest.mark.skipif(not argon2id_available(), reason="this cryptography/OpenSSL has no Argon2id")
def test_argon2id_honours_its_parameters() -> None:
    salt = new_salt()
    cheap = {"memory_cost": 1024, "iterations": 1, "lanes": 1}
    base = derive_kek(b"pass", "argon2id", cheap, salt)
    assert derive_kek(b"pass", "argon2id", cheap, salt) == base
    assert derive_kek(b"pass", "argon2id", {**cheap, "iterations": 2}, salt) != base
    with pytest.raises(KdfError):
        derive_kek(b"pass", "argon2id", {**cheap, "memory_cost": 8}, salt)
