"""Hidden tests for cp1-functions: edge cases. Never shown to students."""
import pytest

from submission import Counter, is_prime, mean


@pytest.mark.points(3)
def test_is_prime_zero_and_negatives():
    assert is_prime(0) is False
    assert is_prime(-1) is False
    assert is_prime(-2) is False
    assert is_prime(-7) is False


def test_is_prime_large_and_squares():
    assert is_prime(7919) is True
    assert is_prime(7920) is False
    assert is_prime(49) is False
    assert is_prime(7919 * 7919) is False
    assert is_prime(2_147_483_647) is True


@pytest.mark.points(2)
def test_mean_empty_raises():
    with pytest.raises(ValueError):
        mean([])


def test_counter_ties_and_empty():
    c = Counter()
    assert c.most_common() is None
    for x in ["b", "a", "a", "b"]:
        c.add(x)
    assert c.most_common() == "b"
    c.add("a")
    assert c.most_common() == "a"
