"""logwire for Python: stream a backend's structured logs to the logwire broker.

    import logwire
    logs = logwire.Producer("api-server")
    logs.log("ERROR", "Payment gateway timeout", fields={"timeoutMs": 5000})

or, through the standard logging module, ``logging.getLogger().addHandler(
logwire.Handler(service="api-server"))``. See producer/python/README.md.
"""

# The code flatc generates from schema/logwire.fbs is the subpackage logwire.wire, and it
# lives in the build tree, not here: extend_path lets every `logwire` directory on
# sys.path contribute to this package.
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)  # noqa: F821 - set by the import system

from ._version import __version__  # noqa: E402
from .context import RequestContext, current_request, request_context  # noqa: E402
from .handler import Handler  # noqa: E402
from .levels import Level  # noqa: E402
from .producer import Producer  # noqa: E402

__all__ = ["Handler", "Level", "Producer", "RequestContext", "current_request",
           "request_context", "__version__"]
