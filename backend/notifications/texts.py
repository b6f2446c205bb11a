"""Notification text in the reader's language: the templates of every kind, in English, and
their translations in gettext catalogues (``locales/<lang>/LC_MESSAGES/notifications.po``).

A domain says what happened with a template and its parameters (``OFFER_RECEIVED(listing=...,
quantity=..., material=MaterialRef(code))``); :func:`backend.notifications.service.add` stores
both, and the English text as the row's title and body (what old rows and unknown languages
show). The text is rendered when it is read: a push in the device's language, the inbox in the
request's. People's own words (a listing's title, a reason, a post) are parameters and stay as
written; a material is named as the catalogue names it in the reader's language.

The English strings here are the gettext message ids, and each template's key is their
context (``msgctxt``): "Cancelled: {title}" of an event and of a purchase group may read
differently in Japanese. ``{name}`` placeholders are ``str.format`` fields; a translation keeps
exactly the English one's (tests/notifications/test_texts.py checks every catalogue). The .po
files are read with Babel at first use, so a clean clone needs no build step; after changing a
template run ``python -m backend.notifications.texts`` to update the .pot and merge it into
every .po (new messages come untranslated, changed ones fuzzy: neither is used until a
translator fills it in).
"""

from __future__ import annotations

import gettext
import io
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from backend.kit.money import plain
from backend.notifications.models import NotificationKind

ENGLISH = "en"
# The languages we have catalogues for: the demo clusters' (Maniwa ja, Chachoengsao th,
# An Giang vi, Hosur ta and hi) and English.
LANGUAGES = ("en", "ja", "th", "vi", "ta", "hi")
DOMAIN = "notifications"
LOCALES = Path(__file__).parent / "locales"

MAX_TITLE = 300  # the row's column; pushes are cut by the providers long before


@dataclass(frozen=True, slots=True)
class MaterialRef:
    """A material of the catalogue, by code: shown by its name in the reader's language."""

    code: str


Param = str | int | Decimal | date | MaterialRef


@dataclass(frozen=True, slots=True)
class Text:
    """What to tell, in no language yet: a template and its parameters."""

    template: Template
    params: Mapping[str, Param]


@dataclass(frozen=True, slots=True)
class Template:
    """The English title and body of one way a kind of notification is told."""

    key: str  # stored on the row, and the gettext context of its strings
    kind: NotificationKind
    title: str
    body: str = ""
    # The English plural of ``title``, which then counts ``count``'s parameter (gettext's
    # ngettext: Hindi and Tamil have two forms, Japanese, Thai and Vietnamese one).
    title_plural: str | None = None
    count: str | None = None
    placeholders: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        names = fields_of(self.title) | fields_of(self.body)
        if self.title_plural is not None:
            names |= fields_of(self.title_plural)
        object.__setattr__(self, "placeholders", frozenset(names))

    def __call__(self, **params: Param) -> Text:
        if set(params) != self.placeholders:
            raise TypeError(
                f"{self.key} takes {sorted(self.placeholders)}, was given {sorted(params)}"
            )
        return Text(self, params)


