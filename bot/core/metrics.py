"""Process-local counters and the Prometheus text rendering of `GET /metrics`.

Counters count what this process saw since it started (Prometheus handles restarts); gauges are
read from the database at scrape time by `Runtime.gauges`. Label values come from fixed sets
written in the code, never from event content: no customer data or secret can end up here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

WEBHOOK_OUTCOMES = (
    "stored",
    "duplicate",
    "rejected_signature",
    "bad_request",
    "too_large",
    "unavailable",
    "replayed",
    "rate_limited",
)
EVENT_STATUSES = ("done", "invalid", "failed")
DELIVERY_RESULTS = ("sent", "retry", "failed")

# name -> (help, label name, the label values shown even while zero)
COUNTERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "zalo_bot_webhook_events_total": (
        "Webhook requests carrying an event, by outcome (this process).",
        "outcome",
        WEBHOOK_OUTCOMES,
    ),
    "zalo_bot_events_processed_total": (
        "Inbox events processed, by final status (this process).",
        "status",
        EVENT_STATUSES,
    ),
    "zalo_bot_outbox_deliveries_total": (
        "Outbox delivery attempts, by result (this process).",
        "result",
        DELIVERY_RESULTS,
    ),
}


class Metrics:
    """A tiny registry of labelled counters; `inc` is cheap and never raises."""

    def __init__(self) -> None:
        self._values: dict[str, dict[str, float]] = {
            name: dict.fromkeys(values, 0.0) for name, (_, _, values) in COUNTERS.items()
        }

    def inc(self, name: str, label: str, amount: float = 1.0) -> None:
        family = self._values.setdefault(name, {})
        family[label] = family.get(label, 0.0) + amount

    def value(self, name: str, label: str) -> float:
        return self._values.get(name, {}).get(label, 0.0)

    def render(
        self,
        gauges: Iterable[tuple[str, str, float | None]] = (),
        extra_counters: Iterable[tuple[str, str, str, Mapping[str, float]]] = (),
    ) -> str:
        """Prometheus text format 0.0.4.

        gauges: (name, help, value) — a None value is left out.
        extra_counters: (name, help, label name, {label value: count}) read elsewhere.
        """
        lines: list[str] = []
        for name, (help_text, label, _) in COUNTERS.items():
            lines += _family(name, help_text, "counter", label, self._values.get(name, {}))
        for name, help_text, label, values in extra_counters:
            lines += _family(name, help_text, "counter", label, values)
        for name, help_text, value in gauges:
            if value is None:
                continue
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {_num(value)}"]
        return "\n".join(lines) + "\n"


def _family(
    name: str, help_text: str, kind: str, label: str, values: Mapping[str, float]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    for value_label, value in sorted(values.items()):
        lines.append(f'{name}{{{label}="{_escape(value_label)}"}} {_num(value)}')
    return lines


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
