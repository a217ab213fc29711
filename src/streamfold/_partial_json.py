"""Incremental parsing of a JSON document that arrives in fragments (tool-call arguments).

``PartialJSON.feed(fragment)`` consumes each character once and keeps the value parsed so
far as a live tree: containers join their parent as soon as they open, and values join
their container as soon as they are complete.  Reading ``value`` copies nothing, so
reading it after every fragment keeps the total cost linear in the document's length
(re-parsing the text so far on every fragment, as a naive partial parser does, is
quadratic).  An unfinished string, number or literal is left out of ``value`` until it
is complete (showing a string's text so far on every fragment would itself be quadratic).

The tree is live: ``value`` keeps growing as fragments arrive.  Copy it to keep a
picture of one moment.  Shared by both implementations (it is opt-in, off the hot path).
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_WHITESPACE = " \t\n\r"
_LITERALS = {"true": True, "false": False, "null": None}
_NUMBER_CHARS = frozenset("0123456789+-.eE")
#: Inside a string, the next quote or backslash.
_STRING_SPECIAL = re.compile(r'["\\]')

# what the parser expects next
_VALUE, _KEY_OR_END, _KEY, _COLON, _COMMA_OR_END, _VALUE_OR_END, _END = range(7)


class PartialJSONError(ValueError):
    """The fragments so far are not the beginning of any JSON document."""


class PartialJSON:
    """Parses one JSON document fed in fragments; ``value`` is what is complete so far."""

    def __init__(self) -> None:
        self.value: Any = None  # the root, once it has begun (a container) or is complete
        self.complete = False
        self.error: PartialJSONError | None = None
        self._stack: list[Any] = []  # open containers, innermost last
        self._keys: list[str | None] = []  # per open object: the key whose value comes next
        self._expect = _VALUE
        self._token = ""  # "string", "key", "number", "literal" or "" (between tokens)
        self._pieces: list[str] = []  # the string (as written), number or literal being read
        self._escaped = False  # the last fragment ended inside a string with a backslash

    def feed(self, fragment: str) -> None:
        """Consume ``fragment``; raises ``PartialJSONError`` if the text cannot be JSON."""
        if self.error is not None:
            raise self.error
        try:
            self._feed(fragment)
        except PartialJSONError as exc:
            self.error = exc
            raise

    def _feed(self, text: str) -> None:
        i, n = 0, len(text)
        while i < n:
            token = self._token
            if token == "string" or token == "key":
                i = self._string(text, i)
                continue
            ch = text[i]
            if token == "number":
                if ch in _NUMBER_CHARS:
                    self._pieces.append(ch)
                    i += 1
                    continue
                self._end_number()
            elif token == "literal":
                word = "".join(self._pieces) + ch
                if any(name.startswith(word) for name in _LITERALS):
                    self._pieces.append(ch)
                    i += 1
                    if word in _LITERALS:
                        self._token = ""
                        self._pieces = []
                        self._add(_LITERALS[word])
                    continue
                raise PartialJSONError(f"invalid literal {word!r}")
            i = self._structure(text, i)

    def _structure(self, text: str, i: int) -> int:
        """One character outside any token."""
        ch = text[i]
        if ch in _WHITESPACE:
            return i + 1
        expect = self._expect
        if expect == _END:
            raise PartialJSONError(f"extra data after the document: {ch!r}")
        if expect in (_VALUE, _VALUE_OR_END):
            if ch == "]" and expect == _VALUE_OR_END:
                self._close()
            elif ch == "{":
                self._open({})
                self._expect = _KEY_OR_END
            elif ch == "[":
                self._open([])
                self._expect = _VALUE_OR_END
            elif ch == '"':
                self._token = "string"
            elif ch == "-" or ch.isdigit():
                self._token = "number"
                self._pieces.append(ch)
            elif ch in "tfn":
                self._token = "literal"
                self._pieces.append(ch)
            else:
                raise PartialJSONError(f"unexpected {ch!r} where a value should start")
        elif expect in (_KEY_OR_END, _KEY):
            if ch == '"':
                self._token = "key"
            elif ch == "}" and expect == _KEY_OR_END:
                self._close()
            else:
                raise PartialJSONError(f"unexpected {ch!r} where a key should start")
        elif expect == _COLON:
            if ch != ":":
                raise PartialJSONError(f"expected ':' after a key, got {ch!r}")
            self._expect = _VALUE
        else:  # _COMMA_OR_END
            inside_object = type(self._stack[-1]) is dict
            if ch == ",":
                self._expect = _KEY if inside_object else _VALUE
            elif ch == ("}" if inside_object else "]"):
                self._close()
            else:
                raise PartialJSONError(f"expected ',' or the end of the container, got {ch!r}")
        return i + 1

    def _string(self, text: str, i: int) -> int:
        """Inside a string (or key): find its closing quote with one search per special."""
        if self._escaped:  # the last fragment ended in a backslash: this character is escaped
            self._pieces.append(text[i])
            self._escaped = False
            return i + 1
        match = _STRING_SPECIAL.search(text, i)
        if match is None:
            self._pieces.append(text[i:])
            return len(text)
        end = match.start()
        if text[end] == "\\":  # keep the escape as written: orjson decodes the whole string
            self._pieces.append(text[i : end + 2])
            if end + 1 == len(text):
                self._escaped = True
            return end + 2
        self._pieces.append(text[i:end])
        value = self._decode('"' + "".join(self._pieces) + '"')
        self._pieces = []
        if self._token == "key":
            self._keys[-1] = value
            self._expect = _COLON
        else:
            self._add(value)
        self._token = ""
        return end + 1

    def _end_number(self) -> None:
        word = "".join(self._pieces)
        self._pieces = []
        self._token = ""
        self._add(self._decode(word))

    @staticmethod
    def _decode(token: str) -> Any:
        """A complete string or number token, decoded by orjson (as the final arguments are)."""
        try:
            return orjson.loads(token)
        except orjson.JSONDecodeError as exc:
            raise PartialJSONError(f"invalid token {token[:80]!r}: {exc}") from None

    def _open(self, container: dict[str, Any] | list[Any]) -> None:
        self._add(container)  # visible at once, empty
        self._stack.append(container)
        self._keys.append(None)

    def _close(self) -> None:
        self._stack.pop()
        self._keys.pop()
        self._after_value()

    def _add(self, value: Any) -> None:
        """A value begins (a container) or is complete (anything else): attach it."""
        if not self._stack:
            self.value = value
        else:
            parent = self._stack[-1]
            if type(parent) is dict:
                parent[self._keys[-1]] = value
            else:
                parent.append(value)
        if type(value) is not dict and type(value) is not list:
            self._after_value()

    def _after_value(self) -> None:
        if self._stack:
            self._expect = _COMMA_OR_END
        else:
            self._expect = _END
            self.complete = True

    def close(self) -> Any:
        """End of the text: the complete value, or ``PartialJSONError`` if it is unfinished."""
        if self.error is not None:
            raise self.error
        try:
            if self._token == "number" and not self._stack:
                self._end_number()  # a bare number ends with the text
            if not self.complete:
                raise PartialJSONError("the document is unfinished")
        except PartialJSONError as exc:
            self.error = exc
            raise
        return self.value
