"""Decision 0297: what a function answers about the optional configurations this platform
does not offer, as AWS answers a function that has none — the reads Terraform's
``aws_lambda_function`` and other tools make — through botocore's ``lambda`` model in
process."""

from __future__ import annotations

from support.lambdaapp import World


async def test_a_function_without_optional_configurations(world: World) -> None:
    await world.function("plain", Publish=True)
    arn = (await world.client("GetFunctionConfiguration", FunctionName="plain"))["FunctionArn"]
    signing = await world.client("GetFunctionCodeSigningConfig", FunctionName="plain")
    assert (signing["CodeSigningConfigArn"], signing["FunctionName"]) == ("", "plain")
    runtime = await world.client("GetRuntimeManagementConfig", FunctionName="plain")
    assert (runtime["UpdateRuntimeOn"], runtime["FunctionArn"]) == ("Auto", arn)
    assert "RuntimeVersionArn" not in runtime
    published = await world.client(
        "GetRuntimeManagementConfig", FunctionName="plain", Qualifier="1"
    )
    assert published["FunctionArn"] == f"{arn}:1"
    recursion = await world.client("GetFunctionRecursionConfig", FunctionName="plain")
    assert recursion["RecursiveLoop"] == "Terminate"
    await world.fails("GetFunctionUrlConfig", "ResourceNotFoundException", FunctionName="plain")
    urls = await world.client("ListFunctionUrlConfigs", FunctionName="plain")
    assert urls["FunctionUrlConfigs"] == []


async def test_unknown_functions_and_versions_are_not_found(world: World) -> None:
    await world.function("known")
    for operation in (
        "GetFunctionCodeSigningConfig",
        "GetRuntimeManagementConfig",
        "GetFunctionRecursionConfig",
        "GetFunctionUrlConfig",
        "ListFunctionUrlConfigs",
    ):
        await world.fails(operation, "ResourceNotFoundException", FunctionName="missing")
    await world.fails(
        "GetRuntimeManagementConfig", "ResourceNotFoundException",
        FunctionName="known", Qualifier="7",
    )  # fmt: skip


async def test_another_account_is_refused(world: World) -> None:
    made = await world.function("private")
    other = await world.other_tenant("stranger")
    await other.fails(
        "GetFunctionCodeSigningConfig", "AccessDeniedException", FunctionName=made["FunctionArn"]
    )
    await other.fails(
        "GetFunctionRecursionConfig", "AccessDeniedException", FunctionName=made["FunctionArn"]
    )
