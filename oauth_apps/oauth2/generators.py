"""Client ids (DOT's CLIENT_ID_GENERATOR_CLASS)."""

from __future__ import annotations

from oauth2_provider.generators import ClientIdGenerator as DotClientIdGenerator


class ClientIdGenerator(DotClientIdGenerator):
    """DOT's 40-character client id, never all digits.

    A service account's token has `sub` = its client id, and a user's `sub` is the user's
    numeric id: keeping a letter in every client id means the two can never collide.
    """

    def hash(self) -> str:
        while True:
            client_id = super().hash()
            if not client_id.isdigit():
                return client_id
