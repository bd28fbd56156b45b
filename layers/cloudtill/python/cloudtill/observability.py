"""Logger and metrics, set up once. Every handler uses the same decorator order:

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @metrics.log_metrics
    def api_handler(event, context): ...

No Powertools Tracer: importing it costs about 0.22 s of cold start (aws_xray_sdk), more than
half our budget; X-Ray active tracing on the function gives the invocation segments instead.
See docs/decisions.md.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

from cloudtill import snapstart  # noqa: F401  (registers the after-restore hook under SnapStart)

# Service name and level come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_LOG_LEVEL.
logger = Logger(log_uncaught_exceptions=True)
metrics = Metrics(namespace="cloudtill")
