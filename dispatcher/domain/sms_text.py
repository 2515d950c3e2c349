"""SMS text: the GSM-7 alphabet, segment counting, and a safe conversion to GSM-7.

An SMS is sent in GSM-7 when every character is in the GSM 03.38 basic table or its
extension table, otherwise in UCS-2. One GSM-7 SMS holds 160 septets; a longer message is
split into parts of 153 (the rest is the concatenation header). Extension characters take
two septets (escape + character) and are never split across parts. UCS-2 holds 70 UTF-16
code units, 67 per part; a surrogate pair (an emoji) is two units and never split.
This is how Twilio counts segments (its rate limits and prices are per segment).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

# GSM 03.38 basic table, in table order, without the escape code 0x1B.
# Swedish å ä ö Å Ä Ö é É are here, and so are ü Ü à è ù ì ò ñ Ñ ø Ø æ Æ ß Ç.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each of these costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[]~|€")

GSM7_SINGLE = 160
GSM7_PART = 153
UCS2_SINGLE = 70
UCS2_PART = 67

# Replacements that keep the meaning; anything else falls through to accent stripping.
_REPLACEMENTS: dict[str, str] = {
    **dict.fromkeys("‘’‚‛′`´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−", "-"),
    **dict.fromkeys("\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008", " "),
    **dict.fromkeys("\u2009\u200a\u202f\u205f\u3000\t", " "),
    **dict.fromkeys("\u00ad\u200b\u200c\u200d\u2060\ufeff", ""),  # invisible: drop
    "…": "...",
    "•": "-",
    "·": "-",
    "\u2028": "\n",
    "\u2029": "\n",
    "ç": "c",  # the table has only the capital Ç
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "œ": "oe",
    "Œ": "OE",
    "×": "x",
}


_GSM7_ALL = GSM7_BASIC | GSM7_EXTENSION


def is_gsm7(text: str) -> bool:
    """True when the whole text can be sent in the GSM-7 alphabet."""
    return _GSM7_ALL.issuperset(text)


def _extension_count(text: str) -> int:
    return sum(text.count(ch) for ch in GSM7_EXTENSION)


def gsm7_length(text: str) -> int:
    """Septets the text takes in GSM-7 (extension characters count twice).

    Only meaningful when `is_gsm7(text)`.
    """
    return len(text) + _extension_count(text)


def _pack(widths: Iterable[int], part: int) -> int:
    parts, used = 1, 0
    for width in widths:
        if used + width > part:  # a two-unit character never straddles parts
            parts, used = parts + 1, 0
        used += width
    return parts


def sms_segments(text: str) -> int:
    """How many SMS segments the text is sent as (an empty text still takes one)."""
    if is_gsm7(text):
        septets = gsm7_length(text)
        if septets <= GSM7_SINGLE:
            return 1
        if septets == len(text):  # no two-septet characters: plain division
            return -(-septets // GSM7_PART)
        return _pack((2 if ch in GSM7_EXTENSION else 1 for ch in text), GSM7_PART)
    units = len(text.encode("utf-16-le")) // 2
    if units <= UCS2_SINGLE:
        return 1
    if units == len(text):  # no surrogate pairs
        return -(-units // UCS2_PART)
    return _pack((2 if ord(ch) > 0xFFFF else 1 for ch in text), UCS2_PART)


def non_gsm7_characters(text: str) -> list[str]:
    """The distinct characters that force UCS-2, in order of first appearance."""
    return [ch for ch in dict.fromkeys(text) if ch not in _GSM7_ALL]


def _convert(ch: str) -> str:
    if ch in _GSM7_ALL:
        return ch
    if ch in _REPLACEMENTS:
        return _REPLACEMENTS[ch]
    if unicodedata.combining(ch):  # a stray accent that NFC could not attach
        return ""
    # Accented letters and compatibility forms (á → a, Ô → O, ﬁ → fi, ² → 2): keep the
    # base letters when all of them are GSM-7; otherwise leave the character alone.
    decomposed = unicodedata.normalize("NFKD", ch)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    if base and base != ch and is_gsm7(base):
        return base
    return ch


def to_gsm7(text: str) -> str:
    """Replace characters outside GSM-7 with GSM-7 look-alikes where the meaning is kept.

    Curly quotes become straight, dashes '-', odd spaces ' ', '…' '...', 'á' 'a'.
    Characters with no honest replacement (emoji, most non-Latin scripts) are left as they
    are, so the result may still need UCS-2: check with `is_gsm7`.
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n")
    if is_gsm7(text):
        return text
    return "".join(_convert(ch) for ch in text)
