"""Reports, drill-downs, maps and open-data releases: aggregates that passed disclosure control."""

from ennakoiva.adapters.reports.drilldown import Drilldown, DrilldownRow, build_query, protect_groups
from ennakoiva.adapters.reports.spec import AnalyticsSpec, file_spec, load_spec, load_specs

__all__ = ["AnalyticsSpec", "Drilldown", "DrilldownRow", "build_query", "file_spec", "load_spec", "load_specs",
           "protect_groups"]
