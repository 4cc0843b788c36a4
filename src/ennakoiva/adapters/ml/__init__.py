"""Statistical and machine-learning estimators of the analytics ladder (rungs 4-7).

A reusable library: every estimator takes a pandas frame (or arrays) and column names, so the
synthetic city, a city's own extract (``--data FILE``) and Employment service 2.0 all use the same
code. Nothing here reads a database: the engine builds the frame and hands over Arrow tables.
"""

__all__: list[str] = []
