"""API domain: the REST API built from ROUTES, its Cognito admin authorizer, WAF, logs and errors.

Each route is a Lambda proxy integration to its function. `admin` routes need a Cognito user
pool token (the handler checks the `admin` group claim); `public` routes are the storefront and
`webhook` routes are authenticated by the caller's signature inside the function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from cloudtill.cors import PREFLIGHT_MAX_AGE_SECONDS, allow_headers
from constructs import Construct

from infra.acknowledgements import LOG_GROUP_KMS_REASON, acknowledge, skip_checkov
from infra.function_factory import log_removal_policy, log_retention
from infra.gateway_responses import (
    GATEWAY_RESPONSE_HEADERS,
    PROBLEM_RESPONSES,
    preflight_methods,
    problem_template,
)
from infra.region_settings import RegionSettings, StageSettings
from infra.wiring import Route

ADMIN_GROUP = "admin"
STRIPE_WEBHOOK_PATH = "/webhooks/stripe"


def invoke_source_pattern(routes: Sequence[Route]) -> tuple[str, str]:
    """(method, path) of the execute-api ARN covering every route of one function.

    The path is the routes' longest common leading segments followed by `*` (path parameters count
    as `*`); the method is theirs when they share one, else `*`. `*` also matches `/` in a
    Lambda permission's source ARN, so `/admin/stock/*` covers `/admin/stock/{sku}/movements`.
    """
    segments = [
        ["*" if part.startswith("{") else part for part in route.path.strip("/").split("/") if part]
        for route in routes
    ]
    common: list[str] = []
    for parts in zip(*segments, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    prefix = "/" + "/".join(common)
    methods = {route.method for route in routes}
    method = methods.pop() if len(methods) == 1 else "*"
    if all(parts == common for parts in segments):
        return method, prefix
    if any(parts == common for parts in segments):  # e.g. /products and /products/{product_id}
        return method, prefix + "*"
    return method, prefix.rstrip("/") + "/*"


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: StageSettings,
        region: RegionSettings,
        routes: tuple[Route, ...],
        functions: Mapping[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool, self.user_pool_client = self._admin_user_pool(stage)
        self.authorizer = apigateway.CognitoUserPoolsAuthorizer(
            self, "AdminAuthorizer", cognito_user_pools=[self.user_pool]
        )

        self.access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=log_retention(stage),
            removal_policy=log_removal_policy(stage),
        )
        skip_checkov(self.access_logs, "CKV_AWS_158", LOG_GROUP_KMS_REASON)
        self.rest_api = apigateway.RestApi(
            self,
            "RestApi",
            rest_api_name=f"cloudtill-{stage.stage}",
            description=f"cloudtill {stage.stage} API ({region.region}, {region.shop.currency})",
            endpoint_types=[apigateway.EndpointType.REGIONAL],
            # API Gateway's account-level CloudWatch role (needed for execution logs) outlives
            # this stack: another stage in the same account and region may rely on it.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigateway.StageOptions(
                stage_name=stage.stage,
                throttling_rate_limit=stage.api_rate_limit,
                throttling_burst_limit=stage.api_burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigateway.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # request bodies hold customer data
                metrics_enabled=True,
                tracing_enabled=True,
            ),
            # The storefront CORS policy (cloudtill.cors); the functions answer with the same one.
            default_cors_preflight_options=apigateway.CorsOptions(
                allow_origins=list(region.shop.cors_origins),
                allow_methods=preflight_methods(route.method for route in routes),
                allow_headers=allow_headers(),
                max_age=Duration.seconds(PREFLIGHT_MAX_AGE_SECONDS),
            ),
        )
        self.request_validator = self.rest_api.add_request_validator(
            "BasicValidator", validate_request_body=True, validate_request_parameters=True
        )
        self.methods: dict[Route, apigateway.Method] = {
            route: self._add_route(route, functions) for route in routes
        }
        self._grant_invoke(stage.stage, routes, functions)
        self._add_problem_responses()
        skip_checkov(
            self.rest_api.deployment_stage,
            "CKV_AWS_120",
            "Answers are per shopper (checkouts, orders) or change with stock; a stage cache would serve "
            "stale stock and cost per hour, and the catalog reads are cheap single-table queries.",
        )
        self.web_acl: wafv2.CfnWebACL | None = None
        if stage.web_acl:
            self.web_acl = self._web_acl(stage)
            wafv2.CfnWebACLAssociation(
                self,
                "WebAclAssociation",
                resource_arn=self.rest_api.deployment_stage.stage_arn,
                web_acl_arn=self.web_acl.attr_arn,
            )
        else:
            reason = (
                f"Stage setting web_acl=false ({stage.stage}): a web ACL costs ~$8 a month where no "
                "shopper is; stage throttling still bounds the request rate (docs/benchmarks.md)."
            )
            acknowledge(self.rest_api.deployment_stage, "AwsSolutions-APIG3", reason)
        self._acknowledge_cloudwatch_role()

        # Stable output keys (no construct-path hash): the deploy guide and scripts read them by name.
        outputs = {
            "ApiUrl": (self.rest_api.url, "Base URL of the cloudtill API"),
            "StripeWebhookUrl": (
                self.rest_api.url_for_path(STRIPE_WEBHOOK_PATH),
                "Register this URL as the Stripe webhook endpoint",
            ),
            "AdminUserPoolId": (self.user_pool.user_pool_id, "Cognito user pool of the back-office users"),
            "AdminUserPoolClientId": (self.user_pool_client.user_pool_client_id, "Back-office app client"),
        }
        for key, (value, description) in outputs.items():
            CfnOutput(self, key, value=value, description=description).override_logical_id(key)

    def _admin_user_pool(self, stage: StageSettings) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
        """Back-office users: invited by an operator, never self-registered, MFA required."""
        user_pool = cognito.UserPool(
            self,
            "AdminUserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            # Plus tier: threat protection (compromised credentials, adaptive auth) for the
            # handful of admin users that can change the catalog and refund orders.
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=stage.retain_user_pool,
            removal_policy=RemovalPolicy.RETAIN if stage.retain_user_pool else RemovalPolicy.DESTROY,
        )
        cognito.CfnUserPoolGroup(
            self,
            "AdminGroup",
            user_pool_id=user_pool.user_pool_id,
            group_name=ADMIN_GROUP,
            description="May call the /admin routes",
        )
        client = user_pool.add_client(
            "AdminClient",
            # SRP for a back-office app; admin password auth for `make admin-token` (an operator's
            # AWS credentials, cognito-idp:AdminInitiateAuth, plus the user's password and TOTP code).
            auth_flows=cognito.AuthFlow(user_srp=True, admin_user_password=True),
            generate_secret=False,  # a browser back-office app cannot keep a secret
            prevent_user_existence_errors=True,
        )
        return user_pool, client

    def _add_route(self, route: Route, functions: Mapping[str, lambda_.IFunction]) -> apigateway.Method:
        if route.function not in functions:
            raise KeyError(f"route {route.method} {route.path} targets unknown function {route.function!r}")
        resource = self.rest_api.root.resource_for_path(route.path)
        # The proxy integration LambdaIntegration builds, without its permission per method:
        # `_grant_invoke` adds one per function (a stack has a 500-resource limit).
        integration = apigateway.AwsIntegration(
            service="lambda",
            proxy=True,
            path=f"2015-03-31/functions/{functions[route.function].function_arn}/invocations",
        )
        if route.auth == "admin":
            return resource.add_method(
                route.method,
                integration,
                authorizer=self.authorizer,
                authorization_type=apigateway.AuthorizationType.COGNITO,
                request_validator=self.request_validator,
            )
        method = resource.add_method(
            route.method,
            integration,
            authorization_type=apigateway.AuthorizationType.NONE,
            request_validator=self.request_validator,
        )
        reason = (
            "Public storefront route: anonymous shoppers browse and check out; abuse is limited by "
            "WAF (managed rules + per-IP rate limit) and stage throttling."
            if route.auth == "public"
            else "Webhook route: the caller (Stripe) cannot present a Cognito token; the function "
            "verifies the request signature with the webhook secret before doing anything."
        )
        acknowledge(method, "AwsSolutions-APIG4", reason)
        acknowledge(method, "AwsSolutions-COG4", reason)
        skip_checkov(method, "CKV_AWS_59", reason)
        return method

    def _grant_invoke(
        self, stage_name: str, routes: tuple[Route, ...], functions: Mapping[str, lambda_.IFunction]
    ) -> None:
        """One `lambda:InvokeFunction` permission per routed function, from this API's stage and
        the function's paths only (`invoke_source_pattern`)."""
        routes_by_function: dict[str, list[Route]] = {}
        for route in routes:
            routes_by_function.setdefault(route.function, []).append(route)
        for name, function_routes in routes_by_function.items():
            method, path = invoke_source_pattern(function_routes)
            functions[name].add_permission(
                f"{_pascal(name)}ApiInvoke",
                scope=self,
                principal=iam.ServicePrincipal("apigateway.amazonaws.com"),
                action="lambda:InvokeFunction",
                source_arn=self.rest_api.arn_for_execute_api(method, path, stage_name),
            )

    def _add_problem_responses(self) -> None:
        for problem in PROBLEM_RESPONSES:
            self.rest_api.add_gateway_response(
                f"{problem.response_type}Response",
                type=apigateway.ResponseType.of(problem.response_type),
                status_code=str(problem.status) if problem.status is not None else None,
                # Error bodies are generic and carry no credentials (bearer tokens, no cookies), so
                # any storefront origin may read them; without the header a browser sees a CORS
                # failure instead of the 401/429.
                response_headers={name: f"'{value}'" for name, value in GATEWAY_RESPONSE_HEADERS.items()},
                templates={"application/json": problem_template(problem)},
            )

    def _web_acl(self, stage: StageSettings) -> wafv2.CfnWebACL:
        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
            )

        return wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(f"cloudtill-{stage.stage}-api"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="AWSManagedRulesCommonRuleSet",
                    priority=0,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS",
                            name="AWSManagedRulesCommonRuleSet",
                            # The rule set blocks bodies over 8 KB; Stripe webhook events and
                            # product documents can be larger. Body size is enforced by the
                            # functions (Settings.max_request_body_bytes) and API Gateway (10 MB).
                            rule_action_overrides=[
                                wafv2.CfnWebACL.RuleActionOverrideProperty(
                                    name="SizeRestrictions_BODY",
                                    action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}),
                                )
                            ],
                        )
                    ),
                    visibility_config=visibility("common-rule-set"),
                ),
                wafv2.CfnWebACL.RuleProperty(
                    name="RateLimitPerIp",
                    priority=1,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=stage.waf_requests_per_5_minutes_per_ip,
                            aggregate_key_type="IP",
                            evaluation_window_sec=300,
                            # Stripe delivers every shop's webhooks from a handful of IPs: counting
                            # them per IP would block payments at peak. The signature check in the
                            # function is the control there (and stage throttling still applies).
                            scope_down_statement=wafv2.CfnWebACL.StatementProperty(
                                not_statement=wafv2.CfnWebACL.NotStatementProperty(
                                    statement=_stripe_webhook_request(stage.stage)
                                )
                            ),
                        )
                    ),
                    visibility_config=visibility("rate-limit-per-ip"),
                ),
                # Known exploit payloads (Log4Shell's JNDI lookups, among others) in any part of a request.
                wafv2.CfnWebACL.RuleProperty(
                    name="AWSManagedRulesKnownBadInputsRuleSet",
                    priority=2,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name="AWSManagedRulesKnownBadInputsRuleSet"
                        )
                    ),
                    visibility_config=visibility("known-bad-inputs"),
                ),
            ],
        )

    def _acknowledge_cloudwatch_role(self) -> None:
        role = self.rest_api.node.try_find_child("CloudWatchRole")
        if role is not None:
            acknowledge(
                role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonAPIGatewayPushToCloudWatchLogs]",
                "API Gateway's account-level logging role; AWS maintains this policy for exactly this "
                "purpose and API Gateway names log groups at runtime, so no narrower policy can be written.",
            )


