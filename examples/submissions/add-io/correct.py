def add(a, b):
    """Return the sum of the integers a and b."""
    return a + b
