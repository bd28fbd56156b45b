"""One Lambda "instance": imports a function's handler and serves invocations over pipes.

Run as a script (`python localrt/worker.py NAME ENTRY_POINT`) with PYTHONPATH = the function folder
and the shared layer, as Lambda lays out /var/task and /opt/python; ENTRY_POINT is the function's
handler in the handler module (its wiring trigger's `<trigger>_handler`, as the stack configures it).
Requests arrive as JSON lines on stdin; results leave as JSON lines on the original stdout, while the
handler's own output (logs) goes to stderr.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any


class LocalContext:
    """The parts of Lambda's context object handlers and Powertools read."""

    def __init__(self, function_name: str, request_id: str, timeout_ms: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:000000000000:function:{function_name}"
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(int((self._deadline - time.monotonic()) * 1000), 0)


def main() -> None:
    # Ctrl-C reaches the whole process group; the runtime stops its workers itself, in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    function_name, entry_point = sys.argv[1], sys.argv[2]
    # This instance's process id in what identifies its calls (User-Agent app id, the local Stripe
    # base): the local fault plan can then kill exactly the instance that made a call.
    for name in ("AWS_SDK_UA_APP_ID", "STRIPE_API_BASE"):
        if name in os.environ:
            os.environ[name] = os.environ[name].replace("{pid}", str(os.getpid()))
    # The worker's own folder must not be importable by the handler (no function imports localrt).
    sys.path[:] = [p for p in sys.path if os.path.abspath(p) != os.path.dirname(os.path.abspath(__file__))]
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # print() and Powertools' logger write to stdout: send them to the log stream
    sys.stdout = sys.stderr
    handler_module = importlib.import_module("handler")
    handler = getattr(handler_module, entry_point)
    replies.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        reply: dict[str, Any]
        try:
            if request["kind"] == "openapi":
                reply = {"result": json.loads(handler_module.app.get_openapi_json_schema())}
            else:
                context = LocalContext(function_name, request["request_id"], request["timeout_ms"])
                reply = {"result": handler(request["event"], context)}
        except Exception as error:  # a handler crash is a 502 at the gateway, as in Lambda
            traceback.print_exc()
            reply = {"error": {"type": type(error).__name__, "message": str(error)}}
        replies.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    main()
