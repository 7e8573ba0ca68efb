"""The read planner: a query's root fields compiled into one SQL statement each, returning
the response's JSON (graphql/planner/compile.py), hooked in as a schema extension
(graphql/planner/extension.py); Strawberry executes whatever it does not cover."""

from callbox.graphql.planner.extension import ReadPlanner, executor_only

__all__ = ["ReadPlanner", "executor_only"]
