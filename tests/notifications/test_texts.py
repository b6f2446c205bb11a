"""Notification text in the reader's language: every template in every catalogue, the fallback
to English, the material's local name, a push to a Thai phone and the inbox in Japanese."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backend.kit.db import Database
from backend.notifications import service, texts
from backend.notifications.models import Notification, NotificationKind
from backend.notifications.push import deliver_due
from tests.conftest import CLOCK_START, GraphQL, count_statements, seed_people
from tests.notifications.push_fakes import uvicorn_server

OTHER_LANGUAGES = [language for language in texts.LANGUAGES if language != texts.ENGLISH]
# what every placeholder is filled with: its own name in capitals, so a dropped or swapped
# field shows, and anything left in braces is a field the renderer did not know
SAMPLE_NAMES = {"en": "Wood shavings", "ja": "かんなくず", "th": "ขี้กบไม้"}


def sample(template: texts.Template) -> dict[str, Any]:
    return {
        name: (
            dict(SAMPLE_NAMES)
            if name == "material"
            else "3"
            if name == template.count
            else f"<{name.upper()}>"
        )
        for name in template.placeholders
    }


def catalogue(language: str) -> Any:
    path = texts.LOCALES / language / "LC_MESSAGES" / f"{texts.DOMAIN}.po"
    with path.open("rb") as po:
        return read_po(po, locale=language, domain=texts.DOMAIN)


def test_every_kind_is_told_by_a_template() -> None:
    assert {template.kind for template in texts.TEMPLATES} == set(NotificationKind)


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_every_template_is_translated_with_the_english_placeholders(language: str) -> None:
    found = catalogue(language)
    for template in texts.TEMPLATES:
        if template.title_plural is not None:
            message = found.get((template.title, template.title_plural), context=template.key)
            forms = list(message.string)
            assert len(forms) == found.num_plurals, template.key
        else:
            message = found.get(template.title, context=template.key)
            forms = [message.string]
        strings = [(template.title, form) for form in forms]
        assert message is not None, (language, template.key)
        assert not message.fuzzy, (language, template.key)
        if texts.is_words(template.body):
            body = found.get(template.body, context=template.key)
            assert body is not None, (language, template.key)
            assert not body.fuzzy, (language, template.key)
            strings.append((template.body, body.string))
        for english, translated in strings:
            assert translated, (language, template.key, english)
            assert texts.fields_of(translated) == texts.fields_of(english), (
                language,
                template.key,
                translated,
            )


@pytest.mark.parametrize("language", texts.LANGUAGES)
def test_every_template_renders_in_every_language(language: str) -> None:
    for template in texts.TEMPLATES:
        params = sample(template)
        rendered = texts.render(template, params, language)
        english = texts.render(template, params, texts.ENGLISH)
        for text in (rendered.title, rendered.body):
            assert not set("{}") & set(text), (language, template.key, text)
        assert rendered.title, template.key
        # every filled-in field shows up in the title or body, in every language
        shown = rendered.title + rendered.body
        for name in template.placeholders - {"material", template.count}:
            assert f"<{name.upper()}>" in shown, (language, template.key, name)
        if language != texts.ENGLISH:
            assert rendered.title != english.title, (language, template.key)
            if texts.is_words(template.body):
                assert rendered.body != english.body, (language, template.key)


def test_the_catalogues_hold_exactly_the_templates_messages() -> None:
    """The drift test: after a template changes, ``python -m backend.notifications.texts``
    must have been run (and the new strings translated)."""
    wanted = {(message.context, message.id) for message in texts.template_catalog() if message.id}
    with (texts.LOCALES / f"{texts.DOMAIN}.pot").open("rb") as pot:
        assert {(m.context, m.id) for m in read_po(pot) if m.id} == wanted
    for language in OTHER_LANGUAGES:
        found = catalogue(language)
        assert {(m.context, m.id) for m in found if m.id} == wanted, language
        assert not found.obsolete, language


def test_english_counts_days_and_the_other_languages_their_own_way() -> None:
    template = texts.LICENCE_EXPIRING
    params = {"number": "A-7", "issuer": "Okayama", "valid_to": "2027-01-31"}
    assert texts.render(template, {**params, "days": "1"}, "en").title == (
        "Licence A-7 ends in 1 day"
    )
    assert texts.render(template, {**params, "days": "5"}, "en").title == (
        "Licence A-7 ends in 5 days"
    )
    assert texts.render(template, {**params, "days": "5"}, "ja").title == (
        "許可証 A-7 の期限まであと 5 日"
    )
    assert texts.render(template, {**params, "days": "1"}, "ta").title == (
        "உரிமம் A-7 1 நாளில் முடிகிறது"
    )
    assert texts.render(template, {**params, "days": "5"}, "ta").title == (
        "உரிமம் A-7 5 நாட்களில் முடிகிறது"
    )


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("ja-JP", "ja"),
        ("th", "th"),
        ("vi-VN", "vi"),
        ("ta-IN", "ta"),
        ("HI_in", "hi"),
        ("en-GB", "en"),
        ("fr-FR", "en"),
        ("zh-Hant-TW", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_a_device_locale_picks_its_primary_language_or_english(
    tag: str | None, language: str
) -> None:
    assert texts.language_of(tag) == language


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("ja", "ja"),
        ("ja-JP,ja;q=0.9,en;q=0.8", "ja"),
        ("fr-CH, fr;q=0.9, th;q=0.8, ja;q=0.7", "th"),
        ("en;q=0.5, vi", "vi"),
        ("de, fr", "en"),
        ("ta;q=0, hi;q=0.3", "hi"),
        ("*", "en"),
        ("ja;q=nonsense", "en"),
        (None, "en"),
        # an underscore, as some clients send a POSIX locale: the same language as its BCP 47 twin
        ("ja_JP", "ja"),
        ("de_DE, th_TH;q=0.8", "th"),
    ],
)
def test_accept_language_picks_the_best_weighted_language_we_have(
    header: str | None, language: str
) -> None:
    assert texts.language_of_header(header) == language


def test_a_row_without_a_template_we_know_shows_its_english_text() -> None:
    stored = {"title": "Old title", "body": "Old body"}
    for key, params in ((None, None), ("FROM_A_NEWER_VERSION", {}), ("OFFER_ACCEPTED", None)):
        assert texts.render_stored(key, params, "ja", **stored) == texts.Rendered(
            "Old title", "Old body"
        )
    # a parameter missing from the row (a template changed under old rows): English, no error
    assert texts.render_stored("OFFER_ACCEPTED", {}, "ja", **stored) == texts.Rendered(
        "Old title", "Old body"
    )


def test_a_template_refuses_parameters_it_does_not_name() -> None:
    with pytest.raises(TypeError, match="OFFER_ACCEPTED takes"):
        texts.OFFER_ACCEPTED(listing="Cedar", price="4")
    with pytest.raises(TypeError, match="OFFER_ACCEPTED takes"):
        texts.OFFER_ACCEPTED()


def test_the_material_is_named_in_the_readers_language_else_in_english() -> None:
    text = texts.OFFER_RECEIVED(
        listing="Cedar from Katsuyama",
        quantity=Decimal("2.50"),
        unit="TNE",
        material=texts.MaterialRef("wood-shavings"),
        price=Decimal("4500"),
        currency="JPY",
    )
    params = texts.stored_params(text, {"wood-shavings": SAMPLE_NAMES})
    assert params["quantity"] == "2.5"
    assert texts.render(text.template, params, "th") == texts.Rendered(
        "ข้อเสนอใหม่สำหรับ Cedar from Katsuyama", "ขี้กบไม้ 2.5 TNE ราคา 4500 JPY"
    )
    # no Hindi name in the catalogue: the English one, in the Hindi sentence
    assert texts.render(text.template, params, "hi") == texts.Rendered(
        "Cedar from Katsuyama पर नया प्रस्ताव", "Wood shavings 2.5 TNE, 4500 JPY की दर से"
    )


# ---------------------------------------------------------------------------------------------
# Through the database, the push outbox and GraphQL


def offer_received(listing: str) -> texts.Text:
    return texts.OFFER_RECEIVED(
        listing=listing,
        quantity=Decimal(4),
        unit="TNE",
        material=texts.MaterialRef("wood-shavings"),
        price=Decimal(4500),
        currency="JPY",
    )


async def notify(db: Database, user_ids: list[uuid.UUID], text: texts.Text) -> None:
    async with db.write() as session:
        await service.add(
            session,
            user_ids=user_ids,
            text=text,
            subject_type="OFFER",
            subject_id=uuid.uuid4(),
            now=CLOCK_START,
        )


async def test_a_row_keeps_the_english_text_the_template_and_the_materials_names(
    db: Database, settings: Any, cluster_id: str
) -> None:
    (person,) = await seed_people(db, settings, cluster_id, 1)
    await notify(db, [uuid.UUID(person.user_id)], offer_received("Cedar"))
    async with db.read() as session:
        row = (await session.scalars(select(Notification))).one()
    assert (row.kind, row.title, row.body) == (
        NotificationKind.OFFER_RECEIVED,
        "New offer on Cedar",
        "4 TNE of Wood shavings at 4500 JPY",
    )
    assert row.text_template == "OFFER_RECEIVED"
    assert row.text_params == {
        "listing": "Cedar",
        "quantity": "4",
        "unit": "TNE",
        # the catalogue's names of wood shavings: English and its local names
        "material": {"en": "Wood shavings", "ja": "かんなくず", "th": "ขี้กบไม้", "vi": "phoi bào gỗ"},
        "price": "4500",
        "currency": "JPY",
    }


async def test_telling_many_people_looks_the_material_up_once(
    db: Database, settings: Any, cluster_id: str
) -> None:
    people = [uuid.UUID(p.user_id) for p in await seed_people(db, settings, cluster_id, 40)]
    counts = []
    for told in (people[:1], people):
        with count_statements(db) as log:
            await notify(db, told, offer_received("Cedar"))
        counts.append(sum("materials" in statement for statement in log.statements))
    assert counts == [1, 1]
    # and a text without a material looks nothing up
    with count_statements(db) as log:
        await notify(db, people, texts.OFFER_ACCEPTED(listing="Cedar"))
    assert not any("materials" in statement for statement in log.statements)


@pytest.fixture
async def expo() -> AsyncIterator[tuple[list[dict[str, Any]], str]]:
    """A fake Expo push API on a loopback port: takes every message (its documented ticket
    answer, `{"data": [{"status": "ok", "id": ...}]}`) and keeps what it was sent."""
    received: list[dict[str, Any]] = []

    async def send(request: Request) -> JSONResponse:
        messages = await request.json()
        received.extend(messages)
        return JSONResponse({"data": [{"status": "ok", "id": str(uuid.uuid4())} for _ in messages]})

    app = Starlette(routes=[Route("/push/send", send, methods=["POST"])])
    async with uvicorn_server(app) as base:
        yield received, f"{base}/push/send"


REGISTER = """
mutation Register($input: DeviceRegisterInput!) {
  deviceRegister(input: $input) { device { locale } errors { code } }
}
"""


async def test_a_push_to_a_thai_phone_is_in_thai_and_to_a_french_one_in_english(
    gql: GraphQL,
    db: Database,
    settings: Any,
    cluster_id: str,
    expo: tuple[list[dict[str, Any]], str],
) -> None:
    received, url = expo
    # Given a person with a Thai phone and a French one
    (person,) = await seed_people(db, settings, cluster_id, 1)
    for token, locale in (("ExponentPushToken[th]", "th-TH"), ("ExponentPushToken[fr]", "fr")):
        answer = await gql(
            REGISTER,
            {"input": {"token": token, "platform": "ANDROID", "locale": locale}},
            token=person.token,
        )
        assert answer["data"]["deviceRegister"]["errors"] == []
    # when an offer on their listing is told, and the worker delivers it
    await notify(db, [uuid.UUID(person.user_id)], offer_received("Cedar from Katsuyama"))
    async with httpx.AsyncClient() as http:
        report = await deliver_due(db=db, http=http, url=url, now=CLOCK_START, worker="w1")
    assert report.sent == 2
    # then each phone has it in its language, the material by its Thai name on the Thai one
    by_token = {message["to"]: (message["title"], message["body"]) for message in received}
    assert by_token == {
        "ExponentPushToken[th]": (
            "ข้อเสนอใหม่สำหรับ Cedar from Katsuyama",
            "ขี้กบไม้ 4 TNE ราคา 4500 JPY",
        ),
        "ExponentPushToken[fr]": (
            "New offer on Cedar from Katsuyama",
            "4 TNE of Wood shavings at 4500 JPY",
        ),
    }


INBOX = "query { notifications { edges { node { kind title body } } } }"


async def test_the_inbox_speaks_the_language_the_request_asks_for(
    gql: GraphQL, db: Database, settings: Any, cluster_id: str
) -> None:
    # Given a person told of an offer and of an expiring licence, and a row from before
    # templates (English only)
    (person,) = await seed_people(db, settings, cluster_id, 1)
    user_id = uuid.UUID(person.user_id)
    await notify(db, [user_id], offer_received("Cedar"))
    async with db.write() as session:
        await service.add(
            session,
            user_ids=[user_id],
            text=texts.LICENCE_EXPIRING(
                number="OK-12", days=9, issuer="Okayama Prefecture", valid_to=date(2027, 1, 9)
            ),
            subject_type="WASTE_LICENCE",
            subject_id=uuid.uuid4(),
            now=CLOCK_START,
        )
        session.add(
            Notification(
                user_id=user_id,
                kind=NotificationKind.TRADE_COMPLETED,
                title="Completed",
                body="",
                subject_type="TRADE",
                subject_id=uuid.uuid4(),
                created_at=CLOCK_START,
            )
        )

    def nodes(body: dict[str, Any]) -> list[tuple[str, str, str]]:
        edges = body["data"]["notifications"]["edges"]
        return sorted((e["node"]["kind"], e["node"]["title"], e["node"]["body"]) for e in edges)

    # when the app asks in Japanese, then the inbox is in Japanese (the old row in English)
    japanese = await gql(INBOX, token=person.token, headers={"Accept-Language": "ja-JP,en;q=0.5"})
    assert nodes(japanese) == [
        (
            "LICENCE_EXPIRING",
            "許可証 OK-12 の期限まであと 9 日",
            "Okayama Prefecture OK-12 の有効期限は 2027-01-09 です。その翌日以降、対象の有害"
            "廃棄物をあなたに提供したり、あなたと取引したりできなくなります。",
        ),
        ("OFFER_RECEIVED", "Cedar に新しいオファー", "かんなくず 4 TNE、単価 4500 JPY"),
        ("TRADE_COMPLETED", "Completed", ""),
    ]
    # and without a header, or in a language we lack, in English
    for headers in ({}, {"Accept-Language": "de-DE"}):
        english = await gql(INBOX, token=person.token, headers=headers)
        assert nodes(english) == [
            (
                "LICENCE_EXPIRING",
                "Licence OK-12 ends in 9 days",
                "Okayama Prefecture OK-12 is valid until 2027-01-09. After that day hazardous "
                "waste it covers can no longer be offered to or traded with you.",
            ),
            ("OFFER_RECEIVED", "New offer on Cedar", "4 TNE of Wood shavings at 4500 JPY"),
            ("TRADE_COMPLETED", "Completed", ""),
        ]
