"""release-tracker: watches AI releases and their openness."""

__version__ = "0.1.0"
