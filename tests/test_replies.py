"""The SMS reply parser: real-looking replies in a table, and properties over any text."""

from __future__ import annotations

import dataclasses
import re
import time

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dispatcher.domain import replies
from dispatcher.domain.planning import is_reply_code
from dispatcher.domain.replies import MAX_REASON_CHARS, Reply, ReplyMeaning, parse_reply

YES, NO, STOP, HELP, UNKNOWN = (
    ReplyMeaning.YES,
    ReplyMeaning.NO,
    ReplyMeaning.STOP,
    ReplyMeaning.HELP,
    ReplyMeaning.UNKNOWN,
)
QUOTED_CALLUP = (
    "Exempelkommun: Storm. Kom till din krisplacering Solgården, Solvägen 1 snarast. "
    "Svara JA om du kommer, NEJ om du inte kan. JA 45 = framme om 45 min."
)

# (reply as received, meaning, eta_minutes, reason, code)
TABLE: list[tuple[str, ReplyMeaning, int | None, str | None, str | None]] = [
    # The contract's words, in every case and with punctuation.
    ("JA", YES, None, None, None),
    ("ja", YES, None, None, None),
    ("Ja!", YES, None, None, None),
    ("Ja.", YES, None, None, None),
    ("JA!!!", YES, None, None, None),
    ("ja?", YES, None, None, None),  # a question mark is punctuation like any other
    ("  ja  ", YES, None, None, None),
    ("j", YES, None, None, None),
    ("y", YES, None, None, None),
    ("Yes", YES, None, None, None),
    ("Ok!", YES, None, None, None),
    ("1", YES, None, None, None),
    ("NEJ", NO, None, None, None),
    ("n", NO, None, None, None),
    ("no", NO, None, None, None),
    ("2", NO, None, None, None),
    # Swedish and English ways of saying the same.
    ("Jaa", YES, None, None, None),
    ("Jaaaa!", YES, None, None, None),
    ("Japp", YES, None, None, None),
    ("Jepp 15", YES, 15, None, None),
    ("Jajamen", YES, None, None, None),
    ("Javisst!", YES, None, None, None),
    ("ja ja", YES, None, None, None),
    ("Ja tack", YES, None, None, None),
    ("okej", YES, None, None, None),
    ("Okay, 10 min", YES, 10, None, None),
    ("Jag kommer", YES, None, None, None),
    ("Kommer!", YES, None, None, None),
    ("kommer om 20", YES, 20, None, None),
    ("Jag är på väg", YES, None, None, None),
    ("På väg, 15 min", YES, 15, None, None),
    ("Coming", YES, None, None, None),
    ("Yeah, be there in 30", YES, 30, None, None),
    ("Nej tyvärr", NO, None, None, None),
    ("nää", NO, None, None, None),
    ("Neej", NO, None, None, None),
    ("Nope", NO, None, None, None),
    ("No thanks", NO, None, None, None),
    ("kan inte", NO, None, None, None),
    ("Kommer inte", NO, None, None, None),
    ("Jag kommer inte", NO, None, None, None),
    ("kommer tyvärr inte, sjuk", NO, None, "sjuk", None),
    ("Kan inte komma, jobbar natt", NO, None, "jobbar natt", None),
    ("I can't", NO, None, None, None),
    # Minutes until arrival.
    ("ja 45", YES, 45, None, None),
    ("Yes 30", YES, 30, None, None),
    ("ja 30min", YES, 30, None, None),
    ("ja om 30 minuter", YES, 30, None, None),
    ("ja, 30", YES, 30, None, None),
    ("ja, kommer om 20 min", YES, 20, None, None),
    ("Ja, jag kommer om ca 20 min", YES, 20, None, None),
    ("JA 1h", YES, 60, None, None),
    ("ja 1 tim", YES, 60, None, None),
    ("ja 1,5 h", YES, 90, None, None),
    ("ja 1.5h", YES, 90, None, None),
    ("ja 1h30", YES, 90, None, None),
    ("ja 1 timme 15 min", YES, 75, None, None),
    ("ja 20-30 min", YES, 30, None, None),
    ("ja om en kvart", YES, 15, None, None),
    ("ja om en halvtimme", YES, 30, None, None),
    ("ja om en timme", YES, 60, None, None),
    ("1 45", YES, 45, None, None),
    ("ja 24 h", YES, 1440, None, None),
    ("ja 300 min", YES, 300, None, None),
    # Numbers that are not a duration: no ETA, but still a yes.
    ("ja 14:30", YES, None, None, None),
    ("ja 14.30", YES, None, None, None),
    ("ja kl 14", YES, None, None, None),
    ("ja 1430", YES, None, None, None),  # reads as a clock time
    ("ja 0", YES, None, None, None),
    ("ja 30-20", YES, None, None, None),
    ("ja 25 h", YES, None, None, None),
    ("ja 1,5", YES, None, None, None),  # a decimal without hours
    ("ja, har 2 barn att lämna först", YES, None, None, None),
    ("ja 2 barn", YES, None, None, None),
    ("ja 1½ h", YES, None, None, None),  # NFKC makes it 11⁄2: do not guess
    # Reasons, as typed.
    ("nej sjuk", NO, None, "sjuk", None),
    ("NEJ - sjuk", NO, None, "sjuk", None),
    ("Nej, sjuk.", NO, None, "sjuk", None),
    ("nej tack", NO, None, None, None),
    ("Nej tack så mycket", NO, None, None, None),
    ("Nej tyvärr, barnen är sjuka", NO, None, "tyvärr, barnen är sjuka", None),
    ("2 Magsjuk", NO, None, "Magsjuk", None),
    ("nej\nsjuk", NO, None, "sjuk", None),
    ("Nej. Är i Göteborg till fredag", NO, None, "Är i Göteborg till fredag", None),
    # Signatures, quotes and the phone's own additions.
    ("Ja 20 /Anna", YES, 20, None, None),
    ("Ja 20\nAnna", YES, 20, None, None),
    ("ja\n--\nSkickat från min iPhone", YES, None, None, None),
    ("Nej, sjuk. Mvh Per", NO, None, "sjuk", None),
    ("Nej, feber. Med vänliga hälsningar, Eva", NO, None, "feber", None),
    ("Ja 10 min\nSent from my Galaxy", YES, 10, None, None),
    (f"JA\n{QUOTED_CALLUP}", YES, None, None, None),
    (f"JA\n\n{QUOTED_CALLUP}", YES, None, None, None),
    (f"nej\n> {QUOTED_CALLUP}", NO, None, None, None),
    ("nej sjuk\n> Du är kallad till Solgården", NO, None, "sjuk", None),
    ("> Kom till Solgården\nJA 30", YES, 30, None, None),
    ("ja 15\nDen 3 nov. 2026 kl. 10:15 skrev Exempelkommun:\nStorm", YES, 15, None, None),
    # Normalisation: non-breaking and full-width spaces, full-width letters, invisibles.
    ("ja\u00a045", YES, 45, None, None),
    ("ＪＡ　４５", YES, 45, None, None),
    ("\u200bja\u200b", YES, None, None, None),
    ("ja 👍", YES, None, None, None),
    # Reply codes, with and without a space, in each accepted place.
    ("JA B3", YES, None, None, "B3"),
    ("ja b3 45", YES, 45, None, "B3"),
    ("B3 JA", YES, None, None, "B3"),
    ("B3: ja", YES, None, None, "B3"),
    ("b3ja", YES, None, None, "B3"),
    ("JAB3", YES, None, None, "B3"),
    ("jaB345", YES, 45, None, "B3"),
    ("B3 ja 45", YES, 45, None, "B3"),
    ("ja 45 B3", YES, 45, None, "B3"),
    ("Ja (B3)", YES, None, None, "B3"),
    ("nej C4 sjuk", NO, None, "sjuk", "C4"),
    ("NEJC4", NO, None, None, "C4"),
    ("nej sjuk Z9", NO, None, "sjuk", "Z9"),
    ("1 D5", YES, None, None, "D5"),
    ("JA A3", YES, None, None, None),  # A is not a code letter
    # Opt-out and help.
    ("stop", STOP, None, None, None),
    ("STOPP", STOP, None, None, None),
    ("Avsluta", STOP, None, None, None),
    ("Stop.", STOP, None, None, None),
    ("UNSUBSCRIBE", STOP, None, None, None),
    ("STOP\n--\nAnna", STOP, None, None, None),
    ("?", HELP, None, None, None),
    ("??", HELP, None, None, None),
    ("hjälp", HELP, None, None, None),
    ("HJÄLP!", HELP, None, None, None),
    ("info", HELP, None, None, None),
    # Not an answer: the caller sends the help text and records nothing.
    ("", UNKNOWN, None, None, None),
    ("   \n ", UNKNOWN, None, None, None),
    ("👍", UNKNOWN, None, None, None),  # can mean "seen": a false yes costs a place
    ("12", UNKNOWN, None, None, None),
    ("ja nej", UNKNOWN, None, None, None),
    ("nej ja", UNKNOWN, None, None, None),
    ("ja kanske", UNKNOWN, None, None, None),
    ("Ja, men inte förrän 18", UNKNOWN, None, None, None),
    ("nej, jag kommer", UNKNOWN, None, None, None),
    ("ja b3 c4", UNKNOWN, None, None, None),  # two codes: never guess the activation
    ("Jaha", UNKNOWN, None, None, None),
    ("Vad gäller det?", UNKNOWN, None, None, None),
    ("Gillade ”Exempelkommun: Storm”", UNKNOWN, None, None, None),  # an iPhone tapback
    ("B3", UNKNOWN, None, None, None),
    ("stop b3", UNKNOWN, None, None, None),
    ("Svara JA", UNKNOWN, None, None, None),
]


