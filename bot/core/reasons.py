"""User mistakes with a code: the sentence that explains one comes from the templates.

A parser refuses input by raising a Refusal subclass (UsageError for a command's arguments,
ParseError for an amount, a date or a time, WorktimeError for a duration or working hours)
with a code and its parameters. The sentence is templates/<locale>/reasons.toml's `[reasons]`
entry for the code, formatted with the parameters, so LOCALE=en answers in English. `str()` of
the error is its sentence in the class's default language (Vietnamese; English for
WorktimeError, which also explains a bad setting on the console).
"""

from __future__ import annotations

from typing import Any

from bot.core.render import labels


def reason_text(code: str, params: dict[str, Any], locale: str) -> str:
    """The sentence for `code` in `locale`, its {placeholders} filled from `params`. A
    parameter named `<x>_label` is a word of `[reason_fields]`, given as `<x>` in the language."""
    words = labels(locale)
    template = words.get("reasons", {}).get(code)
    if not isinstance(template, str):
        raise KeyError(f"no sentence for reason {code!r} in templates/{locale}/reasons.toml")
    fields = words.get("reason_fields", {})
    values = {
        (key.removesuffix("_label") if key.endswith("_label") else key): (
            fields.get(value, value) if key.endswith("_label") else value
        )
        for key, value in params.items()
    }
    return template.format(**values)


class Refusal(ValueError):
    """Input refused for a reason that has a code and a sentence per language."""

    default_locale = "vi"

    def __init__(self, code: str, /, **params: Any) -> None:
        super().__init__(code)
        self.code, self.params = code, params

    def text(self, locale: str) -> str:
        """The sentence in `locale`."""
        return reason_text(self.code, self.params, locale)

    def __str__(self) -> str:
        return self.text(self.default_locale)
