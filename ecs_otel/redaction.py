"""Redaction rules shared by every output of the library and the sidecar (docs/redaction.md lists them).

One rule set, written once, so that a log line on stdout, the same record exported over OTLP, an attribute
leaving the sidecar, the sidecar's own stderr and its status page agree on what is secret.

Keys. A key is normalised first (surrounding whitespace trimmed, camelCase boundaries, ``-`` and spaces
as ``_``, lower case). It is sensitive when the whole key or its last dot-separated segment matches a
deny-list entry (an entry may use ``*`` for any run of characters other than ``.``: ``*_token``,
``*password*``), or when it is an HTTP header attribute (``http.request.header.<name>`` /
``http.response.header.<name>``) naming a credential header. So ``user.password``, ``accessToken`` and
``http.request.header.x-api-key`` match, while ``gen_ai.usage.input_tokens`` and ``cache_key`` do not.

Values. URL-valued attributes (``url.full``, ``url.original``, ``http.url``, ``http.target``,
``url.query``) keep their shape but lose user-info and the values of query parameters whose names match
the same key rules or are signing parameters; database statements (``db.statement``, ``db.query.text``)
that name a credential lose their literals (all statements, optionally); free text (log messages, exception messages, tracebacks) loses the values written
next to a sensitive key (``password=…``, ``"token": "…"``, ``Authorization: Bearer …``), URL secrets,
and the literal values of the process's credential environment variables.

Speed. :class:`ByteScreen` answers "could these bytes hold anything the rules would change?" with one
``bytes.translate`` and a few substring searches, so the common record or batch (no secret) skips the
walk. Every rule here has a *needle* (a folded substring every match must contain); a test checks that
the screen never misses what the full matcher changes.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

_Automaton: Any
_LEFTMOST_FIRST: Any = None
try:  # optional (the sidecar extra): one Aho-Corasick scan for every screen needle, in Rust
    import ahocorasick_rs as _ahocorasick
    from ahocorasick_rs import BytesAhoCorasick as _Automaton

    _match_kind = getattr(_ahocorasick, "MatchKind", None)
    _LEFTMOST_FIRST = getattr(_match_kind, "LeftmostFirst", None) or getattr(_ahocorasick, "MATCHKIND_LEFTMOST_FIRST", None)
except ImportError:  # the plain searches below give the same answers, a pass per needle
    _Automaton = None

REDACTED = "[REDACTED]"
"""What a sensitive value becomes."""

URL_REDACTED = "REDACTED"
"""What user-info and sensitive query values become inside a URL (semantic-convention spelling)."""

DEFAULT_DENY_LIST: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "proxy_authorization",
    "cookie",
    "set_cookie",
    "api_key",
    "apikey",
    "credentials",
    "private_key",
    "*_token",
    "*_secret",
    "*_password",
    "*_passwd",
    "*api_key",
    "*access_key",
    "*private_key",
    "*secret_key",
    "*password*",
)
"""Matched against the normalised whole key and its last segment; ``*`` spans anything but ``.``.

