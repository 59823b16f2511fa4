"""Templates: every one renders in both languages; user text can never mention anybody."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.core.render import LOCALES, TEMPLATES, Renderer, escape_mentions, labels, vnd
from tests.template_samples import SAMPLES

renderer = Renderer(ZoneInfo("Asia/Ho_Chi_Minh"))


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", renderer.template_names())
def test_every_template_renders_in_every_language(locale, name):
    assert (TEMPLATES / locale / f"{name}.j2").exists(), f"{locale}/{name}.j2 is missing"
    assert name in SAMPLES, f"add a sample context for {name}"
    assert renderer.render(name, locale, **SAMPLES[name]).strip()


@pytest.mark.parametrize("locale", LOCALES)
def test_labels_cover_every_command(locale):
    import bot.app.registry  # noqa: F401  (registers the commands)
    from bot.core.commands import REGISTRY

    for name in REGISTRY:
        entry = labels(locale)["commands"][name]
        assert entry["summary"] and entry["usage"] and entry["examples"]


def test_user_values_cannot_mention_but_the_mention_filter_can():
    text = renderer.render(
        "usage", "vi", user_id="42", command="log", typed="log", reason="[@f414c8f76fa586fbdfb4] hi"
    )
    assert text.startswith("[@42]")
    assert "[@f414c8f76fa586fbdfb4]" not in text and "[ @f414c8f76fa586fbdfb4]" in text


@pytest.mark.parametrize(
    ("raw", "safe"), [("[@123]", "[ @123]"), ("a[@b][@c]", "a[ @b][ @c]"), ("plain", "plain")]
)
def test_escape_mentions(raw, safe):
    assert escape_mentions(raw) == safe


def test_amounts_and_times_are_shown_the_vietnamese_way():
    assert vnd(50_000_000) == "50.000.000 ₫"
    assert renderer.format_datetime(datetime(2026, 11, 23, 7, 30, tzinfo=UTC)) == "14:30 23/11/2026"
    assert renderer.format_date(date(2026, 11, 30)) == "30/11/2026"
