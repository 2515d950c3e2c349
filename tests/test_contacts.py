"""Phone numbers and e-mail addresses as HR exports write them (pure)."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dispatcher.domain.roster import PhoneKind
from dispatcher.roster_import import normalise_email, normalise_phone
from dispatcher.roster_import.contacts import Phone

# Swedish mobile numbers as phonenumbers' metadata defines them: 7[023689] and 7 digits.
swedish_mobiles = st.builds(
    lambda second, rest: f"7{second}{rest}",
    st.sampled_from("023689"),
    st.text(alphabet="0123456789", min_size=7, max_size=7),
)
separators = st.sampled_from(["", " ", "-", " - ", "\u00a0"])


@st.composite
def written_mobile(draw: st.DrawFn) -> tuple[str, str]:
    """(a mobile number written the way people write it, its E.164 form)."""
    national = draw(swedish_mobiles)
    prefix = draw(st.sampled_from(["0", "+46", "+46 ", "0046", "0046 ", "+46 (0)", "46", "46 "]))
    digits = "".join(c + draw(separators) for c in national[:-1]) + national[-1]
    return prefix + digits, f"+46{national}"


@given(written_mobile())
@example(("070-123 45 67", "+46701234567"))
@example(("+46 (0)70-123 45 67", "+46701234567"))
def test_any_way_of_writing_a_swedish_mobile_gives_the_same_e164(case: tuple[str, str]) -> None:
    text, e164 = case
    assert normalise_phone(text) == Phone(e164, PhoneKind.MOBILE)


@given(
    st.from_regex(r"0[1-9][0-9]{6,11}", fullmatch=True),
    st.lists(st.sampled_from([" ", "-"]), max_size=3),
)
def test_the_fast_national_path_agrees_with_phonenumbers(digits: str, extra: list[str]) -> None:
    """normalise_phone skips phonenumbers.parse for `0…` numbers; the result must not differ."""
    text = digits[:3] + "".join(extra) + digits[3:]
    reference = phonenumbers.parse(text, "SE")
    try:
        phone = normalise_phone(text)
    except ValueError:
        assert not phonenumbers.is_valid_number(reference)
        return
    assert phonenumbers.is_valid_number(reference)
    assert phone.e164 == phonenumbers.format_number(reference, phonenumbers.PhoneNumberFormat.E164)
    is_mobile = phonenumbers.number_type(reference) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )
    assert (phone.kind is PhoneKind.MOBILE) == is_mobile


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("+44 7911 123456", "+447911123456"),  # a British mobile
        ("+1 202 555 0143", "+12025550143"),  # US: fixed line or mobile, counts as mobile
        ("+358 40 123 4567", "+358401234567"),  # a Finnish mobile
    ],
)
def test_foreign_mobiles_are_sms_reachable(text: str, e164: str) -> None:
    assert normalise_phone(text) == Phone(e164, PhoneKind.MOBILE)


def test_a_fixed_line_is_kept_for_phoning_with_a_note() -> None:
    assert normalise_phone("08-123 456 78") == Phone(
        "+46812345678",
        PhoneKind.FIXED_LINE,
        "fixed-line number: kept for phoning, not used for SMS",
    )


def test_other_non_mobile_numbers_say_what_they_are() -> None:
    phone = normalise_phone("020-123 456")
    assert phone.kind is PhoneKind.FIXED_LINE
    assert phone.note == "toll-free number: kept for phoning, not used for SMS"


@pytest.mark.parametrize("text", ["", "   ", "\u00a0"])
def test_no_number_is_allowed(text: str) -> None:
    assert normalise_phone(text) == Phone(None, PhoneKind.NONE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("070-CALL-ME", "not a phone number (it contains letters)"),
        ("070 123 45 67 ank. 12", "not a phone number (it contains letters)"),
        ("070#1234567", "not a phone number"),
        ("070-12", "not a valid phone number (too short)"),
        ("0701", "not a valid phone number (too short)"),
        ("12345678901234567", "not a valid phone number (too long)"),
        ("070 123 45 678", "not a valid phone number"),
        ("+999 123", "not a phone number (unknown country code)"),
        ("+", "not a phone number"),
        ("()", "not a phone number"),
    ],
)
def test_invalid_numbers_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        normalise_phone(text)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("anna.lind@exempel.se", "anna.lind@exempel.se"),
        ("  Anna.Lind@Exempel.SE ", "Anna.Lind@exempel.se"),  # domain lower-cased, local kept
        ("a+kris@sub.kommun.se", "a+kris@sub.kommun.se"),
        ("åsa@företag.se", "åsa@företag.se"),
        ("x@xn--fretag-5wa.se", "x@xn--fretag-5wa.se"),
        ("", None),
    ],
)
def test_valid_email_addresses(text: str, expected: str | None) -> None:
    assert normalise_email(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("anna.lind.exempel.se", "not an e-mail address (no @)"),
        ("anna@lind@exempel.se", "not an e-mail address (more than one @)"),
        ("anna lind@exempel.se", "not an e-mail address (it contains a space)"),
        ("Anna Lind <anna@exempel.se>", "not an e-mail address (it contains a space)"),
        ("@exempel.se", "not an e-mail address (nothing before @)"),
        ("anna@", "not an e-mail address (nothing after @)"),
        ("anna@localhost", "not an e-mail address (the domain 'localhost' is not valid)"),
        ("anna@exempel..se", "not an e-mail address (the domain 'exempel..se' is not valid)"),
        ("anna@-exempel.se", "not an e-mail address (the domain '-exempel.se' is not valid)"),
        ("anna@exempel.s3", "not an e-mail address (the domain 'exempel.s3' is not valid)"),
        ("anna..lind@exempel.se", "not an e-mail address (the part before @ is not valid)"),
        ("anna,lind@exempel.se", "not an e-mail address (the part before @ is not valid)"),
    ],
)
def test_invalid_email_addresses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        normalise_email(text)
    assert str(raised.value) == message


@given(
    st.from_regex(r"[a-z][a-z0-9._+-]{0,20}[a-z0-9]", fullmatch=True).filter(
        lambda s: ".." not in s
    ),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
    st.sampled_from(["se", "com", "nu", "SE"]),
)
def test_well_formed_addresses_pass_and_only_the_domain_changes_case(
    local: str, label: str, top: str
) -> None:
    address = f"{local}@{label.upper()}.{top}"
    assert normalise_email(address) == f"{local}@{label}.{top.lower()}"
