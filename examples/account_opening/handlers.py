"""Local stand-ins for the account-opening Lambda functions.

Each handler takes ``(event, context)`` like a Python Lambda function. An exception fails the task with
the exception's class name as the error (``InvalidNameError``...), which the definition retries or catches.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['.-][^\W\d_]*)*\.?$")
_US_POSTCODE = re.compile(r"^\d{5}(?:-\d{4})?$")
_STREET_ABBREVIATIONS = {"street": "ST", "avenue": "AVE", "road": "RD", "boulevard": "BLVD", "drive": "DR",
                         "lane": "LN", "court": "CT"}


class InvalidNameError(Exception):
    """The applicant's name cannot be used for an account (not a full name, or not letters)."""


class InvalidAddressError(Exception):
    """The address is incomplete or not deliverable."""


class AddressServiceUnavailable(Exception):
    """The address-verification provider did not answer; a transient error the workflow retries."""


def check_name(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Check that the name is a full name made of letters; return it normalised for the account."""
    words = str(event.get("name") or "").split()
    if len(words) < 2 or not all(_NAME_WORD.match(word) for word in words):
        raise InvalidNameError(f"'{event.get('name')}' is not a full name made of letters")
    return {"normalizedName": " ".join(word[:1].upper() + word[1:].lower() for word in words),
            "watchlistMatch": False}


def check_address(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Verify a US postal address and return its standardised one-line form."""
    address = event.get("address") or {}
    missing = [f for f in ("street", "city", "state", "postalCode", "country") if not address.get(f)]
    if missing:
        raise InvalidAddressError(f"address is missing {', '.join(missing)}")
    if address["country"] != "US":
        raise InvalidAddressError(f"accounts can only be opened for US addresses, not {address['country']}")
    if not _US_POSTCODE.match(str(address["postalCode"])):
        raise InvalidAddressError(f"'{address['postalCode']}' is not a US ZIP code")
    street = " ".join(_STREET_ABBREVIATIONS.get(w.lower(), w.upper()) for w in address["street"].split())
    city = f"{address['city'].upper()} {address['state'].upper()} {address['postalCode']}"
    return {"standardized": f"{street}, {city}", "deliverable": True}


def approve_application(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Open the account; the account number is derived from the application id (idempotent on retries)."""
    digest = hashlib.sha256(event["applicationId"].encode()).hexdigest()
    return {"accountNumber": f"{int(digest[:12], 16) % 10**10:010d}", "product": event["product"],
            "status": "OPEN"}