def test_the_table_is_large_and_has_no_duplicates() -> None:
    texts = [row[0] for row in TABLE]
    assert len(texts) >= 60
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize(("text", "meaning", "eta", "reason", "code"), TABLE, ids=repr)
def test_reply(
    text: str, meaning: ReplyMeaning, eta: int | None, reason: str | None, code: str | None
) -> None:
    assert parse_reply(text) == Reply(meaning, eta, reason, code, text)


def test_a_long_reason_is_cut_at_160_characters() -> None:
    reply = parse_reply("nej " + "feber och halsont " * 20)
    assert reply.reason is not None
    assert len(reply.reason) <= MAX_REASON_CHARS
    assert reply.reason.startswith("feber och halsont")


def test_reply_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse_reply("ja").meaning = NO  # type: ignore[misc]  # the point of the test


def test_every_example_in_the_documented_grammar_means_what_the_table_says() -> None:
    """The module docstring is what the README and the help SMS describe: keep it true."""
    assert replies.__doc__ is not None
    rows = [line for line in replies.__doc__.splitlines() if line.startswith("| `")]
    assert len(rows) >= 8
    meaning = UNKNOWN
    checked = 0
    for row in rows:
        examples, meaning_cell = row.split("|")[1:3]
        meaning = ReplyMeaning(meaning_cell.strip().lower()) if meaning_cell.strip() else meaning
        for example_text in re.findall(r"`([^`]+)`", examples):
            assert parse_reply(example_text).meaning is meaning, example_text
            checked += 1
    assert checked >= 40


