"""The reporting function's own configuration (read once at cold start; missing values fail at init)."""

from __future__ import annotations

from cloudtill.settings import EnvSettings


class ReportingSettings(EnvSettings):
    # The reports bucket (CDK: the reporting construct's bucket; locally created in moto by localrt).
    reports_bucket: str
    # Predicted customer lifetime value: the expected lifespan (1 / monthly churn) is capped here.
    clv_max_lifespan_months: int = 36
