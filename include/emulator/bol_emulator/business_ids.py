"""Ids of shipments, transports, returns, RMAs, invoices and BSKUs: numeric strings, unique across all accounts."""

from __future__ import annotations

import random


class BusinessIds:
    """Hands out numeric ids drawn from a seeded rng, never the same one twice in one world."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def make(self, rng: random.Random, prefix: str, digits: int) -> str:
        """``prefix`` followed by ``digits`` random digits (the first of them not 0)."""
        while True:
            body = str(rng.randint(1, 9)) + f"{rng.randrange(10 ** (digits - 1)):0{digits - 1}d}"
            candidate = prefix + body
            if candidate not in self.used:
                self.used.add(candidate)
                return candidate
