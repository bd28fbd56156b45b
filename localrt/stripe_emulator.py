"""Stripe's part: localstripe in a subprocess on loopback, posting SIGNED webhooks to the local gateway.

`StripeEmulator.start()` runs `python -m localrt.stripe_emulator --port <free> --from-scratch` (localstripe
plus the small shim below) and registers the gateway's `/webhooks/stripe` as a webhook endpoint with the
local signing secret, so the payments function verifies local webhooks exactly as it verifies Stripe's.

`confirm_with_test_card()` is what Stripe.js does in a browser: it turns a raw TEST card number into a
PaymentMethod in the emulator, attaches it to the intent and confirms. It exists only here: deployed code
never sees a card number.

The shim fills two gaps of localstripe 1.15.10 that our flows need (nothing else is changed):
- a refund sends the `charge.refunded` webhook (localstripe sends none; Stripe does);
- `POST /v1/refunds` accepts Stripe's `reason` parameter (localstripe rejects any unknown parameter);
- after a decline or a failed 3-D Secure authentication, a new `payment_method` on the same intent can
  be confirmed again (localstripe keeps the failed charge and refuses: "Bad request");
- 3-D Secure sends `payment_intent.requires_action` when it starts and `payment_intent.payment_failed`
  when the authentication fails, as Stripe does.
It also keeps the store where localrt says (`--state-file`, written once when the emulator stops; with
`--from-scratch` never), instead of localstripe's `/tmp/localstripe.pickle` rewritten at every change.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from localrt.gateway import Gateway, LocalRequest, LocalResponse, json_response, problem

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk_test_local"
# Local only (AWS reads the real one from Secrets Manager); tests assert it never reaches a log line.
WEBHOOK_SECRET = "whsec_local_cloudtill_0123456789abcdef"  # noqa: S105
WEBHOOK_ID = "cloudtill-local"
WEBHOOK_EVENTS = (
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.requires_action",
    "charge.refunded",
    "charge.dispute.created",
)
# A test card's expiry/CVC do not matter to the emulator; Stripe.js would send what the shopper typed.
TEST_CARD_EXPIRY = {"exp_month": "12", "exp_year": "2034", "cvc": "123"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StripeEmulatorError(RuntimeError):
    """The emulator answered a request with an error (status and Stripe's error message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class StripeEmulator:
    def __init__(
        self, port: int | None = None, log: IO[str] | None = None, state_file: Path | None = None
    ) -> None:
        self.port = port or free_port()
        self._state_file = state_file
        self.api_base = f"http://127.0.0.1:{self.port}"
        self.api_key = API_KEY
        self.webhook_secret = WEBHOOK_SECRET
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        """What functions reading the Stripe secret get locally (in AWS: STRIPE_SECRET_ARN instead)."""
        return {
            "STRIPE_API_BASE": self.api_base,
            "STRIPE_API_KEY": self.api_key,
            "STRIPE_WEBHOOK_SECRET": self.webhook_secret,
        }

    def start(self, timeout_seconds: float = 30) -> None:
        store = ["--state-file", str(self._state_file)] if self._state_file else ["--from-scratch"]
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "localrt.stripe_emulator", "--port", str(self.port), *store],
            cwd=str(ROOT),
            stdout=self._log or subprocess.DEVNULL,
            stderr=self._log or subprocess.DEVNULL,
            # Its own session: Ctrl-C stops the backend, which stops the emulator in order (its store
            # is written then, after the last request).
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_seconds
        while True:
            if self._process.poll() is not None:
                raise RuntimeError(f"localstripe exited with code {self._process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("localstripe did not start") from None
                time.sleep(0.1)

    def register_webhook(self, url: str) -> None:
        """Make the emulator post signed webhooks of the types we handle to `url`."""
        self._post(
            f"/_config/webhooks/{WEBHOOK_ID}",
            {"url": url, "secret": self.webhook_secret, "events": list(WEBHOOK_EVENTS)},
            form=False,
        )

    def confirm_with_test_card(self, payment_intent_id: str, card_number: str) -> dict[str, Any]:
        """Stripe.js's part of a payment: PaymentMethod from the card, attach it, confirm (no arguments:
        localstripe answers "Not implemented" to confirm with a `payment_method`). Returns the intent."""
        method = self._post(
            "/v1/payment_methods",
            {
                "type": "card",
                **{f"card[{k}]": v for k, v in {"number": card_number, **TEST_CARD_EXPIRY}.items()},
            },
        )
        intent_path = f"/v1/payment_intents/{urllib.parse.quote(payment_intent_id)}"
        self._post(intent_path, {"payment_method": method["id"]})
        try:
            return self._post(f"{intent_path}/confirm", {})
        except StripeEmulatorError as error:
            if error.status != 402:  # a decline answers 402 and still leaves an intent (and a webhook)
                raise
            return self._get(intent_path)

    def add_local_routes(self, gateway: Gateway) -> None:
        """`POST /_local/payments/{payment_intent_id}/confirm` `{"card": "4242..."}` (what Stripe.js does),
        `POST /_local/payments/{payment_intent_id}/authenticate` `{"success": true|false}` (the shopper
        passing or failing 3-D Secure) and `GET /_local/stripe` (where the emulator listens)."""
        gateway.add_local_route("POST", "/_local/payments/{payment_intent_id}/confirm", self._confirm_route)
        gateway.add_local_route(
            "POST", "/_local/payments/{payment_intent_id}/authenticate", self._authenticate_route
        )
        gateway.add_local_route(
            "GET", "/_local/stripe", lambda r: json_response(200, {"api_base": self.api_base})
        )

    def _confirm_route(self, request: LocalRequest) -> LocalResponse:
        try:
            card = request.json().get("card")
        except ValueError:
            card = None
        if not isinstance(card, str) or not card.isdigit() or len(card) != 16:
            return problem(
                422,
                "Validation failed",
                "card: a 16-digit test card number",
                errors=[{"field": "card", "message": "a 16-digit test card number"}],
            )
        try:
            intent = self.confirm_with_test_card(request.params["payment_intent_id"], card)
        except StripeEmulatorError as error:
            return problem(error.status if 400 <= error.status < 500 else 502, "Stripe error", error.message)
        return self._intent_answer(intent)

    def _authenticate_route(self, request: LocalRequest) -> LocalResponse:
        try:
            success = request.json().get("success", True)
        except (ValueError, AttributeError):
            success = None
        if not isinstance(success, bool):
            return problem(
                422,
                "Validation failed",
                "success: true (the shopper passes 3-D Secure) or false (fails it)",
                errors=[{"field": "success", "message": "true or false"}],
            )
        intent_path = f"/v1/payment_intents/{urllib.parse.quote(request.params['payment_intent_id'])}"
        try:
            intent = self._get(intent_path)
            if intent["status"] != "requires_action":
                return problem(
                    409,
                    "Conflict",
                    f"the PaymentIntent is {intent['status']}, not requires_action: "
                    "only a 3-D Secure card (4000000000003220) waits for authentication",
                )
            intent = self._post(
                f"{intent_path}/_authenticate",
                {"client_secret": intent["client_secret"], "success": "true" if success else "false"},
            )
        except StripeEmulatorError as error:
            return problem(error.status if 400 <= error.status < 500 else 502, "Stripe error", error.message)
        return self._intent_answer(intent)

    @staticmethod
    def _intent_answer(intent: dict[str, Any]) -> LocalResponse:
        # Never the client secret or the card: the id, the status and why it failed.
        failure = intent.get("last_payment_error") or {}
        return json_response(
            200, {"id": intent["id"], "status": intent["status"], "failure_code": failure.get("code")}
        )

    def _request(self, method: str, path: str, data: bytes | None, content_type: str) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - loopback http only
            self.api_base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": content_type},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as error:
            body = error.read()
            try:
                message = json.loads(body)["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = body.decode(errors="replace")[:200]
            raise StripeEmulatorError(error.code, message) from None
        return json.loads(raw) if raw else {}

    def _post(self, path: str, params: dict[str, Any], form: bool = True) -> dict[str, Any]:
        if form:
            return self._request(
                "POST", path, urllib.parse.urlencode(params).encode(), "application/x-www-form-urlencoded"
            )
        return self._request("POST", path, json.dumps(params).encode(), "application/json")

    def _get(self, path: str) -> dict[str, Any]:
        return self._request("GET", path, None, "application/json")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()


def _keep_store(state_file: Path | None) -> Callable[[Any], Awaitable[None]]:
    """Load the store from `state_file` (if any) and return the app-cleanup hook that writes it."""
    import pickle

    from localstripe import resources  # type: ignore[import-untyped]

    def no_dump(self: Any) -> None:
        return None

    resources.Store.dump_to_disk = no_dump
    resources.Store.try_load_from_disk = no_dump
    if state_file is not None and state_file.exists():
        resources.store.update(pickle.loads(state_file.read_bytes()))  # noqa: S301 - our own file

    async def write(app: Any) -> None:
        if state_file is not None:
            partial = state_file.with_suffix(".partial")
            partial.write_bytes(pickle.dumps(dict(resources.store), protocol=pickle.HIGHEST_PROTOCOL))
            partial.replace(state_file)

    return write


def _patch_localstripe() -> None:
    """The shim (see the module docstring). Runs only inside the emulator subprocess."""
    from localstripe import resources  # type: ignore[import-untyped]
    from localstripe.webhooks import schedule_webhook  # type: ignore[import-untyped]

    original_create = resources.Refund._api_create.__func__

    def create_refund(cls: Any, reason: str | None = None, **data: Any) -> Any:
        refund = original_create(cls, **data)
        refund.reason = reason
        charge = resources.Charge._api_retrieve(refund.charge)
        schedule_webhook(resources.Event("charge.refunded", charge))
        return refund

    resources.Refund._api_create = classmethod(create_refund)

    intent_class = resources.PaymentIntent
    original_update = intent_class._api_update.__func__

    def update_intent(cls: Any, id: str, **data: Any) -> Any:
        if data.get("payment_method"):
            intent = cls._api_retrieve(id)
            if intent.status == "requires_payment_method":
                # A new attempt (after a decline or a failed authentication) starts clean, as in Stripe.
                intent.latest_charge = None
                intent._authentication_failed = False
        return original_update(cls, id, **data)

    intent_class._api_update = classmethod(update_intent)
    original_confirm = intent_class._confirm

    def confirm(self: Any, on_failure_now: Any) -> None:
        original_confirm(self, on_failure_now)
        if self.next_action:
            schedule_webhook(resources.Event("payment_intent.requires_action", self))

    intent_class._confirm = confirm
    original_authenticate = intent_class._api_authenticate.__func__

    def authenticate(cls: Any, id: str, **data: Any) -> Any:
        intent = original_authenticate(cls, id, **data)
        if intent._authentication_failed:
            schedule_webhook(resources.Event("payment_intent.payment_failed", intent))
        return intent

    intent_class._api_authenticate = classmethod(authenticate)
    # localstripe's route table holds the methods it was built with.
    resources.extra_apis[:] = [
        (
            method,
            url,
            intent_class._api_authenticate if url == "/v1/payment_intents/{id}/_authenticate" else func,
        )
        for method, url, func in resources.extra_apis
    ]


def main() -> None:
    import argparse
    import logging

    parser = argparse.ArgumentParser(prog="localrt.stripe_emulator")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--from-scratch", action="store_true", help="an empty store, never written")
    parser.add_argument("--state-file", type=Path, help="the store: loaded at start, written at stop")
    args = parser.parse_args()
    _patch_localstripe()
    from aiohttp import web
    from localstripe import server  # type: ignore[import-untyped]

    server.app.on_cleanup.append(_keep_store(None if args.from_scratch else args.state_file))

    # localstripe's own start() listens on every interface; the emulator stays on loopback.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # no access lines: paths carry ids
    web.run_app(server.app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
