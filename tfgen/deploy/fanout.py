"""Running one function per environment in parallel, for ``plan --all --jobs N``.

Each environment's output is kept whole and reported as one group, in the
order the environments were given, as soon as it and every earlier one are
done; the exit code of the whole is the highest of any environment (0 when
all succeeded), so a bug (3) outranks a usage error (2), which outranks a
finding (1).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from tfgen.errors import TfgenError

Task = Callable[[str], tuple[int, str]]
BUG = 3


@dataclass(frozen=True)
class Outcome:
    env: str
    exit_code: int
    output: str


def _run(task: Task, env: str) -> Outcome:
    """``task(env)``; an exception becomes that environment's outcome instead of stopping the others."""
    try:
        code, text = task(env)
    except TfgenError as exc:
        return Outcome(env, exc.exit_code, "\n".join(exc.lines()))
    except Exception as exc:  # one environment's bug must not hide the others' results
        return Outcome(env, BUG, f"tfgen: unexpected error: {type(exc).__name__}: {exc}")
    return Outcome(env, code, text)


def each(envs: Sequence[str], task: Task, jobs: int) -> Iterator[Outcome]:
    """Each environment's outcome, in the order of ``envs``; up to ``jobs`` run at once."""
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    with ThreadPoolExecutor(max_workers=min(jobs, max(len(envs), 1)), thread_name_prefix="tfgen-env") as pool:
        futures: list[Future[Outcome]] = [pool.submit(_run, task, env) for env in envs]
        for future in futures:
            yield future.result()


def exit_code(outcomes: Sequence[Outcome]) -> int:
    return max((outcome.exit_code for outcome in outcomes), default=0)


def group(outcome: Outcome) -> str:
    """One environment's output under a header naming it and its exit code."""
    status = "ok" if outcome.exit_code == 0 else f"exit {outcome.exit_code}"
    body = outcome.output if outcome.output.endswith("\n") or not outcome.output else outcome.output + "\n"
    return f"==> {outcome.env} ({status})\n{body}"


def summary(outcomes: Sequence[Outcome]) -> str:
    failed = [o.env for o in outcomes if o.exit_code]
    tail = f": failed {', '.join(failed)}" if failed else ""
    return f"{len(outcomes)} environment(s), {len(outcomes) - len(failed)} ok{tail}"
