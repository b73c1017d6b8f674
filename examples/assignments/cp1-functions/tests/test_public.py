"""Public tests for cp1-functions: students see these in full."""
import pytest

from submission import Counter, is_prime, mean


def test_is_prime_small():
    assert is_prime(2) is True
    assert is_prime(3) is True
    assert is_prime(17) is True
    assert is_prime(4) is False
    assert is_prime(1) is False


def test_mean_simple():
    assert mean([1, 2, 3, 4]) == 2.5
    assert mean([5]) == 5.0
    assert mean([0.1, 0.2]) == pytest.approx(0.15)


def test_counter_most_common():
    c = Counter()
    for x in ["a", "b", "a"]:
        c.add(x)
    assert c.most_common() == "a"
