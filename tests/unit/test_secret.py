from __future__ import annotations

from pipeline.secret import MASK, Secret, mask_text


def test_secret_never_prints() -> None:
    secret = Secret("s3cr3t-value")
    assert str(secret) == MASK
    assert repr(secret) == "Secret('****')"
    assert f"{secret}" == MASK
    assert "s3cr3t" not in f"{secret!r} {secret!s}"
    assert secret.reveal() == "s3cr3t-value"


def test_mask_text_replaces_value_and_key_lines() -> None:
    key = Secret("-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\nEEEEFFFFGGGG\n-----END KEY-----")
    text = "leaked AAAABBBBCCCCDDDD and EEEEFFFFGGGG and hunter2"
    masked = mask_text(text, [key, Secret("hunter2"), None])
    assert "AAAABBBB" not in masked
    assert "EEEEFFFF" not in masked
    assert "hunter2" not in masked
    assert masked.count(MASK) == 3
