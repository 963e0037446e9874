"""Canonical JSON and secret redaction: the exact bytes that audit entries hash."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentcoord.errors import InvalidInputError
from agentcoord.services.audit.canonical import (
    REDACTED,
    all_canonical,
    canonical_json,
    canonical_payload,
    is_canonical,
    is_secret_key,
    parse_json,
    parse_json_object,
    plain_payloads,
    redact,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def _reversed_keys(value: Any) -> Any:
    """The same JSON value with every object's keys inserted in reverse order."""
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
    return value


@given(json_values)
def test_canonical_json_round_trips_and_is_a_fixed_point(value: Any) -> None:
    encoded = canonical_json(value)
    assert json.loads(encoded) == value
    assert canonical_json(parse_json(encoded, field="x")) == encoded


@given(json_values)
def test_canonical_json_ignores_key_insertion_order(value: Any) -> None:
    assert canonical_json(_reversed_keys(value)) == canonical_json(value)


def _bmp_only(value: Any) -> bool:
    return all(ord(c) <= 0xFFFF for c in json.dumps(value, ensure_ascii=False))


@given(json_values.filter(_bmp_only))
def test_canonical_json_matches_compact_sorted_stdlib_for_bmp_text(value: Any) -> None:
    # With no astral keys, UTF-16 order is code-point order and stdlib gives the same bytes.
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert canonical_json(value) == expected


def test_keys_sort_by_utf16_code_units_and_text_is_raw_utf8() -> None:
    value = {"\ue000": 1, "\U0001f600": 2, "b": "é\n\x01", "a": [True, None, -7]}
    assert canonical_json(value) == '{"a":[true,null,-7],"b":"é\\n\\u0001","\U0001f600":2,"\ue000":1}'.encode()


@pytest.mark.parametrize("bad", [1.5, float("nan"), float("inf"), 0.0])
def test_floats_are_refused_naming_the_path(bad: float) -> None:
    with pytest.raises(InvalidInputError) as caught:
        canonical_json({"cost": {"usd": [1, bad]}})
    assert caught.value.field == "payload.cost.usd[1]"
    assert "micro-dollars" in str(caught.value)


def test_non_json_types_and_non_string_keys_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="set is not a JSON value"):
        canonical_json({"x": {1, 2}})
    with pytest.raises(InvalidInputError, match="not a string"):
        canonical_json({1: "x"})
    with pytest.raises(InvalidInputError, match="lone surrogate"):
        canonical_json({"x": "\ud800"})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"a": 1.5}', "non-integer number 1.5"),
        ('{"a": 1e3}', "non-integer number 1e3"),
        ('{"a": NaN}', "non-integer number NaN"),
        ('{"a": 1, "a": 2}', "duplicate key 'a'"),
        ('{"a": ', "is not valid JSON"),
    ],
)
def test_strict_parse_refuses_what_canonical_form_cannot_hold(text: str, problem: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_json(text, field="payload_json")
    assert caught.value.field == "payload_json"
    assert problem in str(caught.value)


def test_parse_json_object_wants_an_object_and_reads_empty_as_empty() -> None:
    assert parse_json_object("", field="payload_json") == {}
    assert parse_json_object('{"n": 3}', field="payload_json") == {"n": 3}
    with pytest.raises(InvalidInputError, match="payload_json: must be a JSON object, not list"):
        parse_json_object("[1]", field="payload_json")
    with pytest.raises(InvalidInputError, match="lone surrogate") as caught:
        parse_json_object('{"x": "\\ud800"}', field="payload_json")
    assert caught.value.field.startswith("payload_json")


@pytest.mark.parametrize(
    "key", ["token", "api_key", "apiKey", "X-Api-Key", "Authorization", "client_secret", "DB_PASSWORD",
            "accessToken", "private_key", "credentials"],
)
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["input_tokens", "output_tokens", "idempotency_key", "subject", "keyword", "author"])
def test_ordinary_keys_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_redaction_replaces_secret_values_and_secret_shaped_substrings() -> None:
    payload = {
        "api_key": "plain-looking",
        "nested": {"password": {"any": "structure"}, "input_tokens": 1200},
        "command": "curl -H 'Authorization: Bearer abc123def456ghi' https://x",
        "key": "sk-ant-api03-abcdefghijklmnopqrstuvwxyz",
        "list": ["ghp_" + "a1" * 18, "harmless"],
        "prose": "the bearer instrument was signed",
    }
    assert redact(payload) == {
        "api_key": REDACTED,
        "nested": {"password": REDACTED, "input_tokens": 1200},
        "command": f"curl -H 'Authorization: {REDACTED}' https://x",
        "key": REDACTED,
        "list": [REDACTED, "harmless"],
        "prose": "the bearer instrument was signed",
    }


