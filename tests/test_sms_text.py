"""GSM-7 detection, segment counting at the boundaries, and conversion to GSM-7."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.domain.sms_text import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    gsm7_length,
    is_gsm7,
    non_gsm7_characters,
    sms_segments,
    to_gsm7,
)

CYRILLIC = "ж"  # one UTF-16 unit, not GSM-7
EMOJI = "😀"  # two UTF-16 units (a surrogate pair)


def test_basic_table_has_the_swedish_letters_and_its_lesser_known_members() -> None:
    assert set("åäöÅÄÖéÉ") <= GSM7_BASIC
    assert set("üÜàèùìòñÑøØæÆßÇ§¿¡£¥¤ΔΩ@_\n\r") <= GSM7_BASIC
    assert not set("ç€{}[]~|^\\áâêíóúÁ’“–…\t") & GSM7_BASIC
    assert len(GSM7_BASIC) == 127  # 128 codes, less the escape
    assert set(GSM7_EXTENSION) == set("\f^{}\\[]~|€")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("Hej! Kom till Björkängens förskola, Åvägen 3.", True),
        ("Müller à la carte", True),
        ("pris 5 € [ca]", True),
        ("Françoise", False),  # the table has only the capital Ç
        ("“citat”", False),
        ("8–12", False),
        ("ok 👍", False),
    ],
)
def test_is_gsm7(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("a" * 459, 3),
        ("a" * 460, 4),
        # Extension characters take two septets.
        ("€" * 80, 1),
        ("a" * 158 + "€", 1),
        ("a" * 159 + "€", 2),
        # ... and never straddle two parts: the escape and its character travel together.
        ("a" * 152 + "€" + "a" * 151, 2),  # part 1: 152, part 2: 2 + 151 = 153
        ("a" * 152 + "€" + "a" * 152, 3),  # 306 septets, but part 2 would need 154
        ("a" * 151 + "€" + "a" * 153, 2),  # 306 septets that pack exactly
        # UCS-2: 70 units alone, 67 per part.
        (CYRILLIC * 70, 1),
        (CYRILLIC * 71, 2),
        (CYRILLIC * 134, 2),
        (CYRILLIC * 135, 3),
        ("a" * 69 + "’", 1),
        ("a" * 70 + "’", 2),  # one curly quote turns a 71-character text into two SMS
        # Emoji count two units and a pair is never split.
        (EMOJI * 35, 1),
        (EMOJI * 36, 2),
        (CYRILLIC * 66 + EMOJI + CYRILLIC * 65, 2),  # part 2: 2 + 65 = 67
        (CYRILLIC * 66 + EMOJI + CYRILLIC * 66, 3),  # 134 units, but part 2 would need 68
    ],
)
def test_sms_segments(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


def test_gsm7_length_counts_extension_characters_twice() -> None:
    assert gsm7_length("a€{}") == 7


def test_non_gsm7_characters_lists_each_once_in_order() -> None:
    assert non_gsm7_characters("“a” – ”") == ["“", "”", "–"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("“Storm” – ‘Gorm’", "\"Storm\" - 'Gorm'"),
        ("8–12 — nu", "8-12 - nu"),
        ("kl.\u00a010\u202f15", "kl. 10 15"),
        ("Vänta…", "Vänta..."),
        ("José Álvarez, Ôdegård", "José Alvarez, Odegård"),  # é is GSM-7, Á and Ô are not
        ("Françoise Łukasz Œuvre", "Francoise Lukasz OEuvre"),
        ("Müller àèéùìò", "Müller àèéùìò"),  # already GSM-7: unchanged
        ("a\u030a", "å"),  # decomposed å (as macOS writes it) becomes the GSM-7 å
        ("fe\u00adnix\u200b", "fenix"),  # invisible characters go
        ("ﬁka²", "fika2"),
        ("rad 1\r\nrad 2\tx", "rad 1\nrad 2 x"),
        ("• punkt", "- punkt"),
        ("ok 👍", "ok 👍"),  # no honest replacement: left for UCS-2
        ("Дом", "Дом"),
    ],
)
def test_to_gsm7(text: str, expected: str) -> None:
    assert to_gsm7(text) == expected


GSM_TEXT = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=500)
GSM_CHAR = st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION))
UCS2_TEXT = st.tuples(st.text(max_size=300), st.characters(exclude_characters=GSM7_BASIC)).map(
    lambda pair: pair[0] + pair[1] if not is_gsm7(pair[1]) else pair[0] + "’"
)


@given(GSM_TEXT, GSM_CHAR)
def test_appending_to_gsm7_text_never_lowers_the_segment_count(text: str, char: str) -> None:
    assert sms_segments(text + char) >= sms_segments(text)


@given(UCS2_TEXT, st.characters())
def test_appending_to_ucs2_text_never_lowers_the_segment_count(text: str, char: str) -> None:
    assert sms_segments(text + char) >= sms_segments(text)


SWEDISH = "abcdefghijklmnopqrstuvwxyzåäöABCDEFGHIJKLMNOPQRSTUVWXYZÅÄÖéÉ0123456789 .,;:!?-()/'\"\n"
TYPOGRAPHY = "‘’‚“”„«»–—―−…•\u00a0\u202f\u2009\u200b\u00ad\t"
NAMES = "áàâãäèêëíìîïóòôõúùûüýÿçñÁÀÂÉÈÊÍÓÔÚÜÇÑøØæÆœŒłŁ"


@given(st.text(alphabet=SWEDISH + TYPOGRAPHY + NAMES, max_size=400))
def test_swedish_text_with_typography_converts_to_gsm7(text: str) -> None:
    assert is_gsm7(to_gsm7(text))


@given(st.text(alphabet=sorted((GSM7_BASIC | GSM7_EXTENSION) - {"\r"}), max_size=300))
def test_gsm7_text_is_left_alone(text: str) -> None:
    assert to_gsm7(text) == text
