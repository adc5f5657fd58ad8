"""API credentials that an exchange's private strategies sign with: one class, secrets never shown.

Each exchange subclasses :class:`Credentials` with its own signing method (an HMAC of the
exchange's payload, a JWT, a login message) and uses :meth:`Credentials.require` for the secret.
The repr/str show only whether each part is set, pickling is refused (so a secret never lands
in a log, a cache or a traceback by accident), and no message of this module quotes a secret.
"""
from __future__ import annotations

from typing import Any, NoReturn, TypeVar

from .errors import ConfigurationError

__all__ = ["Credentials"]

_C = TypeVar("_C", bound="Credentials")


class Credentials:
    """An API key and its secret; never shown by repr/str, never pickled.

    Parameters
    ----------
    api_key : str or None
        The key (public identifier); only whether it is set is ever shown.
    secret_key : str or None
        The secret it signs with.
    """

    __slots__ = ("api_key", "_secret")

    def __init__(self, api_key: str | None, secret_key: str | None):
        self.api_key = api_key
        self._secret = secret_key

    @property
    def complete(self) -> bool:
        """True when every part is set."""
        return all(value for _, value in self._parts())

    def require(self, message: str) -> str:
        """The secret; ``ConfigurationError(message)`` when any part is missing."""
        if not self.complete:
            raise ConfigurationError(message)
        assert self._secret is not None  # complete: every part is set
        return self._secret

    def overridden(self: _C, api_key: str | None = None, secret_key: str | None = None) -> _C:
        """A copy with ``api_key`` / ``secret_key`` replaced where given (the per-connection override)."""
        clone = object.__new__(type(self))
        for name in _slots(type(self)):
            object.__setattr__(clone, name, getattr(self, name))
        clone.api_key = api_key or self.api_key
        clone._secret = secret_key or self._secret
        return clone

    @classmethod
    def from_context(cls: type[_C], auth_params: dict[str, Any]) -> _C | None:
        """The complete credentials a connection context carries (``auth_params["credentials"]``), else None."""
        creds = auth_params.get("credentials")
        return creds if isinstance(creds, cls) and creds.complete else None

    def _parts(self) -> tuple[tuple[str, str | None], ...]:
        """(name, value) of each part, as the repr names them; subclasses with more parts extend it."""
        return (("api_key", self.api_key), ("secret_key", self._secret))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={'<set>' if value else None}" for name, value in self._parts())
        return f"{type(self).__name__}({shown})"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:  # never pickle secrets into logs or caches by accident
        raise TypeError(f"{type(self).__name__} cannot be pickled (it holds a secret)")


def _slots(cls: type) -> list[str]:
    return [name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ())]
