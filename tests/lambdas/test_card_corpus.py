"""Card numbers in any shape: a corpus generated from card numbers x group shapes x separators x digit
forms, checked by the detector, in every request field (moto) and in log lines.

Each generated text is judged against an oracle written here from the definition alone (the digits
of a run of groups, every 13-19 digit window, Luhn), so a case the detector misses fails, and the
same shapes around numbers no window of which passes Luhn must pass untouched.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from typing import Any

import payment_validation
import pytest
from lambda_testkit import alb_event, invoke, payment
from paycommon import cards, logs

# Test numbers of every length and the major brands.
PANS = {
    "visa16": "4111111111111111",
    "visa13": "4222222222222",
    "visa19": "4000000000000000006",
    "amex15": "378282246310005",
    "diners14": "30569309025904",
    "mastercard16": "5555555555554444",
    "discover16": "6011111111111117",
    "jcb16": "3530111333300000",
}
# Numbers of the same lengths no 13-19 digit window of which passes Luhn (checked below).
NOT_PANS = {"n16": "4111111111111113", "n15": "378282246310006", "n13": "4222222222223"}


def shapes(length: int) -> dict[str, list[int]]:
    """Ways people, forms and systems group ``length`` digits."""
    fours = [4] * (length // 4) + ([length % 4] if length % 4 else [])
    return {
        "unbroken": [length],
        "fours": fours,
        "4-6-rest": [4, 6, length - 10],
        "pairs": [2] * (length // 2) + ([1] if length % 2 else []),
        "singles": [1] * length,
        "6-rest": [6, length - 6],
        "rest-4": [length - 4, 4],
    }


SEPARATORS = {
    **{f"ascii {sep!r}": sep for sep in [
        " ", "  ", "   ", "\t", "\n", "\r\n", "-", "--", " - ", ".", "/", "\\", "_", "+", ":", ";", ",", "|",
        "~", "*", "#", "=", "'", '"', "(", ")", "[", "]", "!", "?", "^", "`", "$", "&", "<", ">", "@", "{", "}",
    ]},
    **{f"unicode U+{ord(sep):04X}": sep for sep in [
        "\u00a0", "\u2009", "\u202f", "\u3000", "\u200b", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014",
        "\u2212", "\u00b7", "\u30fb", "\uff0d", "\uff0e", "\uff0f",
    ]},
    **{f"encoded {sep}": sep for sep in [
        "%20", "+%20", "%2B", "%2b", "%2D", "%2F", "%09", "%0A", "%C2%A0", "%E3%80%80", "%2520", "%20-%20",
        "&#32;", "&#x2d;", "&#8211;",
    ]},
}


def digit_form(name: str, digit: str) -> str:
    offsets = {"ascii": None, "full-width": 0xFF10, "arabic-indic": 0x0660, "devanagari": 0x0966,
               "math-bold": 0x1D7CE}
    if name == "percent-encoded":
        return f"%{ord(digit):02X}"
    if name == "html-reference":
        return f"&#{ord(digit)};"
    base = offsets[name]
    return digit if base is None else chr(base + int(digit))


DIGIT_FORMS = ("ascii", "full-width", "arabic-indic", "devanagari", "math-bold", "percent-encoded", "html-reference")


def grouped(number: str, shape: list[int], separator: str, form: str) -> str:
    groups, position = [], 0
    for size in shape:
        groups.append("".join(digit_form(form, d) for d in number[position : position + size]))
        position += size
    assert position == len(number)
    return separator.join(groups)


def corpus(numbers: dict[str, str], forms: tuple[str, ...] = DIGIT_FORMS) -> Iterator[tuple[str, str, str]]:
    """(case id, text, number) for every number x shape x separator x digit form."""
    for (label, number), (sep_name, separator), form in itertools.product(numbers.items(), SEPARATORS.items(), forms):
        for shape_name, shape in shapes(len(number)).items():
            if len(shape) == 1 and sep_name != "ascii ' '":
                continue  # an unbroken number has no separator: one case is enough
            yield f"{label}/{shape_name}/{sep_name}/{form}", grouped(number, shape, separator, form), number


def oracle_has_pan(digits: str) -> bool:
    """The definition: some 13-19 digit window passes Luhn and is not all zeros."""
    return any(
        cards.luhn_valid(digits[start : start + length]) and digits[start : start + length].strip("0")
        for length in range(13, 20) for start in range(len(digits) - length + 1)
    )


def leaks(text: str, number: str) -> bool:
    """True when ``text`` (a masked one) hides fewer digits than all but the last four of ``number``,
    or its fully decoded reading shows the number's first six or middle six digits."""
    decoded = cards.scan_form(text)[0]
    digits = "".join(ch for ch in decoded if "0" <= ch <= "9")
    return text.count("*") < len(number) - 4 or number[:6] in digits or number[6:12] in digits


