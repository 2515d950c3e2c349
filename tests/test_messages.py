"""Message templates: the shipped texts, rendering per kind, drill marking, length and checks."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from dispatcher.demo import write_demo_roster
from dispatcher.demo.fiction import LONG_UNITS, MUNICIPALITY
from dispatcher.domain.messages import (
    PLACEHOLDERS,
    WORST_CASE_CALLUP,
    ActivationText,
    CallUpText,
    GapReportText,
    MessageKind,
    RenderedSms,
    Templates,
    UnitGap,
    callup_sms_segments,
    check_callup_length,
    render_callup_email,
    render_callup_sms,
    render_code_needed_sms,
    render_confirmation_sms,
    render_decline_sms,
    render_gap_report_email,
    render_gap_report_sms,
    render_help_sms,
    render_not_active_sms,
    render_reminder_email,
    render_reminder_sms,
    render_stand_down_email,
    render_stand_down_sms,
    render_unknown_sender_sms,
    validate_templates,
)
from dispatcher.domain.roster import Unit
from dispatcher.domain.sms_text import gsm7_length, is_gsm7
from dispatcher.templates import TemplateError, load_templates

ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = ("sv", "en")
TITLE_60 = "Omfattande elavbrott och stormskador i hela kommunen, dag 2"
LONG_ADDRESS = "Kullens ängsväg 112, 443 38 Lerum"


@pytest.fixture(scope="module", params=LANGUAGES)
def templates(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Templates:
    """The packaged templates alone (an empty override directory)."""
    return load_templates(request.param, tmp_path_factory.mktemp("no-overrides"))


@pytest.fixture(scope="module")
def sv(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return load_templates("sv", tmp_path_factory.mktemp("no-overrides"))


@pytest.fixture(scope="module")
def en(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return load_templates("en", tmp_path_factory.mktemp("no-overrides"))


def activation(
    *, drill: bool = False, message: str = "", title: str = "Storm Gorm"
) -> ActivationText:
    return ActivationText("Exempelkommun", title, drill=drill, message=message)


def callup(*, drill: bool = False, message: str = "", code: str = "", url: str = "") -> CallUpText:
    return CallUpText(
        activation(drill=drill, message=message),
        "Anna Andersson",
        "Solgården",
        "Solvägen 1, 443 30 Lerum",
        reply_code=code,
        answer_url=url,
    )


# ---------------------------------------------------------------- the shipped files


@pytest.mark.parametrize("language", LANGUAGES)
def test_config_copies_equal_the_packaged_templates(language: str) -> None:
    packaged = ROOT / "dispatcher" / "templates_data" / f"{language}.toml"
    config = ROOT / "config" / "templates" / f"{language}.toml"
    assert config.read_text(encoding="utf-8") == packaged.read_text(encoding="utf-8")


def test_shipped_templates_are_valid(templates: Templates) -> None:
    assert validate_templates(templates) == []
    assert set(templates.texts) == set(MessageKind)


# ---------------------------------------------------------------- call-up SMS


def test_swedish_callup_sms(sv: Templates) -> None:
    sms = render_callup_sms(sv, callup())
    assert sms.text == (
        "Exempelkommun: Storm Gorm. Kom till din krisplacering Solgården, "
        "Solvägen 1, 443 30 Lerum snarast. Svara JA om du kommer, NEJ om du inte kan. "
        "JA 45 = framme om 45 min."
    )
    assert sms.is_gsm7
    assert sms.segments == 2


def test_english_callup_sms(en: Templates) -> None:
    text = render_callup_sms(en, callup()).text
    assert text.startswith("Exempelkommun: Storm Gorm. Go to your crisis placement Solgården, ")
    assert "Reply YES if you are coming, NO if not. YES 45 = there in 45 min." in text


@pytest.mark.parametrize(
    ("language", "marker"), [("sv", "ÖVNING: "), ("en", "ÖVNING (EXERCISE): ")]
)
def test_drills_start_with_ovning(language: str, marker: str, tmp_path: Path) -> None:
    t = load_templates(language, tmp_path)
    crisis, drill = callup(), callup(drill=True)
    for render in (
        render_callup_sms,
        render_reminder_sms,
        render_decline_sms,
        render_stand_down_sms,
    ):
        assert render(t, drill).text == marker + render(t, crisis).text
        assert not render(t, crisis).text.startswith("ÖVNING")
    assert render_confirmation_sms(t, drill, 20).text.startswith(marker)
    assert render_confirmation_sms(t, drill, None).text.startswith(marker)
    assert render_help_sms(t, drill.activation).text.startswith(marker)
    assert render_not_active_sms(t, drill.activation).text.startswith(marker)
    for render_email in (render_callup_email, render_reminder_email, render_stand_down_email):
        email = render_email(t, drill)
        assert email.subject.startswith(marker)
        assert email.text.startswith("ÖVNING")
        assert "ÖVNING" not in render_email(t, crisis).text
    html = render_callup_email(t, drill).html
    assert html is not None
    assert re.search(r"<body[^>]*>\n<p[^>]*>ÖVNING", html)


def test_reply_code_goes_into_every_answer_instruction(sv: Templates) -> None:
    text = render_callup_sms(sv, callup(code="B3")).text
    assert "Svara JA B3 om du kommer, NEJ B3 om du inte kan. JA B3 45 = framme" in text
    assert "B3" not in render_callup_sms(sv, callup()).text
    assert "Svara NEJ B3." in render_confirmation_sms(sv, callup(code="B3"), 30).text
    assert "Svara JA B3." in render_decline_sms(sv, callup(code="B3")).text
    assert "JA B3 om du kommer" in render_reminder_sms(sv, callup(code="B3")).text


def test_extra_message_becomes_a_sentence_before_the_answer_instruction(sv: Templates) -> None:
    text = render_callup_sms(sv, callup(message="  Ta med  ficklampa ")).text
    assert "snarast. Ta med ficklampa. Svara JA" in text
    text = render_callup_sms(sv, callup(message="Kom nu!")).text
    assert "snarast. Kom nu! Svara JA" in text


def test_sms_text_is_made_gsm7(sv: Templates) -> None:
    c = CallUpText(activation(title="“Gorm” – dag 2"), "", "Café Àsa", "Ågatan 1")
    sms = render_callup_sms(sv, c)
    assert sms.is_gsm7
    assert 'Exempelkommun: "Gorm" - dag 2.' in sms.text


def test_an_emoji_leaves_the_sms_ucs2_and_says_so(sv: Templates) -> None:
    sms = render_callup_sms(sv, callup(message="Kom nu 🚨"))
    assert not sms.is_gsm7
    assert sms.segments > 2


# ---------------------------------------------------------------- call-up e-mail


def test_callup_email_with_message_code_and_link(sv: Templates) -> None:
    email = render_callup_email(
        sv,
        callup(
            message="Ta med <ficklampa> & kläder\nParkera vid kyrkan",
            code="B3",
            url="https://k.se/s?t=a&b=c",
        ),
    )
    assert email.subject == "Exempelkommun: Storm Gorm – du kallas till Solgården"
    assert "Hej Anna Andersson!" in email.text
    assert "Enhet: Solgården\nAdress: Solvägen 1, 443 30 Lerum" in email.text
    assert (
        "Meddelande från krisledningen: Ta med <ficklampa> & kläder\nParkera vid kyrkan"
        in email.text
    )
    assert "JA B3 om du kommer, NEJ B3 om du inte kan" in email.text
    assert "Svara direkt här: https://k.se/s?t=a&b=c" in email.text
    assert email.html is not None
    assert "Ta med &lt;ficklampa&gt; &amp; kläder<br>Parkera vid kyrkan" in email.html
    assert 'href="https://k.se/s?t=a&amp;b=c"' in email.html
    assert "<ficklampa>" not in email.html
    assert '<html lang="sv">' in email.html


def test_callup_email_without_the_optional_parts_reads_well(sv: Templates) -> None:
    email = render_callup_email(sv, callup())
    assert "Meddelande" not in email.text
    assert "Svara direkt" not in email.text
    assert "\n\n\n" not in email.text
    assert " \n" not in email.text
    assert email.html is not None
    assert "Meddelande" not in email.html
    assert "href" not in email.html


def test_html_values_are_escaped(sv: Templates) -> None:
    c = CallUpText(activation(title="<script>x</script>"), "A & B", 'U"1', "<b>")
    email = render_callup_email(sv, c)
    assert email.html is not None
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert "A &amp; B" in email.html
    assert "U&quot;1" in email.html


def test_reminder_email_has_no_extra_message(en: Templates) -> None:
    email = render_reminder_email(en, callup(message="Bring a torch", url="https://k.se/a"))
    assert email.subject == "Reminder: Storm Gorm – you are called to Solgården"
    assert "Bring a torch" not in email.text
    assert "Answer directly here: https://k.se/a" in email.text
    assert email.html is None


# ---------------------------------------------------------------- answers back to people


def test_confirmation_with_and_without_eta(sv: Templates) -> None:
    with_eta = render_confirmation_sms(sv, callup(), 45).text
    assert with_eta.startswith("Tack! Registrerat: du kommer till Solgården om ca 45 min. ")
    assert "Adress: Solvägen 1, 443 30 Lerum." in with_eta
    assert "Anmäl dig till" in with_eta
    without = render_confirmation_sms(sv, callup(), None).text
    assert "om ca" not in without
    assert without.startswith("Tack! Registrerat: du kommer till Solgården. Adress:")


def test_short_replies(sv: Templates, en: Templates) -> None:
    assert "du kommer inte till Solgården" in render_decline_sms(sv, callup()).text
    help_text = render_help_sms(sv, activation()).text
    assert "Svara JA om du kommer, NEJ om du inte kan" in help_text
    assert "no longer active" in render_not_active_sms(en, activation()).text
    unknown = render_unknown_sender_sms(sv, "Exempelkommun")
    assert unknown.text.startswith("Exempelkommun: ")
    assert unknown.segments == 1
    assert "avblåst" in render_stand_down_sms(sv, callup()).text
    down = render_stand_down_email(sv, callup())
    assert down.subject == "Exempelkommun: Storm Gorm är avblåst"
    assert "Solgården" in down.text


def test_code_needed_lists_each_open_callup(sv: Templates) -> None:
    drill = CallUpText(activation(drill=True, title="Höstövning"), "", "Solgården", "", "B3")
    crisis = CallUpText(activation(title="Elavbrott"), "", "Solgården", "", "C3")
    sms = render_code_needed_sms(sv, "Exempelkommun", [drill, crisis])
    assert sms.text.startswith("Exempelkommun: Du har flera kallelser.")
    assert "JA B3 eller NEJ B3" in sms.text
    assert sms.text.endswith("Koder: B3 = ÖVNING: Höstövning; C3 = Elavbrott")


# ---------------------------------------------------------------- gap reports


def report(units: tuple[UnitGap, ...], *, drill: bool = False) -> GapReportText:
    return GapReportText(
        activation(drill=drill), datetime(2026, 3, 2, 10, 15), 60, 70, 48, 10, 5, 3, 2, units
    )


def test_gap_report_sms_matches_the_issue_example(sv: Templates) -> None:
    units = (UnitGap("Björkängen", 5, 3), UnitGap("Solgården", 10, 7, 1), UnitGap("Ek", 4, 4))
    sms = render_gap_report_sms(sv, report(units))
    assert sms.text == "10:15 Storm Gorm: 48/60 bekräftade. Luckor: Solgården 3, Björkängen 2"


def test_gap_report_sms_without_gaps(sv: Templates, en: Templates) -> None:
    assert render_gap_report_sms(sv, report(())).text.endswith("Luckor: inga")
    assert render_gap_report_sms(en, report((), drill=True)).text == (
        "ÖVNING (EXERCISE): 10:15 Storm Gorm: 48/60 confirmed. Gaps: none"
    )


def test_gap_report_sms_counts_what_does_not_fit(templates: Templates) -> None:
    units = tuple(
        UnitGap(f"{name} {i}", 5, i % 5) for i, (name, _, _) in enumerate(LONG_UNITS * 20)
    )
    sms = render_gap_report_sms(templates, report(units, drill=True))
    assert sms.segments <= 2
    assert sms.is_gsm7
    more = re.search(r"\+(\d+) (till|more)$", sms.text)
    assert more is not None
    listed = sms.text.count(", ")  # one separator per listed unit before "+N till"
    assert listed + int(more.group(1)) == sum(1 for u in units if u.gap)


def test_gap_report_email_lists_every_gap(sv: Templates) -> None:
    units = (UnitGap("Solgården", 10, 7, 1, 2, 0), UnitGap("Ek", 4, 4))
    email = render_gap_report_email(sv, report(units))
    assert email.subject == "Storm Gorm: läget 10:15, 48/60 bekräftade"
    assert (
        "- Solgården: saknar 3 (behövs 10, bekräftade 7, väntar 1, nej 2, inget svar 0)"
        in email.text
    )
    assert "Ek:" not in email.text
    assert "Luckor per enhet:\ninga" in render_gap_report_email(sv, report(())).text


# ---------------------------------------------------------------- length rule


WORST = CallUpText(
    ActivationText("Upplands Väsby kommun", TITLE_60, drill=True),
    "Anna-Karin Johansson Söderberg",
    "Vård- och omsorgsboendet Västra Kullens äng",
    LONG_ADDRESS,
    reply_code="B3",
)
SMS_RENDERERS: dict[str, Callable[[Templates, CallUpText], RenderedSms]] = {
    "callup": render_callup_sms,
    "reminder": render_reminder_sms,
    "confirmation": lambda t, c: render_confirmation_sms(t, c, 120),
    "confirmation_no_eta": lambda t, c: render_confirmation_sms(t, c, None),
    "decline": render_decline_sms,
    "help": lambda t, c: render_help_sms(t, c.activation),
    "code_needed": lambda t, c: render_code_needed_sms(
        t,
        c.activation.municipality,
        [c, CallUpText(ActivationText("", TITLE_60), "", "", "", "C3")],
    ),
    "not_active": lambda t, c: render_not_active_sms(t, c.activation),
    "unknown_sender": lambda t, c: render_unknown_sender_sms(t, c.activation.municipality),
    "stand_down": render_stand_down_sms,
    "gap_report": lambda t, c: render_gap_report_sms(
        t,
        GapReportText(
            c.activation,
            datetime(2026, 1, 1, 23, 59),
            9999,
            9999,
            9998,
            1,
            0,
            0,
            0,
            (UnitGap(c.unit_name, 9999, 9998),),
        ),
    ),
}


@pytest.mark.parametrize("kind", sorted(SMS_RENDERERS))
@pytest.mark.parametrize("sample", [WORST, WORST_CASE_CALLUP], ids=["care-home", "home-care"])
def test_every_sms_is_gsm7_and_at_most_two_segments_at_worst(
    templates: Templates, kind: str, sample: CallUpText
) -> None:
    sms = SMS_RENDERERS[kind](templates, sample)
    assert sms.is_gsm7, sms.text
    assert sms.segments <= 2, (gsm7_length(sms.text), sms.text)


def demo_units(directory: Path) -> list[Unit]:
    write_demo_roster(directory, people=400)
    with (directory / "units.csv").open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.DictReader(file, delimiter=";"))
    return [
        Unit(r["unit_id"], r["name"], r["service"], r["area"], r["address"], None) for r in rows
    ]


@pytest.mark.parametrize("drill", [False, True], ids=["crisis", "drill"])
@pytest.mark.parametrize("municipality", [MUNICIPALITY, "Upplands Väsby kommun"])
def test_callups_to_every_demo_unit_fit_in_two_segments(
    templates: Templates, tmp_path: Path, drill: bool, municipality: str
) -> None:
    units = demo_units(tmp_path)
    assert {name for name, _, _ in LONG_UNITS} <= {u.name for u in units}
    # The longest demo names, also with a long real-world address.
    units += [
        Unit(f"L{i}", name, "", "", LONG_ADDRESS, None) for i, (name, _, _) in enumerate(LONG_UNITS)
    ]
    text = ActivationText(municipality, TITLE_60, drill=drill)
    assert check_callup_length(templates, text, units) is None
    segments = callup_sms_segments(templates, text, units, reply_code="B3")
    assert max(segments.values()) <= 2
    for unit in units[:50]:
        sms = render_callup_sms(templates, CallUpText(text, "", unit.name, unit.address, "B3"))
        assert is_gsm7(sms.text)


def test_check_callup_length_names_the_excess(sv: Templates) -> None:
    unit = Unit("U1", "Solgården", "", "", "Solvägen 1", None)
    base = render_callup_sms(sv, CallUpText(activation(), "", unit.name, unit.address, "B3"))
    room = 306 - gsm7_length(base.text) - 1  # the message comes after a space
    fits = "x" * (room - 1) + "."
    assert check_callup_length(sv, activation(message=fits), [unit]) is None
    problem = check_callup_length(sv, activation(message="x" + fits), [unit])
    assert problem is not None
    assert "1 too many" in problem
    assert "Solgården" in problem
    assert "shorten the message" in problem
    problem = check_callup_length(sv, activation(message="xxxx" + fits), [unit])
    assert problem is not None
    assert "4 too many" in problem


def test_check_callup_length_refuses_what_gsm7_cannot_carry(sv: Templates) -> None:
    unit = Unit("U1", "Solgården", "", "", "Solvägen 1", None)
    problem = check_callup_length(sv, activation(message="Kom nu 🚨"), [unit])
    assert problem is not None
    assert "GSM-7" in problem
    assert "🚨" in problem
    assert check_callup_length(sv, activation(message="Kom nu – “snabbt”…"), [unit]) is None


# ---------------------------------------------------------------- validation


def with_text(templates: Templates, kind: str, text: str | None) -> Templates:
    texts = dict(templates.texts)
    if text is None:
        del texts[kind]
    else:
        texts[kind] = text
    return Templates(templates.language, texts)


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("callup_sms", None, "callup_sms: missing"),
        (
            "callup_sms",
            "{unit_name} {unit_address}{code}{message} {foo}",
            "unknown placeholder {foo}",
        ),
        ("callup_sms", "{unit.name} {unit_address}{code}{message}", "only named fields"),
        ("callup_sms", "{unit_name[0]} {unit_address}{code}{message}", "only named fields"),
        ("callup_sms", "{} {unit_name} {unit_address}{code}{message}", "only named fields"),
        ("confirmation_sms", "{unit_name} {eta_minutes:d}", "plain {eta_minutes}"),
        ("decline_sms", "{unit_name!r}", "plain {unit_name}"),
        ("decline_sms", "Svara {", "not a valid template"),
        ("decline_sms", "Svara }", "not a valid template"),
        ("callup_sms", "{unit_name} {unit_address}{message} Svara JA", "must contain {code}"),
        ("callup_sms", "{unit_name} {unit_address}{code} Svara JA", "must contain {message}"),
        ("decline_sms", "Tack – {unit_name}", "outside GSM-7: '–'"),
        ("help_sms", "Vi förstod inte ’svaret’", "outside GSM-7: '’'"),
        ("decline_sms", "{unit_name} " + "x" * 300, "decline_sms: too long"),
        ("stand_down_email_text", "{unit_name} {answer_url}", "unknown placeholder {answer_url}"),
    ],
)
def test_validation_catches(sv: Templates, kind: str, text: str | None, expected: str) -> None:
    problems = [str(p) for p in validate_templates(with_text(sv, kind, text))]
    assert any(expected in p for p in problems), problems
    assert all(p.startswith(f"{kind}: ") for p in problems), problems


def test_validation_catches_unknown_kinds_and_languages(sv: Templates) -> None:
    problems = [str(p) for p in validate_templates(with_text(sv, "callup_smss", "x"))]
    assert problems == ["callup_smss: unknown message kind"]
    problems = [str(p) for p in validate_templates(Templates("fi", sv.texts))]
    assert problems == ["language: unknown language 'fi' (known: sv, en)"]


def test_every_field_a_kind_allows_is_supplied_by_its_renderer(sv: Templates) -> None:
    """A template may use any allowed field: rendering must never miss one."""
    texts = {
        k.value: " ".join(f"{{{f}}}" for f in fields) for k, (fields, _) in PLACEHOLDERS.items()
    }
    t = Templates("sv", texts)
    c = callup(drill=True, message="Hej", code="B3", url="https://k.se/a")
    for render in (render_callup_email, render_reminder_email, render_stand_down_email):
        render(t, c)
    for name, render_sms in SMS_RENDERERS.items():
        assert render_sms(t, c).text, name
    render_gap_report_email(t, report((UnitGap("Ek", 3, 1),)))
    assert set(PLACEHOLDERS) == set(MessageKind)


def test_subject_lines_stay_on_one_line(sv: Templates) -> None:
    c = CallUpText(activation(title="Storm\r\nBcc: x@y.se"), "", "Sol\ngården", "")
    assert render_callup_email(sv, c).subject == (
        "Exempelkommun: Storm Bcc: x@y.se – du kallas till Sol gården"
    )


def test_email_templates_may_use_any_characters(sv: Templates) -> None:
    changed = with_text(sv, "stand_down_email_subject", "“{title}” – avblåst 🎉")
    assert validate_templates(changed) == []


# ---------------------------------------------------------------- loading


def test_override_file_replaces_only_its_keys(tmp_path: Path) -> None:
    (tmp_path / "sv.toml").write_text('decline_sms = "Okej, {unit_name}."\n', encoding="utf-8")
    t = load_templates("sv", tmp_path)
    assert render_decline_sms(t, callup()).text == "Okej, Solgården."
    assert render_callup_sms(t, callup()).text.startswith("Exempelkommun: Storm Gorm. Kom till")
    assert t.source == f"dispatcher/templates_data/sv.toml + {tmp_path / 'sv.toml'}"
    assert load_templates("en", tmp_path).texts["decline_sms"].startswith("Thank you")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('decline_sms = "Tack {namn}"\n', "sv.toml: decline_sms: unknown placeholder {namn}"),
        ('decline_sms = "Tack – {unit_name}"\n', "sv.toml: decline_sms: contains characters"),
        ('declin_sms = "Tack"\n', "sv.toml: declin_sms: unknown message kind"),
        ("decline_sms = 3\n", "sv.toml: decline_sms: must be a string, got int"),
        ('decline_sms = "Tack\n', "sv.toml: not valid TOML"),
    ],
)
def test_load_errors_name_file_key_and_problem(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "sv.toml").write_text(content, encoding="utf-8")
    with pytest.raises(TemplateError) as error:
        load_templates("sv", tmp_path)
    assert expected in str(error.value)
    assert str(tmp_path) in str(error.value)


def test_load_errors_for_missing_directory_and_language(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="template directory not found"):
        load_templates("sv", tmp_path / "nowhere")
    with pytest.raises(
        TemplateError, match=r"no templates for language 'fi' \(available: en, sv\)"
    ):
        load_templates("fi", tmp_path)
