"""Builds the Lambda layers and function code folders CDK zips, with byte code (no CDK import).

Three layers and one code folder per function, every `.py` in them shipped with its `.pyc`:

- `cloudtill`: the shared package (`layers/cloudtill/python`), copied without caches and tests;

- `deps`: every runtime dependency except what the Lambda runtime already ships (boto3 and
  its own dependencies) and except what only Stripe needs;
- `stripe`: the Stripe SDK and the packages only it needs (requests & co.), attached only to
  functions declaring the Stripe secret, so every other function cold-starts without them.

The split is computed from the lock file's `# via` comments, so a new dependency lands in the
right layer without editing this module. Dependency wheels are `manylinux2014_aarch64` wheels for
the Lambda Python version. A build is skipped when a stamp file says its inputs (the lock or the
sources, the Python version, the platform, the compiler) are unchanged; builds go to a temporary
folder and are renamed into place, so an interrupted or concurrent build never leaves a half layer
behind.

Byte code: Lambda's code and layer folders are read-only, so a module without a `.pyc` is compiled
again at every cold start. The `.pyc` must come from the runtime's exact CPython minor version, and
must be hash-based: CDK's asset zips reset every mtime to 1980, which invalidates timestamp-based
`.pyc`. The compiler is pyodide (npm, pinned in package.json): CPython of the runtime's minor
version as WebAssembly, run by Node (`infra/pycompile.mjs`); the `.pyc` format does not depend on
the platform. The build fails if its version does not match `LAMBDA_PYTHON_VERSION`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCK_FILE = REPO_ROOT / "requirements.lock"
LAYERS_BUILD_DIR = REPO_ROOT / "build" / "layers"
FUNCTIONS_DIR = REPO_ROOT / "functions"
FUNCTIONS_BUILD_DIR = REPO_ROOT / "build" / "functions"
SHARED_LAYER_SOURCE = REPO_ROOT / "layers" / "cloudtill" / "python"

# One place for the Lambda Python version: the runtime in infra/function_factory.py and the
# wheels pip selects here must agree (pydantic-core is a compiled, version-specific wheel).
LAMBDA_PYTHON_VERSION = "3.14"
LAMBDA_PLATFORM = "manylinux2014_aarch64"

# The Lambda Python runtime ships boto3 and these dependencies of it; bundling them again
# only grows the layer (and would shadow the runtime's tested versions).
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six"})
# Top-level requirements whose exclusive dependency closure goes to its own layer.
SEPARATE_LAYERS = {"stripe": "stripe"}
DEPS_LAYER = "deps"
SHARED_LAYER = "cloudtill"
STAMP_NAME = ".build-stamp.json"
# The `# via` name the lock uses for our own pyproject (a top-level requirement).
_PROJECT_MARKER = "(pyproject.toml)"

# checked-hash: the interpreter hashes the source at import and ignores a `.pyc` that does not
# match it, so a stale `.pyc` can never run old code (docs/decisions.md).
BYTECODE_MODE = "checked-hash"
# importlib.util.MAGIC_NUMBER (first two bytes, little-endian) of each CPython minor version.
PYC_MAGIC = {"3.11": 3495, "3.12": 3531, "3.13": 3571, "3.14": 3627}
COMPILER_SCRIPT = Path(__file__).resolve().with_name("pycompile.mjs")
# Where Lambda mounts layers and function code: the paths tracebacks name.
LAYER_MOUNT = "/opt/python"
TASK_ROOT = "/var/task"
# Never copied into a built folder: local byte code, caches, tests.
_IGNORED = ("__pycache__", "*.pyc", ".pytest_cache", ".mypy_cache", "tests", STAMP_NAME)


class BytecodeError(RuntimeError):
    """The byte code compiler is missing, of the wrong version, or failed on a file."""


def pyodide_dir() -> Path:
    """The pyodide npm package (`npm ci`); CLOUDTILL_PYODIDE_DIR points elsewhere for trying one."""
    return Path(os.environ.get("CLOUDTILL_PYODIDE_DIR", REPO_ROOT / "node_modules" / "pyodide"))


def compiler_version() -> str:
    """The pinned pyodide release (its CPython version is checked on every compile)."""
    package = pyodide_dir() / "package.json"
    if not package.is_file():
        raise BytecodeError(
            f"{package} is missing: `make install` installs pyodide (package.json), the compiler of "
            f"the layers' byte code for Python {LAMBDA_PYTHON_VERSION}"
        )
    return str(json.loads(package.read_text())["version"])


def compile_bytecode(trees: list[tuple[Path, str]]) -> dict[str, object]:
    """Compiles every `.py` under each (folder, path Lambda mounts it at) with the runtime's CPython,
    writing `__pycache__/<module>.cpython-3XY.pyc` next to it. One Node process for all folders."""
    compiler_version()
    job = {"mode": BYTECODE_MODE, "trees": [{"dir": str(d.resolve()), "ddir": ddir} for d, ddir in trees]}
    node = shutil.which("node")
    if node is None:
        raise BytecodeError("node is not on PATH: the byte code compiler runs on Node (pyodide)")
    out = subprocess.run(  # noqa: S603  (fixed argv: our script, the pinned pyodide)
        [node, str(COMPILER_SCRIPT), str(pyodide_dir()), json.dumps(job)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise BytecodeError(f"byte code compiler failed:\n{out.stderr[-3000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    version = str(result["version"])
    if ".".join(version.split(".")[:2]) != LAMBDA_PYTHON_VERSION:
        raise BytecodeError(
            f"pyodide {compiler_version()} runs CPython {version}, the Lambda runtime is Python "
            f"{LAMBDA_PYTHON_VERSION}: pin the pyodide release of that version in package.json"
        )
    if result["magic"] != PYC_MAGIC.get(LAMBDA_PYTHON_VERSION):
        raise BytecodeError(f"CPython {version} writes magic {result['magic']}, not the expected one")
    failed: list[str] = list(result["failed"])  # type: ignore[call-overload]
    if failed:
        raise BytecodeError("byte code compilation failed:\n" + "\n".join(failed))
    return result


def pyc_header(path: Path) -> tuple[int, int]:
    """(magic number, flags) of a `.pyc`; flags bit 0 set = hash-based, 0 = timestamp-based."""
    header = path.read_bytes()[:8]
    return int.from_bytes(header[:2], "little"), int.from_bytes(header[4:8], "little")


def source_hash(root: Path) -> str:
    """Hash of the files a built copy of `root` holds (relative paths and contents)."""
    digest = hashlib.sha256()
    for file in sorted(_copied_files(root)):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _copied_files(root: Path) -> list[Path]:
    ignore = shutil.ignore_patterns(*_IGNORED)
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        skipped = ignore(folder, [*dirs, *names])
        dirs[:] = [d for d in dirs if d not in skipped]
        files += [Path(folder) / n for n in names if n not in skipped]
    return files


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    required_by: frozenset[str]  # normalized package names, or "" for a top-level requirement


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str) -> dict[str, LockedPackage]:
    """Parses a `uv pip compile` lock: `name==version` lines followed by `# via` comments."""
    packages: dict[str, LockedPackage] = {}
    current: tuple[str, str] | None = None
    via: set[str] = set()

    def flush() -> None:
        if current is not None:
            packages[current[0]] = LockedPackage(current[0], current[1], frozenset(via))

    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        pinned = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)", line)
        if pinned:
            flush()
            current, via, in_via = (normalize(pinned.group(1)), pinned.group(2)), set(), False
            continue
        if current is None or not line.startswith("#"):
            continue
        comment = line.lstrip("#").strip()
        if comment.startswith("via"):
            in_via = True
            comment = comment[len("via") :].strip()
        if in_via and comment:
            via.add("" if comment.endswith(_PROJECT_MARKER) else normalize(comment.split()[0]))
    flush()
    return packages


def _roots(name: str, packages: dict[str, LockedPackage], seen: frozenset[str] = frozenset()) -> set[str]:
    """The top-level requirements that pull `name` in."""
    package = packages[name]
    roots: set[str] = set()
    for parent in package.required_by:
        if parent == "":
            roots.add(name)
        elif parent in packages and parent not in seen:
            roots |= _roots(parent, packages, seen | {name})
    return roots


def split_into_layers(packages: dict[str, LockedPackage]) -> dict[str, list[str]]:
    """Layer name -> sorted `name==version` requirements. Runtime-provided packages go nowhere."""
    layers: dict[str, list[str]] = {DEPS_LAYER: [], **{layer: [] for layer in SEPARATE_LAYERS.values()}}
    for name, package in sorted(packages.items()):
        if name in RUNTIME_PROVIDED:
            continue
        roots = _roots(name, packages)
        separate = {SEPARATE_LAYERS.get(root) for root in roots}
        # A package needed by a separate layer's root *and* by anything else belongs in deps.
        layer = separate.pop() if len(separate) == 1 and None not in separate else DEPS_LAYER
        layers[layer or DEPS_LAYER].append(f"{name}=={package.version}")
    return layers


def layer_python_dir(layer: str, build_dir: Path = LAYERS_BUILD_DIR) -> Path:
    """The `python/` folder of a built layer (what Lambda mounts under /opt/python)."""
    return build_dir / layer / "python"


def _stamp(requirements: list[str]) -> dict[str, object]:
    return {
        "requirements": requirements,
        "python_version": LAMBDA_PYTHON_VERSION,
        "platform": LAMBDA_PLATFORM,
        "builder": _builder_hash(),
        "bytecode": {"mode": BYTECODE_MODE, "pyodide": compiler_version()},
    }


def _builder_hash() -> str:
    return hashlib.sha256(Path(__file__).read_bytes() + COMPILER_SCRIPT.read_bytes()).hexdigest()


def is_up_to_date(layer: str, requirements: list[str], build_dir: Path = LAYERS_BUILD_DIR) -> bool:
    stamp_file = build_dir / layer / STAMP_NAME
    if not stamp_file.is_file() or not layer_python_dir(layer, build_dir).is_dir():
        return False
    return bool(json.loads(stamp_file.read_text()) == _stamp(requirements))


def _pip_install(requirements: list[str], target: Path) -> None:
    requirements_file = target.parent / "requirements.txt"
    requirements_file.write_text("\n".join(requirements) + "\n")
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--platform",
        LAMBDA_PLATFORM,
        "--only-binary=:all:",
        "--python-version",
        LAMBDA_PYTHON_VERSION,
        "--implementation",
        "cp",
        # The lock is the complete closure; resolving again could pull in boto3 & co.
        "--no-deps",
        # Byte code compiled by the build machine's Python is useless on Lambda's Python: the
        # runtime's own CPython compiles it afterwards (compile_bytecode).
        "--no-compile",
        "--target",
        str(target),
        "-r",
        str(requirements_file),
    ]
    subprocess.run(command, check=True)  # noqa: S603  (fixed argv: this Python's pip, lock pins)
    # Console scripts are not importable and only make the layer bigger.
    shutil.rmtree(target / "bin", ignore_errors=True)


def build_layer(
    layer: str, requirements: list[str], *, build_dir: Path = LAYERS_BUILD_DIR, force: bool = False
) -> bool:
    """Builds one dependency layer unless up to date. Returns True when it built."""
    if not force and is_up_to_date(layer, requirements, build_dir):
        return False
    build_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{layer}-", dir=build_dir))
    try:
        if requirements:
            _pip_install(requirements, staging / "python")
            compile_bytecode([(staging / "python", LAYER_MOUNT)])
        else:
            (staging / "python").mkdir()
        (staging / "requirements.txt").unlink(missing_ok=True)
        (staging / STAMP_NAME).write_text(json.dumps(_stamp(requirements), indent=2) + "\n")
        _move_into_place(staging, build_dir / layer)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def _move_into_place(staging: Path, final: Path) -> None:
    retired = final.parent / f".{final.name}-retired-{os.getpid()}"
    if final.exists():
        final.rename(retired)
    staging.rename(final)
    shutil.rmtree(retired, ignore_errors=True)


def _source_stamp(source: Path) -> dict[str, object]:
    return {
        "source_hash": source_hash(source),
        "python_version": LAMBDA_PYTHON_VERSION,
        "builder": _builder_hash(),
        "bytecode": {"mode": BYTECODE_MODE, "pyodide": compiler_version()},
    }


def _stamp_matches(folder: Path, stamp: dict[str, object]) -> bool:
    stamp_file = folder / STAMP_NAME
    return stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp


def _build_copies(jobs: list[tuple[Path, Path, str, Path, dict[str, object]]]) -> None:
    """Copies each (source, final folder, mount path, code folder inside it, stamp) to a staging
    folder, compiles them all in one compiler run, then moves each into place."""
    staged: list[tuple[Path, Path, Path, str, dict[str, object]]] = []
    try:
        for source, final, mount, code_in_final, stamp in jobs:
            final.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
            shutil.copytree(
                source, staging / code_in_final, ignore=shutil.ignore_patterns(*_IGNORED), dirs_exist_ok=True
            )
            (staging / STAMP_NAME).write_text(json.dumps(stamp, indent=2) + "\n")
            staged.append((staging, final, staging / code_in_final, str(mount), stamp))
        if staged:
            compile_bytecode([(code, mount) for _, _, code, mount, _ in staged])
        for staging, final, *_ in staged:
            _move_into_place(staging, final)
    finally:
        for staging, *_ in staged:
            shutil.rmtree(staging, ignore_errors=True)


def ensure_shared_layer(
    source: Path = SHARED_LAYER_SOURCE, build_dir: Path = LAYERS_BUILD_DIR, *, force: bool = False
) -> Path:
    """The shared `cloudtill` layer with byte code; returns its `python/` folder."""
    final = build_dir / SHARED_LAYER
    stamp = _source_stamp(source)
    if force or not _stamp_matches(final, stamp):
        _build_copies([(source, final, LAYER_MOUNT, Path("python"), stamp)])
    return layer_python_dir(SHARED_LAYER, build_dir)


def ensure_function_code(
    functions_dir: Path, build_dir: Path = FUNCTIONS_BUILD_DIR, *, force: bool = False
) -> dict[str, Path]:
    """Every function folder of `functions_dir` copied with byte code, as CDK zips it: folder name ->
    built folder. Built folders are named by their content, so identical code is built once."""
    built: dict[str, Path] = {}
    jobs = []
    for source in sorted(p for p in functions_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if source.name in _IGNORED:
            continue
        stamp = _source_stamp(source)
        final = build_dir / f"{source.name}-{str(stamp['source_hash'])[:16]}"
        built[source.name] = final
        if force or not _stamp_matches(final, stamp):
            jobs.append((source, final, TASK_ROOT, Path("."), stamp))
    _build_copies(jobs)
    for name, final in built.items():
        # Older builds of the same folder (a content hash of another version).
        for old in build_dir.glob(f"{name}-*"):
            if old != final and re.fullmatch(rf"{re.escape(name)}-[0-9a-f]{{16}}", old.name):
                shutil.rmtree(old, ignore_errors=True)
    return built


def ensure_layers(
    *,
    lock_file: Path = LOCK_FILE,
    build_dir: Path = LAYERS_BUILD_DIR,
    shared_source: Path = SHARED_LAYER_SOURCE,
    force: bool = False,
) -> dict[str, Path]:
    """Builds every layer that is missing or stale; returns layer name -> `python/` folder."""
    layers = split_into_layers(parse_lock(lock_file.read_text()))
    for layer, requirements in layers.items():
        build_layer(layer, requirements, build_dir=build_dir, force=force)
    built = {layer: layer_python_dir(layer, build_dir) for layer in layers}
    built[SHARED_LAYER] = ensure_shared_layer(shared_source, build_dir, force=force)
    return built
