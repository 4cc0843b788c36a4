"""The few health columns the criteria read, as a hand-made schema for small hand-written cases."""

from ennakoiva.adapters.engine.criteria_fixtures import CRITERIA_COLUMNS_DDL

CRITERIA_DDL = list(CRITERIA_COLUMNS_DDL)
