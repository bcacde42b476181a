"""NPI check digits (domain doc: "Luhn over the 10 digits prefixed with 80840; 1234567893 is valid").

The prefix 80840 contributes a constant 24 to the Luhn sum of a 9-digit NPI body; of the body's
digits, the 1st, 3rd, 5th, 7th and 9th (counted from the left) are doubled.
"""

from __future__ import annotations

import numpy as np

_PREFIX_SUM = 24  # Luhn contribution of "80840" ahead of 10 digits


def check_digits(bodies: np.ndarray) -> np.ndarray:
    """The check digit of each 9-digit NPI body (int array)."""
    bodies = np.asarray(bodies, dtype=np.int64)
    digits = (bodies[:, None] // (10 ** np.arange(8, -1, -1, dtype=np.int64))) % 10
    doubled = digits[:, 0::2] * 2
    total = (doubled // 10 + doubled % 10).sum(axis=1) + digits[:, 1::2].sum(axis=1) + _PREFIX_SUM
    return (10 - total % 10) % 10


def make_npis(rng: np.random.Generator, n: int, block: int) -> np.ndarray:
    """``n`` distinct valid 10-digit NPIs (as str) from block ``block`` (0-9) of the bodies starting
    with 1: disjoint blocks never share an NPI."""
    if not 0 <= block <= 9:
        raise ValueError("block must be 0..9")
    bodies = 100_000_000 + block * 10_000_000 + rng.choice(10_000_000, size=n, replace=False)
    full = bodies * 10 + check_digits(bodies)
    return full.astype(str)


def is_valid_npi(value: str) -> bool:
    """True for 10 digits whose last is the Luhn check digit over 80840 + the first 9."""
    if len(value) != 10 or not value.isdigit():
        return False
    return int(check_digits(np.array([int(value[:9])]))[0]) == int(value[9])
