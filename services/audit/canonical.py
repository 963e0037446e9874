"""Canonical JSON for audit payloads, and the redaction of secrets before anything is hashed.

Canonical form (RFC 8785 style, see docs/audit-format.md): object keys sorted by their UTF-16
code units, no insignificant whitespace, UTF-8 output, strings escaped as JSON.stringify does
(only `"`, `\\` and control characters; lowercase `\\u00xx`). Numbers must be integers, written
in plain decimal: money is integer micro-dollars, and floats have no single agreed spelling, so
a float (or NaN/Infinity) is refused with an error naming where it is.

Redaction runs first, so a secret never reaches the hash, the table or a log line.

Speed: most payloads are plain (exact dict/list/str/int/bool/None values, keys already known not
to name a secret and inside the Basic Multilingual Plane, no credential-shaped text). For those,
orjson's sorted output is byte for byte the canonical form (its string escaping equals
JSON.stringify's for every code point, and code-point order is UTF-16 order inside the BMP), so
it is used directly; anything else takes the Python walk below, which defines the format.
tests/services/audit/test_audit_canonical.py checks the two agree.
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from agentcoord.errors import InvalidInputError

REDACTED = "[REDACTED]"

# Key words (after splitting snake_case, kebab-case and camelCase) that mark a secret value.
_SECRET_WORDS = frozenset(
    {"token", "secret", "password", "passwd", "passphrase", "authorization", "credential",
     "credentials", "apikey", "cookie"}
)
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key"), ("signing", "key")})
_KEY_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+")
# Secrets recognisable by shape wherever they appear inside a string.
_SECRET_VALUE = re.compile(
    r"\b(?i:bearer)\s+(?=\S*\d)[A-Za-z0-9._~+/=-]{8,}"  # HTTP bearer credentials (with a digit, not prose)
    r"|\bsk-[A-Za-z0-9_-]{16,}"  # OpenAI / Anthropic style API keys
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{30,}"  # GitHub tokens
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|\bAKIA[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bAIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+"  # JWTs
)
# A superset of _SECRET_VALUE on canonical JSON text: every alternative above starts with one of
# these literals, none of which JSON escaping changes, and only the ASCII letters of "bearer"
# match it case-insensitively (test_audit_canonical checks every code point).
_SECRET_HINT = re.compile(
    rb"s(?=k-)|g(?=h[pousr]_|ithub_pat_)|x(?=ox[abprs]-)|A(?=KIA|Iza)|e(?=yJ)|b(?=(?i:earer))|B(?=(?i:earer))"
)
_GH_TOKEN = re.compile(rb"gh[pousr]_")  # a literal prefix: searched as fast as a substring


@functools.lru_cache(maxsize=4096)  # payload keys repeat from event to event
def is_secret_key(key: str) -> bool:
    """True when a mapping key names a secret (`api_key`, `accessToken`, `Authorization`, ...).

    Whole words are matched, so `input_tokens` or `idempotency_key` are not secrets.
    """
    words = [w.lower() for w in _KEY_WORD.findall(key)]
    if any(w in _SECRET_WORDS for w in words):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))


def redact(value: Any) -> Any:
    """A copy of `value` with secret-named keys' values and secret-shaped substrings replaced."""
    if isinstance(value, Mapping):
        return {k: REDACTED if isinstance(k, str) and is_secret_key(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value)
    return value


def canonical_json(value: Any, *, field: str = "payload") -> bytes:
    """The canonical UTF-8 bytes of a JSON value; InvalidInputError names the offending path.

    Accepts mappings with string keys, lists/tuples, strings, integers, booleans and None.
    """
    try:
        return _COMPACT.encode(_sorted(value)).encode("utf-8")
    except (_RefusedJson, UnicodeEncodeError):
        _normalise(value, field)  # walks again, naming the path of what is wrong
        raise InvalidInputError("is not canonical JSON", field=field) from None


def canonical_payload(payload: Mapping[str, Any], *, field: str = "payload") -> bytes:
    """Redact, then canonicalise, an audit payload: the exact bytes that are stored and hashed."""
    if type(payload) is dict:
        fast = _plain_payload(payload)
        if fast is not None:
            return fast
    if not isinstance(payload, Mapping):
        raise InvalidInputError("must be a JSON object", field=field)
    try:  # one walk that redacts and sorts; the two-step path below names what is wrong
        return _COMPACT.encode(_sorted(payload, redacting=True)).encode("utf-8")
    except (_RefusedJson, UnicodeEncodeError):
        return canonical_json(redact(payload), field=field)


def is_canonical(data: bytes) -> bool:
    """True when `data` is exactly the canonical JSON of the value it parses to.

    The common case is settled by orjson's parser and printer; anything they cannot decide
    (duplicate keys, characters outside the Basic Multilingual Plane whose UTF-16 order differs
    from code-point order, lone surrogates) takes the strict path.
    """
    if _looks_canonical(data):
        return True
    try:
        return canonical_json(parse_json(data, field="payload")) == data
    except InvalidInputError:
        return False


def all_canonical(payloads: Sequence[bytes]) -> bool:
    """True when every one of `payloads` is canonical (see `is_canonical`), decided in bulk.

    False only means "not settled here": call `is_canonical` on each to know which.
    """
    try:  # compared as they are printed, keeping none: retaining them costs more than printing
        if not all(map(operator.eq, map(_dumps_sorted, map(orjson.loads, payloads)), payloads)):
            return False
    except (orjson.JSONDecodeError, TypeError, RecursionError):
        return False
    joined = b",".join(payloads)
    return not _has_float(joined) and (joined.isascii() or not _ASTRAL.search(joined))


def _looks_canonical(data: bytes) -> bool:
    """True when orjson prints what it parses from `data` as exactly `data` (no floats, BMP only).

    Printing the parse can only give back the same bytes when they hold one JSON value, sorted,
    compact, escaped the canonical way and free of duplicate keys; the float and astral checks
    exclude what orjson accepts but canonical form refuses (floats) or sorts otherwise (keys
    outside the BMP).
    """
    try:
        if _dumps_sorted(orjson.loads(data)) != data:
            return False
    except (orjson.JSONDecodeError, TypeError, RecursionError):
        return False
    return not _has_float(data) and (data.isascii() or not _ASTRAL.search(data))


def _has_float(printed: bytes) -> bool:
    """True when orjson-printed JSON (or several joined by commas) may hold a float; never False when it does."""
    return any(pattern.search(printed) for pattern in _FLOAT_ENDS)


def parse_json(text: str | bytes, *, field: str) -> Any:
    """Parse JSON strictly: no floats, NaN or Infinity, no duplicate keys."""
    try:
        return json.loads(text, parse_float=_refuse_float, parse_constant=_refuse_float,
                          object_pairs_hook=_unique_keys)
    except _RefusedJson as exc:
        raise InvalidInputError(str(exc), field=field) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"is not valid JSON: {exc}", field=field) from exc


