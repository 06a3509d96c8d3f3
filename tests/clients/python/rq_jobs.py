"""Job functions for rq_queue.py (an rq worker imports them by module path)."""


def add(a, b):
    return a + b


def fail():
    raise ValueError("this job fails on purpose")
