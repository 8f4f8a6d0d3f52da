"""After `make deploy API_CACHE=1`: only an authorized caller may invalidate an L0 entry.

    python deploy/l0.py --stack predcache-dev --stage dev --region us-east-1

A client sending `Cache-Control: max-age=0` makes API Gateway skip its cache and
replace the entry; without "require authorization" any client may, which flushes
entries at will ("If you don't impose an InvalidateCache policy (or choose the
Require authorization check box in the console), any client can invalidate the API
cache", https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-caching.html,
read 2026-12-01). CloudFormation's MethodSetting has no field for it, so this sets it
on the deployed stage (deploy/front.js runs it after `osls deploy`): authorization
required (IAM `execute-api:InvalidateCache`, which API-key clients do not have), and an
unauthorized request answered from the cache with a warning header, not failed.
"""

from __future__ import annotations

import argparse

# the L0 method (GET /predict), as a stage's method-setting path writes it
L0_METHOD = "~1predict/GET"
PATCH_OPERATIONS = [
    {"op": "replace", "path": f"/{L0_METHOD}/caching/requireAuthorizationForCacheControl",
     "value": "true"},
    {"op": "replace", "path": f"/{L0_METHOD}/caching/unauthorizedCacheControlHeaderStrategy",
     "value": "SUCCEED_WITH_RESPONSE_HEADER"},
]  # fmt: skip


def protect(cloudformation: object, apigateway: object, stack: str, stage: str) -> dict:
    """Patch the stack's REST API stage; returns the L0 method's settings as AWS has them."""
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
    (rest_api,) = [r["PhysicalResourceId"] for page in pages for r in page["StackResourceSummaries"]
                   if r["LogicalResourceId"] == "ApiGatewayRestApi"]  # fmt: skip
    apigateway.update_stage(restApiId=rest_api, stageName=stage, patchOperations=PATCH_OPERATIONS)
    settings = apigateway.get_stage(restApiId=rest_api, stageName=stage)["methodSettings"]
    return settings[L0_METHOD]


def main() -> None:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="the deployed CloudFormation stack")
    parser.add_argument("--stage", required=True, help="the REST API stage (osls' --stage)")
    parser.add_argument("--region", required=True, help="the stack's AWS region")
    args = parser.parse_args()
    session = boto3.Session(region_name=args.region)
    settings = protect(session.client("cloudformation"), session.client("apigateway"),
                       args.stack, args.stage)  # fmt: skip
    required = settings["requireAuthorizationForCacheControl"]
    print(f"L0: invalidating an entry requires authorization: {required}")


if __name__ == "__main__":
    main()