def parse_json_object(text: str, *, field: str) -> dict[str, Any]:
    """Parse a JSON object strictly (see `parse_json`) and check it can be canonicalised.

    An empty string means `{}`.
    """
    if not text.strip():
        return {}
    value = parse_json(text, field=field)
    if not isinstance(value, dict):
        raise InvalidInputError(f"must be a JSON object, not {type(value).__name__}", field=field)
    canonical_json(value, field=field)  # e.g. a "\ud800" escape parses but has no UTF-8 form
    return value


class _RefusedJson(ValueError):
    """Valid JSON that canonical form does not allow."""


def _refuse_float(text: str) -> Any:
    raise _RefusedJson(f"non-integer number {text} is not allowed; use integers (e.g. micro-dollars)")


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_SORTED = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, sort_keys=True)
_STRICT = json.JSONDecoder(parse_float=_refuse_float, parse_constant=_refuse_float)
_ASTRAL = re.compile(rb"[\xf0-\xf4]")  # lead bytes of characters outside the BMP
# How every float orjson prints ends (1.5, 100.0, 1e+16, 1e-7, -2.5e-300): a fraction or a signed
# exponent, then `,`, `}`, `]` or the end. Text inside strings can match too ("v1.2,x"): that only
# sends the payload down the strict path. Three literal-prefix searches run far faster than one
# alternation.
_FLOAT_ENDS = tuple(re.compile(rb"%s[0-9]+(?:[,}\]]|\Z)" % start) for start in (rb"\.", rb"e\+", rb"e-"))
_dumps_sorted = functools.partial(orjson.dumps, option=orjson.OPT_SORT_KEYS)
_SCALARS = frozenset({str, int, bool, type(None)})
_PLAIN_TYPES = _SCALARS | {dict, list, tuple}
_plain_keys: set[str] = set()
"""Keys seen before that name no secret and lie in the BMP (bounded by _MAX_PLAIN_KEYS)."""
_MAX_PLAIN_KEYS = 4096


def _plain_payload(payload: dict[str, Any]) -> bytes | None:
    """The canonical bytes of a payload that needs no redaction, via orjson; None if not plain.

    None sends the payload down the Python walk, which decides (and names) everything.
    """
    data = _plain_printed(payload)
    return None if data is None or _SECRET_HINT.search(data) else data


def _plain_printed(payload: Any) -> bytes | None:
    """orjson's sorted output for a plain payload (secret-shaped text not looked for yet), else None."""
    if type(payload) is not dict:
        return None
    try:
        return _dumps_sorted(payload) if _plain_mapping(payload) else None
    except (TypeError, RecursionError):  # orjson.JSONEncodeError: lone surrogates, ints past 64 bits
        return None


