"""Make tests/bench/prod-plan.json.gz, the prod plan `make bench` reviews, without AWS.

prod is rendered from a copy of the project with the e2e suite's ``--set`` settings (a local
backend, every provider endpoint pointed at moto_server), applied against a fresh emulator,
then changed the way a day-2 release changes it: new code for payment_validation, green
pointed at a pinned version with 20 % of the traffic, one more action in a role policy, and a
database name that forces the Aurora cluster's replacement. The plan of that change (with
its prior state, drift and configuration) is `terraform show -json`-ed and stored gzipped.

    .venv/bin/python tests/bench/make_prod_plan.py   # a few minutes; needs terraform + moto
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.conftest import copy_inputs  # noqa: E402
from tests.e2e.emulator import Emulator  # noqa: E402
from tests.e2e.harness import terraform_environment  # noqa: E402
from tests.e2e.provider import overrides  # noqa: E402
from tfgen.cli import main as cli  # noqa: E402
from tfgen.deploy import terraform  # noqa: E402
from tfgen.render import templates as render  # noqa: E402

TARGET = Path(__file__).with_name("prod-plan.json.gz")
ENV = "prod"


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="tfgen-prod-plan-") as scratch:
        root = copy_inputs(Path(scratch))
        server = Emulator(root / "moto_server.log")
        endpoint = server.start()
        try:
            sets = overrides(endpoint)

            def render_prod(*extra: str) -> None:
                args = ["--environments", str(root / "environments"), "--templates", str(root / "templates"),
                        "--lambdas", str(root / "lambdas"), "render", ENV, "--out", str(root / "build")]
                for setting in (*sets, *extra):
                    args += ["--set", setting]
                render.jinja_env.cache_clear()  # read the edited templates and sources again
                render._packages.cache_clear()
                assert cli.main(args) == 0

            render_prod()
            module = root / "build" / ENV
            with terraform.environment() as base:
                env = terraform_environment(base)

                def tf(*args: str, stdout: int | None = subprocess.DEVNULL) -> str:
                    done = subprocess.run(["terraform", *args], cwd=module, env=env, text=True, check=True,
                                          stdout=subprocess.PIPE if stdout is None else stdout)
                    return done.stdout or ""

                tf("init", "-input=false", "-no-color")
                tf("apply", "-auto-approve", "-input=false", "-no-color")
                handler = root / "lambdas" / "payment_validation" / "payment_validation.py"
                handler.write_text(handler.read_text() + "\n# release 2\n")
                iam = root / "templates" / "iam.tf.j2"
                iam.write_text(iam.read_text().replace('actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]',
                                                       'actions   = ["dynamodb:DeleteItem", "dynamodb:GetItem", '
                                                       '"dynamodb:PutItem"]'))
                render_prod("database.database_name=ledger",
                            "lambda.functions.payment_validation.traffic.green_version='1'",
                            "lambda.functions.payment_validation.traffic.blue_weight=80",
                            "lambda.functions.payment_validation.traffic.green_weight=20")
                tf("plan", "-input=false", "-no-color", "-out=bench.tfplan")
                shown = tf("show", "-json", "-no-color", "bench.tfplan", stdout=None)
        finally:
            server.stop()
    TARGET.write_bytes(gzip.compress(shown.encode(), compresslevel=9, mtime=0))
    print(f"{TARGET.relative_to(ROOT)}: {len(shown)} bytes of plan JSON")
    return 0


if __name__ == "__main__":
    if not os.environ.get(terraform.PLUGIN_DIR_VAR):
        print(f"note: {terraform.PLUGIN_DIR_VAR} is not set: terraform init uses the registry")
    raise SystemExit(main())