``*_token`` is not ``*_tokens`` (``gen_ai.usage.input_tokens`` is a count), and ``*_key`` is not on the
list (``cache_key``, ``messaging.kafka.message.key``, ``aws.s3.key`` name things, not credentials)."""

CREDENTIAL_HEADERS: tuple[str, ...] = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-amz-security-token",
    "x-auth-token",
    "x-access-token",
    "x-csrf-token",
    "x-xsrf-token",
)
"""Headers whose captured values (``http.request.header.<name>``, ``http.response.header.<name>``) are
always redacted, whatever the deny-list says: an API key in a header is a credential."""

HEADER_ATTRIBUTE_PREFIXES: tuple[str, ...] = ("http.request.header.", "http.response.header.")

URL_KEYS: frozenset[str] = frozenset({"url.full", "url.original", "http.url", "http.target", "url.query"})
"""Keys whose string values are URLs (or a URL's path and query) and get :func:`scrub_url` instead of redaction."""

SIGNING_QUERY_PARAMS: tuple[str, ...] = (
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "sig",
    "signature",
    "code",
)
"""Query parameters that carry a signature or a one-time grant (``code`` of an OAuth redirect) whatever the
key rules say. Inside free text, ``sig`` and ``code`` count only after ``?``, ``&`` or ``;`` (prose says
"exit code=1"); the others also as ``name=value`` anywhere."""

DB_STATEMENT_KEYS: frozenset[str] = frozenset({"db.statement", "db.query.text"})
"""Keys whose values are database statements: :func:`scrub_statement` applies."""

STATEMENT_MODES: tuple[str, ...] = ("credentials", "all", "off")
"""What :func:`scrub_statement` does to a statement's literals: ``credentials`` (the default) replaces them
when the statement names a credential (a word of the key rules, or ``IDENTIFIED BY``), ``all`` always (the
sanitised query text of the database semantic conventions), ``off`` never."""

TEXT_KEYS: frozenset[str] = frozenset({"exception.message", "exception.stacktrace"})
"""Attributes holding free text (an exception's message and traceback): :class:`TextMasker` applies."""

SECRET_ENV_VARS: tuple[str, ...] = (
    "ECS_OTEL_RECEIVER_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)
"""Environment variables whose values are masked wherever they appear in text the process writes."""

OTLP_HEADER_ENV_VARS: tuple[str, ...] = (
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
)
"""Their header values are (almost always) API keys: masked like :data:`SECRET_ENV_VARS`."""

MIN_SECRET_LENGTH = 8
"""Literal secrets shorter than this are not searched for: they would mask ordinary words."""

_CACHE_LIMIT = 4096
_CAMEL_LOWER_UPPER = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_CAMEL_ACRONYM = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = str.maketrans({"-": "_", " ": "_"})


def normalise_key(key: str) -> str:
    """``" X-Api-Key "`` → ``x_api_key``, ``clientSecret`` → ``client_secret``, ``APIKey`` → ``api_key``."""
    k = key.strip()
    if not k.islower():
        k = _CAMEL_ACRONYM.sub("_", _CAMEL_LOWER_UPPER.sub("_", k)).lower()
    return k.translate(_SEPARATORS)


# -- keys ------------------------------------------------------------------------------------------------


def _fold(text: str) -> bytes:
    """The screen's folding of a rule's literal text: ASCII lower case, separators and dots removed."""
    return text.lower().encode().translate(None, b"_- .")


class KeyRedactor:
    """Decides whether a key names a secret (the rule in the module docstring).

    The decision per distinct key is memoised in a bounded table; once the table is full new keys are
    still answered correctly, just not remembered (``uncached`` counts those).
    """

    __slots__ = ("_cache", "_deny", "_exact", "_headers", "_patterns", "_statements", "uncached")

    def __init__(self, deny_list: Iterable[str] | None = None) -> None:
        entries = DEFAULT_DENY_LIST if deny_list is None else deny_list
        deny: set[str] = set()
        for entry in entries:
            if not isinstance(entry, str) or not entry.strip() or not entry.strip(" *"):
                raise ValueError(f"deny-list entries must be non-empty strings, got {entry!r}")
            deny.add(normalise_key(entry))
        self._deny = frozenset(deny)
        self._exact = frozenset(e for e in deny if "*" not in e)
        wild = sorted(e for e in deny if "*" in e)
        self._patterns = (
            re.compile("|".join("(?:" + "[^.]*".join(re.escape(p) for p in e.split("*")) + ")" for e in wild))
            if wild
            else None
        )
        self._headers = frozenset(normalise_key(h) for h in CREDENTIAL_HEADERS)
        self._cache: dict[str, bool] = {}
        self._statements: ByteScreen | None = None
        self.uncached = 0

    @property
    def deny_list(self) -> frozenset[str]:
        """The normalised entries (lower case, ``_`` for ``-`` and spaces, ``*`` kept)."""
        return self._deny

    def needles(self) -> frozenset[bytes]:
        """One folded substring per rule that every key the rule matches contains (see :class:`ByteScreen`)."""
        out = {_longest_fragment(e) for e in self._deny}
        out |= {_fold(h) for h in CREDENTIAL_HEADERS}
        return frozenset(out)

    def credential_screen(self) -> ByteScreen:
        """Does a text name a credential: a needle of the key rules, or ``IDENTIFIED BY`` (built once)."""
        if self._statements is None:
            self._statements = ByteScreen.build(self.needles() | {_STATEMENT_NEEDLE})
        return self._statements

    def is_sensitive(self, key: str) -> bool:
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        result = self._decide(normalise_key(key))
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[key] = result
        else:
            self.uncached += 1
        return result

    __call__ = is_sensitive

    def _decide(self, norm: str) -> bool:
        segment = norm.rpartition(".")[2]
        if norm in self._exact or segment in self._exact:
            return True
        patterns = self._patterns
        if patterns is not None and (patterns.fullmatch(segment) or patterns.fullmatch(norm)):
            return True
        for prefix in HEADER_ATTRIBUTE_PREFIXES:
            if norm.startswith(prefix) and norm[len(prefix):] in self._headers:
                return True
        return False


def _longest_fragment(entry: str) -> bytes:
    fragments = [_fold(f) for f in entry.split("*")]
    return max(fragments, key=len)


_DEFAULT: list[KeyRedactor] = []


def default_redactor() -> KeyRedactor:
    """The process-wide redactor with the default rules (built once)."""
    if not _DEFAULT:
        _DEFAULT.append(KeyRedactor())
    return _DEFAULT[0]


def is_url_key(key: str) -> bool:
    """True for the attribute names whose values :func:`scrub_url` applies to."""
    return key.strip().lower() in URL_KEYS


def is_db_statement_key(key: str) -> bool:
    return key.strip().lower() in DB_STATEMENT_KEYS


def is_text_key(key: str) -> bool:
    return key.strip().lower() in TEXT_KEYS


# -- URLs ------------------------------------------------------------------------------------------------

_USERINFO_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#@\s\"'<>]*)@")
#: ``name=value`` in a query; a value stops at ``?`` too, so a URL nested in a value is scanned on its own.
_PARAM_RE = re.compile(r"(^|[?&;\s])([^=&;#\s?/\"'<>]+)=([^&;#\s\"'<>?]*)")
_TEXT_PARAM_RE = re.compile(r"([?&;])([^=&;#\s?/\"'<>]+)=([^&;#\s\"'<>?]*)")
_SIGNING = frozenset(normalise_key(p) for p in SIGNING_QUERY_PARAMS)
#: Signing parameters that free text masks as ``name=value`` anywhere, not only inside a URL's query (``sig``
#: and ``code`` are prose words); like every query parameter, only with ``=``.
_SIGNING_ANYWHERE = frozenset(normalise_key(p) for p in ("X-Amz-Signature", "X-Amz-Credential", "signature"))
_ALREADY = frozenset({REDACTED, URL_REDACTED, ""})


def _sensitive_param(name: str, redactor: KeyRedactor) -> bool:
    return redactor.is_sensitive(name) or normalise_key(name) in _SIGNING


def scrub_url(value: str, redactor: KeyRedactor | None = None, *, text: bool = False) -> str:
    """``https://u:p@host/p?X-Amz-Signature=abc&x=1`` → ``https://REDACTED:REDACTED@host/p?X-Amz-Signature=REDACTED&x=1``.

    Works on a full URL, a path with a query (``http.target``), a bare query string (``url.query``) and,
    with ``text=True``, on URLs inside free text (a span name, a log message: only parameters after
    ``?``, ``&`` or ``;`` count there, the masker's key rule handles ``key=value`` prose). Values that need no change
    are returned as the same object; the common case (no ``@`` and no ``=``) costs two substring tests.
    """
    if "@" not in value and "=" not in value:
        return value
    red = redactor if redactor is not None else default_redactor()
    out = value
    if "@" in out and "://" in out:
        out = _USERINFO_RE.sub(rf"\1{URL_REDACTED}:{URL_REDACTED}@", out)
    if "=" in out:

        def param(m: re.Match[str]) -> str:
            if (m.group(3) in _ALREADY and m.group(3) != "") or not _sensitive_param(m.group(2), red):
                return m.group(0)
            return f"{m.group(1)}{m.group(2)}={URL_REDACTED}"

        # In prose only parameters inside a URL's query count (the masker's key rule handles key=value).
        out = (_TEXT_PARAM_RE if text else _PARAM_RE).sub(param, out)
    return value if out == value else out


# -- database statements ---------------------------------------------------------------------------------

_SQL_LITERAL_RE = re.compile(
    r"""(?P<keep>"(?:[^"]|"")*"|`[^`]*`|\$\d+|:\w+|%\(\w+\)s)"""  # identifiers and placeholders stay
    r"""|(?P<lit>[NnEeBbXx]?'(?:[^'\\]|''|\\.)*'"""  # 'text', N'…', E'…', X'…'
    r"""|(?<![\w$.])0[xX][0-9A-Fa-f]+"""
    r"""|(?<![\w$.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))"""
)


_STATEMENT_NEEDLE = b"identified"


def scrub_statement(statement: str, mode: str = "credentials", redactor: KeyRedactor | None = None) -> str:
    """A ``db.statement`` / ``db.query.text`` value under ``mode`` (see :data:`STATEMENT_MODES`).

    ``credentials``: ``ALTER USER app IDENTIFIED BY 'x'`` and ``UPDATE users SET password = 'x'`` lose their
    literals, ``SELECT * FROM orders WHERE id = 42`` keeps them (a literal there is data one debugs with, and
    the statement costs the sidecar's byte screen nothing).
    """
    if mode == "off":
        return statement
    if mode == "credentials":
        red = redactor if redactor is not None else default_redactor()
        if not red.credential_screen().may_match(statement.encode("utf-8", "surrogatepass")):
            return statement
    return scrub_sql(statement)


def scrub_sql(statement: str) -> str:
    """``ALTER USER app IDENTIFIED BY 's3cr3t'`` → ``ALTER USER app IDENTIFIED BY ?``.

    String, hexadecimal and numeric literals become ``?``, as the database semantic conventions'
    sanitisation does; identifiers (``"quoted"`` and ``backticked``), placeholders (``$1``, ``:name``,
    ``%(name)s``, ``%s``, ``?``) and keywords stay. The same object comes back when nothing changed.
    """
    if "'" not in statement and not any(c.isdigit() for c in statement):
        return statement
    out = _SQL_LITERAL_RE.sub(lambda m: m.group(0) if m.group("keep") else "?", statement)
    return statement if out == statement else out


# -- free text -------------------------------------------------------------------------------------------

#: ``key=value``, ``key: value``, ``"key": …``, ``'key': …`` (a dict's repr), header lines: the key and the
#: separator only, so the scan goes on inside values (``url=https://h/?token=…``).
_KEY_RE = re.compile(r"""(?<![\w.\-])(["']?)([A-Za-z_][\w.\-]{0,127})\1([ \t]*[:=][ \t]*)""")
#: The value after a sensitive key: quoted (``'…'``, ``b'…'``, ``"…"``), up to a delimiter, or an unclosed
#: quote (a cut line) to the end of the line.
_VALUE_RE = re.compile(r"""\[REDACTED\]|b?(["'])(?:\\.|(?!\1)[^\\\r\n])*\1|[^\s&,;'"}\])>]+|b?["'][^"'\r\n]*""")
#: Bind placeholders (``password = ?`` in a statement) hold no value.
_PLACEHOLDER_RE = re.compile(r"\?|%s|\$\d+|:\w+|%\(\w+\)s")
#: Bare values that are an authorization scheme: the credential follows on the same line.
_AUTH_SCHEMES = frozenset({"bearer", "basic", "digest", "negotiate", "token", "aws4-hmac-sha256", "apikey"})
#: Keys whose unquoted value after ``:`` is a whole header line (``Cookie: a=1; b=2``).
_LINE_KEYS = frozenset({"authorization", "proxy_authorization", "cookie", "set_cookie"})
#: ``Bearer x`` / ``bearer x`` / ``Basic x`` / ``basic x`` (the spellings :meth:`TextMasker.quick_skip` looks for).
_SCHEME_TOKEN_RE = re.compile(r"(?<![\w-])([Bb]earer|[Bb]asic) +([A-Za-z0-9\-._~+/]+=*)")
_SESSION_TOKEN_RE = re.compile(r"(?:IQoJb3JpZ2lu|AgoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9/+]{20,}=*")
_SECRET_KEY_RE = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
#: URL user-info, the signing and grant parameters (always as ``name=``: they are query parameters, and
#: ``sig`` or ``code`` alone would be found in random ids joined with text; every false alarm costs a walk).
_TEXT_NEEDLES = frozenset({b"://", b"sig=", b"signature=", b"code=", b"credential"})
_SCHEME_NEEDLES = frozenset({b"bearer", b"basic"})


def _line_end(text: str, start: int) -> int:
    end = start
    n = len(text)
    while end < n and text[end] not in "\r\n'\"":
        end += 1
    return end


def _basic_credentials(token: str) -> bool:
    """``Basic`` is followed by base64 of ``user:password`` (and not by an English word)."""
    try:
        return b":" in base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False


def _looks_like_secret_key(match: re.Match[str]) -> str:
    """40 characters of the base64 alphabet in mixed case with digits: an AWS secret key. A 40-hex SHA-1 and
    an ARN's lower-case ``name/id`` tail (``…-sandbox/bae32def…``) are left alone."""
    text = match.group(0)
    if any(c.isupper() for c in text) and any(c.islower() for c in text) and any(c.isdigit() for c in text):
        return REDACTED
    return text


class TextMasker:
    """Masks secrets in free text: the one mechanism every formatter and output applies.

    ``mask(text)``: the values written next to a sensitive key (the key rules of ``redactor``, plus
    ``X-Amz-Signature``/``X-Amz-Credential``/``signature``), whole ``Authorization``/``Cookie`` header
    lines, URL user-info and sensitive query values (:func:`scrub_url`), ``Bearer``/``Basic`` credentials
    (``schemes``), the literal ``secrets`` (the values of :data:`SECRET_ENV_VARS` by default), and, with
    ``aws_shapes``, strings shaped like AWS secret keys and STS session tokens (the sidecar's own logs,
    where botocore prints signing material). Keys are never removed, only values.

    A cheap screen runs first: text without ``:``/``=`` or a scheme word is returned as is when there are
    no literal secrets or shapes to search (:meth:`quick_skip`), and so is text whose folded bytes hold no
    needle.
    """

    def __init__(
        self,
        redactor: KeyRedactor | None = None,
        secrets: Iterable[str] | None = None,
        *,
        schemes: bool = True,
        aws_shapes: bool = False,
    ) -> None:
        self.redactor = redactor if redactor is not None else default_redactor()
        found = env_secrets() if secrets is None else secrets
        # Longest first, so a secret containing another is masked whole; short values would mask noise.
        self.secrets = tuple(sorted({s for s in found if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True))
        self.schemes = schemes
        self.aws_shapes = aws_shapes
        self.always = bool(self.secrets) or aws_shapes
        """True when substring tests cannot prove a text clean (literal secrets or shapes to search)."""
        needles = self.redactor.needles() | _TEXT_NEEDLES | (_SCHEME_NEEDLES if schemes else frozenset())
        self.screen = ByteScreen.build(needles)

    def needs_pairs(self, text: str) -> bool:
        """Whether the structural rules (keys, URLs, schemes) could change ``text``: a separator or a
        scheme word (see :meth:`quick_skip`), then the byte screen."""
        if ":" not in text and "=" not in text and (not self.schemes or ("earer " not in text and "asic " not in text)):
            return False
        return self.screen.may_match(text.encode("utf-8", "surrogatepass"))

    def quick_skip(self, text: str) -> bool:
        """True when :meth:`mask` would return ``text`` unchanged for certain, by substring tests alone.

        The structural rules need a ``:`` or ``=`` (``key=value``, ``key: value``, a URL) or a scheme word
        (``Bearer ``/``bearer ``, ``Basic ``/``basic ``); literal secrets and AWS shapes need their own
        tests, so a masker with either never skips. The formatters inline this test on their hot path
        (``always`` is the "never skips" flag)."""
        return not self.always and ":" not in text and "=" not in text and "earer " not in text and "asic " not in text

    def mask(self, text: str) -> str:
        """``text`` with every secret value replaced; the same object when nothing changed. Never raises."""
        if len(text) < 6 or self.quick_skip(text):  # the shortest maskable text is "?sig=x"
            return text
        try:
            out = text
            if self.needs_pairs(text):
                out = scrub_url(out, self.redactor, text=True)  # first: a URL keeps its own spelling
                out = self._pairs(out)
                if self.schemes:
                    out = _SCHEME_TOKEN_RE.sub(self._scheme, out)
            for secret in self.secrets:
                if secret in out:
                    out = out.replace(secret, REDACTED)
            if self.aws_shapes and len(out) >= 20:
                out = _SESSION_TOKEN_RE.sub(REDACTED, out)
                if len(out) >= 40:
                    out = _SECRET_KEY_RE.sub(_looks_like_secret_key, out)
        except Exception:  # a rule must never cost the record: keep what the literal secrets give
            out = text
            for secret in self.secrets:
                out = out.replace(secret, REDACTED)
        return text if out == text else out

    @staticmethod
    def _scheme(m: re.Match[str]) -> str:
        token = m.group(2)
        if m.group(1).lower() == "basic":
            keep = not _basic_credentials(token)
        else:  # "missing bearer token" is prose; a credential has digits, capitals or punctuation, or is long
            keep = len(token) < 16 and token.isalpha() and token.islower()
        if keep or token in _ALREADY:
            return m.group(0)
        return m.group(0)[: m.start(2) - m.start(0)] + REDACTED

    def _pairs(self, text: str) -> str:
        parts: list[str] = []
        pos = 0
        sensitive = self.redactor.is_sensitive
        for m in _KEY_RE.finditer(text):
            if m.start() < pos:
                continue
            key = m.group(2)
            if not sensitive(key) and ("=" not in m.group(3) or normalise_key(key) not in _SIGNING_ANYWHERE):
                continue
            v = _VALUE_RE.match(text, m.end())
            if v is None:
                continue
            value, start, end = v.group(0), v.start(), v.end()
            if v.group(1):  # quoted: keep the quotes (and a bytes prefix)
                head = "b" if value[0] == "b" else ""
                if value[len(head) + 1 : -1] in _ALREADY:
                    continue
                replacement = f"{head}{v.group(1)}{REDACTED}{v.group(1)}"
            else:
                if value in _ALREADY or _PLACEHOLDER_RE.fullmatch(value):
                    continue
                if value.lower() in _AUTH_SCHEMES or (
                    ":" in m.group(3) and normalise_key(key).rpartition(".")[2] in _LINE_KEYS
                ):
                    end = _line_end(text, start)
                replacement = REDACTED
            parts.append(text[pos:start])
            parts.append(replacement)
            pos = end
        if not parts:
            return text
        parts.append(text[pos:])
        return "".join(parts)


def env_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """The literal secrets this process holds: values of :data:`SECRET_ENV_VARS` and of the OTLP header
    variables (``key=value`` lists; a ``Basic``/``Bearer`` value also counts without its scheme)."""
    env = os.environ if env is None else env
    found = [env[name] for name in SECRET_ENV_VARS if env.get(name)]
    for name in OTLP_HEADER_ENV_VARS:
        for item in (env.get(name) or "").split(","):
            _, sep, value = item.partition("=")
            value = value.strip()
            if not sep or not value:
                continue
            found.append(value)
            scheme, space, credential = value.partition(" ")
            if space and scheme.lower() in _AUTH_SCHEMES:
                found.append(credential.strip())
    return [s for s in found if len(s) >= MIN_SECRET_LENGTH]


# -- structures ------------------------------------------------------------------------------------------


def redact_value(
    key: Any, value: Any, redactor: KeyRedactor, masker: TextMasker | None = None, *, statements: str = "credentials"
) -> Any:
    """What one ``key: value`` pair's value becomes: ``[REDACTED]`` for a sensitive key, a scrubbed URL or
    statement for URL / statement keys, masked text for strings when a ``masker`` is given."""
    if isinstance(key, str):
        if redactor.is_sensitive(key):
            return REDACTED
        if isinstance(value, str):
            if is_url_key(key):
                value = scrub_url(value, redactor)
            elif is_db_statement_key(key):
                value = scrub_statement(value, statements, redactor)
    if masker is not None and isinstance(value, str):
        return masker.mask(value)
    return value


def _redact_nested(value: Any, redactor: KeyRedactor, masker: TextMasker | None, depth: int, sql: str) -> Any:
    if isinstance(value, Mapping | list | tuple) and depth <= 0:
        return REDACTED  # past the depth limit nothing can be inspected: never pass it on
    if isinstance(value, Mapping):
        return redact_mapping(value, redactor, masker=masker, statements=sql, _depth=depth - 1)
    if isinstance(value, list | tuple):
        changed = False
        items = []
        for item in value:
            new = _redact_nested(item, redactor, masker, depth - 1, sql)
            changed = changed or new is not item
            items.append(new)
        if not changed:
            return value
        return items if isinstance(value, list) else tuple(items)
    if masker is not None and isinstance(value, str):
        return masker.mask(value)
    return value


MAX_DEPTH = 16
"""Nesting the structure walks inspect; a container deeper than this is redacted whole."""


def redact_mapping(
    mapping: Mapping[Any, Any],
    redactor: KeyRedactor | None = None,
    *,
    masker: TextMasker | None = None,
    statements: str = "credentials",
    _depth: int = MAX_DEPTH,
) -> Mapping[Any, Any]:
    """A copy of ``mapping`` with sensitive values replaced by ``"[REDACTED]"``, nested mappings and
    sequences included, URL and statement values scrubbed (and strings masked when ``masker`` is given).
    Containers past :data:`MAX_DEPTH` are redacted whole. The input is never modified; when nothing needed
    redacting the input itself is returned (so callers can test ``result is mapping``)."""
    red = redactor if redactor is not None else default_redactor()
    out: dict[Any, Any] | None = None
    for key, value in mapping.items():
        if isinstance(value, Mapping | list | tuple) and not (isinstance(key, str) and red.is_sensitive(key)):
            new = _redact_nested(value, red, masker, _depth, statements)
        else:
            new = redact_value(key, value, red, masker, statements=statements)
        if new is not value:
            if out is None:
                out = dict(mapping)
            out[key] = new
    return mapping if out is None else out


def redact_data(value: Any, masker: TextMasker) -> Any:
    """Any JSON-like value (a status document) with the key rules applied to its mappings and every string
    masked: what the sidecar's status endpoints serve."""
    return _redact_nested(value, masker.redactor, masker, MAX_DEPTH + 1, "credentials")


# -- the byte screen -------------------------------------------------------------------------------------

#: Non-ASCII characters whose lower case contains ASCII letters (U+0130 → "i̇", the Kelvin sign → "k").
#: A test recomputes this list from the running Python's Unicode tables.
UNICODE_FOLDING_TO_ASCII = ("\u0130", "\u212a")


#: Letters from most to least frequent in telemetry text (keys and values are mostly English words).
_LETTER_FREQUENCY = b"etaoinshrdlucmwfgypbvkjxqz"
#: A needle shortened to leave a letter out of the folding keeps at least this many characters.
_MIN_NEEDLE = 7
#: Punctuation that is rare in folded telemetry: a needle holding one (``://``, ``code=``) is found by
#: looking around each place that byte occurs (memchr-speed finds, few places to check) instead of a pass
#: of its own. Past this many places the plain search is cheaper.
_RARE_BYTES = b":="
_MAX_SPLIT_PLACES = 64
#: Folded inputs at least this long are scanned by the Aho-Corasick automaton when ``ahocorasick_rs`` is
#: installed: one pass for all needles (a 100-span batch: ~4x cheaper than a pass per needle). Shorter
#: ones (a log record) take the plain searches, cheaper than the call into the automaton.
_AUTOMATON_MIN_BYTES = 1024


@dataclass(frozen=True)
class ByteScreen:
    """Could these bytes hold something the rules would change? One C pass to fold, one per needle.

    The bytes are folded with one ``bytes.translate``: ASCII upper case to lower, each character of
    :data:`UNICODE_FOLDING_TO_ASCII` to the ASCII letter it lowers to (its UTF-8 lead bytes deleted, its
    last byte mapped), and every byte that is in no needle deleted (separators ``_ - . space`` among
    them, so ``api-key``, ``apiKey`` and ``API_KEY`` all fold to ``apikey``). Each rule's matches contain
    its needle after this folding, so "no needle" means "nothing to change". Folding is applied to every
    byte, values and ids included: joining or folding bytes only adds false alarms (a walk), never misses.

    Each needle pass costs the length of the folded bytes, so the folding keeps as few letters as it can
    and needles holding rare punctuation (``://``, ``code=``, ``sig=``) are checked around its few places:
    two needles sharing a prefix of five or more characters are searched as that prefix (``passw`` for
    ``password`` and ``passwd``), and a frequent letter that only one needle uses is deleted too when that
    needle keeps a run of at least seven characters without it (``orization`` for ``authorization``: the
    run is still contiguous in any match once the letter is gone, so nothing is missed).
    ``needles`` is ``None`` when a needle is not ASCII: no byte rule covers Unicode case folding in
    general, so everything is walked.
    """

    table: bytes
    delete: bytes
    needles: tuple[bytes, ...] | None
    around: tuple[tuple[bytes, tuple[tuple[bytes, bytes], ...]], ...] = ()
    """``(rare byte, ((before, after), …))``: needles searched around a rare byte (see :data:`_RARE_BYTES`)."""
    automaton: Any = field(default=None, compare=False, repr=False)
    """Every needle (plain and around a rare byte, whole) in one Aho-Corasick automaton, or ``None``:
    "some needle occurs in the folded bytes" either way, so both give the same answer."""

    @classmethod
    def build(cls, needles: Iterable[bytes], *, automaton: bool = True) -> ByteScreen:
        """The screen for ``needles``; ``automaton=False`` leaves the Aho-Corasick scan out (tests compare)."""
        screen = cls._build(needles)
        if automaton and _Automaton is not None and screen.needles is not None:
            whole = [*screen.needles, *(before + rare + after for rare, pairs in screen.around for before, after in pairs)]
            if whole:
                # Leftmost-first: the screen only asks whether some needle occurs, and a leftmost-first
                # search finds a match whenever any needle occurs anywhere (the leftmost occurrence);
                # unlike the standard (every-match) semantics it lets the Rust crate skip ahead with its
                # SIMD prefilter, about four times faster on a 20 KB folded body.
                kind = {} if _LEFTMOST_FIRST is None else {"matchkind": _LEFTMOST_FIRST}
                screen = replace(screen, automaton=_Automaton(whole, **kind))
        return screen

    @classmethod
    def _build(cls, needles: Iterable[bytes]) -> ByteScreen:
        table = bytearray(range(256))
        for c in range(ord("A"), ord("Z") + 1):
            table[c] = c + 32
        delete = bytearray()
        exact = True
        for ch in UNICODE_FOLDING_TO_ASCII:
            encoded = ch.encode()
            letters = [c for c in ch.lower() if c.isascii()]
            last = encoded[-1]
            if len(letters) != 1 or (table[last] != last and table[last] != ord(letters[0])):
                exact = False  # cannot be folded byte-wise: fall back to always walking
                continue
            table[last] = ord(letters[0])
            delete.extend(b for b in encoded[:-1] if b not in delete)
        wanted = {n.translate(bytes(table)) for n in needles}
        if not exact or not all(n.isascii() and n for n in wanted):
            return cls(bytes(table), bytes(delete), None)
        kept = _fewer_letters(_merge_prefixes(_outermost(wanted)))
        # Bytes that fold to no needle character cannot be inside a match: deleting them too (ids,
        # timestamps, framing, separators) shrinks what every needle pass scans.
        alphabet = set(b"".join(kept))
        delete.extend(b for b in range(256) if table[b] not in alphabet and b not in delete)
        around: dict[bytes, list[tuple[bytes, bytes]]] = {}
        plain = []
        for needle in sorted(kept):
            rare = next((bytes([c]) for c in needle if c in _RARE_BYTES), None)
            if rare is None:
                plain.append(needle)
            else:
                before, _, after = needle.partition(rare)
                around.setdefault(rare, []).append((before, after))
        return cls(bytes(table), bytes(delete), tuple(plain),
                   tuple((rare, tuple(pairs)) for rare, pairs in sorted(around.items())))

    def may_match(self, data: bytes) -> bool:
        if self.needles is None:
            return True
        folded = data.translate(self.table, self.delete)
        if self.automaton is not None and len(folded) >= _AUTOMATON_MIN_BYTES:
            return bool(self.automaton.find_matches_as_indexes(folded))
        for needle in self.needles:  # a plain loop: measurably cheaper than any(genexpr)
            if needle in folded:
                return True
        for rare, pairs in self.around:
            at = folded.find(rare)
            seen = 0
            while at >= 0:
                seen += 1
                if seen > _MAX_SPLIT_PLACES:  # many places: one plain pass per needle is cheaper
                    if any(before + rare + after in folded for before, after in pairs):
                        return True
                    break
                for before, after in pairs:
                    if folded.endswith(before, 0, at) and folded.startswith(after, at + 1):
                        return True
                at = folded.find(rare, at + 1)
        return False


def _outermost(needles: set[bytes]) -> set[bytes]:
    """A needle containing another needle adds a pass and never a hit: keep the contained one."""
    return {n for n in needles if not any(o != n and o in n for o in needles)}


def _merge_prefixes(needles: set[bytes], shortest: int = 5) -> set[bytes]:
    """``{password, passwd}`` → ``{passw}``: one pass instead of two, and every match of either still hits."""
    out = set(needles)
    merged = True
    while merged:
        merged = False
        for a, b in ((a, b) for a in sorted(out) for b in sorted(out) if a < b):
            n = 0
            while n < min(len(a), len(b)) and a[n] == b[n]:
                n += 1
            if n >= shortest:
                out = _outermost((out - {a, b}) | {a[:n]})
                merged = True
                break
    return out


def _fewer_letters(needles: set[bytes]) -> set[bytes]:
    """Leave frequent letters out of the folding where only one needle uses them (see :class:`ByteScreen`);
    needles holding a rare byte keep their letters (they are found around that byte, not by a pass)."""
    out = set(needles)
    for letter in _LETTER_FREQUENCY:
        users = [n for n in out if letter in n]
        if len(users) != 1 or any(c in _RARE_BYTES for c in users[0]):
            continue
        run = max(users[0].split(bytes([letter])), key=len)
        if len(run) >= _MIN_NEEDLE:
            out = _outermost((out - {users[0]}) | {run})
    return out


def screen_for(redactor: KeyRedactor, *, statements: str = "credentials") -> ByteScreen:
    """The screen for everything :func:`redact_value` and :class:`TextMasker` (without schemes or literal
    secrets) may change under ``redactor``: key needles, URL and text needles, and for statements
    ``IDENTIFIED BY`` (mode ``credentials``) or the statement keys themselves (mode ``all``)."""
    needles = set(redactor.needles()) | _TEXT_NEEDLES
    if statements == "credentials":
        needles.add(_STATEMENT_NEEDLE)
    elif statements == "all":
        needles |= {_fold(k) for k in DB_STATEMENT_KEYS}
    return ByteScreen.build(needles)


__all__ = [
    "CREDENTIAL_HEADERS",
    "DB_STATEMENT_KEYS",
    "DEFAULT_DENY_LIST",
    "MAX_DEPTH",
    "REDACTED",
    "SECRET_ENV_VARS",
    "SIGNING_QUERY_PARAMS",
    "STATEMENT_MODES",
    "TEXT_KEYS",
    "UNICODE_FOLDING_TO_ASCII",
    "URL_KEYS",
    "URL_REDACTED",
    "ByteScreen",
    "KeyRedactor",
    "TextMasker",
    "default_redactor",
    "env_secrets",
    "is_db_statement_key",
    "is_text_key",
    "is_url_key",
    "normalise_key",
    "redact_data",
    "redact_mapping",
    "redact_value",
    "screen_for",
    "scrub_sql",
    "scrub_statement",
    "scrub_url",
]
