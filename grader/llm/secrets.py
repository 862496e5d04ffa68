"""Masking secrets in text that came from a server or an exception, before anyone sees or stores it.

Servers and proxies echo keys back in their errors ("Incorrect API key
provided: sk-proj-..."), sometimes whole, sometimes cut, encoded or in another
case. Everything shown to the user (a notice, ``llm check``, ``grade --json``,
the history) passes through ``mask_secrets`` first and is cut to length only
afterwards (``safe_line``), so a long key can never be cut into something that
no longer looks like a key.
"""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

# What API keys and bearer tokens look like: OpenAI's sk-/sk-proj-/sk-svcacct-,
# Anthropic's sk-ant-, other providers' prefixed keys, JWTs, and "Bearer <token>".
_KEY_LIKE = re.compile(
    r"""
      \b(?:sk|pk|rk)-[A-Za-z0-9_\-]{6,}            # sk-..., sk-proj-..., sk-ant-... (any length)
    | \bAIza[0-9A-Za-z_\-]{20,}                     # Google
    | \bgh[pousr]_[A-Za-z0-9]{20,}                  # GitHub
    | \bxox[abprs]-[A-Za-z0-9\-]{10,}               # Slack
    | \bhf_[A-Za-z0-9]{20,}                         # Hugging Face
    | \beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}(?:\.[A-Za-z0-9_\-]+)?   # a JWT
    | (?<=Bearer\ )[A-Za-z0-9_\-\.~+/=]{8,}         # whatever follows Bearer
    | \b[A-Za-z0-9]{40,}\b                          # a long opaque token
    """,
    re.VERBOSE | re.IGNORECASE,
)
# A run of characters a key could be written with: pieces of the configured key are looked for in these.
_TOKENISH = re.compile(r"[A-Za-z0-9_\-\.~+/=%*…]{8,}")
_MIN_PIECE = 8  # a shorter fragment of the key says too little to be worth masking (and matches too much)


def mask(secret: str) -> str:
    """How a secret is shown: its last four characters at most."""
    return "****" + secret[-4:] if len(secret) >= 16 else "****"


def _forms(key: str) -> list[str]:
    """The configured key as it may be echoed: as is, URL-encoded, base64 (as in Basic auth)."""
    forms = {key, quote(key, safe=""), base64.b64encode(key.encode()).decode().rstrip("=")}
    for prefix in ("", ":", "Bearer "):
        forms.add(base64.b64encode(f"{prefix}{key}".encode()).decode().rstrip("="))
    return sorted((f for f in forms if len(f) >= _MIN_PIECE), key=len, reverse=True)


def mask_secrets(text: str, key: str | None = None) -> str:
    """``text`` with the configured ``key`` (in any form, whole or a long piece of it) and anything key-like masked."""
    if key:
        masked = mask(key)
        for form in _forms(key):
            text = re.sub(re.escape(form), masked, text, flags=re.IGNORECASE)
        folded_key = key.casefold()

        def piece(m: re.Match[str]) -> str:
            # A cut or partly starred echo of the key ("sk-proj-AbC…", "****xyz123ab"): any long run of it.
            stripped = m.group().strip("*….")
            if len(stripped) >= _MIN_PIECE and stripped.casefold() in folded_key:
                return masked
            return m.group()

        text = _TOKENISH.sub(piece, text)
    return _KEY_LIKE.sub(lambda m: mask(m.group()) if not m.group().startswith("****") else m.group(), text)


# The user name and password of a URL (``http://user:pass@host``, or ``user:pass@host`` with no scheme).
_USERINFO = re.compile(r"^((?:[A-Za-z][A-Za-z0-9+.\-]*://)?)[^/?#]*@")


def shown_url(url: str) -> str:
    """A URL as it may be shown or stored: a user name and password in it masked."""
    return _USERINFO.sub(r"\1****@", url, count=1)


def one_line(text: str, limit: int) -> str:
    """``text`` with its whitespace collapsed, cut to ``limit`` characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_line(text: str, limit: int, key: str | None = None) -> str:
    """Masked first, then made one line and cut: the order that keeps a long key from leaking."""
    return one_line(mask_secrets(text, key), limit)


# Lines of an error that are decoration, not words ("------------", "   ^~~~").
_DECORATION = re.compile(r"^[\s\-=_~^*#.|]*$")
_CAUSE = re.compile(r"(?:^|\b)(?:error|exception|reason|cause|detail)s?\s*[:=]\s*(.+)$", re.IGNORECASE)


def server_cause(message: str, limit: int = 240) -> str:
    """A server's error message cut to ``limit`` so that its cause survives.

    Long errors (a template engine's stack, say) start with where it failed and
    end with why: keep the first sentence and the last line that says why
    ("Error: Conversation roles must alternate user/assistant/...").
    """
    message = message.strip()
    flat = one_line(message, 10**9)
    if len(flat) <= limit:
        return flat
    lines = [line.strip() for line in message.splitlines() if not _DECORATION.match(line)]
    cause = ""
    for line in reversed(lines):
        found = _CAUSE.search(line)
        if found:
            cause = found.group(1).strip()
            break
    if not cause and lines:
        cause = lines[-1]
    head = re.split(r"(?<=[.:!?])\s", flat, maxsplit=1)[0]
    if not cause or cause in head:
        return one_line(flat, limit)
    cause = one_line(cause, max(limit // 2, limit - len(head) - 5))
    head = one_line(head, limit - len(cause) - 3)
    return f"{head} … {cause}"
