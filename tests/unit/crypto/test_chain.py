from hrd_reports.crypto.chain import GENESIS, canonical_json, chain_digest, digests_match

SECRET = b"s" * 32
RECORD = {"seq": 1, "actor": "alice", "action": "report.decrypt", "detail": "{}"}


def test_digest_covers_previous_digest_record_and_secret() -> None:
    digest = chain_digest(SECRET, GENESIS, RECORD)
    assert digest == chain_digest(SECRET, GENESIS, dict(reversed(RECORD.items())))
    assert digest != chain_digest(SECRET, "1" * 64, RECORD)
    assert digest != chain_digest(SECRET, GENESIS, {**RECORD, "actor": "mallory"})
    assert digest != chain_digest(b"t" * 32, GENESIS, RECORD)


def test_canonical_json_is_sorted_compact_ascii() -> None:
    assert canonical_json({"b": "é", "a": 1}) == b'{"a":1,"b":"\\u00e9"}'


def test_digest_comparison() -> None:
    assert digests_match("ab" * 32, "ab" * 32)
    assert not digests_match("ab" * 32, "ba" * 32)
