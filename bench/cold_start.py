"""Cold init of each function as Lambda loads it, next to the floor every DynamoDB-touching function
pays (`import boto3` plus one client), both measured the same way in the same run.

As Lambda loads it:
- from the built folders CDK zips (`infra/layer_build.py`: `build/layers/*`, `build/functions/*`),
  copied into one tree laid out as Lambda mounts them: `task/<function>` (/var/task), `opt/python`
  (/opt/python: the cloudtill layer, the deps layer, the Stripe layer for Stripe-secret functions)
  and `runtime` (boto3 and its dependencies, which the Lambda runtime provides with byte code);
- every file's mtime reset to 1980-01-01, as in CDK's zips (a timestamp-based `.pyc` would be stale);
- the tree read-only (a read-only bind mount when this process may mount, as Lambda's code and layer
  folders are; otherwise `-B`, and the tree is checked unchanged afterwards): nothing is cached
  between runs;
- a fresh interpreter per run (`-I`: no PYTHON* variables, no user site), the function's configured
  environment, then the handler module's import plus the first client creation
  (`cloudtill.ddb.client()`, as the handlers create it on first use). Median of N rounds after a
  warm-up round (which fills the OS file cache, as a warm Lambda host would have it); each round
  runs the floor and every function once. Timed in CPU seconds of the process (user + system):
  this machine's two cores are shared with other work, which stretches wall time by whatever else
  runs, while an import's CPU time stays put (it reads files from the OS cache: no I/O waits).

The interpreter: the runtime is CPython 3.14, which runs here only as WebAssembly (pyodide), where
boto3's and pydantic-core's native parts cannot load. The measurement runs on the native CPython
(3.11), so:
- the deps and Stripe layers are their native twins: the same pinned versions from the lock, the
  files copied from this virtualenv (pure-Python files are the same bytes; pydantic-core is the
  x86_64 cpython-311 build);
- `shipped` adds, for this measurement only, cpython-311 `.pyc` compiled the same way as the shipped
  cpython-314 ones (hash-based, `infra.layer_build.BYTECODE_MODE`), to the same tree;
- `source` is the same tree without them: what 3.11 makes of the shipped folders (it ignores the
  cpython-314 `.pyc`), i.e. the cost of shipping no byte code.
"""

from __future__ import annotations

import compileall
import importlib.metadata
import json
import os
import py_compile
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra import layer_build  # noqa: E402
from infra.wiring import FUNCTIONS, FunctionSpec  # noqa: E402

FLOOR = "import boto3; boto3.client('dynamodb')"
# The handler plus its first client: handlers create their DynamoDB client on first use, which
# nearly every invocation needs. (The publisher's client is EventBridge, a smaller service model;
# DynamoDB stands in for it.)
HANDLER = "import handler; from cloudtill import ddb; ddb.client()"
TARGET_RATIO = 1.2
ZIP_EPOCH = 315532800  # 1980-01-01T00:00:00Z, the mtime of every file in CDK's asset zips
SHOP_ENV = {
    "TABLE_NAME": "bench",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_SECRET_ACCESS_KEY": "x",
    "POWERTOOLS_METRICS_NAMESPACE": "cloudtill",
}
# The virtualenv's base CPython: the same interpreter without the virtualenv's packages.
INTERPRETER = getattr(sys, "_base_executable", sys.executable)


def function_env(spec: FunctionSpec) -> dict[str, str]:
    """The function's configured environment (as the stack sets it), with placeholder resource names:
    a cold start includes reading and validating the configuration."""
    sys.path.insert(0, str(ROOT / "layers" / "cloudtill" / "python"))
    from cloudtill.settings import ShopSettings

    from infra.environment import function_environment

    return function_environment(
        spec,
        stage="dev",
        shop=ShopSettings(),
        table_name="bench",
        idempotency_table_name="bench-idempotency",
        event_bus_name="bench",
        secret_arns={"stripe": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:bench"},
        state_machine_arns={"order-lifecycle": "arn:aws:states:eu-west-1:111111111111:stateMachine:bench"},
        bucket_names={"reports": "bench-reports"},
    )


# -- the tree ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tree:
    root: Path
    runtime: Path
    opt: dict[bool, Path]  # declares the Stripe secret -> /opt/python
    task: dict[str, Path]  # function code folder -> /var/task

    def path_of(self, spec: FunctionSpec | None) -> list[str]:
        """sys.path entries in Lambda's order: the task, the layers, the runtime's packages."""
        if spec is None:
            return [str(self.task[FUNCTIONS[0].code_folder]), str(self.opt[False]), str(self.runtime)]
        return [str(self.task[spec.code_folder]), str(self.opt["stripe" in spec.secrets]), str(self.runtime)]

    @property
    def ours(self) -> list[Path]:
        """What we ship (layers and code), as opposed to the runtime's packages."""
        return [*self.opt.values(), *self.task.values()]


def _site_packages() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"])


def _copy_distribution(name: str, version: str | None, target: Path) -> None:
    """Copies one installed distribution's files (its RECORD) from this virtualenv into `target`."""
    site = _site_packages()
    dist = importlib.metadata.distribution(name)
    if version is not None and dist.version != version:
        raise RuntimeError(f"{name}: the lock pins {version}, this virtualenv has {dist.version}")
    for file in dist.files or []:
        relative = Path(str(file))
        if relative.parts[0] == ".." or "__pycache__" in relative.parts or relative.suffix == ".pyc":
            continue
        source = site / relative
        if source.is_file():
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)


