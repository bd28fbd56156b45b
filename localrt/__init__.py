"""cloudtill's local runtime: developer tooling that plays the parts AWS plays, on loopback.

It is never deployed and no function imports it. It serves what `infra/wiring.py` declares:
moto's server as AWS, an HTTP gateway in front of the real handlers (run in worker processes,
one per concurrent "instance", as Lambda would), and the local-only `/_local/` routes.
"""
