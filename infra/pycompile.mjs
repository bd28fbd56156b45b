// Compiles every .py under the given folders to byte code with pyodide's CPython (the Lambda
// runtime's minor version, as WebAssembly), hash-based so that the 1980 mtimes of CDK's asset zips
// do not invalidate it. Called by infra/layer_build.py:
//
//   node infra/pycompile.mjs <pyodide dir> <json job>
//
// job: {"mode": "checked-hash" | "unchecked-hash", "trees": [{"dir": host path, "ddir": path the
// tracebacks name, e.g. /opt/python}]}. Prints one JSON line: the compiler's version, its magic
// number, the files compiled and the ones that failed.
import path from "node:path";
import { pathToFileURL } from "node:url";

const [pyodideDir, jobJson] = process.argv.slice(2);
const { loadPyodide } = await import(pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href);
const job = JSON.parse(jobJson);
// A fixed hash seed: set and frozenset constants are marshalled in iteration order.
const py = await loadPyodide({ env: { PYTHONHASHSEED: "0" }, stdout: () => {}, stderr: () => {} });
job.trees.forEach((tree, i) => {
  py.FS.mkdirTree(`/mnt/t${i}`);
  py.FS.mount(py.FS.filesystems.NODEFS, { root: tree.dir }, `/mnt/t${i}`);
});
py.globals.set("job_json", jobJson);
const result = py.runPython(`
import importlib.util, json, os, py_compile, sys, warnings

warnings.simplefilter("ignore")
job = json.loads(job_json)
mode = py_compile.PycInvalidationMode[job["mode"].upper().replace("-", "_")]
compiled, failed = 0, []
for i, tree in enumerate(job["trees"]):
    root = f"/mnt/t{i}"
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            source = os.path.join(folder, name)
            shown = os.path.join(tree["ddir"], os.path.relpath(source, root))
            try:
                py_compile.compile(source, dfile=shown, doraise=True, invalidation_mode=mode)
                compiled += 1
            except py_compile.PyCompileError as error:
                failed.append(f"{shown}: {error.msg.strip().splitlines()[-1]}")
json.dumps({
    "version": ".".join(map(str, sys.version_info[:3])),
    "cache_tag": sys.implementation.cache_tag,
    "magic": int.from_bytes(importlib.util.MAGIC_NUMBER[:2], "little"),
    "compiled": compiled,
    "failed": failed,
})
`);
console.log(result);
