"""The tools a spec generates: one `record_<field>` per field, plus the shared few.

The definitions are in the Realtime session's shape ({type: function, name, description,
parameters}); `voice-agent tools SPEC` prints them for review.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from . import steering
from .field_values import json_schema_for
from .spec import AgentSpec

RECORD_PREFIX = "record_"
DECLINE_FIELD = "decline_field"
CATEGORIZE_CALL = "categorize_call"
RESOLVE_PROVIDER = "resolve_provider"
SET_LANGUAGE = "set_language"
END_CALL = "end_call"


class ToolDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["function"] = "function"
    name: str
    description: str
    parameters: dict[str, Any]


def _object(properties: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _described(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return schema | {"description": description}


def build_tools(spec: AgentSpec) -> list[ToolDefinition]:
    tools = [
        ToolDefinition(
            name=f"{RECORD_PREFIX}{f.name}",
            description=steering.record_tool_description(f),
            parameters=_object({"value": _described(json_schema_for(f), steering.ARG_VALUE)}),
        )
        for f in spec.fields
    ]
    field_names = [f.name for f in spec.fields]
    tools.append(
        ToolDefinition(
            name=DECLINE_FIELD,
            description=steering.DECLINE_FIELD,
            parameters=_object(
                {
                    "field": {"type": "string", "enum": field_names, "description": steering.ARG_DECLINE_FIELD},
                    "quote": {"type": "string", "minLength": 1, "description": steering.ARG_DECLINE_QUOTE},
                }
            ),
        )
    )
    if spec.categories:
        tools.append(
            ToolDefinition(
                name=CATEGORIZE_CALL,
                description=steering.CATEGORIZE_CALL,
                parameters=_object(
                    {
                        "category": {
                            "type": "string",
                            "enum": list(spec.categories),
                            "description": steering.ARG_CATEGORY,
                        }
                    }
                ),
            )
        )
    if spec.providers:
        tools.append(
            ToolDefinition(
                name=RESOLVE_PROVIDER,
                description=steering.RESOLVE_PROVIDER,
                parameters=_object(
                    {"spoken_name": {"type": "string", "minLength": 1, "description": steering.ARG_SPOKEN_NAME}}
                ),
            )
        )
    tools.append(
        ToolDefinition(
            name=SET_LANGUAGE,
            description=steering.SET_LANGUAGE,
            parameters=_object(
                {"language": {"type": "string", "pattern": "^[a-z]{2}$", "description": steering.ARG_LANGUAGE}}
            ),
        )
    )
    tools.append(
        ToolDefinition(
            name=END_CALL,
            description=steering.END_CALL,
            parameters=_object({"reason": {"type": "string", "description": steering.ARG_REASON}}),
        )
    )
    return tools