def test_canonical_payload_redacts_before_encoding() -> None:
    encoded = canonical_payload({"token": "t0ps3cret", "n": 1})
    assert encoded == b'{"n":1,"token":"[REDACTED]"}'
    assert b"t0ps3cret" not in encoded
    with pytest.raises(InvalidInputError, match="must be a JSON object"):
        canonical_payload(["not", "an", "object"])  # type: ignore[arg-type]


# The orjson fast paths (canonical.py) must give exactly what the Python walk gives.

secretish_keys = st.sampled_from(["api_key", "token", "input_tokens", "accessToken", "note", "idempotency_key"])
secretish_text = st.sampled_from(
    ["Bearer abc123def456ghi", "bEaReR x1234567890", "sk-ant-abcdefghijklmnopqrstuvwxyz", "ghp_" + "a1" * 18,
     "AKIAABCDEFGHIJKLMNOP", "task-123", "plain", "line\nBearer abc123def456", "é\U0001f600", "v1.2,x"]
)
payload_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-(2**70), 2**70) | st.text() | secretish_text,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text() | secretish_keys, children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text() | secretish_keys, payload_values, max_size=6))
def test_canonical_payload_equals_redacting_then_encoding_with_the_python_walk(payload: dict[str, Any]) -> None:
    try:
        expected = canonical_json(redact(payload))
    except InvalidInputError:
        with pytest.raises(InvalidInputError):
            canonical_payload(payload)
        return
    assert canonical_payload(payload) == expected
    assert canonical_payload(payload) == expected  # again, now that its keys are known


def test_values_orjson_would_print_but_canonical_form_refuses_are_still_refused() -> None:
    import enum
    import uuid

    class Colour(enum.Enum):
        RED = "red"

    for bad in (1.5, float("nan"), Colour.RED, uuid.UUID(int=1), {"nested": [0.0]}):
        with pytest.raises(InvalidInputError):
            canonical_payload({"x": bad})


def test_orjson_escapes_every_code_point_as_canonical_json_does() -> None:
    import orjson

    for code in range(0x110000):
        if not 0xD800 <= code <= 0xDFFF:
            assert orjson.dumps(chr(code)) == canonical_json(chr(code)), hex(code)


def test_only_ascii_letters_match_bearer_case_insensitively() -> None:
    # canonical._SECRET_HINT looks for "bearer" with ASCII case folding only.
    import re

    letters = re.compile(r"(?i:[bear])|(?i:b)|(?i:e)|(?i:a)|(?i:r)")  # as a class and as literals
    assert [hex(c) for c in range(0x80, 0x110000) if letters.fullmatch(chr(c))] == []


def _strictly_canonical(data: bytes) -> bool:
    try:
        return canonical_json(parse_json(data, field="payload")) == data
    except InvalidInputError:
        return False


json_texts = st.builds(
    lambda value, sort, compact, ascii_only: json.dumps(
        value, sort_keys=sort, separators=(",", ":") if compact else (", ", ": "), ensure_ascii=ascii_only
    ).encode("utf-8", "surrogatepass"),
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text() | secretish_text,
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
        max_leaves=12,
    ),
    st.booleans(), st.booleans(), st.booleans(),
)


@given(st.lists(json_texts, min_size=1, max_size=5))
def test_is_canonical_and_all_canonical_agree_with_the_strict_definition(texts: list[bytes]) -> None:
    verdicts = [_strictly_canonical(t) for t in texts]
    assert [is_canonical(t) for t in texts] == verdicts
    if all_canonical(texts):
        assert all(verdicts)


