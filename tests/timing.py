"""Does a function on attacker-chosen text take time linear in its length?

Regular expressions that backtrack go quadratic (or worse) on the right input;
a gateway that runs one on a request path or a chat message can be frozen by
one request. `assert_linear` times the function on adversarial inputs of two
sizes: linear work grows about as the size does, quadratic work with its square.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable


def best_time(fn: Callable[[str], object], text: str, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - started)
    return best


def assert_linear(
    fn: Callable[[str], object],
    inputs: Iterable[Callable[[int], str]],
    *,
    small: int = 4_000,
    factor: int = 8,
    budget_seconds: float = 0.25,
) -> None:
    """For each input maker, `fn` on `factor` times more text takes well under `factor`² times longer.

    A floor of 1 ms on the small time keeps timer noise from failing fast functions.
    """
    for make in inputs:
        short = best_time(fn, make(small))
        long_text = make(small * factor)
        long = best_time(fn, long_text)
        assert long < budget_seconds, (make(40), f"{long:.3f}s on {len(long_text)} characters")
        # Linear: ~factor; quadratic: ~factor². Allow 2x factor for noise on a shared machine.
        assert long <= max(short, 0.001) * factor * 2, (make(40), f"{short:.5f}s -> {long:.5f}s")


# Inputs that make backtracking patterns retry from every position.
ADVERSARIAL: list[Callable[[int], str]] = [
    lambda n: "a" * n,
    lambda n: "1" * n + "a",
    lambda n: "a." * (n // 2),
    lambda n: "a@" * (n // 2),
    lambda n: "x@" + "a." * (n // 2) + " ",
    lambda n: "+1" + " " * n + "x",
    lambda n: "+1 " * (n // 3),
    lambda n: " " * n + "x",
    lambda n: "-" * n + "x",
    lambda n: "!" * n + "x",
    lambda n: "?" * n,
    lambda n: "I am Ada" + " " * n + "x",
    lambda n: "1x a" + " " * n + "b",
    lambda n: "four" + " " * n + "x",
    lambda n: "Ada Lovelace" + " " * n + "x",
    lambda n: "a@" + "a" * n,
    lambda n: "opt" + "-" * n,
    lambda n: "é" * n,
]
