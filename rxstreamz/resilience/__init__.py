"""Resilience.

``retry_`` (``_retry``), ``circuit_breaker`` and ``CircuitBreaker`` (``_breaker``),
``dead_letter`` (``_dead_letter``), and the one-item-at-a-time runner they share
(``_runner``). The modules are private: this package is their surface. Users import the
processors and their stats from ``rxstreamz``.
"""

from rxstreamz.resilience._breaker import (
    CircuitBreaker,
    CircuitBreakerOperator,
    CircuitBreakerOperatorStats,
    CircuitBreakerStats,
    CircuitState,
    circuit_breaker,
)
from rxstreamz.resilience._dead_letter import DeadLetterOperator, DeadLetterStats, Sink, dead_letter
from rxstreamz.resilience._retry import Retry, RetryStats, retry_

__all__ = [
    "CircuitBreaker",
    "CircuitBreakerOperator",
    "CircuitBreakerOperatorStats",
    "CircuitBreakerStats",
    "CircuitState",
    "DeadLetterOperator",
    "DeadLetterStats",
    "Retry",
    "RetryStats",
    "Sink",
    "circuit_breaker",
    "dead_letter",
    "retry_",
]
