"""Checks of what people write in forums (tags, bodies)."""

from __future__ import annotations

from backend.kit.errors import Problems
from backend.kit.validation import check_text, has_control_characters

MAX_TAGS = 10


def check_tags(problems: Problems, tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        problems.add("tags", f"At most {MAX_TAGS} tags")
        return []
    cleaned: dict[str, None] = {}
    for index, tag in enumerate(tags):
        value = " ".join(tag.split()).lower()
        if (
            not 1 <= len(value) <= 40
            or "|" in value
            or has_control_characters(value, multiline=False)
        ):
            problems.add(f"tags.{index}", "A tag has 1 to 40 characters, without |")
        else:
            cleaned.setdefault(value, None)
    return list(cleaned)


def check_body(problems: Problems, body: str) -> None:
    check_text(problems, "body", body, min_length=1, max_length=20_000, multiline=True)
