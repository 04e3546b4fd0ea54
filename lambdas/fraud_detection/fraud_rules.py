"""Explainable fraud rules: each gives a verdict, the value it saw and its limit.

A transaction is FLAGGED when any rule triggers, APPROVED otherwise. Windows
end at the transaction's own creation time (not "now"), so re-evaluating a
transaction later gives the same answer; the transaction itself is not part
of its history.

- ``amount_threshold``: the amount is above the threshold configured for the
  transaction's currency (``amount_thresholds``, in that currency's major
  units: 10000 JPY and 10000 KWD are very different sums).
- ``velocity``: the user made more than ``velocity_max`` transactions with
  this merchant (this one included) within ``velocity_window_seconds``.
- ``repeated_failures``: the user had at least ``failure_max`` REJECTED or
  FLAGGED transactions with this merchant within ``failure_window_seconds``.
- ``card_velocity``: the card (its token) was used in more than
  ``card_velocity_max`` attempts (this one included, any user id, any
  merchant, rejected ones too) within ``card_velocity_window_seconds``.
  Every attempt whose card number was sound carries the token, so a card
  tested with wrong expiry dates or CVVs under a fresh user id each time is
  counted; the rule counts attempts, not failures, because card-token-index
  projects keys only (no status).

User history is scoped to ``(merchant_id, user_id)`` and read by that pair
(merchant-user-index), so no other merchant's transactions fill its pages; a
history cut at the page cap makes the rules that count it trigger. A user id
is chosen by the merchant, so one merchant's rejections must not flag another merchant's
payments for the same id. The card is the one thing a caller cannot rename,
so card velocity counts across user ids and merchants.

The rules' observations stay in the stored item for investigation; answers
to the client carry only the decision and the names of the rules that
triggered (limits and counts would help evade them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from paycommon.store import Status

_FAILED = frozenset({Status.REJECTED.value, Status.FLAGGED.value})


@dataclass(frozen=True)
class FraudLimits:
    """The configured limits of the rules."""

    amount_thresholds: Mapping[str, Decimal]
    velocity_window_seconds: int
    velocity_max: int
    failure_window_seconds: int
    failure_max: int
    card_velocity_window_seconds: int = 3600
    card_velocity_max: int = 5

    @property
    def history_window_seconds(self) -> int:
        """How far back the user's history must reach for its rules."""
        return max(self.velocity_window_seconds, self.failure_window_seconds)


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict with the observation that led to it."""

    rule: str
    triggered: bool
    observed: str
    limit: str
    explanation: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "triggered": self.triggered,
            "observed": self.observed,
            "limit": self.limit,
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class Decision:
    """The outcome: the new status and every rule's result."""

    status: Status
    results: tuple[RuleResult, ...]

    @property
    def reasons(self) -> list[str]:
        """The names of the rules that triggered."""
        return [result.rule for result in self.results if result.triggered]


def _since(
    transaction: Mapping[str, Any], history: Sequence[Mapping[str, Any]], seconds: int
) -> list[Mapping[str, Any]]:
    end = int(transaction["timestamp"])
    start = end - seconds * 1000
    return [
        item
        for item in history
        if item["transaction_id"] != transaction["transaction_id"] and start <= int(item["timestamp"]) <= end
    ]


def _cut(read: int) -> str:
    return f"more than {read} (history cut at the page limit)"


def evaluate(
    transaction: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    limits: FraudLimits,
    card_history: Sequence[Mapping[str, Any]] = (),
    *,
    history_complete: bool = True,
    card_history_complete: bool = True,
) -> Decision:
    """Applies every rule to ``transaction`` given the user's ``history`` (with this merchant) and the
    card's ``card_history``. A currency without a threshold raises KeyError (checked by the caller).

    A history that was cut (``*_complete`` False) cannot show a rule holds: the rules that count
    it trigger (pessimistic), observing "more than" what was read."""
    amount = Decimal(transaction["amount"])
    currency = transaction.get("currency", "")
    threshold = limits.amount_thresholds[currency]
    amount_rule = RuleResult(
        rule="amount_threshold",
        triggered=amount > threshold,
        observed=f"{amount} {currency}".strip(),
        limit=f"{threshold} {currency}",
        explanation=f"amount above {threshold}" if amount > threshold else f"amount at most {threshold}",
    )

    recent = len(_since(transaction, history, limits.velocity_window_seconds)) + 1
    velocity_rule = RuleResult(
        rule="velocity",
        triggered=recent > limits.velocity_max or not history_complete,
        observed=str(recent) if history_complete else _cut(len(history)),
        limit=str(limits.velocity_max),
        explanation=f"{recent} transactions by this user with this merchant within "
        f"{limits.velocity_window_seconds}s (limit {limits.velocity_max})",
    )

    failures = sum(
        1 for item in _since(transaction, history, limits.failure_window_seconds) if item.get("status") in _FAILED
    )
    failure_rule = RuleResult(
        rule="repeated_failures",
        triggered=failures >= limits.failure_max or not history_complete,
        observed=str(failures) if history_complete else _cut(len(history)),
        limit=str(limits.failure_max),
        explanation=f"{failures} rejected or flagged transactions by this user with this merchant within "
        f"{limits.failure_window_seconds}s (flagged from {limits.failure_max})",
    )

    card_uses = len(_since(transaction, card_history, limits.card_velocity_window_seconds)) + 1
    card_rule = RuleResult(
        rule="card_velocity",
        triggered=card_uses > limits.card_velocity_max or not card_history_complete,
        observed=str(card_uses) if card_history_complete else _cut(len(card_history)),
        limit=str(limits.card_velocity_max),
        explanation=f"{card_uses} attempts with this card (any status, any user id) within "
        f"{limits.card_velocity_window_seconds}s (limit {limits.card_velocity_max})",
    )

    results = (amount_rule, velocity_rule, failure_rule, card_rule)
    flagged = any(result.triggered for result in results)
    return Decision(Status.FLAGGED if flagged else Status.APPROVED, results)
