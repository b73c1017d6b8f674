def add(a, b):
    """Return the sum of the integers a and b, counting up from a."""
    result = a
    for _ in range(b - 1):  # off by one: should be range(b), and negative b is never handled
        result += 1
    return result
