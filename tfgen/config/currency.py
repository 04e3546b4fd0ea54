"""A currency's amount limits: its own figure where ``lambda.currency_limits`` sets one, else the
lambda-wide one. Read from plain attributes, so that what the templates need of the limits does
not import the configuration model (tfgen.config.model validates them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class OwnLimits(Protocol):
    """One currency's figures; None where it takes the lambda-wide one."""

    @property
    def min_amount(self) -> float | None: ...
    @property
    def max_amount(self) -> float | None: ...
    @property
    def fraud_amount_threshold(self) -> float | None: ...


class LambdaLimits(Protocol):
    """The lambda-wide figures and the currencies' own."""

    @property
    def min_amount(self) -> float: ...
    @property
    def max_amount(self) -> float: ...
    @property
    def fraud_amount_threshold(self) -> float: ...
    @property
    def currency_limits(self) -> Mapping[str, OwnLimits]: ...


def currency_limits(lam: LambdaLimits, currency: str) -> tuple[float, float, float]:
    """``(min_amount, max_amount, fraud_amount_threshold)`` of a currency, in its major units."""
    own = lam.currency_limits.get(currency)
    if own is None:
        return lam.min_amount, lam.max_amount, lam.fraud_amount_threshold
    return (lam.min_amount if own.min_amount is None else own.min_amount,
            lam.max_amount if own.max_amount is None else own.max_amount,
            lam.fraud_amount_threshold if own.fraud_amount_threshold is None else own.fraud_amount_threshold)