def fields_of(text: str) -> set[str]:
    """The ``{name}`` fields of a format string."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def is_words(text: str) -> bool:
    """Whether a template string has anything to translate: "{reason}" alone has not."""
    return bool(re.search(r"\w", re.sub(r"\{[^}]*\}", "", text)))


_T = Template
K = NotificationKind
TEMPLATES: tuple[Template, ...] = (
    # identity
    _T(
        "ACCOUNT_REGISTRATION_ATTEMPTED",
        K.ACCOUNT_REGISTRATION_ATTEMPTED,
        "Someone asked for a new account with your email",
        "Your account already uses this email, so nothing was created or changed. If it was "
        "you, sign in with your password instead.",
    ),
    # events
    _T(
        "EVENT_REGISTRATION_CONFIRMED",
        K.EVENT_REGISTRATION_CONFIRMED,
        "Approved: {event}",
        "The organisers approved your registration.",
    ),
    _T(
        "EVENT_REGISTRATION_CONFIRMED.WAITLISTED",
        K.EVENT_REGISTRATION_CONFIRMED,
        "Approved, on the waiting list: {event}",
        "The organisers approved your registration; the event is full, so you are on the "
        "waiting list and will get a seat when one becomes free.",
    ),
    _T(
        "EVENT_REGISTRATION_PROMOTED",
        K.EVENT_REGISTRATION_PROMOTED,
        "You have a seat: {event}",
        "A seat became free and your registration moved from the waiting list to confirmed.",
    ),
    _T(
        "EVENT_REGISTRATION_REJECTED",
        K.EVENT_REGISTRATION_REJECTED,
        "Not accepted: {event}",
        "{reason}",
    ),
    _T(
        "EVENT_CHANGED",
        K.EVENT_CHANGED,
        "Changed: {event}",
        "The time or the place of an event you registered for has changed.",
    ),
    _T("EVENT_CANCELLED", K.EVENT_CANCELLED, "Cancelled: {event}", "{reason}"),
    # purchasing
    _T(
        "PURCHASE_GROUP_CONFIRMED",
        K.PURCHASE_GROUP_CONFIRMED,
        "Confirmed: {group}",
        "The group reached its minimum; the settlement shows what each participant pays.",
    ),
    _T(
        "PURCHASE_GROUP_FAILED",
        K.PURCHASE_GROUP_FAILED,
        "Did not go ahead: {group}",
        "The deadline passed below the minimum total; nothing will be ordered.",
    ),
    _T("PURCHASE_GROUP_CANCELLED", K.PURCHASE_GROUP_CANCELLED, "Cancelled: {group}", "{reason}"),
    _T(
        "PURCHASE_GROUP_ORDERED",
        K.PURCHASE_GROUP_ORDERED,
        "Ordered: {group}",
        "The order has been placed.",
    ),
    _T(
        "PURCHASE_GROUP_DELIVERED",
        K.PURCHASE_GROUP_DELIVERED,
        "Delivered: {group}",
        "The order has arrived.",
    ),
    _T(
        "PLEDGE_MADE_FOR_YOU",
        K.PLEDGE_MADE_FOR_YOU,
        "Pledged for you: {quantity} {unit}, {group}",
        "Your community pledged this on your behalf.",
    ),
    # forums
    _T("FORUM_REPLY", K.FORUM_REPLY, "New reply: {thread}", "{post}"),
    _T(
        "FORUM_MENTION",
        K.FORUM_MENTION,
        "Your organisation was mentioned: {thread}",
        "{post}",
    ),
    # marketplace
    _T(
        "LISTING_MATCH",
        K.LISTING_MATCH,
        "A match for {your_listing}: {listing}",
        "{material}: score {score} of 100, {distance} km away",
    ),
    _T(
        "OFFER_RECEIVED",
        K.OFFER_RECEIVED,
        "New offer on {listing}",
        "{quantity} {unit} of {material} at {price} {currency}",
    ),
    _T(
        "OFFER_COUNTERED",
        K.OFFER_COUNTERED,
        "Counter-offer on {listing}",
        "{quantity} {unit} of {material} at {price} {currency}",
    ),
    _T("OFFER_ACCEPTED", K.OFFER_ACCEPTED, "Offer accepted: {listing}"),
    _T("OFFER_DECLINED", K.OFFER_DECLINED, "Offer declined", "{reason}"),
    _T(
        "OFFER_DECLINED.LISTING_CLOSED",
        K.OFFER_DECLINED,
        "Offer declined: {listing}",
        "The listing was closed",
    ),
    _T(
        "OFFER_DECLINED.LISTING_CHANGED",
        K.OFFER_DECLINED,
        "Offer declined: {listing}",
        "The listing's material, unit or currency changed",
    ),
    _T(
        "OFFER_DECLINED.LISTING_TAKEN_DOWN",
        K.OFFER_DECLINED,
        "Offer declined: {listing}",
        "The listing was taken down by the moderators",
    ),
    _T("OFFER_WITHDRAWN", K.OFFER_WITHDRAWN, "Offer withdrawn"),
    _T(
        "TRADE_IN_TRANSIT",
        K.TRADE_IN_TRANSIT,
        "On its way",
        "{quantity} {unit} of {material}",
    ),
    _T(
        "TRADE_DELIVERED",
        K.TRADE_DELIVERED,
        "Delivered: please confirm",
        "{quantity} {unit} of {agreed} agreed",
    ),
    _T(
        "TRADE_COMPLETED",
        K.TRADE_COMPLETED,
        "Completed",
        "{quantity} {unit} of {material}",
    ),
    _T("TRADE_CANCELLED", K.TRADE_CANCELLED, "Trade cancelled", "{reason}"),
    _T("TRADE_DISPUTED", K.TRADE_DISPUTED, "Trade disputed", "{reason}"),
    _T("TRADE_DISPUTED.TO_SETTLE", K.TRADE_DISPUTED, "A trade to settle", "{reason}"),
    _T("TRADE_MESSAGE", K.TRADE_MESSAGE, "New message on a trade", "{message}"),
    _T("TRADE_REVIEWED", K.TRADE_REVIEWED, "You were rated {rating} of 5", "{comment}"),
    # permits
    _T(
        "PERMIT_TRANSFER_REQUESTED",
        K.PERMIT_TRANSFER_REQUESTED,
        "A transfer of {amount} {unit} of {condition} waits for your approval",
        "{note}",
    ),
    _T(
        "PERMIT_TRANSFER_DECIDED.APPROVED",
        K.PERMIT_TRANSFER_DECIDED,
        "The transfer of {amount} {unit} of {condition} was approved",
        "{note}",
    ),
    _T(
        "PERMIT_TRANSFER_DECIDED.REFUSED",
        K.PERMIT_TRANSFER_DECIDED,
        "The transfer of {amount} {unit} of {condition} was refused",
        "{note}",
    ),
    _T(
        "PERMIT_ALLOCATION_CHANGED",
        K.PERMIT_ALLOCATION_CHANGED,
        "Your allocation of {condition} is now {amount} {unit} per period",
    ),
    _T(
        "PERMIT_ALLOCATION_CHANGED.TRANSFERRED",
        K.PERMIT_ALLOCATION_CHANGED,
        "{amount} {unit} of {condition} was transferred",
        "{note}",
    ),
    _T(
        "PERMIT_ALLOCATION_CHANGED.COVER_ENDED",
        K.PERMIT_ALLOCATION_CHANGED,
        "Your cover by the permit ended; your allocations went back to the holder",
        "{released}",
    ),
    _T(
        "PERMIT_USE_WARNING.MEMBER",
        K.PERMIT_USE_WARNING,
        "{organisation} reached {level} % of its allocation for {condition}",
        "{figure} {unit} sent to disposal in the period starting {period_start}, against an "
        "allocation of {allocation} {unit}.",
    ),
    _T(
        "PERMIT_USE_WARNING.CAP",
        K.PERMIT_USE_WARNING,
        "The members reached {level} % of the cap of {condition}",
        "{total} {unit} sent to disposal in the period starting {period_start}, against a cap "
        "of {cap} {unit}.",
    ),
    # licences
    _T(
        "LICENCE_VERIFIED",
        K.LICENCE_VERIFIED,
        "Licence {number} verified",
        "{issuer} {number} now counts for hazardous waste from {valid_from} to {valid_to}.",
    ),
    _T(
        "LICENCE_VERIFICATION_WITHDRAWN",
        K.LICENCE_VERIFICATION_WITHDRAWN,
        "Verification of licence {number} withdrawn",
        "{reason}",
    ),
    _T(
        "LICENCE_EXPIRING",
        K.LICENCE_EXPIRING,
        "Licence {number} ends in {days} day",
        "{issuer} {number} is valid until {valid_to}. After that day hazardous waste it covers "
        "can no longer be offered to or traded with you.",
        title_plural="Licence {number} ends in {days} days",
        count="days",
    ),
    _T(
        "LICENCE_EXPIRING.TODAY",
        K.LICENCE_EXPIRING,
        "Licence {number} ends today",
        "{issuer} {number} is valid until {valid_to}. After that day hazardous waste it covers "
        "can no longer be offered to or traded with you.",
    ),
)
del _T, K
BY_KEY: dict[str, Template] = {template.key: template for template in TEMPLATES}
assert len(BY_KEY) == len(TEMPLATES), "template keys are unique"

# The templates by key, as the call sites name them: ``texts.OFFER_RECEIVED(listing=...)``.
ACCOUNT_REGISTRATION_ATTEMPTED = BY_KEY["ACCOUNT_REGISTRATION_ATTEMPTED"]
EVENT_REGISTRATION_CONFIRMED = BY_KEY["EVENT_REGISTRATION_CONFIRMED"]
EVENT_REGISTRATION_CONFIRMED_WAITLISTED = BY_KEY["EVENT_REGISTRATION_CONFIRMED.WAITLISTED"]
EVENT_REGISTRATION_PROMOTED = BY_KEY["EVENT_REGISTRATION_PROMOTED"]
EVENT_REGISTRATION_REJECTED = BY_KEY["EVENT_REGISTRATION_REJECTED"]
EVENT_CHANGED = BY_KEY["EVENT_CHANGED"]
EVENT_CANCELLED = BY_KEY["EVENT_CANCELLED"]
PURCHASE_GROUP_CONFIRMED = BY_KEY["PURCHASE_GROUP_CONFIRMED"]
PURCHASE_GROUP_FAILED = BY_KEY["PURCHASE_GROUP_FAILED"]
PURCHASE_GROUP_CANCELLED = BY_KEY["PURCHASE_GROUP_CANCELLED"]
PURCHASE_GROUP_ORDERED = BY_KEY["PURCHASE_GROUP_ORDERED"]
PURCHASE_GROUP_DELIVERED = BY_KEY["PURCHASE_GROUP_DELIVERED"]
PLEDGE_MADE_FOR_YOU = BY_KEY["PLEDGE_MADE_FOR_YOU"]
FORUM_REPLY = BY_KEY["FORUM_REPLY"]
FORUM_MENTION = BY_KEY["FORUM_MENTION"]
LISTING_MATCH = BY_KEY["LISTING_MATCH"]
OFFER_RECEIVED = BY_KEY["OFFER_RECEIVED"]
OFFER_COUNTERED = BY_KEY["OFFER_COUNTERED"]
OFFER_ACCEPTED = BY_KEY["OFFER_ACCEPTED"]
OFFER_DECLINED = BY_KEY["OFFER_DECLINED"]
OFFER_DECLINED_LISTING_CLOSED = BY_KEY["OFFER_DECLINED.LISTING_CLOSED"]
OFFER_DECLINED_LISTING_CHANGED = BY_KEY["OFFER_DECLINED.LISTING_CHANGED"]
OFFER_DECLINED_LISTING_TAKEN_DOWN = BY_KEY["OFFER_DECLINED.LISTING_TAKEN_DOWN"]
OFFER_WITHDRAWN = BY_KEY["OFFER_WITHDRAWN"]
TRADE_IN_TRANSIT = BY_KEY["TRADE_IN_TRANSIT"]
TRADE_DELIVERED = BY_KEY["TRADE_DELIVERED"]
TRADE_COMPLETED = BY_KEY["TRADE_COMPLETED"]
TRADE_CANCELLED = BY_KEY["TRADE_CANCELLED"]
TRADE_DISPUTED = BY_KEY["TRADE_DISPUTED"]
TRADE_DISPUTED_TO_SETTLE = BY_KEY["TRADE_DISPUTED.TO_SETTLE"]
TRADE_MESSAGE = BY_KEY["TRADE_MESSAGE"]
TRADE_REVIEWED = BY_KEY["TRADE_REVIEWED"]
PERMIT_TRANSFER_REQUESTED = BY_KEY["PERMIT_TRANSFER_REQUESTED"]
PERMIT_TRANSFER_APPROVED = BY_KEY["PERMIT_TRANSFER_DECIDED.APPROVED"]
PERMIT_TRANSFER_REFUSED = BY_KEY["PERMIT_TRANSFER_DECIDED.REFUSED"]
PERMIT_ALLOCATION_CHANGED = BY_KEY["PERMIT_ALLOCATION_CHANGED"]
PERMIT_ALLOCATION_TRANSFERRED = BY_KEY["PERMIT_ALLOCATION_CHANGED.TRANSFERRED"]
PERMIT_COVER_ENDED = BY_KEY["PERMIT_ALLOCATION_CHANGED.COVER_ENDED"]
PERMIT_USE_WARNING_MEMBER = BY_KEY["PERMIT_USE_WARNING.MEMBER"]
PERMIT_USE_WARNING_CAP = BY_KEY["PERMIT_USE_WARNING.CAP"]
LICENCE_VERIFIED = BY_KEY["LICENCE_VERIFIED"]
LICENCE_VERIFICATION_WITHDRAWN = BY_KEY["LICENCE_VERIFICATION_WITHDRAWN"]
LICENCE_EXPIRING = BY_KEY["LICENCE_EXPIRING"]
LICENCE_EXPIRING_TODAY = BY_KEY["LICENCE_EXPIRING.TODAY"]


# ---------------------------------------------------------------------------------------------
# Stored parameters


def material_codes(text: Text) -> set[str]:
    return {value.code for value in text.params.values() if isinstance(value, MaterialRef)}


def stored_params(text: Text, material_names: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
    """The parameters as the row keeps them (JSON): plain values as text, a material as its
    names by language ({"en": "Sawdust", "ja": "おがくず"}), from ``material_names`` (its
    English name under "en", its local names under their tags)."""
    stored: dict[str, Any] = {}
    for name, value in text.params.items():
        if isinstance(value, MaterialRef):
            stored[name] = dict(material_names.get(value.code, {ENGLISH: value.code}))
        elif isinstance(value, Decimal):
            stored[name] = plain(value)
        elif isinstance(value, date):
            stored[name] = value.isoformat()
        else:
            stored[name] = str(value)
    return stored


# ---------------------------------------------------------------------------------------------
# Languages


def language_of(tag: str | None) -> str:
    """The catalogue for a BCP 47 tag: its primary language if we have it (``ja-JP`` ->
    ``ja``), else English."""
    primary = _primary_language(tag)
    return primary if primary in LANGUAGES else ENGLISH


def _primary_language(tag: str | None) -> str:
    # Some clients send a POSIX locale (``ja_JP``) where BCP 47 has ``ja-JP``: both read alike,
    # from a device's locale and from an Accept-Language header.
    return (tag or "").strip().replace("_", "-").split("-")[0].lower()


def language_of_header(accept_language: str | None) -> str:
    """The catalogue an Accept-Language header (RFC 9110) prefers most: of the ranges we have,
    the one with the highest weight (the first of equals); English when none."""
    best, best_weight = ENGLISH, 0.0
    for part in (accept_language or "").split(","):
        tag, _, parameters = part.partition(";")
        weight = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        primary = _primary_language(tag)
        if primary in LANGUAGES and weight > best_weight:
            best, best_weight = primary, weight
    return best


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The language's catalogue, read from its .po with Babel once per process (the .mo is
    made in memory: nothing to build or commit). English is the message ids themselves."""
    if language == ENGLISH or language not in LANGUAGES:
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with (LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)  # a fuzzy translation waits for a translator
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