def _stripe_webhook_request(stage_name: str) -> wafv2.CfnWebACL.StatementProperty:
    """A POST to the Stripe webhook path, as WAF sees it on the stage (`/<stage>/webhooks/stripe` on
    the execute-api URL, `/webhooks/stripe` behind a custom domain mapped at its root)."""

    def exactly(field: wafv2.CfnWebACL.FieldToMatchProperty, value: str) -> wafv2.CfnWebACL.StatementProperty:
        return wafv2.CfnWebACL.StatementProperty(
            byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=field,
                positional_constraint="EXACTLY",
                search_string=value,
                text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
            )
        )

    path = wafv2.CfnWebACL.FieldToMatchProperty(uri_path={})
    return wafv2.CfnWebACL.StatementProperty(
        and_statement=wafv2.CfnWebACL.AndStatementProperty(
            statements=[
                exactly(wafv2.CfnWebACL.FieldToMatchProperty(method={}), "POST"),
                wafv2.CfnWebACL.StatementProperty(
                    or_statement=wafv2.CfnWebACL.OrStatementProperty(
                        statements=[
                            exactly(path, STRIPE_WEBHOOK_PATH),
                            exactly(path, f"/{stage_name}{STRIPE_WEBHOOK_PATH}"),
                        ]
                    )
                ),
            ]
        )
    )