def plain_payloads(payloads: Sequence[Any]) -> list[bytes | None]:
    """For each payload, what `canonical_payload` returns if it is plain and needs no redaction, else None.

    A batch's secret-shaped text is looked for once, over all of it, with plain substring
    searches (every pattern of _SECRET_VALUE contains one of these literals, which JSON never
    escapes); only when one shows up is each payload searched on its own. None means "call
    canonical_payload", which decides, redacts or refuses as always.
    """
    printed: list[bytes | None] | None = _flat_printed(payloads)
    if printed is None:
        printed = [_plain_printed(payload) for payload in payloads]
    plain = [data for data in printed if data is not None]
    if plain and _may_hold_secret(b"\x00".join(plain)):
        return [None if data is None or _SECRET_HINT.search(data) else data for data in printed]
    return printed


def _flat_printed(payloads: Sequence[Any]) -> list[bytes | None] | None:
    """orjson's sorted output of every payload when all are flat and plain, else None.

    Flat and plain: exact dicts whose keys are all in _plain_keys and whose values are all
    scalars, which is what `_plain_printed` accepts without recursing; decided for the whole
    batch at once with C-level passes. None: ask `_plain_printed` payload by payload.
    """
    if set(map(type, payloads)) != {dict} or not _plain_keys.issuperset(itertools.chain.from_iterable(payloads)):
        return None
    if not set(map(type, itertools.chain.from_iterable(map(dict.values, payloads)))) <= _SCALARS:
        return None
    try:
        return list(map(_dumps_sorted, payloads))
    except (TypeError, RecursionError):  # orjson.JSONEncodeError: lone surrogates, ints past 64 bits
        return None


def _may_hold_secret(text: bytes) -> bool:
    return (
        any(literal in text for literal in (b"sk-", b"xox", b"AKIA", b"AIza", b"eyJ", b"github_pat_"))
        or _GH_TOKEN.search(text) is not None
        or b"bearer" in text.lower()
    )


def _plain_mapping(mapping: dict[Any, Any]) -> bool:
    if not _plain_keys.issuperset(mapping) and not all(map(_plain_key, mapping)):
        return False
    return _plain_items(mapping.values())


def _plain_items(values: Any) -> bool:
    kinds = set(map(type, values))
    if kinds <= _SCALARS:
        return True
    if not kinds <= _PLAIN_TYPES:
        return False
    return all(map(_plain_value, values))


def _plain_value(value: Any) -> bool:
    kind = type(value)
    if kind is dict:
        return _plain_mapping(value)
    if kind is list or kind is tuple:
        return _plain_items(value)
    return True


def _plain_key(key: Any) -> bool:
    if key in _plain_keys:
        return True
    if type(key) is not str or is_secret_key(key) or not (key.isascii() or max(key) < "\U00010000"):
        return False
    if len(_plain_keys) < _MAX_PLAIN_KEYS:
        _plain_keys.add(key)
    return True


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _RefusedJson(f"duplicate key {key!r}")
        result[key] = value
    return result


def _sorted(value: Any, *, redacting: bool = False) -> Any:
    """A copy with every object's keys in canonical order; _RefusedJson for what JSON cannot hold.

    With `redacting`, secrets are redacted in the same walk (the hot path of every append).
    The fast path of canonical_json: lone surrogates surface when the text is encoded, and
    `_normalise` then finds and names whatever was wrong.
    """
    if isinstance(value, str):
        return _SECRET_VALUE.sub(REDACTED, value) if redacting else value
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Mapping):
        keys = list(value)
        if not all(isinstance(key, str) for key in keys):
            raise _RefusedJson("object key is not a string")
        keys.sort(key=None if all(key.isascii() for key in keys) else _utf16_order)
        return {
            key: REDACTED if redacting and is_secret_key(key) else _sorted(value[key], redacting=redacting)
            for key in keys
        }
    if isinstance(value, list | tuple):
        return [_sorted(item, redacting=redacting) for item in value]
    raise _RefusedJson(f"{type(value).__name__} is not a JSON value")


def _normalise(value: Any, path: str) -> Any:
    """Check every value is canonical-JSON-able and sort every object's keys."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        _check_text(value, path)
        return value
    if isinstance(value, float):
        raise InvalidInputError(
            f"non-integer number {value!r} is not allowed; use integers (e.g. micro-dollars)", field=path
        )
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise InvalidInputError(f"object key {key!r} is not a string", field=path)
            _check_text(key, path)
        return {key: _normalise(value[key], f"{path}.{key}") for key in sorted(value, key=_utf16_order)}
    if isinstance(value, list | tuple):
        return [_normalise(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise InvalidInputError(f"{type(value).__name__} is not a JSON value", field=path)


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInputError(f"string is not valid Unicode (lone surrogate): {exc.reason}", field=path) from None


def _utf16_order(key: str) -> bytes:
    """RFC 8785 sorts keys by UTF-16 code units; big-endian UTF-16 bytes compare the same way."""
    return key.encode("utf-16-be")