def _runtime_closure() -> set[str]:
    """boto3 and everything it depends on, as installed here (what the Lambda runtime provides)."""
    seen: set[str] = set()
    todo = ["boto3"]
    while todo:
        name = layer_build.normalize(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for requirement in importlib.metadata.requires(name) or []:
            if "extra ==" in requirement:
                continue
            todo.append(re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0])
    return seen


def build_tree(workdir: Path) -> Tree:
    layers = layer_build.ensure_layers()
    code = layer_build.ensure_function_code(layer_build.FUNCTIONS_DIR)
    split = layer_build.split_into_layers(layer_build.parse_lock(layer_build.LOCK_FILE.read_text()))
    root = workdir / "lambda"
    runtime = root / "runtime"
    for name in sorted(_runtime_closure()):
        _copy_distribution(name, None, runtime)
    # Lambda's runtime ships its packages with byte code (as does the standard library).
    compileall.compile_dir(
        str(runtime), quiet=1, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH
    )
    opt = {}
    for with_stripe in (False, True):
        python = root / ("opt-stripe" if with_stripe else "opt") / "python"
        shutil.copytree(layers[layer_build.SHARED_LAYER], python, dirs_exist_ok=True)
        for layer in [layer_build.DEPS_LAYER, *(["stripe"] if with_stripe else [])]:
            for requirement in split[layer]:
                name, version = requirement.split("==")
                _copy_distribution(name, version, python)
        opt[with_stripe] = python
    task = {}
    for spec in FUNCTIONS:
        if spec.code_folder not in task:
            task[spec.code_folder] = root / "task" / spec.code_folder
            shutil.copytree(code[spec.code_folder], task[spec.code_folder])
    return Tree(root, runtime, opt, task)


def compile_native(tree: Tree) -> None:
    """cpython-311 `.pyc` next to the shipped cpython-314 ones, the same way (measurement only)."""
    mode = py_compile.PycInvalidationMode[layer_build.BYTECODE_MODE.upper().replace("-", "_")]
    for folder in tree.ours:
        if not compileall.compile_dir(str(folder), quiet=1, invalidation_mode=mode):
            raise RuntimeError(f"compiling {folder} failed")


