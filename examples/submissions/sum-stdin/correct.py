import sys


def number(token):
    try:
        return int(token)
    except ValueError:
        return float(token)


numbers = [number(t) for t in sys.stdin.read().split()]
total = sum(numbers)
print(total)
print(total / len(numbers))