# --- Properties -------------------------------------------------------------------------

# Replies that begin with a quoted line (`> …`) are left out: punctuation put in front of the
# `>` makes that line an ordinary one, which rightly changes what the reply says.
CASES = st.sampled_from([row[0] for row in TABLE if not row[0].startswith(">")])
AROUND = st.text(alphabet=" \t\n.,!;:'\"()*-…~👍😊", max_size=6)
CASINGS = st.sampled_from([str.upper, str.lower, str.swapcase, str.title, str])


def _fold(reason: str | None) -> str | None:
    return reason.casefold() if reason is not None else None


@given(CASES, CASINGS, AROUND, AROUND)
@example("ja 45", str.upper, "\n\n", "!!\n--")
@example("nej sjuk", str.swapcase, "(", ")")
def test_case_and_surrounding_space_or_punctuation_change_nothing(
    text: str, casing: object, before: str, after: str
) -> None:
    assert callable(casing)
    plain = parse_reply(text)
    varied = parse_reply(before + casing(text) + after)
    assert varied.meaning is plain.meaning
    assert varied.eta_minutes == plain.eta_minutes
    assert varied.code == plain.code
    assert _fold(varied.reason) == _fold(plain.reason)


# Near misses on purpose: words that begin like an answer word (nejlika, japan, okra,
# onsdag, jobbar, stoppa) and Swedish small talk. None is an answer word.
NOT_ANSWERS = (  # noqa: SIM905  # a word list reads better as one string than as 54 lines
    "hej vad gäller det vem är detta tack tyvärr vet inte kanske senare ring mig sjuk "
    "bilen möte imorgon hello what is this thanks sorry later maybe kl 14:30 12 21 0 "
    "1,5 nejlika japan jaha jag okra onsdag jobbar noll nu nog kaffe komma kanal stoppa "
    "helpful information endast yoga yellow ❤️ 🤔"
).split()
SAFE_LETTERS = "bdfglmrtvwxzåäö3456789"  # no answer, stop or help word starts with these
WORD = st.one_of(st.sampled_from(NOT_ANSWERS), st.text(alphabet=SAFE_LETTERS, min_size=1))
SEPARATOR = st.sampled_from([" ", ", ", ". ", "! ", "\n", " - "])


