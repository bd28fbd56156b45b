"""Fault injection for the fault-injection suite (tests/faults): a plan the emulated services read.

An injection point is one kind of call a caller makes: `Point(caller, service, operation)`, where the
caller is a function (its worker's User-Agent says which), `states` (the state machine's own SDK calls,
made by moto's interpreter with its access key `ak`) or `runtime` (the local runtime's pollers, seeding,
tests: not faulted by the suite). Points are observed as they happen, so a new call site shows up by
itself in `GET /_local/faults/points`.

Kinds:
- `error`: the call is answered once with a retryable error, without being performed (DynamoDB
  transactions: TransactionCanceledException/TransactionConflict; other DynamoDB calls and JSON APIs:
  ThrottlingException; Lambda: TooManyRequestsException; SES v2: TooManyRequestsException; Stripe: 500
  api_error). botocore's own retries may absorb it: that is real behaviour.
- `crash_after`: the call is performed, then the calling worker process is killed before it reads the
  answer: the invocation fails as a Lambda dying after its write (Runtime.ExitError).
- `duplicate`: a delivery (SQS message batch, stream batch, Stripe webhook) is handed over twice.
- `reorder`: a Stripe webhook is held back and delivered after the next one (or after a few seconds).
- `drop`: a delivery is lost (Stripe gives up on a webhook; used by scenarios to make a payment late).

Webhooks answered with a non-2xx are retried by the proxy a few times, seconds apart (Stripe retries for
days; localstripe not at all).

Local only: nothing here is deployed; the handlers never see the plan.
"""

from __future__ import annotations

import functools
import http.client
import json
import os
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from moto.core.responses import BaseResponse

from localrt.aws_calls import function_of, process_of

KINDS = ("error", "crash_after", "duplicate", "reorder", "drop")
CALL_KINDS = ("error", "crash_after")  # for API calls
DELIVERY_KINDS = ("duplicate", "reorder", "drop")  # for deliveries (messages, records, webhooks)
STATES_CALLER = "states"
RUNTIME_CALLER = "runtime"
# moto's Step Functions interpreter signs its SDK calls with this access key (moto/stepfunctions/parser).
_STATES_ACCESS_KEY = "Credential=ak/"
REORDER_HOLD_SECONDS = 3.0
# Stripe retries a webhook that was not answered 2xx, with backoff, for days; localstripe never does.
# The proxy retries on a compressed scale so a failed delivery is retried within a test's patience.
WEBHOOK_RETRY_DELAYS_SECONDS = (3.0, 6.0, 12.0)


@dataclass(frozen=True, order=True)
class Point:
    caller: str
    service: str
    operation: str

    def label(self) -> str:
        return f"{self.caller}:{self.service}:{self.operation}"


@dataclass
class Fault:
    point: Point
    kind: str
    nth: int = 1  # the nth matching call (from arming) is the first faulted one
    times: int = 1  # consecutive matching calls faulted from the nth on (0: every one)
    seen: int = 0
    fired: int = 0

    def due(self) -> bool:
        """Counts one matching call; True when this one is to be faulted."""
        self.seen += 1
        if self.seen < self.nth:
            return False
        if self.times and self.fired >= self.times:
            return False
        self.fired += 1
        return True


def fault_from_json(body: Any) -> tuple[Fault, bool]:
    """A fault from `POST /_local/faults`; ValueError names the offending field."""
    if not isinstance(body, dict):
        raise ValueError("body: a JSON object")
    point = body.get("point")
    if not isinstance(point, dict) or not all(
        isinstance(point.get(k), str) and point.get(k) for k in ("caller", "service", "operation")
    ):
        raise ValueError("point: an object with caller, service and operation")
    kind = body.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind: one of {', '.join(KINDS)}")
    nth, times = body.get("nth", 1), body.get("times", 1)
    if not isinstance(nth, int) or isinstance(nth, bool) or nth < 1:
        raise ValueError("nth: an integer >= 1")
    if not isinstance(times, int) or isinstance(times, bool) or times < 0:
        raise ValueError("times: an integer >= 0")
    first = body.get("first", False)
    if not isinstance(first, bool):
        raise ValueError("first: a boolean (true: matched before the faults armed earlier)")
    return Fault(Point(point["caller"], point["service"], point["operation"]), kind, nth, times), first


@dataclass
class Firing:
    point: Point
    kind: str
    at: float
    detail: str = ""


