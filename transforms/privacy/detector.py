"""A detector of likely personal data in values: emails, phone numbers, payment card numbers, IP addresses.

:func:`detect` returns the kinds found in one value (``email``, ``phone``, ``card``, ``ip``).  It is tuned
for precision, because in ``enforce`` mode a finding removes or hashes the value:

* ``email`` — ``local@domain.tld`` anywhere in the text;
* ``phone`` — an international number (``+`` and 8–15 digits, separators allowed) or a North-American
  number written with separators (``555-555-5555``, ``(555) 555 5555``); a bare run of digits is an id,
  not a phone;
* ``card`` — 13–19 digits (spaces or dashes between groups allowed) with a valid Luhn check digit *and*
  an issuer prefix (Visa 4, Mastercard 51–55 / 2221–2720, Amex 34/37, Discover 6011/65, JCB 35, Diners
  36/38/300–305); order ids that happen to pass Luhn rarely carry those prefixes;
* ``ip`` — a whole value made of IPv4 dotted quads or IPv6 addresses (comma-separated lists too).

``EXPECTED_PATHS`` are where the Segment spec *puts* such data on purpose (``context.ip``,
``traits.email``, ...): the detector looks everywhere else.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

EXPECTED_PATHS = frozenset({
    "context.ip", "traits.email", "traits.phone", "context.traits.email", "context.traits.phone",
})
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(
    r"(?<![\w+-])(?:\+\d(?:[ .-]?\(?\d\)?){7,14}"
    r"|(?:1[ .-])?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4})(?![\w])")
_CARD = re.compile(r"(?<![\w.])\d(?:[ -]?\d){12,18}(?![\w.])")
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720|3[47]|6011|65|35|3[68]|30[0-5])")
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` ends with a correct Luhn check digit."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _is_card(text: str) -> bool:
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if len(set(digits)) > 1 and _CARD_PREFIX.match(digits) and luhn_valid(digits):
            return True
    return False


def _is_ip(text: str) -> bool:
    """A whole value made of IP addresses (one, or a list such as ``X-Forwarded-For``)."""
    for candidate in re.split(r"[,\s]+", text.strip()):
        if not (_IPV4.match(candidate) or candidate.count(":") >= 2):
            return False
        try:
            ipaddress.ip_address(candidate)
        except ValueError:
            return False
    return True


def detect(value: Any) -> list[str]:
    """The kinds of likely personal data in ``value`` (a string or an integer), possibly empty."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return []
    text = str(value)
    if len(text) < 7 or len(text) > 4096:
        return []
    found = []
    if "@" in text and _EMAIL.search(text):
        found.append("email")
    if _is_card(text):
        found.append("card")
    elif _PHONE.search(text):
        found.append("phone")
    if _is_ip(text):
        found.append("ip")
    return found
