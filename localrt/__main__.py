"""`python -m localrt` (what `make run` starts): the whole backend on loopback, seeded, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from cloudtill.settings import ShopSettings

from localrt.backend import LocalBackend
from localrt.persistence import LocalState, new_admin_token
from localrt.seed import seed


def main() -> None:
    parser = argparse.ArgumentParser(prog="localrt", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--aws-port", type=int, default=int(os.environ.get("AWS_PORT", "4566")))
    parser.add_argument("--stripe-port", type=int, default=int(os.environ.get("STRIPE_PORT", "0")) or None)
    parser.add_argument("--no-seed", action="store_true", help="start with an empty catalog")
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=os.environ.get("LOCAL_STATE_DIR") or None,
        help="keep the local state here across restarts (`make run`: .local/); none: keep nothing",
    )
    parser.add_argument(
        "--fresh", action="store_true", help="empty the state folder first (`make run FRESH=1`)"
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=os.environ.get("LOCAL_LOG_FORMAT", "json"),
        help="text: one readable line per request, event and log record (`make run`); json: as in AWS",
    )
    parser.add_argument("--max-instances", type=int, default=int(os.environ.get("LOCAL_MAX_INSTANCES", "4")))
    args = parser.parse_args()

    state = LocalState(args.state_dir, fresh=args.fresh) if args.state_dir else None
    admin_token = os.environ.get("ADMIN_TOKEN") or (state.admin_token() if state else new_admin_token())
    backend = LocalBackend(
        host=args.host,
        port=args.port,
        aws_port=args.aws_port,
        admin_token=admin_token,
        shop=ShopSettings(),
        max_instances=args.max_instances,
        extra_env={k: v for k, v in os.environ.items() if k.startswith("CHECKOUT_")},
        log=sys.stderr,
        stripe_port=args.stripe_port,
        state=state,
        log_format=args.log_format,
    )
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    backend.start()
    if backend.restored:
        catalog = f"kept from the last run in {args.state_dir} (FRESH=1 starts empty)"
    else:
        catalog = f"{0 if args.no_seed else seed(backend.base_url, admin_token)} products"
    print(
        f"cloudtill is running locally\n"
        f"  API:          {backend.base_url}  (try {backend.base_url}/products)\n"
        f"  API docs:     {backend.base_url}/docs  (OpenAPI: {backend.base_url}/openapi.json)\n"
        f"  Admin token:  {admin_token}  (Authorization: Bearer <token>)\n"
        f"  AWS (moto):   {backend.emulator.endpoint}\n"
        f"  Stripe:       {backend.stripe.api_base}  (localstripe; pay: POST /_local/payments/<pi>/confirm)\n"
        f"  Demo catalog: {catalog}\n"
        f"Press Ctrl-C to stop.",
        flush=True,
    )
    stopped.wait()
    print("stopping...", flush=True)
    backend.stop()


if __name__ == "__main__":
    main()
