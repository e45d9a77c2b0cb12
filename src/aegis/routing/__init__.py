"""Where a request may go (hard constraints) and where it should go (strategy)."""

from aegis.routing.constraints import Limits
from aegis.routing.decision import Candidate, Decision, Exclusion, Profile, Task
from aegis.routing.latency import LatencyStats
from aegis.routing.policy import RoutingPolicy, build_policy
from aegis.routing.router import Router

__all__ = [
    "Candidate",
    "Decision",
    "Exclusion",
    "LatencyStats",
    "Limits",
    "Profile",
    "Router",
    "RoutingPolicy",
    "Task",
    "build_policy",
]
