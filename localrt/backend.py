"""The whole local backend assembled: emulator, resources, function pools, gateway."""

from __future__ import annotations

import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import IO

from botocore.exceptions import ClientError
from cloudtill.reporting.outputs import report_keys
from cloudtill.settings import ShopSettings

from infra.environment import function_environment
from infra.wiring import (
    FUNCTIONS,
    IDEMPOTENCY_TABLE,
    MAIN_TABLE,
    REPORTS,
    SCHEDULES,
    STATE_MACHINES,
    STREAM_CONSUMERS,
    STRIPE,
    routes_of,
)
from localrt import aws_calls, table_access
from localrt.emulator import AwsEmulator
from localrt.eventing import LOCAL_VISIBILITY_TIMEOUT_S, EventRouting
from localrt.faults import FaultPlan, StripeProxy, fault_from_json, install_aws_hook
from localrt.functions import FunctionPool, InvocationError, worker_environment
from localrt.gateway import Gateway, LocalRequest, LocalResponse, json_response, make_http_server, problem
from localrt.logs import TEXT_WORKER_ENV, TextLog
from localrt.mail import CONFIGURATION_SET as SES_CONFIGURATION_SET
from localrt.mail import LocalMail
from localrt.openapi import ASSETS_PATH, SWAGGER_UI, SWAGGER_UI_DIST, merge, swagger_asset
from localrt.persistence import LocalState, SavedState, trim_streams
from localrt.scheduler import Scheduler, rate_seconds
from localrt.stripe_emulator import StripeEmulator
from localrt.workflows import TABLE_NAMES, start_workflows, state_machine_arn

EVENT_BUS_NAME = "cloudtill"
REPORTS_BUCKET_NAME = "cloudtill-reports"
API_VERSION = "0.1.0"


