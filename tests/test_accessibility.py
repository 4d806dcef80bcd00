"""The pages people see: a language, one heading, labelled fields, named buttons, readable colours."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings

from tests.oauth import HttpsClient

STYLESHEET = Path(settings.BASE_DIR) / "static" / "wetrials" / "wetrials.css"


class PageOutline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.lang = None
        self.headings: list[str] = []
        self.fields: list[dict[str, str | None]] = []
        self.label_targets: set[str] = set()
        self.buttons: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "html":
            self.lang = attributes.get("lang")
        elif tag == "h1":
            self.headings.append("")
        elif tag == "label" and attributes.get("for"):
            self.label_targets.add(attributes["for"])
        elif tag in {"input", "select", "textarea"} and attributes.get("type") not in {"hidden", "submit"}:
            self.fields.append(attributes)
        elif tag == "button":
            self.buttons.append("")
        self._open = tag if tag in {"h1", "button"} else self._open

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open == "h1":
            self.headings[-1] += data
        elif self._open == "button":
            self.buttons[-1] += data


def outline(html: str) -> PageOutline:
    parser = PageOutline()
    parser.feed(html)
    return parser


@pytest.fixture
def people_pages(pages, settings):
    """The pages of the security-header tests, plus the not-found and rate-limited pages."""
    settings.OAUTH_RATE_SIGN_IN = "1/m"
    client = HttpsClient()  # signed out
    client.post("/accounts/login/", {"username": "someone", "password": "wrong"})
    return pages | {
        "not found": client.get("/accounts/no-such-page/"),
        "rate limited": client.post("/accounts/login/", {"username": "someone", "password": "wrong"}),
    }


def test_the_extra_pages_are_what_they_say(people_pages):
    assert people_pages["not found"].status_code == 404
    assert people_pages["rate limited"].status_code == 429


def test_every_page_states_its_language_and_has_one_heading(people_pages):
    for name, response in people_pages.items():
        page = outline(response.content.decode())
        assert page.lang == "en", name
        assert len(page.headings) == 1 and page.headings[0].strip(), name


def test_every_field_has_a_label_and_every_button_a_name(people_pages):
    for name, response in people_pages.items():
        page = outline(response.content.decode())
        for field in page.fields:
            assert field.get("id") in page.label_targets or field.get("aria-label"), (name, field)
        assert all(text.strip() for text in page.buttons), name


def relative_luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    lighter, darker = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_text_colours_meet_wcag_aa_contrast():
    css = STYLESHEET.read_text()
    colour = dict(re.findall(r"--([a-z]+): (#[0-9a-f]{6})", css))
    white = "#ffffff"
    pairs = {
        "body text": (colour["ink"], colour["bg"]),
        "text on a card": (colour["ink"], white),
        "hints": (colour["muted"], white),
        "links and outline buttons": (colour["accent"], white),
        "masthead and primary buttons": (white, colour["accent"]),
        "danger buttons": (colour["danger"], white),
        "the new badge": ("#5c4500", "#fff3cd"),
    }
    for name, (foreground, background) in pairs.items():
        assert contrast(foreground, background) >= 4.5, name
