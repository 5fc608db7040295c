"""One sanitizer for everything that leaves the process: env, health details, info and logs.

Two rules, applied together:

- **Keys.** A value whose key looks like a secret is replaced by ``******``
  whatever it is. A key is split into words (``DB_PASS``, ``dbPass``,
  ``db.pass``, ``db-pass`` all give ``db`` + ``pass``); it is secret if a word
  contains ``password``, ``passwd``, ``passphrase``, ``secret``, ``token``,
  ``key``, ``credential``, ``private``, ``cookie`` or ``signature``, starts with
  ``auth`` (not ``author``) or ``oauth``, or is one of the short forms ``pass``,
  ``pwd``, ``pw``, ``pat``, ``sk``, ``sig``, ``jwt``, ``otp``, ``salt``.
- **Values.** Text is scanned for secrets whatever its key:
  passwords in URLs (``postgres://app:******@db/app``; everything between the
  first ``:`` of the user info and the *last* ``@`` before the host, as Spring
  Boot does, so a generated password holding an unencoded ``/`` is masked
  whole), ``key=value`` pairs with a secret key (URL queries ``?sig=******``,
  libpq ``host=db password=******``, ADO.NET ``Password=******;``, JDBC
  ``?password=******``), JSON or Python-literal members with a secret key
  (``"password": "******"``), ``Bearer``/``Basic`` credentials, and scrypt
  password hashes. Mappings and lists are walked, so a list of dicts with a
  ``password`` is masked too.

::

    >>> sanitize({"url": "postgres://app:Zm9v/YmFy@db/app", "DB_PASS": "x"})
    {'url': 'postgres://app:******@db/app', 'DB_PASS': '******'}
    >>> sanitize_text("connect failed: host=db password=hunter2 port=5432")
    'connect failed: host=db password=****** port=5432'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "******"

SECRET_FRAGMENTS: tuple[str, ...] = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "key",
    "credential",
    "private",
    "cookie",
    "signature",
)
"""A key holding one of these (in any word) is a secret."""
SECRET_WORDS: frozenset[str] = frozenset(
    {"pass", "pwd", "pw", "pat", "sk", "sig", "jwt", "otp", "salt"}
)
"""Short forms that are a secret only as a whole word (``MYSQL_PWD``, ``GITHUB_PAT``)."""
# The working directories a shell exports: paths, not passwords.
_NOT_SECRET = frozenset({"pwd", "oldpwd"})

MAX_DEPTH = 64
"""Mappings and lists nested deeper than this are refused (``ValueError``), as are cycles."""

_FRAGMENT = re.compile("|".join(SECRET_FRAGMENTS))
_CANDIDATE = re.compile("|".join((*SECRET_WORDS, "auth")))
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_PAIR = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?P<key>[A-Za-z_][A-Za-z0-9_.\-]{0,127})(?P<sep>\s*=\s*)"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s&;'\"]+)"
)
_MEMBER = re.compile(
    r"(?P<q>[\"'])(?P<key>[^\"'\\\n]{1,128})(?P=q)(?P<sep>\s*:\s*)"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s,{}\[\]\"']+)"
)
_AUTHORIZATION = re.compile(r"(?i)\b(?P<scheme>bearer|basic)(?P<sep>\s+)[A-Za-z0-9\-._~+/]{8,}=*")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SCRYPT = re.compile(r"scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+")


def key_words(key: str) -> list[str]:
    """``"dbPass"``, ``"DB_PASS"``, ``"db.pass"`` -> ``["db", "pass"]``."""
    return [word.lower() for word in _WORD.findall(key)]


def is_secret_key(key: str, extra: Iterable[str] = ()) -> bool:
    """Whether values under ``key`` are secret (see the module doc); ``extra``: more fragments."""
    lowered = key.lower()
    if any(fragment and fragment.lower() in lowered for fragment in extra):
        return True
    return _is_secret_key(key)


@functools.lru_cache(maxsize=4096)
def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    if lowered in _NOT_SECRET:
        return False
    if _FRAGMENT.search(lowered):
        return True
    # Most keys hold none of the short forms: only those are split into words.
    if not _CANDIDATE.search(lowered):
        return False
    for word in key_words(key):
        if word in SECRET_WORDS:
            return True
        if (word.startswith("auth") and not word.startswith("author")) or word.startswith(
            ("authoriz", "oauth")
        ):
            return True
    return False


def mask_url_passwords(text: str) -> str:
    """``"redis://:hunter2@cache:6379"`` -> ``"redis://:******@cache:6379"``.

    The user info runs to the last ``@`` before whitespace or the next URL, so
    a password holding ``/``, ``@`` or ``#`` unencoded is masked whole. A URL
    with a user name and no password is left as it is.
    """
    starts = [m.start() for m in _SCHEME.finditer(text)]
    if not starts:
        return text
    pieces = [text[: starts[0]]]
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else len(text)
        pieces.append(_mask_one_url(text[start:end]))
    return "".join(pieces)


def _mask_one_url(chunk: str) -> str:
    scheme_end = chunk.index("://") + 3
    stop = len(chunk)
    space = re.search(r"\s", chunk[scheme_end:])
    if space:
        stop = scheme_end + space.start()
    at = chunk.rfind("@", scheme_end, stop)
    if at < 0:
        return chunk
    colon = chunk.find(":", scheme_end, at)
    if colon < 0:
        return chunk
    return f"{chunk[: colon + 1]}{MASK}{chunk[at:]}"


def sanitize_text(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every secret it holds masked (see the module doc)."""
    if not text:
        return text
    fragments = tuple(extra)
    text = mask_url_passwords(text)
    if "=" in text:
        text = _PAIR.sub(lambda m: _masked_pair(m, fragments, ""), text)
    if ":" in text and ('"' in text or "'" in text):
        text = _MEMBER.sub(lambda m: _masked_pair(m, fragments, m["q"]), text)
    text = _AUTHORIZATION.sub(lambda m: f"{m['scheme']}{m['sep']}{MASK}", text)
    if "scrypt$" in text:
        text = _SCRYPT.sub(MASK, text)
    return text


