"""``make bench``: whole-process timings of tfgen, each paired with a bare baseline.

Each case runs its tfgen command and its baseline in turn, A B A B ... (after one warm-up of
each), so that both meet the same load on a shared machine; the ratio is taken pair by pair and
its median reported, of CPU time (user + system, which other processes on a shared machine do not
stretch) and of wall time, with the largest peak RSS of each side. Targets are judged on CPU time.
tfgen's modules are compiled to bytecode first, as an installed package has them (with
PYTHONDONTWRITEBYTECODE set, every run would otherwise compile them from source). The baseline
of a render is a bare loop that loads the same YAML with PyYAML's C loader and renders the same
templates with plain Jinja2 (no validation, no packages, no atomic writes), computing what the
templates need with tfgen's own helpers on plain dicts; it asserts that it imported no model
library (pydantic, tfgen.config.model), or every ratio would be flattered. That of ``--help`` is
``python -c pass``. Environments for the 1000- and 10000-environment cases are copies of the
shipped dev file. Targets (each printed met or MISSED; exit status 1 if any is missed): an
unchanged ``render --all`` and ``check`` <= 1.0x the baseline, a fresh ``render --all`` <= 1.5x,
1000 environments <= 1.5x, 10000 environments <= 10.5x the CPU time of 1000 (tfgen against
itself, BENCH_SCALE_RUNS runs) with a peak RSS <= 50 MB, ``--help`` <= 2x ``python -c pass``,
peak RSS of any tfgen run <= 50 MB;
``--help`` and shell completion <= 0.15 s of wall time; in a git repository of 1000 environments after
a one-line ``defaults.yaml`` edit they all inherit, ``tfgen affected`` <= 2x a plain ``render --all``
of the same tree (the baseline side of that pair); the review of a prod plan's JSON (what ``tfgen
plan`` does after ``terraform show -json``: parse it, classify every change, render text, markdown and
JSON) <= 0.3 s of wall time. That plan is tests/bench/prod-plan.json.gz, made against moto_server by
tests/bench/make_prod_plan.py.
"""

from __future__ import annotations

import compileall
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("BENCH_RUNS", "11"))
TFGEN = [sys.executable, "-m", "tfgen"]
PROD_PLAN = Path(__file__).with_name("prod-plan.json.gz")

REVIEW = r'''
import json, sys
from tfgen.deploy import review
from tfgen.deploy import review_format
result = review.review(json.loads(open(sys.argv[1], encoding="utf-8").read()), env="prod", plan_file="tfplan")
review_format.render_text(result); review_format.render_markdown(result); review_format.render_json([result])
'''

BASELINE = r'''
import json, sys, yaml
from pathlib import Path
import jinja2
from tfgen.render import hcl
from tfgen.render import templates as render
from tfgen.config.names import FUNCTION_KEYS, ROTATION_KEY
FUNCTIONS = (*FUNCTION_KEYS, ROTATION_KEY)
class Loaded:
    def __init__(self, name, model):
        self.name, self.model = name, model

env_dir, templates, out, base_file = map(Path, sys.argv[1:5])
base = json.loads(base_file.read_text())  # the model's defaults for keys the YAML leaves out
def merge(a, b):
    r = dict(a)
    for k, v in b.items():
        r[k] = merge(r[k], v) if isinstance(v, dict) and isinstance(r.get(k), dict) else v
    return r
class Attrs(dict):
    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None
    __setattr__ = dict.__setitem__
def ns(v):
    if isinstance(v, dict):
        return Attrs({("lambda_" if k == "lambda" else k): ns(x) for k, x in v.items()})
    return v
jenv = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates)), undefined=jinja2.StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
jenv.filters.update(hcl=hcl.literal, hcl_key=hcl.key, hcl_object=hcl.multiline, hcl_attributes=hcl.attributes)
load = lambda p: yaml.load(p.read_text(), Loader=yaml.CSafeLoader) or {}
defaults = merge(base, load(env_dir / "defaults.yaml"))
for path in sorted(env_dir.glob("*.yaml")):
    if path.name == "defaults.yaml":
        continue
    data = merge(defaults, load(path))
    cfg = ns(data)
    skips = data.get("compliance", {}).get("skips", {})
    cfg.compliance.active = lambda skips=skips: {a: {c: r for c, r in ch.items() if r is not None}
                                                 for a, ch in skips.items() if ch}
    ctx = render.context(Loaded(path.stem, cfg))  # the same derived values, no validation
    ctx["packages"] = {key: {"filename": f"packages/{key}.zip", "source_code_hash": "-"} for key in FUNCTIONS}
    target = out / path.stem
    target.mkdir(parents=True, exist_ok=True)
    for t in sorted(templates.glob("*.tf.j2")):
        (target / t.name[:-3]).write_text(jenv.get_template(t.name).render(ctx))
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("pydantic", "pydantic_core") or m == "tfgen.config.model")
assert not heavy, f"the bare loop imported a model library: {heavy}"
'''


