"""Shared code bundled into every payment function's deployment package.

Modules:

- ``alb``: Application Load Balancer Lambda event parsing and responses.
- ``runtime``: the handler decorator (request context, logging, error mapping).
- ``logs``: structured JSON logging that redacts card data and secrets.
- ``config``: typed access to environment variables.
- ``money``: ISO 4217 currencies and decimal amount handling.
- ``cards``: card number checks (Luhn, brand, masking).
- ``aws``: boto3 clients created once per container.
- ``store``: the transactions table (item layout, lookups, state transitions).
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "1.0.0"
