"""Operations: health and readiness, Prometheus metrics, structured logs, retention.

:func:`callbox.ops.components.build_ops` gives ``create_app`` everything to register: the
``/health``, ``/ready`` and ``/metrics`` routes, the request-id and callback-log middleware,
and a lifespan for the in-process purge job.
"""
