"""``python -m tests.support.moto_sfn``: moto's server, answering the two Step Functions calls the AWS provider makes
around a state machine and moto does not implement. ValidateStateMachineDefinition answers OK: the definition is
checked by asl-validator in the tests instead (tests/batch/test_state_machine.py). ListStateMachineVersions answers
none: the module publishes no versions."""

from __future__ import annotations

from moto.core.responses import ActionResult
from moto.server import main
from moto.stepfunctions.responses import StepFunctionResponse


def _validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
    return ActionResult({"result": "OK", "diagnostics": [], "truncated": False})


def _list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
    return ActionResult({"stateMachineVersions": []})


StepFunctionResponse.validate_state_machine_definition = _validate_state_machine_definition  # type: ignore[attr-defined]
StepFunctionResponse.list_state_machine_versions = _list_state_machine_versions  # type: ignore[attr-defined]

if __name__ == "__main__":
    main()
