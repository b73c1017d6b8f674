import marimo

__generated_with = "0.9.0"
app = marimo.App()

with app.setup:
    import math


@app.cell
def _():
    import marimo as mo
    return (mo,)


@app.cell
def _(mo):
    mo.md(
        r"""
        # Checkpoint 1: functions

        Fill in `is_prime`, `mean` and `Counter` below. Keep their names and
        parameters: the grader imports them. The last cell checks your work
        against the public tests as you type.
        """
    )
    return


@app.function
def is_prime(n):
    """True if the integer n is prime, else False (0, 1 and negatives are not)."""
    if n < 2:
        return False
    for d in range(2, math.isqrt(n) + 1):
        if n % d == 0:
            return False
    return True


@app.function
def mean(xs):
    """The arithmetic mean of the list xs as a float; ValueError if xs is empty."""
    if len(xs) == 0:
        raise ValueError("mean of an empty list")
    return sum(xs) / len(xs)


@app.class_definition
class Counter:
    """Counts how often each item was added."""

    def __init__(self):
        self.counts = {}

    def add(self, x):
        """Record one more occurrence of x."""
        self.counts[x] = self.counts.get(x, 0) + 1

    def most_common(self):
        """The item added most often; on a tie the one first added earliest; None if empty."""
        best = None
        for item, n in self.counts.items():
            if best is None or n > self.counts[best]:
                best = item
        return best


@app.cell
def _(mo):
    def _check(label, f):
        try:
            return label, bool(f())
        except Exception:
            return label, False

    def _counted(items):
        _c = Counter()
        for _x in items:
            _c.add(_x)
        return _c.most_common()

    _results = [
        _check("is_prime(2) is True", lambda: is_prime(2) is True),
        _check("is_prime(17) is True", lambda: is_prime(17) is True),
        _check("is_prime(4) is False", lambda: is_prime(4) is False),
        _check("is_prime(1) is False", lambda: is_prime(1) is False),
        _check("mean([1, 2, 3, 4]) == 2.5", lambda: mean([1, 2, 3, 4]) == 2.5),
        _check("mean([5]) == 5.0", lambda: mean([5]) == 5.0),
        _check('most common of a, b, a is "a"', lambda: _counted("aba") == "a"),
    ]
    _passed = sum(_ok for _, _ok in _results)
    mo.callout(
        mo.md(
            f"**{_passed}/{len(_results)} public checks passing**\n\n"
            + "\n".join(f"- {'✅' if _ok else '❌'} `{_label}`" for _label, _ok in _results)
        ),
        kind="success" if _passed == len(_results) else "warn",
    )
    return


if __name__ == "__main__":
    app.run()
