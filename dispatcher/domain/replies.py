"""What an SMS answer to a call-up means: `parse_reply(text) -> Reply`. Pure and fast.

The text is NFKC-normalised (full-width letters, non-breaking spaces) and matched without
regard to case. Only the reply itself is read: the first paragraph, less lines quoting
(`>`) and from a signature on (`--`, `Skickat från…`, `Mvh…`, ` /Anna`, a line with our
own `Svara JA`, `… skrev:`). Surrounding spaces, punctuation and emoji are ignored.

| reply (examples)                                      | meaning | extracted                   |
|-------------------------------------------------------|---------|-----------------------------|
| `JA` `J` `YES` `Y` `OK` `1`; also `Jaa` `Japp` `Jepp` | YES     | eta_minutes from what       |
| `Jajamen` `Jadå` `Javisst` `Okej` `Yep` `Yeah`        |         | follows: `ja 45`, `ja om 20 |
| `Kommer` `Jag kommer` `På väg` `Coming` `On my way`   |         | min`, `ja 1h`, `ja 1,5 tim` |
| `NEJ` `N` `NO` `2`; also `Nää` `Neej` `Nope` `Nix`     | NO      | reason: the rest as typed   |
| `Kan inte` `Kommer inte` `Jag kan inte` `Can't`       |         | (`nej sjuk` → "sjuk")       |
| `STOP` `STOPP` `AVSLUTA` `UNSUBSCRIBE` `CANCEL` `END` | STOP    | (the whole reply, one word) |
| `QUIT` `STOPALL`                                      |         |                             |
| `HELP` `HJÄLP` `INFO` `?`                             | HELP    | (the whole reply, one word) |
| anything else, empty, `12`, `👍`, `ja nej`, `ja kanske` | UNKNOWN | nothing                     |

Rules, in the words the README and help SMS use:
- The answer word comes first. `12` is not `1`; `1,5` is not `1`.
- A YES whose rest contains a no-word (`nej`, `no`, `inte`, `ej`, `not`, `can't`) or
  `kanske`/`maybe` is UNKNOWN: a wrong yes counts someone who is not coming. A NO whose
  rest contains a yes-word (`ja`, `yes`, `ok`, …) is UNKNOWN too.
- ETA: the first number after the word, with only filler words before it (`om`, `ca`,
  `kommer`, `in`, …). Minutes unless `h`/`t`/`tim`/`timme`/`hour` follows (`1h30` = 90);
  a range counts its end (`20-30` = 30); `kvart` = 15, `halvtimme` = 30, `en timme` = 60.
  No ETA (None) for clock times (`14:30`, `14.30`, `kl 14`), a bare number above 180
  (`1430` looks like a time), a decimal without hours, a number followed by another word
  (`2 barn`), 0, or more than 24 hours.
- Reason: the rest after a NO, trimmed of surrounding punctuation, at most 160 characters,
  in the case typed. None when it is only courtesy or negation (`nej tack`, `nej tyvärr`,
  `no thanks`, `nej, kan inte`).
- Code (`B3`: a letter of BCDFGHMPRTUVWXZ and a digit 3-9) is accepted before the word
  (`B3 JA`, `B3JA`), right after it, with or without a space (`JA B3`, `JAB3`, `jaB345`,
  `NEJC4 sjuk`), or last (`ja 45 B3`, `nej sjuk C4`). Two different codes: UNKNOWN.
- 👍 alone is UNKNOWN (it can mean "seen"); a question mark after a word is ignored (`ja?`
  is YES) as other punctuation; a reply of only question marks is HELP.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from dispatcher.domain.planning import REPLY_CODE_DIGITS, REPLY_CODE_LETTERS, is_reply_code

MAX_ETA_MINUTES = 24 * 60
MAX_BARE_MINUTES = 180  # a bare number above this reads as a clock time ("1430")
MAX_REASON_CHARS = 160
_MAX_INPUT = 2000  # longer texts are quotes or noise; the answer is at the start


class ReplyMeaning(StrEnum):
    """What the sender wants; only YES and NO are recorded as answers."""

    YES = "yes"
    NO = "no"
    STOP = "stop"
    HELP = "help"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Reply:
    """A parsed SMS reply; `text` is kept for storage, the rest is what it means."""

    meaning: ReplyMeaning
    eta_minutes: int | None = None  # YES only: minutes until arrival, 1..1440
    reason: str | None = None  # NO only: why, as typed
    code: str | None = None  # YES/NO only: the reply code, upper case ("B3")
    text: str = ""  # the message as received


_CODE = f"[{REPLY_CODE_LETTERS}][{REPLY_CODE_DIGITS}]"
_LETTER = r"[^\W\d_]"
_WORD_END = rf"(?:(?!{_LETTER})|(?={_CODE}(?!{_LETTER})))"  # no letter follows, or a code
_DIGIT_END = rf"(?![\d]|[.,:]\d){_WORD_END}"
_NO_WORDS = (
    r"(?:jag\s+)?(?:kan|kommer)\s+(?:tyvärr\s+|nog\s+|dessvärre\s+)?(?:inte|ej)(?:\s+komma)?",
    r"(?:i\s+)?(?:can'?t|cannot|can\s+not)(?:\s+come)?",
    r"not\s+coming",
    r"ne+j|nä+|nope|nix|no|n",
)
_YES_WORDS = (
    r"(?:jag\s+)?kommer|(?:jag\s+)?(?:är\s+)?på\s+väg|(?:i'?m\s+)?coming|on\s+my\s+way",
    r"jajamen(?:san)?|javisst|jadå|japp|jepp|ja+|j",
    r"yes|yeah|yep|yup|y|ok(?:ej|ey|ay|i)?",
)
_HEAD = re.compile(
    rf"(?:(?P<pre>{_CODE})(?:[\s:.,-]+|(?={_LETTER})))?"
    rf"(?:(?P<no>{'|'.join(_NO_WORDS)}){_WORD_END}|(?P<yes>{'|'.join(_YES_WORDS)}){_WORD_END}"
    rf"|(?P<one>1){_DIGIT_END}|(?P<two>2){_DIGIT_END})"
    rf"(?:[\s:.,(-]*(?P<post>{_CODE})(?!{_LETTER}))?"
    r"(?P<tail>.*)",
    re.IGNORECASE | re.DOTALL,
)
_BEFORE_CODE = frozenset({"", " ", "\n", ":", ".", ",", "-", "("})
_CORE = re.compile(r"[^\W_](?:.*[^\W_])?", re.DOTALL)
_CONTENT = re.compile(r"[^\W_]|\?")
_SIGNATURE_HINTS = ("/", "--", "mvh", "m.v.h", "hälsning", "regards", "från", "sent from")
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060\ufeff]")
_QUOTE_LINE = re.compile(r"\s*>")
_END_LINE = re.compile(  # a line that starts a signature, a quote header or a quoted call-up
    r"\s*(?:--|__|—|(?:skickat|sänt) från|sent from|get outlook|hämta outlook)"
    r"|.*\b(?:skrev|wrote)\b.*:\s*$|.*\b(?:svara\s+(?:ja|nej)|reply\s+(?:yes|no))\b",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(  # an inline sign-off: everything from here is dropped
    r"\s/+\s*(?=[^\W\d_])|\s--|\b(?:mvh|m\.v\.h|med vänliga? hälsningar?"
    r"|vänliga hälsningar|hälsningar|hälsning|regards|skickat från|sent from)\b",
    re.IGNORECASE,
)
_SPACES = re.compile(r"\s+")
_LINE_SPACES = re.compile(r"[^\S\n]+")
_TOKEN = re.compile(r"c:a|[0-9]+(?:[.,:][0-9]+)?|[^\W\d_]+(?:'[^\W\d_]+)?|\S|\n")
_INT = re.compile(r"[0-9]+")
_MINUTES_PART = re.compile(r"[0-5]?[0-9]")
_WORDS = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")

_STOP = frozenset({"stop", "stopp", "avsluta", "unsubscribe", "cancel", "end", "quit", "stopall"})
_HELP = frozenset({"help", "hjälp", "info"})
_NOT = frozenset({"inte", "ej", "not"})
_NO_IN_YES = _NOT | {"nej", "neej", "nä", "nää", "no", "nope", "nix", "can't", "cant", "cannot"}
_NO_IN_YES |= {"kanske", "maybe"}
_YES_IN_NO = frozenset(
    {"ja", "jaa", "japp", "jepp", "jadå", "javisst", "jajamen", "yes", "yep", "yeah", "yup"}
    | {"ok", "okej", "okay", "okey", "oki"}
)
_COMING = frozenset({"kommer", "coming"})
_NOT_A_REASON = frozenset(
    {"tack", "så", "mycket", "mkt", "tyvärr", "dessvärre", "ledsen", "beklagar", "sorry"}
    | {"thanks", "thank", "you", "thx", "jag", "kan", "kommer", "inte", "ej", "komma"}
    | {"i", "can't", "cant", "cannot", "can", "not", "come", "coming", "nej", "no"}
)
_FILLERS = frozenset(
    {"jag", "kommer", "är", "där", "framme", "på", "plats", "väg", "kan", "vara", "nu"}
    | {"om", "inom", "ca", "c:a", "cirka", "ungefär", "runt", "typ", "snart", "ja", "ok"}
    | {"okej", "yes", "i", "i'll", "ill", "i'm", "im", "will", "be", "there", "in", "about"}
    | {"around", "approx", "roughly", "within", "eta", "arrive", "coming"}
)
_CLOCK_WORDS = frozenset({"kl", "klockan", "till", "at", "until", "by", "efter", "after"})
_HOUR_UNITS = frozenset({"h", "t", "tim", "timme", "timma", "timmar", "hour", "hours", "hr"})
_MINUTE_UNITS = frozenset({"m", "min", "mins", "minut", "minuter", "minute", "minutes"})
_WORD_MINUTES = {"kvart": 15, "halvtimme": 30, "halvtimma": 30}
_ARTICLES = frozenset({"en", "ett", "a", "an", "one"})


def parse_reply(text: str) -> Reply:
    """What an inbound SMS means; never raises. See the module docstring for the grammar."""
    body = _reply_body(text)
    core = _CORE.search(body)  # from the first to the last letter or digit
    if core is None:
        meaning = ReplyMeaning.HELP if "?" in body else ReplyMeaning.UNKNOWN
        return Reply(meaning, text=text)
    body = core.group()
    folded = body.casefold()
    if folded in _STOP or folded in _HELP:
        return Reply(ReplyMeaning.STOP if folded in _STOP else ReplyMeaning.HELP, text=text)
    head = _HEAD.match(body)
    return _answer(head, text) if head else Reply(ReplyMeaning.UNKNOWN, text=text)


def _answer(head: re.Match[str], text: str) -> Reply:
    """A YES or NO from a recognised answer word, or UNKNOWN when the rest contradicts it."""
    tail = head["tail"]
    codes = {c.upper() for c in (head["pre"], head["post"]) if c}
    if len(tail) >= 2 and is_reply_code(tail[-2:]) and tail[-3:-2] in _BEFORE_CODE:
        codes.add(tail[-2:].upper())  # last: "ja 45 B3"
        tail = tail[:-2]
    words = {w.casefold() for w in _WORDS.findall(tail)}
    unknown = Reply(ReplyMeaning.UNKNOWN, text=text)
    if len(codes) > 1:
        return unknown  # two different codes: never guess the activation
    code = codes.pop() if codes else None
    if head["yes"] or head["one"]:
        if words & _NO_IN_YES:
            return unknown
        return Reply(ReplyMeaning.YES, eta_minutes=_eta(tail), code=code, text=text)
    if words & _YES_IN_NO or (words & _COMING and not words & _NOT):
        return unknown  # "nej ja", "nej, jag kommer"; but "nej, kommer inte" is a no
    return Reply(ReplyMeaning.NO, reason=_reason(tail, words), code=code, text=text)


def _reply_body(text: str) -> str:
    """The reply itself: normalised, without quotes, signature or later paragraphs."""
    clean = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text[:_MAX_INPUT]))
    kept: list[str] = []
    for line in clean.replace("’", "'").splitlines():
        if _QUOTE_LINE.match(line):
            continue
        if kept and (not line.strip() or _END_LINE.match(line)):
            break  # a blank line, a signature or a quote ends the reply
        if _CONTENT.search(line):
            kept.append(_LINE_SPACES.sub(" ", line).strip())
    body = "\n".join(kept)
    folded = body.casefold()
    if not any(hint in folded for hint in _SIGNATURE_HINTS):
        return body  # the common case, without running the signature pattern
    for cut in _SIGNATURE.finditer(body):
        if _CORE.search(body, 0, cut.start()):  # a sign-off follows the answer
            return body[: cut.start()]
    return body


def _reason(tail: str, words: set[str]) -> str | None:
    """The rest after a NO as typed; None when it says nothing beyond "no, thanks"."""
    core = _CORE.search(tail)
    if core is None or not words - _NOT_A_REASON:
        return None
    return _SPACES.sub(" ", core.group())[:MAX_REASON_CHARS].rstrip()


def _eta(tail: str) -> int | None:
    """Minutes until arrival from the words after a yes, or None when unsure."""
    tokens = _TOKEN.findall(tail.casefold())
    for i, token in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if _INT.match(token):
            return _duration(tokens, i)
        if token in _WORD_MINUTES:
            return _WORD_MINUTES[token]
        if token in _ARTICLES:
            if following in _HOUR_UNITS:
                return 60
            if following in _WORD_MINUTES:
                continue
            return None
        if token in _CLOCK_WORDS or (token[0].isalnum() and token not in _FILLERS):
            return None
    return None


def _duration(tokens: list[str], i: int) -> int | None:
    """The duration starting at number `tokens[i]`: `45`, `45 min`, `1,5 h`, `1h30`, `20-30`."""
    number = tokens[i]
    if ":" in number:
        return None  # a clock time: 14:30
    if tokens[i + 1 : i + 2] == ["-"] and _INT.fullmatch("".join(tokens[i + 2 : i + 3])):
        lower, number, i = number, tokens[i + 2], i + 2  # a range: count its end
    else:
        lower = number
    unit = tokens[i + 1] if i + 1 < len(tokens) else ""
    if unit in {"/", "⁄"} or len(number) > 6:
        return None  # a date, a fraction ("1½" is 11⁄2 after NFKC), or nonsense
    value = float(number.replace(",", "."))
    if float(lower.replace(",", ".")) > value:
        return None  # a range backwards
    if unit in _HOUR_UNITS:
        minutes = value * 60
        extra = tokens[i + 2 : i + 4]
        then = extra[1] if len(extra) > 1 else ""
        if extra and _MINUTES_PART.fullmatch(extra[0]) and not _is_word(then):
            minutes += int(extra[0])  # 1h30, 1 tim 30 min
    elif not _INT.fullmatch(number):
        return None  # "1,5" or "14.30" without hours: do not guess
    elif unit in _MINUTE_UNITS:
        minutes = value
    elif value > MAX_BARE_MINUTES or _is_word(unit):
        return None
    else:
        minutes = value
    rounded = round(minutes)
    return rounded if 0 < rounded <= MAX_ETA_MINUTES else None


def _is_word(token: str) -> bool:
    """A word that is neither a minute unit nor a filler: it makes a number mean something else."""
    return token[:1].isalnum() and token not in _MINUTE_UNITS and token not in _FILLERS
