"""Side-by-side benchmarks of waypoint against LangGraph: ``python -m benchmarks --quick``."""