@dataclass
class FaultPlan:
    """What to inject where, what was injected, and every point seen since start (thread-safe)."""

    faults: list[Fault] = field(default_factory=list)
    fired: list[Firing] = field(default_factory=list)
    observed: Counter[Point] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, fault: Fault, first: bool = False) -> None:
        with self._lock:
            self.faults.insert(0 if first else len(self.faults), fault)

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()
            self.fired.clear()

    def check(self, point: Point, kinds: tuple[str, ...]) -> Fault | None:
        """Records the point; returns the armed fault (of one of `kinds`) this call is to suffer."""
        with self._lock:
            self.observed[point] += 1
            for fault in self.faults:
                if fault.point == point and fault.kind in kinds and fault.due():
                    self.fired.append(Firing(point, fault.kind, time.time()))
                    return fault
        return None

    def note(self, point: Point, kind: str, detail: str) -> None:
        """Adds what happened to the latest firing of that point and kind."""
        with self._lock:
            for firing in reversed(self.fired):
                if firing.point == point and firing.kind == kind:
                    firing.detail = detail
                    return

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "armed": [{**asdict(f), "point": asdict(f.point)} for f in self.faults],
                "fired": [{**asdict(f), "point": asdict(f.point)} for f in self.fired],
            }

    def points(self) -> list[dict[str, Any]]:
        with self._lock:
            items = sorted(self.observed.items())
        return [{**asdict(p), "count": n} for p, n in items]


# -- AWS calls (at moto's server) -------------------------------------------------------------------


def caller_of(user_agent: str, authorization: str) -> tuple[str, int | None]:
    """(caller, worker process id) of a request to the emulator."""
    function = function_of(user_agent)
    if function:
        return function, process_of(user_agent)
    if _STATES_ACCESS_KEY in authorization:
        return STATES_CALLER, None
    return RUNTIME_CALLER, None


def _entities(params: dict[str, Any]) -> list[str]:
    """The kinds of item (partition key prefixes: CHECKOUT, ORDER, SKU, ...) a DynamoDB request touches."""
    keys: list[Any] = []
    for name in ("Key", "Item"):
        keys.append(params.get(name))
    for entry in params.get("TransactItems", []) or []:
        for op in entry.values():
            keys.append(op.get("Key") or op.get("Item"))
    for request in (params.get("RequestItems") or {}).values():
        keys += request.get("Keys", []) if isinstance(request, dict) else []
        for write in request if isinstance(request, list) else []:
            for op in write.values():
                keys.append(op.get("Key") or op.get("Item"))
    values = params.get("ExpressionAttributeValues") or {}
    if params.get("KeyConditionExpression") and values:
        keys.append({"PK": next(iter(values.values()))})
    kinds = set()
    for key in keys:
        pk = key.get("PK") or key.get("GSI1PK") or key.get("GSI2PK") if isinstance(key, dict) else None
        if isinstance(pk, dict) and isinstance(pk.get("S"), str):
            kinds.add(pk["S"].split("#", 1)[0])
        elif isinstance(key, dict) and "id" in key:  # Powertools' idempotency records
            kinds.add("IDEMPOTENCY")
    return sorted(kinds)


def operation_of(service: str, action: str, path: str, params: Any) -> str:
    """The operation, told apart by call site where one operation serves many: a Lambda invocation
    names its function and task, a DynamoDB request the kinds of item it touches."""
    if service == "lambda" and action == "Invoke":
        name = unquote(path.rstrip("/").rsplit("/", 2)[-2]).rsplit(":", 1)[-1]
        task = params.get("task") if isinstance(params, dict) else None
        return f"Invoke({name}.{task})" if task else f"Invoke({name})"
    if service == "dynamodb" and isinstance(params, dict):
        kinds = _entities(params)
        index = params.get("IndexName")
        if index:
            kinds.append(str(index))
        return f"{action}[{'+'.join(kinds)}]" if kinds else action
    return action


@dataclass(frozen=True)
class InjectedError:
    status: int
    code: str
    extra: dict[str, Any] = field(default_factory=dict)

    def response(self) -> tuple[int, dict[str, str], str]:
        """The answer as the service's protocol writes it (S3: XML; the others here: JSON)."""
        headers = {"x-amzn-RequestId": str(uuid.uuid4()), "x-amzn-ErrorType": self.code}
        message = "Injected by localrt (fault plan)"
        if self.code == "SlowDown":
            body = f"<Error><Code>{self.code}</Code><Message>{message}</Message></Error>"
            return self.status, {**headers, "Content-Type": "application/xml"}, body
        payload = {"__type": self.code, "message": message, "Message": message, **self.extra}
        return self.status, {**headers, "Content-Type": "application/x-amz-json-1.0"}, json.dumps(payload)


