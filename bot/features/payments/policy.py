"""Payment and credit approval, pure: who may decide, what a decision does to a request (the
accountant, then the chief accountant above PAYMENT_CHIEF_THRESHOLD), what a payment covers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from storage.models import Payment

ACCOUNTING = frozenset({"accountant", "chief_accountant"})


SELF_CONFIRM_ROLES = frozenset({"sales", "sales_head"})  # whose "ok" is a violation


HEAD_ROLES = ("sales_head", "admin")


GATED = {"confirm": "confirm_before_approval", "ship": "ship_before_approval"}


# Refusal codes: the `reason` of the payment_refused template.
SELF_APPROVAL = "self_approval"


NOT_ACCOUNTING = "not_accounting"


ALREADY_DECIDED = "already_decided"


CHIEF_AFTER_ACCOUNTANT = "chief_required_after_accountant"


ACCOUNTANT_ALREADY_APPROVED = "accountant_already_approved"


REASON_REQUIRED = "reason_required"


NOT_FOUND = "not_found"


class Outcome(StrEnum):
    APPROVED = "approved"
    WAITING_CHIEF = "accountant_approved_waiting_chief"
    REJECTED = "rejected"
    REFUSED = "refused"


@dataclass(frozen=True)
class PaymentState:
    """What a decision depends on."""

    status: str
    needs_chief: bool
    requested_by: str
    accountant_id: str | None = None
    chief_id: str | None = None

    @classmethod
    def of(cls, payment: Payment) -> PaymentState:
        return cls(
            payment.status,
            payment.needs_chief,
            payment.requested_by,
            payment.accountant_id,
            payment.chief_id,
        )


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    refusal: str | None = None


def _refuse(code: str) -> Decision:
    return Decision(Outcome.REFUSED, code)


def decide(
    state: PaymentState,
    *,
    decider_id: str,
    role: str | None,
    approve: bool,
    reason: str | None = None,
) -> Decision:
    """What `decider_id`, holding `role`, approving (or rejecting with `reason`) comes to."""
    if state.status != "pending":
        return _refuse(ALREADY_DECIDED)
    if decider_id == state.requested_by:
        return _refuse(SELF_APPROVAL)
    if role not in ACCOUNTING:
        return _refuse(NOT_ACCOUNTING)
    if not approve:
        return Decision(Outcome.REJECTED) if (reason or "").strip() else _refuse(REASON_REQUIRED)
    if not state.needs_chief:
        return Decision(Outcome.APPROVED)
    if state.accountant_id is None:
        if role == "accountant":
            return Decision(Outcome.WAITING_CHIEF)
        return _refuse(CHIEF_AFTER_ACCOUNTANT)
    if role == "chief_accountant" and decider_id != state.accountant_id:
        return Decision(Outcome.APPROVED)
    return _refuse(ACCOUNTANT_ALREADY_APPROVED)


def apply_decision(
    payment: Payment,
    decision: Decision,
    *,
    decider_id: str,
    role: str | None,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Write an accepted decision onto the payment (a refusal changes nothing)."""
    if decision.outcome is Outcome.REFUSED:
        return
    if decision.outcome is Outcome.REJECTED:
        payment.status, payment.reject_reason = "rejected", (reason or "").strip()
    else:
        if role == "chief_accountant":
            payment.chief_id, payment.chief_at = decider_id, now
        else:
            payment.accountant_id, payment.accountant_at = decider_id, now
        if decision.outcome is Outcome.WAITING_CHIEF:
            return
        payment.status = "approved"
    payment.decided_by, payment.decided_at = decider_id, now


def covered(approved_amounts: list[int], wanted: int | None) -> bool:
    """Whether approved payments and credit allow confirming `wanted` (or anything, if None)."""
    return sum(approved_amounts) >= wanted if wanted is not None else bool(approved_amounts)


def credit_term(*, days: int | None = None, due: date | None = None) -> str:
    """How a credit term is stored in Payment.method: '30d' or an ISO date."""
    return f"{days}d" if days is not None else (due.isoformat() if due else "")
