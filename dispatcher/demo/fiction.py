"""Fictional names, places, addresses, phone numbers and e-mail addresses for the demo roster.

The word lists read better as running text, hence `str.split` (noqa SIM905) below.
"""

from __future__ import annotations

import random

MUNICIPALITY = "Exempelkommun"
EMAIL_DOMAIN = "exempelkommun.se"
AREAS = ("Norr", "Söder", "Centrum", "Väster", "Öster")
SERVICES = ("förskola", "grundskola", "äldreomsorg", "hemtjänst", "kök", "LSS")
SERVICE_WEIGHTS = (30, 24, 20, 12, 8, 6)

# Long real-looking names come first: SMS length tests use the longest demo unit names.
LONG_UNITS = (
    ("Vård- och omsorgsboendet Västra Kullens äng", "äldreomsorg", "Väster"),
    ("Gruppbostaden enligt LSS Östra Lindbackens gård", "LSS", "Öster"),
    ("Hemtjänsten i Norra Ekängens och Sjövikens område", "hemtjänst", "Norr"),
)
_STEMS = (  # noqa: SIM905
    "Björk Ek Lind Gran Tall Asp Al Lönn Rönn Hassel Sol Sjö Berg Alm Fur Ljung Sälg Vide "
    "Lärk Körsbärs Äppel Trast Sval Fjäril Ängs Moss Strand Hallon Blåbärs Löv Tranbärs"
).split()
_ENDINGS = (  # noqa: SIM905
    "ängen backen gården dalen lunden hagen åsen höjden parken udden viken torpet slätten "
    "kullen skogen"
).split()
_PREFIXES = ("Norra", "Södra", "Västra", "Östra", "Lilla", "Stora", "Nya", "Gamla")
_STREETS = ("vägen", "gatan", "stigen", "gränd", "allén")
_FIRST_NAMES = (  # noqa: SIM905
    "Anna Åsa Björn Märta Göran Eva Lars Karin Mats Ingrid Sören Åke Maria Erik Kerstin Per "
    "Lena Johan Birgitta Anders Malin Mikael Sofia Fredrik Elin Oskar Emma Stefan Helena Jörgen "
    "Linnéa Torbjörn Ylva Håkan Ebba Örjan Saga Nils Astrid Olof Ulla Gösta Agneta Sven Märit "
    "Tove Ali Fatima Mohammed Leila Hampus Signe Anna-Karin Jan-Erik Ida Viktor Frida Pontus "
    "Hedvig Ronja Kalle Annika Magnus Cecilia Pär Vera Jöns Alva Love Zeynep Amir Nour Dragan"
).split()
_LAST_NAMES = (  # noqa: SIM905
    "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson "
    "Pettersson Jonsson Jansson Hansson Bengtsson Jönsson Lindberg Jakobsson Magnusson Lindström "
    "Olofsson Lindqvist Lindgren Berg Axelsson Bergström Lundberg Lind Lundgren Lundqvist "
    "Mattsson Berglund Fredriksson Sandberg Henriksson Forsberg Sjöberg Wallin Engström Eklund "
    "Danielsson Lundin Håkansson Björk Bergman Gunnarsson Holm Wikström Samuelsson Isaksson "
    "Fransson Bergqvist Nyström Holmberg Arvidsson Löfgren Söderberg Nyberg Blomqvist Claesson "
    "Nordström Mårtensson Lundström Ali Mohammed Öberg Åkesson Sjöström Bäckström Höglund "
    "Ängström Ståhl Hägg Ström Åberg Törnqvist Nordin Strömberg Sundqvist Åström Dahlgren Yilmaz"
).split()
DEPARTMENTS = (
    *("Ekonomi", "HR", "IT", "Kommunikation", "Samhällsbyggnad", "Kultur och fritid"),
    *("Kommunledning", "Upphandling", "Miljö och hälsa", "Kansli", "Medborgarservice"),
)
_ASCII = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", " ": "-"})

# Phone numbers are random numbers in the ranges phonenumbers classes as Swedish mobiles.
# They are NOT reserved fictional numbers and may belong to real people: the demo roster
# must never be used with a real SMS provider (the sandbox channel only).
_MOBILE_PREFIXES = ("070", "070", "070", "072", "073", "073", "076", "079")
_FIXED_PREFIXES = (("08", 7), ("031", 6))  # area code and subscriber number length


def unit_name(rng: random.Random, service: str, taken: set[str]) -> str:
    """A Swedish unit name for `service` that is not in `taken` (numbered if need be)."""
    name = ""
    for attempt in range(40):
        place = rng.choice(_STEMS) + rng.choice(_ENDINGS)
        if attempt >= 10:  # the plain names are running out: "Norra Björkängens förskola"
            place = f"{rng.choice(_PREFIXES)} {place}"
        genitive = place + "s"
        forms = {
            "förskola": (f"{genitive} förskola",),
            "grundskola": (f"{genitive} skola",),
            "äldreomsorg": (place, f"{genitive} äldreboende", f"Vård- och omsorgsboendet {place}"),
            "hemtjänst": (f"Hemtjänst {place}",),
            "kök": (f"{genitive} kök", f"Tillagningsköket {place}"),
            "LSS": (f"Gruppbostaden {place}", f"{genitive} dagliga verksamhet"),
        }[service]
        name = rng.choice(forms)
        if name not in taken:
            return name
    number = 2
    while f"{name} {number}" in taken:
        number += 1
    return f"{name} {number}"


def street_address(rng: random.Random) -> str:
    return f"{rng.choice(_STEMS)}{rng.choice(_STREETS)} {rng.randint(1, 140)}"


def person_name(rng: random.Random) -> tuple[str, str]:
    """A first and a last name; a few people have two (different) last names."""
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    if rng.random() < 0.04:
        last = f"{last} {rng.choice([name for name in _LAST_NAMES if name != last])}"
    return first, last


class AddressBook:
    """Hands out unique phone numbers and e-mail addresses."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._numbers: set[str] = set()
        self._emails: dict[str, int] = {}

    def mobile(self) -> str:
        """A unique mobile number written like Excel users do: `070-123 45 67`."""
        while True:
            prefix = self._rng.choice(_MOBILE_PREFIXES)
            number = _written(prefix, f"{self._rng.randrange(10_000_000):07d}")
            if self._claim(number):
                return number

    def fixed_line(self) -> str:
        """A unique fixed-line number (`08-…`, `031-…`): valid, but not SMS-capable."""
        while True:
            prefix, length = self._rng.choice(_FIXED_PREFIXES)
            subscriber = str(self._rng.randint(2 * 10 ** (length - 1), 10**length - 1))
            number = _written(prefix, subscriber)
            if self._claim(number):
                return number

    def email(self, first: str, last: str) -> str:
        """`fornamn.efternamn@exempelkommun.se`, ASCII only, numbered when taken."""
        local = f"{first}.{last}".casefold().translate(_ASCII)
        self._emails[local] = count = self._emails.get(local, 0) + 1
        return f"{local}{count if count > 1 else ''}@{EMAIL_DOMAIN}"

    def _claim(self, number: str) -> bool:
        if number in self._numbers:
            return False
        self._numbers.add(number)
        return True


def _written(prefix: str, digits: str) -> str:
    return f"{prefix}-{digits[:-4]} {digits[-4:-2]} {digits[-2:]}"