@given(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(['{"a":%s}', "[1,%s]", "%s", '{"a":[%s]}']))
def test_a_float_as_orjson_prints_it_is_never_taken_for_canonical(number: float, shape: str) -> None:
    import orjson

    data = (shape % orjson.dumps(number).decode()).encode()
    assert not is_canonical(data)
    assert not all_canonical([b"{}", data])


def test_secret_shaped_text_under_known_keys_is_still_redacted() -> None:
    plain = {"cmd": "ls", "items": ["a", {"note": "x"}]}
    assert canonical_payload(plain) == b'{"cmd":"ls","items":["a",{"note":"x"}]}'  # its keys are now known
    leaky = {"cmd": "curl -H 'Authorization: Bearer abc123def456ghi'", "items": ["a", {"note": "ghp_" + "a1" * 18}]}
    assert canonical_payload(leaky) == (
        b'{"cmd":"curl -H \'Authorization: [REDACTED]\'","items":["a",{"note":"[REDACTED]"}]}'
    )


@given(st.lists(st.dictionaries(st.text() | secretish_keys, payload_values, max_size=4), max_size=6))
def test_plain_payloads_give_canonical_payload_bytes_or_defer(payloads: list[dict[str, Any]]) -> None:
    for payload, printed in zip(payloads, plain_payloads(payloads), strict=True):
        if printed is not None:
            assert printed == canonical_json(redact(payload))


def test_plain_payloads_defer_only_what_needs_redaction_or_is_not_plain() -> None:
    batch = [{"n": 1}, {"cmd": "export T=sk-ant-abcdefghijklmnopqrstuvwxyz"}, {"x": 1.5}, {"m": "BEARER x1234567890"}]
    assert plain_payloads(batch) == [b'{"n":1}', None, None, None]
    assert plain_payloads([{"n": 1}, {"task": "t-1"}]) == [b'{"n":1}', b'{"task":"t-1"}']


SECRET_SAMPLES = [  # one per alternative of canonical._SECRET_VALUE, in its order
    "Bearer abc123def456ghi", "sk-abcdefghijklmnop1234", "ghp_" + "a1" * 16, "github_pat_" + "b2" * 16,
    "xoxb-1234567890ab", "AKIAABCDEFGHIJKLMNOP", "AIza" + "c" * 35, "eyJabcdefghij.eyJabcdefghij.sig",
]


def test_every_secret_pattern_has_a_sample_that_the_fast_paths_send_to_redaction() -> None:
    # A new pattern in _SECRET_VALUE needs a sample here, and a literal in _SECRET_HINT and
    # _may_hold_secret (canonical.py), or the orjson fast paths would store it unredacted.
    from agentcoord.services.audit import canonical

    assert canonical._SECRET_VALUE.pattern.count("|") + 1 == len(SECRET_SAMPLES)
    for sample in SECRET_SAMPLES:
        assert canonical._SECRET_VALUE.fullmatch(sample), sample
        payload = {"note": f"x {sample} y"}
        assert plain_payloads([payload, {"n": 1}]) == [None, b'{"n":1}'], sample
        assert canonical_payload(payload) == b'{"note":"x [REDACTED] y"}', sample


def test_plain_payloads_print_a_batch_of_flat_payloads_at_once_as_canonical_payload_would() -> None:
    batch = [{"z": 1, "a": "x\u00e9\n\"", "m": None, "b": True}, {}, {"n": -(2**63)}, {"a": "ok"}]
    plain_payloads(batch)  # every key is known from now on, so the batch takes the flat path
    assert plain_payloads(batch) == [canonical_payload(payload) for payload in batch]
    too_big = [{"a": "ok"}, {"n": 2**64}, {"b": False}]  # orjson cannot print it: that one alone defers
    assert plain_payloads(too_big) == [b'{"a":"ok"}', None, b'{"b":false}']
    assert canonical_payload({"n": 2**64}) == b'{"n":18446744073709551616}'
    nested = [{"a": "ok"}, {"a": [1, {"b": 2}]}]  # not flat: payload by payload, same bytes
    assert plain_payloads(nested) == [b'{"a":"ok"}', b'{"a":[1,{"b":2}]}']
    leaky = [{"a": "ok"}, {"a": "token sk-abcdefghijklmnop1234"}]  # flat, but the secret scan still runs
    assert plain_payloads(leaky) == [b'{"a":"ok"}', None]