def reset_mtimes(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            os.utime(Path(folder) / name, (ZIP_EPOCH, ZIP_EPOCH), follow_symlinks=False)
        os.utime(folder, (ZIP_EPOCH, ZIP_EPOCH))


def _snapshot(root: Path) -> set[str]:
    return {str(Path(folder) / name) for folder, _, files in os.walk(root) for name in files}


@contextmanager
def read_only(root: Path) -> Iterator[tuple[str, list[str]]]:
    """The tree read-only while measuring; yields how, and the interpreter flags that go with it:
    on a read-only mount the interpreter tries to write byte code and fails, as on Lambda; without
    one, `-B` keeps it from writing."""
    reset_mtimes(root)
    before = _snapshot(root)
    mounted = (
        shutil.which("mount") is not None
        and subprocess.run(["mount", "--bind", str(root), str(root)], capture_output=True).returncode == 0
    )
    try:
        if mounted:
            remount = ["mount", "-o", "remount,bind,ro", str(root), str(root)]
            mounted_ro = subprocess.run(remount, capture_output=True).returncode == 0
            probe = root / ".write-probe"
            try:
                probe.touch()
                probe.unlink()
                mounted_ro = False
            except OSError:
                pass
            yield ("read-only bind mount", []) if mounted_ro else ("-B (no write to the tree)", ["-B"])
        else:
            yield "-B (no write to the tree; this process may not mount)", ["-B"]
    finally:
        if mounted:
            subprocess.run(["umount", str(root)], check=False)
    if _snapshot(root) != before:
        raise RuntimeError("a run wrote into the tree: the measurement is not of a read-only tree")


# -- the runs ----------------------------------------------------------------------------------------


def timed_import(
    code: str, pythonpath: list[str], extra_env: dict[str, str] | None = None, flags: tuple[str, ...] = ()
) -> float:
    probe = (
        f"import sys; sys.path[:0] = {pythonpath!r}; import time; t = time.process_time(); {code}; "
        "print(time.process_time() - t)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update({**SHOP_ENV, **(extra_env or {})})
    out = subprocess.run(
        [INTERPRETER, "-I", *flags, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    if out.returncode != 0:
        raise RuntimeError(f"cold start probe failed:\n{out.stderr[-3000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def _measure(tree: Tree, runs: int, flags: tuple[str, ...]) -> dict[str, Any]:
    """Round-robin: each round runs the floor and every function once, so a busy moment of the
    machine weighs on all of them alike; medians over the rounds, after a warm-up round."""
    probes: list[tuple[str, str, list[str], dict[str, str]]] = [("floor", FLOOR, tree.path_of(None), {})]
    probes += [(spec.name, HANDLER, tree.path_of(spec), function_env(spec)) for spec in FUNCTIONS]
    samples: dict[str, list[float]] = {name: [] for name, *_ in probes}
    for round_ in range(runs + 1):
        for name, code, path, env in probes:
            seconds = timed_import(code, path, env, flags)
            if round_:  # round 0 warms the OS file cache, as a warm Lambda host has it
                samples[name].append(seconds)
    floor = statistics.median(samples["floor"])
    rows = []
    for spec in FUNCTIONS:
        seconds = statistics.median(samples[spec.name])
        ratio = round(seconds / floor, 2)
        rows.append(
            {
                "function": spec.name,
                "import_s": round(seconds, 3),
                "ratio_to_floor": ratio,
                "met": ratio <= TARGET_RATIO,
            }
        )
    return {"floor_boto3_plus_client_s": round(floor, 3), "functions": rows}


def measure(runs: int = 5) -> dict[str, Any]:
    """`shipped` (checked against the target) and `source` figures, same tree, same run."""
    with tempfile.TemporaryDirectory(prefix="cloudtill-cold-start-") as workdir:
        tree = build_tree(Path(workdir))
        with read_only(tree.root) as (isolation, flags):
            source = _measure(tree, runs, tuple(flags))
        compile_native(tree)
        with read_only(tree.root) as (_, flags):
            shipped = _measure(tree, runs, tuple(flags))
    version = subprocess.run(
        [INTERPRETER, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {
        "runs": runs,
        "interpreter": f"CPython {version} (native)",
        "runtime": f"python{layer_build.LAMBDA_PYTHON_VERSION}",
        "bytecode_mode": layer_build.BYTECODE_MODE,
        "isolation": isolation,
        "target_ratio": TARGET_RATIO,
        "shipped": shipped,
        "source": source,
    }


def print_result(result: dict[str, Any]) -> None:
    print(
        f"interpreter {result['interpreter']}; the runtime is {result['runtime']}, whose byte code "
        "the artifacts ship but which cannot run boto3 here (pyodide)"
    )
    print(
        f"tree: the built layer and function folders, mtimes 1980, {result['isolation']}, "
        "fresh interpreter per run; deps/Stripe layers as native twins of the same pins; CPU seconds"
    )
    titles = {
        "shipped": f"shipped (byte code, {result['bytecode_mode']}: cpython-311 .pyc compiled like the "
        "shipped cpython-314 ones, for this measurement only)",
        "source": "from source (the same tree without byte code for this interpreter)",
    }
    for mode in ("shipped", "source"):
        measured = result[mode]
        print(
            f"{titles[mode]}: floor import boto3 + one client = {measured['floor_boto3_plus_client_s']:.3f} s"
        )
        target = f"target <= {result['target_ratio']}x" if mode == "shipped" else "(for comparison)"
        print(f"  {'function':<14}{'init s':>10}{'x floor':>9}  {target}")
        for row in measured["functions"]:
            verdict = ("met" if row["met"] else "NOT met") if mode == "shipped" else ""
            line = f"  {row['function']:<14}{row['import_s']:>10.3f}{row['ratio_to_floor']:>9.2f}  {verdict}"
            print(line.rstrip())


def main() -> None:
    result = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    print_result(result)
    out = ROOT / "bench" / "results" / "cold_start.json"
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