def test_the_negative_numbers_hold_no_card_number() -> None:
    assert all(oracle_has_pan(number) for number in PANS.values())
    assert not any(oracle_has_pan(number) for number in NOT_PANS.values())


def test_the_corpus_is_large() -> None:
    assert sum(1 for _ in corpus(PANS)) > 15000


# --- the detector and the log scrubber ---------------------------------------------------


@pytest.mark.parametrize("context", ["{}", "ref {} end", "10 {}", "{} 737", "x={}&y=1"])
def test_every_card_number_in_the_corpus_is_found_and_masked(context: str) -> None:
    missed, leaked = [], []
    for case, text, number in corpus(PANS):
        sample = context.format(text)
        if not cards.contains_pan(sample):
            missed.append(case)
            continue
        masked = logs.scrub_text(sample)
        if leaks(masked, number):
            leaked.append(case)
    assert missed == [] and leaked == []


@pytest.mark.parametrize("context", ["{}", "ref {} end"])
def test_the_same_shapes_without_a_card_number_pass_untouched(context: str) -> None:
    flagged = [case for case, text, _ in corpus(NOT_PANS) if cards.contains_pan(context.format(text))]
    assert flagged == []
    sample = context.format(grouped(NOT_PANS["n16"], [4, 4, 4, 4], "+", "ascii"))
    assert logs.scrub_text(sample) == sample


def test_a_log_line_masks_a_card_number_in_any_shape_in_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logs.get_logger("corpus")
    cases = list(corpus({"visa16": PANS["visa16"]}, ("ascii", "full-width", "percent-encoded")))
    for _case, text, _number in cases:
        logger.info(f"message {text}", extra={"note": text, "nested": {"list": [text]}, text: "value"})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(cases)
    for line, (case, _text, number) in zip(lines, cases, strict=True):
        record = json.loads(line)
        [key] = [key for key, value in record.items() if value == "value"]
        for logged in (record["message"], record["note"], record["nested"]["list"][0], key):
            assert not leaks(logged, number), (case, line)
        assert number[:6] not in line and number[6:12] not in line


# --- every request field ---------------------------------------------------------------------

FIELDS = ["reference", "user_id", "merchant_id", "currency", "amount", "note", "note.deep[0]", "card.cvv",
          "card.expiry_month", "<field name>"]


def body_with(field: str, value: str) -> dict[str, Any]:
    if field == "note.deep[0]":
        return payment(note={"deep": [value]})
    if field.startswith("card."):
        return payment(card={field[5:]: value})
    if field == "<field name>":
        return {**payment(), value: "x"}
    return payment(**{field: value})


@pytest.mark.parametrize("field", FIELDS)
def test_a_card_number_in_any_shape_in_any_field_is_400_and_never_echoed(aws: Any, field: str) -> None:
    wrong = []
    cases = [case for case in corpus({"visa16": PANS["visa16"], "amex15": PANS["amex15"]}, ("ascii", "full-width"))
             if not case[0].endswith("full-width") or "fours" in case[0]]
    for case, text, number in cases:
        event = alb_event("POST", "/payments", body_with(field, text), headers={"Idempotency-Key": str(uuid.uuid4())})
        answer = invoke(payment_validation.handler, event)
        message = (f"{field} looks like a card number" if field == "<field name>"
                   else f"{field} looks like a card number; send it only in card.number")
        expected = [{"field": field, "code": "card_number_not_allowed", "message": message}]
        if answer.status != 400 or answer.body.get("errors") != expected or number[:8] in json.dumps(answer.raw):
            wrong.append((case, answer.status, answer.body))
    assert wrong == []
    assert aws.items() == []


def test_an_encoded_character_holding_several_digits_is_masked_once() -> None:
    text = "4111 &#9362;11 1111 1111"  # U+2492 is "11." in NFKC form: the token stands for two digits
    assert cards.contains_pan(text)
    assert logs.scrub_text(text) == "**** *** **** 1111"


@pytest.mark.parametrize("token", ["&#xD800;", "&#1114112;", "%FF", "%C3"])
def test_an_implausible_encoding_is_read_as_sent(token: str) -> None:
    """Invalid UTF-8, surrogates and code points beyond Unicode decode to nothing: their letters and
    digits are read as they are (here the letters end the run)."""
    assert cards.scan_form(f"a{token}b")[0] == f"a{token}b"