def model_defaults() -> str:
    """The model's values for the dev environment as JSON, taken in a child process: the bench's
    own process stays small, as every run forks from it and a run's peak RSS counts from the fork."""
    code = ("import json\nfrom pathlib import Path\nfrom tfgen.config import environment\n"
            "model = environment.load(Path('environments'), 'dev').model\n"
            "print(json.dumps(model.model_dump(mode='json', by_alias=True)))")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout


def generate(count: int, base: Path) -> Path:
    env_dir = base / f"envs{count}"
    env_dir.mkdir()
    shutil.copy(ROOT / "environments" / "defaults.yaml", env_dir)
    dev = (ROOT / "environments" / "dev.yaml").read_text()
    for index in range(count):
        (env_dir / f"e{index:05d}.yaml").write_text(dev)
    return env_dir


@dataclass
class Side:
    """One command of a pair: its runs' wall and CPU seconds and the largest peak RSS (KB)."""

    command: list[str]
    fresh_out: Path | None  # removed before each run, for a render into an empty directory
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak: int = 0

    def run(self, record: bool) -> None:
        if self.fresh_out is not None:
            shutil.rmtree(self.fresh_out, ignore_errors=True)
        start = time.perf_counter()
        proc = subprocess.Popen(self.command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"failed: {' '.join(self.command)}: {proc.stderr.read().decode() if proc.stderr else ''}")
        if record:
            self.wall.append(elapsed)
            self.cpu.append(usage.ru_utime + usage.ru_stime)
            self.peak = max(self.peak, usage.ru_maxrss)


@dataclass
class Pair:
    name: str
    tfgen: Side
    baseline: Side
    runs: int = RUNS
    warm_up: bool = True

    def measure(self) -> None:
        for record in [False] * self.warm_up + [True] * self.runs:
            self.tfgen.run(record)
            self.baseline.run(record)

    def ratio(self, figure: str) -> float:
        """The median of the run-by-run ratios tfgen / baseline of ``figure`` (wall or cpu)."""
        a, b = getattr(self.tfgen, figure), getattr(self.baseline, figure)
        return float(statistics.median(x / y for x, y in zip(a, b, strict=True)))


def main() -> int:
    root = scratch_root()
    print(f"scratch directory: {root or tempfile.gettempdir()} (set BENCH_DIR to measure another disk)")
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S %Z')}, {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {RUNS} runs of each side, paired")
    compileall.compile_dir(ROOT / "tfgen", quiet=1)
    with tempfile.TemporaryDirectory(prefix="tfgen-bench-", dir=root) as scratch:
        base = Path(scratch)
        base_file = base / "base.json"
        base_file.write_text(model_defaults())
        out, bare_out = base / "out", base / "bare"

        def baseline(env_dir: Path, fresh: bool) -> Side:
            return Side([sys.executable, "-c", BASELINE, str(env_dir), str(ROOT / "templates"), str(bare_out),
                         str(base_file)], bare_out if fresh else None)

        def tfgen(*args: str, env_dir: Path = ROOT / "environments", fresh: bool = False) -> Side:
            return Side([*TFGEN, "--environments", str(env_dir), *args, "--out", str(out)], out if fresh else None)

        shipped = ROOT / "environments"
        pairs = [
            Pair("tfgen --help / python -c pass", Side([*TFGEN, "--help"], None),
                 Side([sys.executable, "-c", "pass"], None)),
            Pair("(import click / python -c pass)", Side([sys.executable, "-c", "import click"], None),
                 Side([sys.executable, "-c", "pass"], None)),
            Pair("render --all, 3 environments, fresh", tfgen("render", "--all", fresh=True),
                 baseline(shipped, True)),
            Pair("render --all, 3 environments, unchanged", tfgen("render", "--all"), baseline(shipped, True)),
            Pair("check, 3 environments, unchanged", tfgen("check"), baseline(shipped, True)),
        ]
        for pair in pairs[:4]:
            pair.measure()
        subprocess.run([*TFGEN, "render", "--all", "--out", str(out)], cwd=ROOT, check=True, capture_output=True)
        pairs[4].measure()
        many = generate(1000, base)
        pairs.append(Pair("render --all, 1000 environments, fresh",
                          tfgen("render", "--all", env_dir=many, fresh=True), baseline(many, True)))
        pairs[-1].measure()
        pairs.append(scale_pair(base, tfgen("render", "--all", env_dir=many, fresh=True)))
        pairs += integration_pairs(base)
        plan_json = base / "prod-plan.json"
        plan_json.write_bytes(gzip.decompress(PROD_PLAN.read_bytes()))
        pairs.append(Pair(f"review of the prod plan JSON ({plan_json.stat().st_size // 1024} KB) / python -c pass",
                          Side([sys.executable, "-c", REVIEW, str(plan_json)], None),
                          Side([sys.executable, "-c", "pass"], None)))
        pairs[-1].measure()
    return report(pairs)


