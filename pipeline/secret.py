"""A string type for secrets: the value is used, never shown."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "****"


class Secret:
    """Wrap a secret value so that str(), repr() and f-strings print a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def mask_text(text: str, secrets: Iterable[Secret | None]) -> str:
    """Replace every occurrence of each secret's value, and of each of its lines, with the mask."""
    for secret in secrets:
        if not secret:
            continue
        value = secret.reveal()
        text = text.replace(value, MASK)
        # A multi-line secret such as a private key can leak one line at a time.
        for line in value.splitlines():
            if len(line.strip()) >= 8:
                text = text.replace(line.strip(), MASK)
    return text