class LocalBackend:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        aws_port: int,
        admin_token: str,
        shop: ShopSettings,
        max_instances: int,
        extra_env: dict[str, str],
        log: IO[str] | None,
        stripe_port: int | None = None,
        state: LocalState | None = None,
        log_format: str = "json",
    ) -> None:
        self.host, self.port = host, port
        # None: nothing kept (the tests); else restored at start and written at stop.
        self.state = state
        self.restored = False
        # Text: readable lines (localrt/logs.py); json: the functions' records as they are in AWS.
        self.text_log = TextLog(log or sys.stderr) if log_format == "text" else None
        if self.text_log is not None:
            log = self.text_log.sink
        self.base_url = f"http://{host}:{port}"
        self.emulator = AwsEmulator(aws_port)
        # The functions' DynamoDB calls are checked against the grants their specs declare.
        table_access.install(TABLE_NAMES)
        self.stripe = StripeEmulator(stripe_port, log, state.stripe_file if state else None)
        # Fault injection (tests/faults): one plan read by the emulator, the Stripe proxy and the pollers.
        self.faults = FaultPlan()
        self.stripe_proxy = StripeProxy(self.faults, self.stripe.port, self._deliver_webhook)
        self.pools = {
            spec.name: FunctionPool(
                spec.name,
                worker_environment(
                    spec.name,
                    spec.code_folder,
                    {
                        **function_environment(
                            spec,
                            stage="local",
                            shop=shop,
                            table_name=TABLE_NAMES[MAIN_TABLE.logical_name],
                            idempotency_table_name=TABLE_NAMES[IDEMPOTENCY_TABLE.logical_name],
                            event_bus_name=EVENT_BUS_NAME,
                            # As in the stack: only the functions that drive a workflow learn its ARN.
                            state_machine_arns={m.name: state_machine_arn(m.name) for m in STATE_MACHINES},
                            bucket_names={REPORTS: REPORTS_BUCKET_NAME},
                        ),
                        # As in the stack: a redelivery may take over a `sending` claim once the
                        # queue's visibility timeout (short here) has passed, before it dead-letters.
                        # As in the stack: senders use the configuration set that publishes sends.
                        **(
                            {
                                "NOTIFICATIONS_RESEND_AFTER_SECONDS": str(LOCAL_VISIBILITY_TIMEOUT_S),
                                "NOTIFICATIONS_SES_CONFIGURATION_SET": SES_CONFIGURATION_SET,
                            }
                            if "email" in spec.sends
                            else {}
                        ),
                        **extra_env,
                        **(TEXT_WORKER_ENV if self.text_log else {}),
                        # Locally the Stripe emulator's key instead of the secret's ARN.
                        **(
                            {
                                **self.stripe.env(),
                                "STRIPE_API_BASE": self.stripe_proxy.api_base_for(spec.name),
                            }
                            if STRIPE in spec.secrets
                            else {}
                        ),
                    },
                    self.emulator.endpoint,
                ),
                max_instances=max_instances,
                timeout_ms=spec.timeout_seconds * 1000,
                log=log,
                entry_point=spec.handler,
            )
            for spec in FUNCTIONS
        }
        self.gateway = Gateway(self.pools, admin_token, shop.cors_origins)
        self.stripe.add_local_routes(self.gateway)
        self._openapi: bytes | None = None
        self._openapi_lock = threading.Lock()
        self.scheduler = Scheduler(self.pools)
        health = LocalResponse(200, b'{"status":"ok"}')
        self.gateway.add_local_route("GET", "/_local/health", lambda r: health)
        self.gateway.add_local_route("GET", "/openapi.json", lambda r: LocalResponse(200, self.openapi()))
        swagger = LocalResponse(200, SWAGGER_UI.encode(), "text/html")
        self.gateway.add_local_route("GET", "/docs", lambda r: swagger)
        self.gateway.add_local_route("GET", ASSETS_PATH + "/{name}", self._swagger_asset)
        self.gateway.add_local_route(
            "GET", "/_local/schedules", lambda r: json_response(200, self._schedules())
        )
        self.gateway.add_local_route("POST", "/_local/schedules/{name}/run", self._run_schedule)
        self.gateway.add_local_route("GET", "/_local/reports/{day}/{file}", self._report_file)
        self.events = EventRouting(self.emulator, self.pools, EVENT_BUS_NAME, TABLE_NAMES, self.faults)
        self.gateway.add_local_route("GET", "/_local/events", self._list_events)
        self.gateway.add_local_route(
            "GET", "/_local/queues", lambda r: json_response(200, self.events.queue_depths())
        )
        self.gateway.add_local_route("POST", "/_local/faults/publisher", self._publisher_fault)
        self.gateway.add_local_route("GET", "/_local/aws-calls", self._aws_calls)
        self.gateway.add_local_route("POST", "/_local/faults", self._arm_fault)
        self.gateway.add_local_route(
            "GET", "/_local/faults", lambda r: json_response(200, self._fault_state())
        )
        self.gateway.add_local_route("DELETE", "/_local/faults", self._clear_faults)
        self.gateway.add_local_route(
            "GET", "/_local/faults/points", lambda r: json_response(200, {"points": self.faults.points()})
        )
        self.mail = LocalMail(self.emulator, self.pools, shop.sender_email)
        self.mail.add_local_routes(self.gateway)
        self._server = make_http_server(
            self.gateway, host, port, self.text_log.request if self.text_log else None
        )
        if self.text_log is not None:
            self.events.on_delivery = self.text_log.delivery
        self._thread = threading.Thread(target=self._server.serve_forever, name="gateway", daemon=True)

    @staticmethod
    def _swagger_asset(request: LocalRequest) -> LocalResponse:
        found = swagger_asset(request.params["name"])
        if found is None:
            return problem(
                404,
                "Not found",
                f"no Swagger UI file {request.params['name']!r} in {SWAGGER_UI_DIST} (make install)",
            )
        content, content_type = found
        return LocalResponse(200, content, content_type, (("Cache-Control", "max-age=3600"),))

    def _schedules(self) -> dict[str, object]:
        """The wiring's schedules: each runs at its expression (`rate(...)` here too; `cron(...)` only
        on request) and now at `POST /_local/schedules/{name}/run` (optional JSON body: its input)."""
        return {
            "items": [
                {
                    "name": s.name,
                    "function": s.function,
                    "expression": s.cron,
                    "payload": s.payload,
                    "fires_locally": rate_seconds(s.cron) is not None,
                    "run": f"POST /_local/schedules/{s.name}/run",
                }
                for s in SCHEDULES
            ]
        }

    def _run_schedule(self, request: LocalRequest) -> LocalResponse:
        if request.params["name"] not in self.scheduler.names:
            names = sorted(self.scheduler.names)
            return problem(
                404,
                "Not found",
                f"no schedule {request.params['name']!r}; the schedules are: {', '.join(names)}",
                schedules=names,
            )
        try:
            payload = request.json()
        except ValueError as error:
            return problem(422, "Validation failed", f"body: the schedule's input as JSON ({error})")
        if not isinstance(payload, dict):
            return problem(422, "Validation failed", "body: the schedule's input as a JSON object")
        try:
            result = self.scheduler.fire(request.params["name"], payload)
        except InvocationError as error:
            return json_response(502, {"detail": str(error)})
        return json_response(200, {"result": result})

    def _report_file(self, request: LocalRequest) -> LocalResponse:
        """A day's report file as the nightly report wrote it to the reports bucket (`make report` prints
        the HTML's URL)."""
        day, name = request.params["day"], request.params["file"]
        try:
            date.fromisoformat(day)
        except ValueError:
            return problem(404, "Not found", f"{day!r} is not a day (YYYY-MM-DD)")
        key = next((k for k in report_keys(day).values() if k.rsplit("/", 1)[-1] == name), None)
        if key is None:
            names = sorted(k.rsplit("/", 1)[-1] for k in report_keys(day).values())
            return problem(404, "Not found", f"no report file {name!r}; the files are: {', '.join(names)}")
        try:
            stored = self.emulator.client("s3").get_object(Bucket=REPORTS_BUCKET_NAME, Key=key)
        except ClientError:
            return problem(404, "Not found", f"no report for {day}: run `make report DATE={day}` first")
        return LocalResponse(
            200, stored["Body"].read(), stored.get("ContentType") or "application/octet-stream"
        )

    def _list_events(self, request: LocalRequest) -> LocalResponse:
        """Events that reached the bus, newest first (`?detail_type=` filters)."""
        wanted = request.query.get("detail_type")
        events = [e for e in list(self.events.event_log) if wanted in (None, e.get("detail-type"))]
        return json_response(200, {"items": events})

    def _aws_calls(self, request: LocalRequest) -> LocalResponse:
        """AWS API calls counted at the emulator (by caller, service, operation) and Lambda invocations
        per function, since start: what `make bench` turns into a cost per order."""
        invocations = {name: pool.invocations for name, pool in self.pools.items()}
        return json_response(
            200,
            {
                "aws_calls": aws_calls.snapshot(),
                "aws_calls_by_function": aws_calls.by_function(),
                "dynamodb_request_units": aws_calls.dynamodb_units(),
                "invocations": invocations,
                # Of those, the ones schedules made (sweeps run whatever the traffic).
                "scheduled_invocations": self.scheduler.runs,
                # Function calls to DynamoDB that no grant of their spec allows (AccessDenied in AWS).
                "table_access_violations": table_access.violations(),
            },
        )

    def _publisher_fault(self, request: LocalRequest) -> LocalResponse:
        """Fault injection: `{"down": true}` stops the outbox publisher between write and publish."""
        down = bool(request.json().get("down"))
        if down:
            self.events.publisher_paused.set()
        else:
            self.events.publisher_paused.clear()
        return json_response(200, {"publisher_down": down})

    def _arm_fault(self, request: LocalRequest) -> LocalResponse:
        """`{"point": {"caller", "service", "operation"}, "kind": ..., "nth": 1, "times": 1}`
        (localrt/faults.py says what each kind does)."""
        try:
            fault, first = fault_from_json(request.json())
        except ValueError as error:
            field = str(error).split(":", 1)[0]
            return problem(
                422, "Validation failed", str(error), errors=[{"field": field, "message": str(error)}]
            )
        self.faults.arm(fault, first)
        return json_response(201, self._fault_state())

    def _clear_faults(self, request: LocalRequest) -> LocalResponse:
        self.faults.clear()
        return json_response(200, self._fault_state())

    def _fault_state(self) -> dict[str, object]:
        return {
            **self.faults.state(),
            "stripe_webhook_url": self.stripe_proxy.webhook_url(),
            "pending_webhooks": self.stripe_proxy.pending(),
        }

    def _deliver_webhook(self, headers: dict[str, str], body: bytes) -> int:
        """A webhook from localstripe (through the Stripe proxy) to the gateway's `/webhooks/stripe`."""
        lowered = {k.lower(): v for k, v in headers.items()}
        return self.gateway.dispatch("POST", "/webhooks/stripe", lowered, body, "127.0.0.1").status

    def openapi(self) -> bytes:
        with self._openapi_lock:
            if self._openapi is None:
                api_pools = [pool for name, pool in self.pools.items() if routes_of(name)]
                documents = [pool.request({"kind": "openapi"}) for pool in api_pools]
                self._openapi = json.dumps(merge(documents, API_VERSION), indent=1).encode()
            return self._openapi

    def start(self) -> None:
        self.emulator.start()
        saved = self.state.load() if self.state else None
        self.restored = saved is not None
        if saved is not None:
            trim_streams(list(TABLE_NAMES.values()), self._table_positions(saved.stream_positions))
        else:
            self.emulator.create_tables(TABLE_NAMES)
            self.emulator.client("s3").create_bucket(
                Bucket=REPORTS_BUCKET_NAME, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
        self.mail.start()
        install_aws_hook(self.faults)
        self.stripe.start()
        self.stripe_proxy.start()
        self.stripe.register_webhook(self.stripe_proxy.webhook_url())
        self.events.create_resources()
        start_workflows(self.emulator, self.pools)
        # Start one instance of every function up front, in parallel, so the first requests are warm.
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda p: p.warm(), self.pools.values()))
        self._thread.start()
        self.events.start()
        if saved is not None:
            self._restart_executions(saved.executions)
        self.scheduler.start()

    @staticmethod
    def _table_positions(by_consumer: dict[str, int]) -> dict[str, int]:
        """Per table: the position every consumer of its stream has handled."""
        positions: dict[str, int] = {}
        for consumer in STREAM_CONSUMERS:
            handled = by_consumer.get(consumer.name)
            table = TABLE_NAMES[consumer.table]
            if handled is None:
                positions[table] = -1  # this consumer handled nothing: keep every record
            else:
                positions[table] = min(positions.get(table, handled), handled)
        return positions

    def _running_executions(self) -> list[dict[str, str]]:
        stepfunctions = self.emulator.client("stepfunctions")
        running = []
        for spec in STATE_MACHINES:
            pages = stepfunctions.get_paginator("list_executions").paginate(
                stateMachineArn=state_machine_arn(spec.name), statusFilter="RUNNING"
            )
            for page in pages:
                for listed in page["executions"]:
                    described = stepfunctions.describe_execution(executionArn=listed["executionArn"])
                    running.append(
                        {"state_machine": spec.name, "name": listed["name"], "input": described["input"]}
                    )
        return running

    def _restart_executions(self, executions: list[dict[str, str]]) -> None:
        stepfunctions = self.emulator.client("stepfunctions")
        for execution in executions:
            stepfunctions.start_execution(
                stateMachineArn=state_machine_arn(execution["state_machine"]),
                name=execution["name"],
                input=execution["input"],
            )

    def stop(self) -> None:
        self.scheduler.stop()
        self._server.shutdown()
        self.events.stop()
        if self.state is not None:
            # Nothing new arrives now (gateway, schedules and pollers stopped): keep the state before
            # the functions stop, so no workflow task failing at the stop leaves its trace in it.
            self.events.join(timeout_seconds=10)
            self.state.save(SavedState(dict(self.events.stream_handled), self._running_executions()))
        for pool in self.pools.values():
            pool.stop()
        self.stripe_proxy.stop()
        self.stripe.stop()
        self.emulator.stop()