def scale_pair(base: Path, thousand: Side) -> Pair:
    """A fresh ``render --all`` of 10000 environments against the same of 1000 (measured): the CPU
    time grows with the count and the peak RSS does not. BENCH_SCALE_RUNS runs (3; no warm-up, the
    1000-environment case just had one) cost about two minutes of a two-core machine."""
    env_dir = generate(10000, base)
    out = base / "out-10000"
    pair = Pair("render --all, 10000 / 1000 environments, fresh",
                Side([*TFGEN, "--environments", str(env_dir), "render", "--all", "--out", str(out)], out), thousand,
                runs=int(os.environ.get("BENCH_SCALE_RUNS", "3")), warm_up=False)
    pair.measure()
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(env_dir, ignore_errors=True)
    return pair


def integration_pairs(base: Path) -> list[Pair]:
    """Shell completion against ``python -c pass``, and ``tfgen affected`` after a one-line defaults
    change that every one of 1000 environments inherits, against a plain ``render --all`` of the same
    tree (measured)."""
    completion = Pair("completion of ENV / python -c pass", Side(
        ["env", "_TFGEN_COMPLETE=bash_complete", "COMP_WORDS=tfgen render ", "COMP_CWORD=2", *TFGEN], None),
        Side([sys.executable, "-c", "pass"], None))
    repo = base / "affected-repo"
    repo.mkdir()
    env_dir = generate(1000, repo)
    for name in ("templates", "lambdas"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    git = ["git", "-C", str(repo), "-c", "user.email=bench@example.com", "-c", "user.name=bench"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "inputs"]):
        subprocess.run([*git, *args], check=True)
    defaults = env_dir / "defaults.yaml"
    defaults.write_text(defaults.read_text().replace("  CostCenter: payments\n", "  CostCenter: payments-eu\n", 1))
    inputs = ["--environments", str(env_dir), "--templates", str(repo / "templates"),
              "--lambdas", str(repo / "lambdas")]
    out = base / "affected-out"
    affected = Pair("affected / render --all, 1000 environments", Side([*TFGEN, *inputs, "affected"], None),
                    Side([*TFGEN, *inputs, "render", "--all", "--out", str(out)], out))
    for pair in (completion, affected):
        pair.measure()
    return [completion, affected]


def report(pairs: list[Pair]) -> int:
    """Each pair's medians, then one line per target; exit status 1 if any is missed."""
    width = max(len(pair.name) for pair in pairs)
    print(f"{'case (tfgen / baseline), medians'.ljust(width)}  {'tfgen cpu':>9}  {'base cpu':>8}  {'cpu x':>6}  "
          f"{'tfgen wall':>10}  {'base wall':>9}  {'wall x':>6}  {'tfgen RSS':>9}  {'base RSS':>8}")
    for pair in pairs:
        print(f"{pair.name.ljust(width)}  {statistics.median(pair.tfgen.cpu):8.3f}s"
              f"  {statistics.median(pair.baseline.cpu):7.3f}s  {pair.ratio('cpu'):5.2f}x"
              f"  {statistics.median(pair.tfgen.wall):9.3f}s  {statistics.median(pair.baseline.wall):8.3f}s"
              f"  {pair.ratio('wall'):5.2f}x  {pair.tfgen.peak / 1024:7.1f}MB  {pair.baseline.peak / 1024:6.1f}MB")
    by_name = {pair.name: pair for pair in pairs}
    peak = max(pair.tfgen.peak for pair in pairs if not pair.name.startswith("(")) / 1024
    targets = [(name, by_name[name].ratio("cpu"), limit, "x") for name, limit in (
        ("render --all, 3 environments, unchanged", 1.0),
        ("check, 3 environments, unchanged", 1.0),
        ("render --all, 3 environments, fresh", 1.5),
        ("render --all, 1000 environments, fresh", 1.5),
        ("render --all, 10000 / 1000 environments, fresh", 10.5),
        ("tfgen --help / python -c pass", 2.0),
        ("affected / render --all, 1000 environments", 2.0),
    )]
    targets += [(f"{name}: tfgen wall seconds", statistics.median(by_name[name].tfgen.wall), 0.15, "s")
                for name in ("tfgen --help / python -c pass", "completion of ENV / python -c pass")]
    review = next(pair for pair in pairs if pair.name.startswith("review of"))
    targets.append(("review of the prod plan JSON: wall seconds", statistics.median(review.tfgen.wall), 0.3, "s"))
    targets.append(("peak RSS of any tfgen run", peak, 50.0, "MB"))
    targets.append(("peak RSS of render --all, 10000 environments",
                    by_name["render --all, 10000 / 1000 environments, fresh"].tfgen.peak / 1024, 50.0, "MB"))
    print("targets (median of the paired CPU-time ratios; the click row is what importing click alone costs):")
    missed = 0
    for name, value, limit, unit in targets:
        met = value <= limit
        missed += not met
        print(f"  {name.ljust(width)} {value:6.2f}{unit} <= {limit:g}{unit}  {'met' if met else 'MISSED'}")
    return 1 if missed else 0


def scratch_root() -> str | None:
    """Where generated environments and output go: BENCH_DIR, else tmpfs when the machine has one,
    so the rows measure tfgen's work rather than the disk's file-creation latency."""
    chosen = os.environ.get("BENCH_DIR")
    if chosen:
        return chosen
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


if __name__ == "__main__":
    raise SystemExit(main())