def _masked_pair(match: re.Match[str], extra: tuple[str, ...], default_quote: str) -> str:
    # A JSON member keeps its quotes (a number becomes a string) so the text stays JSON.
    if not is_secret_key(match["key"], extra):
        return match[0]
    value = match["value"]
    quote = value[0] if value[:1] in ("'", '"') else default_quote
    shown = f"{quote}{MASK}{quote}"
    return match[0][: match.start("value") - match.start()] + shown


def escape_control(text: str) -> str:
    """``text`` with control characters (and Unicode line breaks) as ``\\xNN``/``\\uNNNN``.

    A logged value holding ``\\n`` could otherwise start a line of its own that
    reads like a record (``pause by operator...``): escaped, it stays one line.
    """
    return _CONTROL.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def loggable(value: object) -> str:
    """``value`` as text for a log line: secrets masked, control characters escaped."""
    return escape_control(sanitize_text(str(value)))


def sanitize(value: Any, key: str | None = None, extra: Iterable[str] = ()) -> Any:
    """``value`` with secrets masked: by ``key``, then inside strings, mappings and lists.

    Mappings come back as dicts and sequences as lists (a copy; ``value`` is
    not changed). Other values (numbers, booleans, ``None``, objects) are
    returned as they are. A cycle, or nesting deeper than ``MAX_DEPTH``, is a
    ``ValueError`` naming it.
    """
    fragments = tuple(f.lower() for f in extra)
    if key is not None and is_secret_key(key, fragments):
        return MASK
    return _walk(value, fragments, (), 0)


def _walk(value: Any, extra: tuple[str, ...], parents: tuple[int, ...], depth: int) -> Any:
    if isinstance(value, str):
        return sanitize_text(value, extra)
    if not isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return value
    if id(value) in parents:
        raise ValueError("circular reference: a value contains itself")
    if depth >= MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    inner = (*parents, id(value))
    if isinstance(value, Mapping):
        return {
            k: MASK
            if isinstance(k, str) and is_secret_key(k, extra)
            else _walk(v, extra, inner, depth + 1)
            for k, v in value.items()
        }
    return [_walk(item, extra, inner, depth + 1) for item in value]
