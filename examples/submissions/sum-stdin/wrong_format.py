import sys

numbers = [float(t) if "." in t or "e" in t.lower() else int(t) for t in sys.stdin.read().split()]
total = sum(numbers)
# Both results on one line: right numbers, wrong layout.
print(total, total / len(numbers))
