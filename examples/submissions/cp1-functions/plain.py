"""cp1-functions, written as a plain Python module instead of a notebook."""
import math


def is_prime(n):
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    for d in range(3, math.isqrt(n) + 1, 2):
        if n % d == 0:
            return False
    return True


def mean(xs):
    if not xs:
        raise ValueError("mean() of an empty list")
    return math.fsum(xs) / len(xs)


class Counter:
    def __init__(self):
        self._counts = {}

    def add(self, x):
        self._counts[x] = self._counts.get(x, 0) + 1

    def most_common(self):
        if not self._counts:
            return None
        top = max(self._counts.values())
        # dicts keep insertion order, so the first item at the top count is
        # the one first added earliest
        for item, n in self._counts.items():
            if n == top:
                return item