# ---------------------------------------------------------------------------------------------
# Rendering


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    body: str


def render(template: Template, params: Mapping[str, Any], language: str) -> Rendered:
    """The template in ``language`` (a LANGUAGES tag) with the stored parameters; raises
    KeyError for a parameter missing from them."""
    values = {name: _value(value, language) for name, value in params.items()}
    if template.title_plural is not None and template.count is not None:
        title = translations(language).npgettext(
            template.key, template.title, template.title_plural, int(values[template.count])
        )
        body = _strings(template.key, language)[1]
    else:
        title, body = _strings(template.key, language)
    return Rendered(title.format_map(values)[:MAX_TITLE], body.format_map(values))


@cache
def _strings(key: str, language: str) -> tuple[str, str]:
    """A template's title and body in a language, looked up once per process."""
    template = BY_KEY[key]
    catalogue = translations(language)
    return (
        _translated(catalogue, key, template.title),
        _translated(catalogue, key, template.body),
    )


def _translated(catalogue: gettext.NullTranslations, key: str, text: str) -> str:
    # "" is a catalogue's header, and "{reason}" alone has nothing to translate
    return catalogue.pgettext(key, text) if is_words(text) else text


def _value(value: Any, language: str) -> str:
    if isinstance(value, dict):  # a material's names by language
        return str(value.get(language) or value.get(ENGLISH) or next(iter(value.values()), ""))
    return str(value)


