import pytest

from hrd_reports.crypto.errors import InvalidRecoveryKey
from hrd_reports.crypto.recovery import PREFIX, decode_recovery_key, encode_recovery_key
from hrd_reports.crypto.xwing import PrivateKey


def test_recovery_key_round_trips_as_typed_by_a_person() -> None:
    key = PrivateKey.generate()
    text = encode_recovery_key(key)
    assert text.startswith(PREFIX + "-")
    sloppy = text.lower().replace("-", " ")
    assert decode_recovery_key(sloppy).public.raw == key.public.raw


def test_recovery_key_with_a_typing_mistake_anywhere_is_refused() -> None:
    text = encode_recovery_key(PrivateKey.generate())
    for position in range(len(PREFIX) + 1, len(text)):
        if text[position] == "-":
            continue
        typo = text[:position] + ("A" if text[position] != "A" else "B") + text[position + 1 :]
        with pytest.raises(InvalidRecoveryKey):
            decode_recovery_key(typo)


@pytest.mark.parametrize("typed", ["", "HRDRK1", "HRDRK1-0000", "not a key at all", "HRDRK2-AAAA"])
def test_malformed_recovery_key_is_refused(typed: str) -> None:
    with pytest.raises(InvalidRecoveryKey):
        decode_recovery_key(typed)
