"""The mail stage's one exception: a mail source or account the operator must fix."""

from __future__ import annotations


class MailError(Exception):
    """A mail server, folder, address or password problem; the message is Chinese and never holds a password."""