def render_stored(
    key: str | None, params: Mapping[str, Any] | None, language: str, *, title: str, body: str
) -> Rendered:
    """A notification's text in ``language``: from its template when it has one we know,
    else (a row from before templates, or from a newer version's template) the English
    ``title`` and ``body`` it stored."""
    template = BY_KEY.get(key) if key is not None else None
    if template is None or params is None:
        return Rendered(title, body)
    try:
        return render(template, params, language)
    except (KeyError, ValueError, IndexError):
        # a translation that names a field the template lacks: tested for, but a reader
        # should still get the English text rather than an error
        return Rendered(title, body)


# ---------------------------------------------------------------------------------------------
# The catalogues' upkeep: ``python -m backend.notifications.texts``


def template_catalog() -> Any:
    """The .pot: every template's strings with its key as context."""
    from babel.messages.catalog import Catalog

    catalog = Catalog(
        domain=DOMAIN,
        project="EIC notifications",
        msgid_bugs_address="",
        copyright_holder="EIC contributors",
        header_comment="# Notification titles and bodies. Source: backend/notifications/texts.py",
    )
    for template in TEMPLATES:
        location = [("backend/notifications/texts.py", 0)]
        if template.title_plural is not None:
            catalog.add(
                (template.title, template.title_plural),
                locations=location,
                context=template.key,
                flags=("python-brace-format",),
            )
        else:
            catalog.add(
                template.title,
                locations=location,
                context=template.key,
                flags=("python-brace-format",),
            )
        if is_words(template.body):
            catalog.add(
                template.body,
                locations=location,
                context=template.key,
                flags=("python-brace-format",),
            )
    return catalog


def _write_catalogues() -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    template = template_catalog()
    LOCALES.mkdir(exist_ok=True)
    with (LOCALES / f"{DOMAIN}.pot").open("wb") as pot:
        write_po(pot, template, omit_header=False, width=100, no_location=True)
    for language in LANGUAGES:
        if language == ENGLISH:
            continue
        path = LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if path.exists():
            with path.open("rb") as po:
                catalog = read_po(po, locale=language, domain=DOMAIN)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=language, domain=DOMAIN)
        catalog.update(template, no_fuzzy_matching=False)
        with path.open("wb") as po:
            write_po(po, catalog, width=100, no_location=True, ignore_obsolete=True)


if __name__ == "__main__":
    _write_catalogues()
