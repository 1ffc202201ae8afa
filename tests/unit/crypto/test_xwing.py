import pytest

from hrd_reports.crypto.errors import DecryptionFailed, InvalidKeyMaterial
from hrd_reports.crypto.xwing import (
    ENC_SIZE,
    PUBLIC_KEY_SIZE,
    SUITE,
    PrivateKey,
    PublicKey,
    Sealed,
    sealed_size,
)

INFO = b"hrd-reports/1/test/subject"


@pytest.fixture(scope="module")
def key() -> PrivateKey:
    return PrivateKey.generate()


def test_sealed_value_opens_with_its_key_and_info(key: PrivateKey) -> None:
    sealed = key.public.seal(b"thirty-two bytes of a data key..", info=INFO)
    assert sealed.suite == SUITE
    assert sealed.key_id == key.key_id
    assert len(sealed.ciphertext) == sealed_size(32) == ENC_SIZE + 32 + 16
    assert key.open(sealed, info=INFO) == b"thirty-two bytes of a data key.."


def test_sealing_twice_gives_different_ciphertexts(key: PrivateKey) -> None:
    assert key.public.seal(b"x", info=INFO) != key.public.seal(b"x", info=INFO)


def test_open_with_other_info_is_refused(key: PrivateKey) -> None:
    sealed = key.public.seal(b"secret", info=INFO)
    with pytest.raises(DecryptionFailed):
        key.open(sealed, info=b"hrd-reports/1/test/another-subject")


def test_every_flipped_byte_of_a_sealed_value_is_refused(key: PrivateKey) -> None:
    sealed = key.public.seal(b"secret data key", info=INFO)
    for position in range(len(sealed.ciphertext)):
        tampered = bytearray(sealed.ciphertext)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionFailed):
            key.open(Sealed(sealed.suite, sealed.key_id, bytes(tampered)), info=INFO)


def test_truncated_sealed_value_is_refused(key: PrivateKey) -> None:
    sealed = key.public.seal(b"secret", info=INFO)
    for length in (0, 1, ENC_SIZE, len(sealed.ciphertext) - 1):
        with pytest.raises(DecryptionFailed):
            key.open(Sealed(sealed.suite, sealed.key_id, sealed.ciphertext[:length]), info=INFO)


def test_value_sealed_to_another_key_is_refused(key: PrivateKey) -> None:
    other = PrivateKey.generate()
    sealed = other.public.seal(b"secret", info=INFO)
    with pytest.raises(DecryptionFailed, match="another key"):
        key.open(sealed, info=INFO)
    # Even when the label is forged to name this key, the ciphertext itself does not open.
    with pytest.raises(DecryptionFailed):
        key.open(Sealed(sealed.suite, key.key_id, sealed.ciphertext), info=INFO)


def test_unknown_suite_is_refused(key: PrivateKey) -> None:
    sealed = key.public.seal(b"secret", info=INFO)
    with pytest.raises(DecryptionFailed, match="suite"):
        key.open(
            Sealed("hpke-x25519-hkdfsha256-aes128gcm", sealed.key_id, sealed.ciphertext), info=INFO
        )


def test_seed_determines_the_key_pair() -> None:
    seed = bytes(range(32))
    assert PrivateKey(seed).public.raw == PrivateKey(seed).public.raw
    assert PrivateKey(seed).public.raw != PrivateKey(bytes(range(1, 33))).public.raw
    assert len(PrivateKey(seed).public.raw) == PUBLIC_KEY_SIZE


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_seed_of_wrong_size_is_refused(size: int) -> None:
    with pytest.raises(InvalidKeyMaterial):
        PrivateKey(bytes(size))


@pytest.mark.parametrize("raw", [b"", bytes(PUBLIC_KEY_SIZE - 1), b"\xff" * PUBLIC_KEY_SIZE])
def test_malformed_public_key_is_refused(raw: bytes) -> None:
    with pytest.raises(InvalidKeyMaterial):
        PublicKey(raw)


def test_public_key_with_unusable_x25519_half_is_refused(key: PrivateKey) -> None:
    # All-zero X25519 is a low-order point: it parses, but no shared secret can come of it.
    weak = PublicKey(key.public.raw[:-32] + bytes(32))
    with pytest.raises(InvalidKeyMaterial):
        weak.check_usable()


def test_repr_of_a_private_key_shows_no_seed() -> None:
    seed = bytes(range(32))
    key = PrivateKey(seed)
    assert seed.hex() not in repr(key)
    assert key.key_id in repr(key)
