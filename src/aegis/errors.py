"""One exception tree for everything Aegis raises.

Adapters translate upstream failures into these *once*, at their edge; the HTTP
gateway maps them to OpenAI-shaped error bodies in one place
(``aegis.gateway.errors``). Nothing else inspects upstream status codes.

    AegisError
    ├── ConfigError                  bad configuration (names the key path)
    ├── InvalidRequest               the client's request is wrong           400
    │   ├── ModelNotFound            no such model / route                   404
    │   └── PayloadTooLarge          body over the configured limit          413
    ├── AuthenticationRequired       missing / wrong gateway key             401
    ├── PermissionDenied             not from here (admin off loopback)      403
    ├── PolicyRefusal                a hard constraint refused it            403
    ├── BudgetExceeded               a budget with on_exceed=reject          429
    ├── NoCandidateAvailable         every eligible provider is down         503
    └── ProviderError                an upstream call failed (names the provider)
        ├── RateLimited              429, carries retry_after                429
        ├── UpstreamAuthError        upstream rejected our key               502
        ├── UpstreamBadRequest       upstream says the request is invalid    400
        │   └── ContextTooLong       prompt + output exceed the window       400
        ├── ContentFiltered          upstream safety filter refused          400
        ├── ModelUnavailable         upstream lacks the model (a 404 for it) 404
        ├── UpstreamTimeout          connect / first byte / total / idle     504
        ├── UpstreamUnavailable      5xx, refused or reset connection        502
        └── InvalidUpstreamResponse  malformed JSON / truncated stream       502

``retryable`` says whether the *same* request could succeed on a retry or on
another candidate; request errors are never retried. Whether the *next* candidate
is tried is a separate question (``aegis.resilience.retry``): ``ModelUnavailable``
is not retried, since the same server still lacks the model, but falls back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aegis.records import Served


class AegisError(Exception):
    """Base of every error Aegis raises on purpose."""

    status: int = 500
    type: str = "server_error"
    code: str = "internal_error"
    retryable: bool = False

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.decision: Mapping[str, Any] | None = None  # the routing record, for refusals
        self.served: Served | None = None  # the last attempt's candidate, once one was tried


class ConfigError(AegisError):
    code = "config_error"


class InvalidRequest(AegisError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"


class ModelNotFound(InvalidRequest):
    status = 404
    code = "model_not_found"


class PayloadTooLarge(InvalidRequest):
    status = 413
    code = "payload_too_large"


class AuthenticationRequired(AegisError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(AegisError):
    """The caller may not use this endpoint from where it connects; no key would change that."""

    status = 403
    type = "permission_error"
    code = "permission_denied"


class PolicyRefusal(AegisError):
    """A hard constraint (privacy, airgap, allow-list) left no candidate."""

    status = 403
    type = "permission_error"
    code = "policy_refusal"

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class BudgetExceeded(AegisError):
    status = 429
    type = "insufficient_quota"
    code = "budget_exceeded"

    def __init__(self, message: str, *, budget: str) -> None:
        super().__init__(message)
        self.budget = budget


class NoCandidateAvailable(AegisError):
    """Every eligible candidate failed or is known to be down."""

    status = 503
    type = "service_unavailable"
    code = "no_provider_available"


class ProviderError(AegisError):
    """An upstream call failed. ``provider`` is the configured name, never a key."""

    status = 502
    type = "upstream_error"
    code = "upstream_error"
    kind: str = "upstream_error"  # short label for ledger rows and metrics
    # seconds the upstream asked us to wait (Retry-After on a 429, or a 503's)
    retry_after: float | None = None

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        upstream_status: int | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(f"{provider}: {message}", param=param)
        self.provider = provider
        self.upstream_status = upstream_status


class RateLimited(ProviderError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"
    kind = "rate_limited"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        upstream_status: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, upstream_status=upstream_status)
        self.retry_after = retry_after


class UpstreamAuthError(ProviderError):
    code = "upstream_authentication_failed"
    kind = "auth"


class UpstreamBadRequest(ProviderError):
    status = 400
    type = "invalid_request_error"
    code = "invalid_request"
    kind = "bad_request"


class ContextTooLong(UpstreamBadRequest):
    code = "context_length_exceeded"
    kind = "context_too_long"


class ContentFiltered(ProviderError):
    status = 400
    type = "invalid_request_error"
    code = "content_filter"
    kind = "content_filtered"


class ModelUnavailable(ProviderError):
    """The upstream server does not have the model (an Ollama tag never pulled): the
    configuration's fault, not the request's, so another candidate may serve it; a
    client that pinned the model gets this, naming the model and the fix."""

    status = 404
    type = "invalid_request_error"
    code = "model_not_available"
    kind = "model_unavailable"


class UpstreamTimeout(ProviderError):
    status = 504
    type = "timeout_error"
    code = "upstream_timeout"
    kind = "timeout"
    retryable = True
    phase: str | None = None  # "connect": the request never left; else it may be running

    @property
    def outcome_unknown(self) -> bool:
        """The upstream has the request and gave no answer: it may finish (and bill) it."""
        return self.phase != "connect" and self.upstream_status is None


class UpstreamUnavailable(ProviderError):
    code = "upstream_unavailable"
    kind = "unavailable"
    retryable = True


class InvalidUpstreamResponse(ProviderError):
    code = "invalid_upstream_response"
    kind = "invalid_response"
    retryable = True
