"""The fan-out helper behind ``plan --all --jobs N``."""

from __future__ import annotations

import threading
import time

import pytest

from tfgen.deploy.fanout import Outcome, each, exit_code, group, summary
from tfgen.errors import ConfigError, Finding


def test_outcomes_come_in_the_order_given_whatever_order_they_finish_in() -> None:
    delays = {"a": 0.15, "b": 0.0, "c": 0.05}
    finished: list[str] = []

    def task(env: str) -> tuple[int, str]:
        time.sleep(delays[env])
        finished.append(env)
        return 0, f"{env} line 1\n{env} line 2\n"

    outcomes = list(each(["a", "b", "c"], task, jobs=3))
    assert finished[0] == "b"  # ran side by side
    assert [o.env for o in outcomes] == ["a", "b", "c"]
    assert "".join(group(o) for o in outcomes) == (
        "==> a (ok)\na line 1\na line 2\n==> b (ok)\nb line 1\nb line 2\n==> c (ok)\nc line 1\nc line 2\n")


def test_no_more_than_jobs_run_at_once() -> None:
    running, peak, lock = 0, 0, threading.Lock()

    def task(env: str) -> tuple[int, str]:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return 0, ""

    assert len(list(each([f"e{i}" for i in range(8)], task, jobs=2))) == 8
    assert peak == 2


def test_exit_code_is_the_highest_and_errors_become_outcomes() -> None:
    def task(env: str) -> tuple[int, str]:
        if env == "finding":
            raise Finding("plan differs")
        if env == "config":
            raise ConfigError(["environments/config.yaml:1:1: kms: expected a mapping, got a list"])
        if env == "bug":
            raise KeyError("zone")
        return (1, "terraform failed") if env == "tf" else (0, "ok")

    outcomes = list(each(["ok", "finding", "tf", "config"], task, jobs=2))
    assert [(o.env, o.exit_code) for o in outcomes] == [("ok", 0), ("finding", 1), ("tf", 1), ("config", 2)]
    assert exit_code(outcomes) == 2
    assert outcomes[3].output == "environments/config.yaml:1:1: kms: expected a mapping, got a list"
    [bug] = each(["bug"], task, jobs=1)
    assert (bug.exit_code, bug.output) == (3, "tfgen: unexpected error: KeyError: 'zone'")
    assert summary(outcomes) == "4 environment(s), 1 ok: failed finding, tf, config"
    assert exit_code([]) == 0
    assert group(Outcome("x", 1, "no newline")) == "==> x (exit 1)\nno newline\n"


def test_jobs_must_be_positive() -> None:
    with pytest.raises(ValueError, match="jobs must be at least 1, got 0"):
        list(each(["a"], lambda env: (0, ""), jobs=0))
