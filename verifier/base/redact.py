"""Mask credentials in URLs and free text before they reach a message, a log or a database
(a leaf module: imports nothing of the project, so every layer may use it).

What counts as a credential in a URL:
- userinfo (``http://user:pass@host`` → ``http://user:***@host``; a lone user name is kept);
- query parameters whose name says secret (``password``, ``key``, ``apikey``, ``token``,
  ``secret``, ``auth``, ``access_token``, ``sslpassword`` …) → ``name=***``;
- path segments that look like an API key: 20 or more characters of letters, digits,
  ``-`` or ``_`` with at least one digit and one letter (``/v3/<key>``, ``/v2/<key>``),
  as Infura, Alchemy and QuickNode put keys in the path → ``***``.

`mask_text` applies `mask_url` to every URL inside a longer text (an exception message from
a library often quotes the URL it failed on) and removes any exact secret it is given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit, urlunsplit

MASK = "***"
_SECRET_PARAMS = re.compile(
    r"(pass(word)?|passwd|pwd|secret|token|auth|api[-_]?key|key|access[-_]?key|"
    r"sslpassword|signature|sig|credential|private)",
    re.IGNORECASE,
)
_KEYLIKE_SEGMENT = re.compile(
    r"(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}"
)
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s'\"<>)\]]+")


def mask_url(url: str) -> str:
    """`url` with its password, secret query values and key-like path segments masked.

    Never raises: a URL too malformed to split is reduced to what follows its last ``@``
    with any ``:secret`` before it dropped, which is all that can be shown safely.
    """
    try:
        parts = urlsplit(url)
        _ = parts.port  # malformed ports raise here, like a malformed host
    except ValueError:
        return _mask_unsplittable(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{hostport}" if ":" in userinfo else f"{user}@{hostport}"
    path = "/".join(
        MASK if _KEYLIKE_SEGMENT.fullmatch(segment) else segment
        for segment in parts.path.split("/")
    )
    query = "&".join(_mask_param(item) for item in parts.query.split("&")) if parts.query else ""
    return urlunsplit(SplitResult(parts.scheme, netloc, path, query, parts.fragment))


def _mask_param(item: str) -> str:
    name, sep, value = item.partition("=")
    if sep and value and _SECRET_PARAMS.search(name):
        return f"{name}={MASK}"
    return item


def _mask_unsplittable(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = f"{MASK}@" + rest.rsplit("@", 1)[-1]
    return f"{scheme}{sep}{rest}" if sep else MASK


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every URL in it masked and every given secret (of 4+ chars) replaced."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return _URL_IN_TEXT.sub(_mask_match, text)


def _mask_match(match: re.Match[str]) -> str:
    # a URL quoted in prose often ends with the sentence's punctuation ("…/v3/KEY: refused")
    url = match.group(0)
    core = url.rstrip(".,;:!?")
    return mask_url(core) + url[len(core) :]


def mask_dsn(dsn: str) -> str:
    """A libpq keyword DSN (``host=… password=…``) with its password value masked."""
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", rf"\1{MASK}", dsn, flags=re.I)