def injected_error(service: str, operation: str, params: dict[str, Any]) -> InjectedError:
    """The retryable error a call answers with (see the module docstring)."""
    if service == "dynamodb" and operation == "TransactWriteItems":
        count = len(params.get("TransactItems", [])) or 1
        reasons: list[dict[str, str]] = [{"Code": "None"} for _ in range(count)]
        reasons[0] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
        return InjectedError(400, "TransactionCanceledException", {"CancellationReasons": reasons})
    if service in {"lambda", "ses", "sesv2"}:
        return InjectedError(429, "TooManyRequestsException")
    if service == "s3":
        return InjectedError(503, "SlowDown")
    return InjectedError(400, "ThrottlingException")


def _params(response: BaseResponse) -> dict[str, Any]:
    """The request's parameters (JSON protocols; moto's DynamoDB handler has parsed them already)."""
    body = getattr(response, "params", None) or getattr(response, "body", None)
    if isinstance(body, (str, bytes)) and body[:1] in ("{", b"{"):
        try:
            body = json.loads(body)
        except ValueError:
            return {}
    return body if isinstance(body, dict) else {}


def kill_worker(pid: int | None) -> bool:
    """Kill a function's worker process (SIGKILL: no cleanup, as a Lambda sandbox dying)."""
    if not pid:
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        return False
    return True


def install_aws_hook(plan: FaultPlan) -> None:
    """Every request moto's server handles asks the plan first (idempotent; replaces an earlier plan)."""
    original: Callable[..., Any] = getattr(BaseResponse.call_action, "_cloudtill_unfaulted", None) or (
        BaseResponse.call_action
    )

    @functools.wraps(original)
    def call_action(self: BaseResponse) -> Any:
        point: Point | None = None
        try:
            headers = self.headers or {}
            caller, pid = caller_of(str(headers.get("User-Agent", "")), str(headers.get("Authorization", "")))
            if caller != RUNTIME_CALLER:  # the local runtime's own calls are not points
                service = self.boto3_service_name or "unknown"
                action = self._get_action()
                point = Point(caller, service, operation_of(service, action, self.path or "", _params(self)))
        except Exception:  # looking must never break the emulator
            point = None
        if point is None:
            return original(self)
        fault = plan.check(point, CALL_KINDS)
        if fault is None:
            return original(self)
        if fault.kind == "error":
            return injected_error(service, action, _params(self)).response()
        result = original(self)
        plan.note(point, "crash_after", f"killed pid {pid}" if kill_worker(pid) else "no process to kill")
        return result

    call_action._cloudtill_unfaulted = original  # type: ignore[attr-defined]
    BaseResponse.call_action = call_action  # type: ignore[method-assign]


# -- Stripe (a proxy in front of localstripe) -------------------------------------------------------

# An object id (`pi_3Qx...`) has digits or capitals after its prefix; a resource name (`payment_intents`) not.
_STRIPE_ID = re.compile(r"^[a-z]+_(?=[A-Za-z0-9]*[A-Z0-9])[A-Za-z0-9]+$")


def stripe_operation(method: str, path: str) -> str:
    """`POST /v1/payment_intents/{id}/cancel`: Stripe object ids replaced, so a point is a call kind."""
    parts = ["{id}" if _STRIPE_ID.match(p) else p for p in path.split("?", 1)[0].split("/")]
    return f"{method} {'/'.join(parts)}"


WebhookSink = Callable[[dict[str, str], bytes], int]


