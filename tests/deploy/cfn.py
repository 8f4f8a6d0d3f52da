"""Reading a packaged CloudFormation template in the deploy tests."""

from __future__ import annotations


def resources_of(template: dict, kind: str) -> dict[str, dict]:
    """The template's resources of one type (`AWS::Lambda::Function`), by logical id."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}
