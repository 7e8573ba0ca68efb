"""Running Callbox inside another application: the ASGI middleware, the Litestar plugin and
the lifespan context manager. Import them from :mod:`callbox`; these modules are internal.
"""