class StripeProxy:
    """Functions reach localstripe through `/fn/<function>/<pid>/v1/...` here (their STRIPE_API_BASE),
    and localstripe posts webhooks to `/webhook`, handed on to the gateway: both consult the plan."""

    def __init__(self, plan: FaultPlan, upstream_port: int, webhook_sink: WebhookSink) -> None:
        self._plan = plan
        self._upstream_port = upstream_port
        self._deliver = webhook_sink
        self._held: list[tuple[dict[str, str], bytes, float]] = []
        self._held_lock = threading.Lock()
        self._retries_waiting = 0
        self._stopped = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.base = f"http://127.0.0.1:{self.port}"

    def api_base_for(self, function: str) -> str:
        """The function's STRIPE_API_BASE; the worker replaces `{pid}` with its process id."""
        return f"{self.base}/fn/{function}/{{pid}}"

    def webhook_url(self) -> str:
        return f"{self.base}/webhook"

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, name="stripe-proxy", daemon=True).start()
        threading.Thread(target=self._release_held, name="stripe-proxy-held", daemon=True).start()

    def stop(self) -> None:
        self._stopped.set()
        self._server.shutdown()

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self._upstream_port, timeout=30)
        try:
            wanted = {k: v for k, v in headers.items() if k.lower() not in {"host", "connection"}}
            connection.request(method, path, body=body or None, headers=wanted)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def api(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, bytes] | None:
        """An API call from a function; None: the caller is to be cut off (it crashed)."""
        _, _, function, pid_text, rest = [*raw_path.split("/", 4), "", "", "", ""][:5]
        path = "/" + rest
        point = Point(function or RUNTIME_CALLER, "stripe", stripe_operation(method, urlsplit(path).path))
        fault = self._plan.check(point, CALL_KINDS)
        if fault is not None and fault.kind == "error":
            body_out = b'{"error": {"type": "api_error", "message": "Injected by localrt (fault plan)"}}'
            return 500, [("Content-Type", "application/json")], body_out
        result = self._forward(method, path, headers, body)
        if fault is not None:
            pid = int(pid_text) if pid_text.isdigit() else None
            self._plan.note(point, "crash_after", f"killed pid {pid}" if kill_worker(pid) else "no process")
            return None
        return result

    def webhook(self, headers: dict[str, str], body: bytes) -> int:
        event_type = _event_type(body)
        point = Point("payments", "stripe", f"Webhook({event_type})")
        fault = self._plan.check(point, DELIVERY_KINDS)
        if fault is None:
            self._deliver_held_before()
            return self._sink(headers, body)
        if fault.kind == "drop":
            return 200  # localstripe does not retry; Stripe would give up after its retries
        if fault.kind == "reorder":
            with self._held_lock:
                self._held.append((headers, body, time.monotonic() + REORDER_HOLD_SECONDS))
            return 200
        status = self._sink(headers, body)
        self._sink(headers, body)
        return status

    def _sink(self, headers: dict[str, str], body: bytes, attempt: int = 0) -> int:
        """Deliver to the gateway; a non-2xx answer is retried later, as Stripe does."""
        try:
            status = self._deliver(headers, body)
        except Exception:
            status = 599
        if status >= 300 and attempt < len(WEBHOOK_RETRY_DELAYS_SECONDS) and not self._stopped.is_set():
            with self._held_lock:
                self._retries_waiting += 1
            timer = threading.Timer(
                WEBHOOK_RETRY_DELAYS_SECONDS[attempt], self._retry, (headers, body, attempt + 1)
            )
            timer.daemon = True
            timer.start()
        return status

    def _retry(self, headers: dict[str, str], body: bytes, attempt: int) -> None:
        with self._held_lock:
            self._retries_waiting -= 1
        self._sink(headers, body, attempt)

    def pending(self) -> int:
        """Webhooks not delivered yet (held back, or waiting for a retry): a run is not over before."""
        with self._held_lock:
            return len(self._held) + self._retries_waiting

    def _deliver_held_before(self) -> None:
        """A held webhook goes out right after the next one (that one first: swapped)."""
        with self._held_lock:
            held, self._held = self._held, []
        if held:
            threading.Timer(0.2, lambda: [self._sink(h, b) for h, b, _ in held]).start()

    def _release_held(self) -> None:
        while not self._stopped.wait(0.5):
            now = time.monotonic()
            with self._held_lock:
                due = [h for h in self._held if h[2] <= now]
                self._held = [h for h in self._held if h[2] > now]
            for headers, body, _ in due:
                self._sink(headers, body)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = dict(self.headers.items())
                if self.path.startswith("/webhook"):
                    status = proxy.webhook(headers, body)
                    self._answer(status, [("Content-Type", "application/json")], b"{}")
                    return
                if not self.path.startswith("/fn/"):
                    self._answer(404, [("Content-Type", "application/json")], b"{}")
                    return
                result = proxy.api(self.command, self.path, headers, body)
                if result is None:
                    self.close_connection = True
                    return
                self._answer(*result)

            def _answer(self, status: int, headers: Any, body: bytes) -> None:
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in {
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "date",
                        "server",
                    }:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _event_type(body: bytes) -> str:
    try:
        value = json.loads(body).get("type")
    except (ValueError, AttributeError):
        return "unknown"
    return value if isinstance(value, str) else "unknown"
