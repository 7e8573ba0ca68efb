"""The read planner: a query's root fields compiled into one SQL statement each, returning
the response's JSON (graphql/planner/compile.py), hooked in as a schema extension and as a
shortcut of the HTTP handler (graphql/planner/extension.py); Strawberry executes whatever it
does not cover."""

from callbox.graphql.planner.extension import (
    PlannedDocuments,
    ReadPlanner,
    executor_only,
    plan_operation,
    planned_answer,
    planner_on,
)

__all__ = [
    "PlannedDocuments",
    "ReadPlanner",
    "executor_only",
    "plan_operation",
    "planned_answer",
    "planner_on",
]
