"""Card number tokens: a keyed HMAC-SHA256 computed by AWS KMS (GenerateMac).

The key is a KMS HMAC key (key spec ``HMAC_256``, key usage
``GENERATE_VERIFY_MAC``) named by ``CARD_TOKEN_KMS_KEY_ID``. KMS was chosen
over key material kept in a Secrets Manager secret because the HMAC key never
leaves KMS: the function cannot leak it, there is no secret value to create
(and keep out of Terraform state) or cache in memory, and every use is
recorded by CloudTrail. The cost is one KMS call per validation, well inside
KMS request quotas at the function's reserved concurrency.

The same card number always gives the same token under the same key, so a
token identifies a card (for velocity rules, repeat detection) without being
reversible by anyone who does not hold the key. The MAC input is prefixed
with a purpose label so a MAC made with the key for any other purpose can
never equal a card token.
"""

from __future__ import annotations

from typing import Any

TOKEN_PREFIX = "tok_"
_PURPOSE = b"payments/card-number/v1\x00"
# Idempotency marker ids are MACs of the merchant and key under the same key, another purpose.
_MARKER_PURPOSE = b"payments/idempotency-marker/v1\x00"


class CardTokenizer:
    """Turns card numbers into stable, non-reversible tokens."""

    def __init__(self, kms_client: Any, key_id: str) -> None:
        self._kms = kms_client
        self._key_id = key_id

    def token(self, card_number: str) -> str:
        """``tok_`` followed by the hex HMAC-SHA256 of the (normalized) card number."""
        return TOKEN_PREFIX + self._mac(_PURPOSE + card_number.encode("ascii", "replace"))

    def marker_digest(self, merchant_id: str, key: str) -> str:
        """The hex HMAC-SHA256 naming the idempotency marker of ``key`` in a merchant's scope: nobody
        without the KMS key can test a guess of the key (one holding a card number) against it."""
        return self._mac(_MARKER_PURPOSE + f"{merchant_id}\n{key}".encode())

    def _mac(self, message: bytes) -> str:
        response = self._kms.generate_mac(KeyId=self._key_id, Message=message, MacAlgorithm="HMAC_SHA_256")
        mac: bytes = response["Mac"]
        return mac.hex()
