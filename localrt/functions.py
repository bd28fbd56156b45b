"""Lambda's part: a pool of worker processes per function, scaled out on concurrent invocations."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import IO, Any

from localrt.aws_calls import function_app_id

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "worker.py"


class InvocationError(RuntimeError):
    """The handler raised (Lambda reports a function error with the exception's type and message)."""

    def __init__(self, function: str, error_type: str, message: str) -> None:
        super().__init__(f"{function}: {error_type}: {message}")
        self.error_type = error_type
        self.error_message = message


class WorkerDied(InvocationError):
    """The instance's process ended during the invocation (killed, crashed): Lambda reports
    `Runtime.ExitError`, API Gateway answers 502, event sources redeliver, Step Functions sees the error."""

    def __init__(self, function: str, detail: str) -> None:
        super().__init__(function, "Runtime.ExitError", f"Runtime exited with error: {detail}")


class Worker:
    def __init__(self, function: str, entry_point: str, env: dict[str, str], log: IO[str] | None) -> None:
        self.function = function
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, str(WORKER), function, entry_point],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            cwd=str(ROOT),
            text=True,
            bufsize=1,
        )
        ready = self._read()
        if not ready.get("ready"):
            raise RuntimeError(f"worker for {function} did not start: {ready}")

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker for {self.function} exited (code {self.process.poll()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return self._read()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


class FunctionPool:
    """Instances of one function. An invocation takes an idle instance or starts one (up to a limit)."""

    def __init__(
        self,
        function: str,
        env: dict[str, str],
        max_instances: int,
        timeout_ms: int,
        log: IO[str] | None,
        *,
        entry_point: str,
    ) -> None:
        self.function = function
        self.entry_point = entry_point
        self._env = env
        self._max = max_instances
        self._timeout_ms = timeout_ms
        self._log = log
        self._idle: queue.LifoQueue[Worker] = queue.LifoQueue()
        self._all: list[Worker] = []
        self._instances = 0
        self._lock = threading.Lock()
        self.invocations = 0

    def _acquire(self) -> Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            start_one = self._instances < self._max
            if start_one:
                self._instances += 1  # counted while it starts, so the limit holds
        if not start_one:
            return self._idle.get()
        try:
            worker = Worker(self.function, self.entry_point, self._env, self._log)
        except Exception:
            with self._lock:
                self._instances -= 1
            raise
        with self._lock:
            self._all.append(worker)
        return worker

    def _release(self, worker: Worker) -> None:
        if worker.alive():
            self._idle.put(worker)
            return
        with self._lock:
            self._all.remove(worker)
            self._instances -= 1

    def request(self, request: dict[str, Any]) -> Any:
        worker = self._acquire()
        try:
            reply = worker.call(request)
        except (RuntimeError, OSError, ValueError) as error:
            worker.stop()
            raise WorkerDied(self.function, str(error)) from error
        finally:
            self._release(worker)
        if "error" in reply:
            raise InvocationError(self.function, reply["error"]["type"], reply["error"]["message"])
        return reply["result"]

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            self.invocations += 1
        return self.request(
            {
                "kind": "invoke",
                "event": event,
                "request_id": str(uuid.uuid4()),
                "timeout_ms": self._timeout_ms,
            }
        )

    def warm(self) -> None:
        self._release(self._acquire())

    def stop(self) -> None:
        with self._lock:
            workers = list(self._all)
        for worker in workers:
            worker.stop()


def worker_environment(
    function: str, code_folder: str, function_env: dict[str, str], aws_endpoint: str
) -> dict[str, str]:
    """What Lambda gives a function, pointed at the emulator: its configured environment plus AWS settings.
    Its code is `functions/<code_folder>` (the function's own name unless it shares another's code)."""
    paths = [str(ROOT / "functions" / code_folder), str(ROOT / "layers" / "cloudtill" / "python")]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(ROOT)),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join(paths),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": aws_endpoint,
        # Tags the functions' AWS calls (User-Agent `app/cloudtill-fn`) so the emulator counts them apart
        # from the local runtime's own (localrt/aws_calls.py).
        "AWS_SDK_UA_APP_ID": function_app_id(function),
    }
    env.update(function_env)
    return env
