"""Signed answer links: a token names exactly the call-up it was made for, and nothing else
verifies — not a changed character, a shortened token, another key or another version."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.callup_messages import CallUpMessages
from dispatcher.domain.answer_links import (
    TAG_BYTES,
    AnswerLinks,
    AnswerRef,
    form_proof,
    proof_matches,
    sign,
    verify,
)
from dispatcher.store.callups import CallUpSnapshot
from dispatcher.templates import load_templates

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

activation_ids = st.text(min_size=1, max_size=40).filter(lambda s: len(s.encode()) < 256)
person_ids = st.text(min_size=1, max_size=60)


def test_a_token_verifies_to_what_it_was_signed_for() -> None:
    token = sign("20260302-AB12", "E1001", KEY)
    assert verify(token, KEY) == AnswerRef("20260302-AB12", "E1001")


def test_tokens_are_url_safe_and_short() -> None:
    token = sign("20260302-AB12", "E1001", KEY)
    assert set(token) <= set(ALPHABET)
    assert len(token) < 60


def test_every_changed_character_is_refused() -> None:
    token = sign("20260302-AB12", "E1001", KEY)
    for position, original in enumerate(token):
        for replacement in ALPHABET:
            if replacement != original:
                changed = token[:position] + replacement + token[position + 1 :]
                assert verify(changed, KEY) is None, (position, replacement)


def test_every_flipped_bit_is_refused() -> None:
    token = sign("20260302-AB12", "E1001", KEY)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for index in range(len(raw)):
        for bit in range(8):
            flipped = bytearray(raw)
            flipped[index] ^= 1 << bit
            forged = base64.urlsafe_b64encode(bytes(flipped)).decode().rstrip("=")
            assert verify(forged, KEY) is None, (index, bit)


def test_shortened_and_lengthened_tokens_are_refused() -> None:
    token = sign("20260302-AB12", "E1001", KEY)
    for length in range(len(token)):
        assert verify(token[:length], KEY) is None, length
    for extra in ("A", "AA", "AAAA", "=", "==", " ", "\n"):
        assert verify(token + extra, KEY) is None, extra
        assert verify(extra + token, KEY) is None, extra


def test_another_key_is_refused() -> None:
    assert verify(sign("20260302-AB12", "E1001", KEY), OTHER_KEY) is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "!",
        "....",
        "a" * 1000,
        "é",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "/etc/passwd",
    ],
)
def test_garbage_is_refused(garbage: str) -> None:
    assert verify(garbage, KEY) is None


def test_a_correctly_signed_token_of_another_version_is_refused() -> None:
    payload = bytes((2, 2)) + b"A1" + b"P1"
    tag = hmac.new(KEY, b"krisdispatch answer link\x00" + payload, hashlib.sha256).digest()
    token = base64.urlsafe_b64encode(payload + tag[:TAG_BYTES]).decode().rstrip("=")
    assert verify(token, KEY) is None


def test_the_split_between_the_ids_is_signed() -> None:
    assert sign("ab", "c", KEY) != sign("a", "bc", KEY)
    assert verify(sign("a", "bc", KEY), KEY) == AnswerRef("a", "bc")


def test_empty_ids_and_keys_cannot_be_signed() -> None:
    with pytest.raises(ValueError):
        sign("", "E1", KEY)
    with pytest.raises(ValueError):
        sign("A1", "", KEY)
    with pytest.raises(ValueError):
        sign("A" * 256, "E1", KEY)
    with pytest.raises(ValueError):
        sign("A1", "E1", b"")
    with pytest.raises(ValueError):
        AnswerLinks("https://kris.example.se", b"")


@given(activation_ids, person_ids)
def test_round_trip_for_any_ids(activation_id: str, person_id: str) -> None:
    token = sign(activation_id, person_id, KEY)
    assert verify(token, KEY) == AnswerRef(activation_id, person_id)
    assert verify(token, OTHER_KEY) is None


@given(activation_ids, person_ids, activation_ids, person_ids)
def test_different_call_ups_get_different_tokens(a1: str, p1: str, a2: str, p2: str) -> None:
    if (a1, p1) != (a2, p2):
        assert sign(a1, p1, KEY) != sign(a2, p2, KEY)


@given(person_ids, st.integers(min_value=0), st.integers(min_value=0, max_value=7))
def test_no_flipped_bit_anywhere_verifies(person_id: str, where: int, bit: int) -> None:
    token = sign("20260302-AB12", person_id, KEY)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[where % len(raw)] ^= 1 << bit
    assert verify(base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="), KEY) is None


def test_the_form_proof_belongs_to_one_token_and_key() -> None:
    token = sign("20260302-AB12", "E1001", KEY)
    other = sign("20260302-AB12", "E1002", KEY)
    proof = form_proof(token, KEY)
    assert proof_matches(token, proof, KEY)
    assert not proof_matches(other, proof, KEY)
    assert not proof_matches(token, proof, OTHER_KEY)
    assert not proof_matches(token, proof[:-1], KEY)
    assert not proof_matches(token, "", KEY)
    assert proof != token  # a second HMAC, not the link again


def test_links_are_made_under_the_public_url() -> None:
    links = AnswerLinks("https://kris.example.se/", KEY)
    url = links.url("20260302-AB12", "E1001")
    prefix = "https://kris.example.se/answer/"
    assert url.startswith(prefix)
    assert links.read(url.removeprefix(prefix)) == AnswerRef("20260302-AB12", "E1001")
    assert "KEY" not in repr(links) and repr(KEY) not in repr(links)


def _snapshot(**changes: object) -> CallUpSnapshot:
    values: dict[str, object] = {
        "id": 7,
        "activation_id": "20260302-AB12",
        "activation_kind": "crisis",
        "activation_title": "Storm",
        "activation_message": "",
        "activation_state": "active",
        "person_id": "E1001",
        "person_name": "Anna Andersson",
        "protected": False,
        "sms_number": "+46701000001",
        "email": "anna@example.se",
        "unit_id": "U1",
        "unit_name": "Solgården",
        "unit_address": "Solvägen 1",
        "placement_kind": "crisis",
        "reply_code": "",
        "state": "awaiting",
    }
    values.update(changes)
    return CallUpSnapshot(**values)  # type: ignore[arg-type]


def test_the_fallback_email_after_a_refused_sms_carries_the_persons_link() -> None:
    links = AnswerLinks("https://kris.example.se", KEY)
    messages = CallUpMessages(load_templates("sv"), "Exempelkommun", answer_links=links)
    email = messages.compose(_snapshot(), "email")
    assert email is not None and email.html is not None
    url = links.url("20260302-AB12", "E1001")
    assert url in email.body
    assert f'href="{url}"' in email.html
    sms = messages.compose(_snapshot(), "sms")
    assert sms is not None and "/answer/" not in sms.body  # SMS stay short: no link


def test_without_links_the_email_has_no_link_paragraph() -> None:
    messages = CallUpMessages(load_templates("sv"), "Exempelkommun")
    email = messages.compose(_snapshot(), "email")
    assert email is not None
    assert "/answer/" not in email.body and "Svara direkt här" not in email.body
    assert messages.answer_url("20260302-AB12", "E1001") == ""