@given(st.lists(st.tuples(WORD, SEPARATOR), max_size=8))
@example([("vet", " "), ("inte", "")])
@example([("nejlika", "")])
def test_text_without_an_answer_word_is_unknown(words: list[tuple[str, str]]) -> None:
    text = "".join(word + separator for word, separator in words)
    assert parse_reply(text).meaning is UNKNOWN


@given(
    st.sampled_from(["", "ja ", "Ja, ", "ok ", "B3 ja ", "Jag kommer, "]),
    st.sampled_from(["kommer inte", "jag kommer inte", "Kommer INTE", "kommer\u00a0inte"]),
    st.lists(st.sampled_from(NOT_ANSWERS), max_size=4).map(" ".join),
)
def test_kommer_inte_is_never_a_yes(before: str, refusal: str, after: str) -> None:
    assert parse_reply(f"{before}{refusal} {after}").meaning is not YES


@given(st.text())
@example("ja 99999999999999999999999 h")
@example("ja 1" + "0" * 400 + ",5 h")
@example("nej " + "\u0301" * 50)
@example("ja ٣٠")  # Arabic-Indic digits
def test_parse_never_raises_and_keeps_its_promises(text: str) -> None:
    reply = parse_reply(text)
    assert reply.text == text
    assert reply.eta_minutes is None or 0 < reply.eta_minutes <= 1440
    assert reply.eta_minutes is None or reply.meaning is YES
    assert reply.reason is None or (reply.meaning is NO and 0 < len(reply.reason) <= 160)
    assert reply.code is None or (reply.meaning in (YES, NO) and is_reply_code(reply.code))
    assert reply.code is None or reply.code == reply.code.upper()


def test_hostile_long_texts_parse_quickly() -> None:
    """No pattern backtracks badly: the worst inputs take about as long as ordinary ones."""
    hostile = [
        "ja " + "1" * 100_000,
        "-" * 100_000,
        "ja\n" + "x skrev " * 20_000,
        "ja " + "/ " * 50_000,
        "nej " + "mvh" * 30_000,
        "ja " + " " * 100_000 + "b3",
        "?" * 100_000,
    ]
    started = time.perf_counter()
    for text in hostile:
        parse_reply(text)
    assert time.perf_counter() - started < 1.0
