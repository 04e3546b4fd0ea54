"""``make bench``: whole-process timings of tfgen against a bare PyYAML + Jinja2 baseline.

Each row is min/median/max wall time of N runs of a fresh process, and the
largest peak RSS seen. Environments for the 100/1000 rows are generated from
the shipped dev file. Targets: --help <= 0.15 s, render --all <= 0.25 s,
1000 environments <= 3 s and <= 1.5x the baseline, peak RSS <= 60 MB, and the
review of a prod plan's JSON (what `tfgen plan` does after `terraform show
-json`: parse it, classify every change, render text, markdown and JSON)
<= 0.3 s. The prod plan is tests/bench/prod-plan.json.gz, made against
moto_server by tests/bench/make_prod_plan.py.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
TFGEN = [sys.executable, "-m", "tfgen"]
PROD_PLAN = Path(__file__).with_name("prod-plan.json.gz")

REVIEW = r'''
import json, sys
from tfgen import review
result = review.review(json.loads(open(sys.argv[1], encoding="utf-8").read()), env="prod", plan_file="tfplan")
review.render_text(result); review.render_markdown(result); review.render_json([result])
'''

BASELINE = r'''
import json, sys, yaml
from pathlib import Path
import jinja2
from tfgen import hcl, render
from tfgen.names import FUNCTION_KEYS, ROTATION_KEY
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
    __getattr__ = dict.__getitem__
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
'''


def model_defaults() -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from tfgen import environment

    loaded = environment.load(ROOT / "environments", "dev")
    return loaded.model.model_dump(mode="json", by_alias=True)  # type: ignore[no-any-return]


def generate(count: int, base: Path) -> Path:
    env_dir = base / f"envs{count}"
    env_dir.mkdir()
    shutil.copy(ROOT / "environments" / "defaults.yaml", env_dir)
    dev = (ROOT / "environments" / "dev.yaml").read_text()
    for index in range(count):
        (env_dir / f"e{index:04d}.yaml").write_text(dev)
    return env_dir


def measure(command: list[str], fresh_out: Path | None) -> tuple[list[float], int]:
    times, peak = [], 0
    for _ in range(RUNS):
        if fresh_out is not None:
            shutil.rmtree(fresh_out, ignore_errors=True)
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"failed: {' '.join(command)}: {proc.stderr.read().decode() if proc.stderr else ''}")
        peak = max(peak, usage.ru_maxrss)
    return times, peak


def scratch_root() -> str | None:
    """Where generated environments and output go: BENCH_DIR, else tmpfs when the machine has one,
    so the rows measure tfgen's work rather than the disk's file-creation latency."""
    chosen = os.environ.get("BENCH_DIR")
    if chosen:
        return chosen
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def main() -> int:
    rows: list[tuple[str, list[float], int]] = []
    root = scratch_root()
    print(f"scratch directory: {root or tempfile.gettempdir()} (set BENCH_DIR to measure another disk)")
    with tempfile.TemporaryDirectory(prefix="tfgen-bench-", dir=root) as scratch:
        base = Path(scratch)
        templates = str(ROOT / "templates")
        base_file = base / "base.json"
        base_file.write_text(json.dumps(model_defaults()))
        out = base / "out"
        rows.append(("tfgen --help", *measure([*TFGEN, "--help"], None)))
        rows.append(("tfgen render --all (shipped, fresh output)",
                     *measure([*TFGEN, "render", "--all", "--out", str(out)], out)))
        rows.append(("tfgen render --all (shipped, unchanged)",
                     *measure([*TFGEN, "render", "--all", "--out", str(out)], None)))
        for count in (100, 1000):
            env_dir = generate(count, base)
            rows.append((f"tfgen render --all ({count} envs)", *measure(
                [*TFGEN, "--environments", str(env_dir), "render", "--all", "--out", str(out)], out)))
            rows.append((f"baseline yaml+jinja2 ({count} envs)", *measure(
                [sys.executable, "-c", BASELINE, str(env_dir), templates, str(out), str(base_file)], out)))
        plan_json = base / "prod-plan.json"
        plan_json.write_bytes(gzip.decompress(PROD_PLAN.read_bytes()))
        rows.append((f"review of the prod plan JSON ({plan_json.stat().st_size // 1024} KB)",
                     *measure([sys.executable, "-c", REVIEW, str(plan_json)], None)))
    width = max(len(name) for name, _, _ in rows)
    print(f"{'case'.ljust(width)}  {'min':>7}  {'median':>7}  {'max':>7}  {'peak RSS':>9}   ({RUNS} runs)")
    medians, peaks = {}, {}
    for name, times, peak in rows:
        medians[name], peaks[name] = statistics.median(times), peak / 1024
        print(f"{name.ljust(width)}  {min(times):7.3f}  {statistics.median(times):7.3f}  {max(times):7.3f}"
              f"  {peak / 1024:7.1f}MB")
    ratios = {}
    for count in (100, 1000):
        ratios[count] = medians[f"tfgen render --all ({count} envs)"] / medians[f"baseline yaml+jinja2 ({count} envs)"]
        print(f"ratio tfgen/baseline at {count} envs: {ratios[count]:.2f}x")
    return report_targets(medians, peaks, ratios[1000])


def report_targets(medians: dict[str, float], peaks: dict[str, float], ratio: float) -> int:
    """One line per target with the measured median; exit status 1 if any is missed."""
    tfgen_peak = max(peak for name, peak in peaks.items() if name.startswith("tfgen"))
    targets = [
        ("tfgen --help", medians["tfgen --help"], 0.15, "s"),
        ("render --all, shipped environments", medians["tfgen render --all (shipped, fresh output)"], 0.25, "s"),
        ("render --all, 1000 environments", medians["tfgen render --all (1000 envs)"], 3.0, "s"),
        ("1000 environments / baseline", ratio, 1.5, "x"),
        ("peak RSS of any tfgen run", tfgen_peak, 60.0, "MB"),
        ("review of the prod plan JSON", next(v for k, v in medians.items() if k.startswith("review of")), 0.3, "s"),
    ]
    print("targets:")
    missed = 0
    for name, value, limit, unit in targets:
        met = value <= limit
        missed += not met
        print(f"  {name.ljust(36)} {value:7.2f}{unit} <= {limit:g}{unit}  {'met' if met else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
