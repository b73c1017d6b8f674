"""Read numbers from standard input; print their sum, then their mean."""
import sys


def main():
    text = sys.stdin.read()
    # your code here: split text into numbers, then print the sum and the mean


main()
