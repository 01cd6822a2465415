"""OTLP/gRPC receiver (``grpc.aio``) serving the three OTLP ``Export`` methods.

Same limits as the HTTP receiver: gRPC itself refuses messages over the body limit
(``RESOURCE_EXHAUSTED``, checked after decompression), back-pressure is ``RESOURCE_EXHAUSTED``
with a ``RetryInfo`` detail, and a bad token is ``UNAUTHENTICATED``.
"""

from __future__ import annotations

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from sidecar.otlp.signals import Signal
from sidecar.pipeline.consumer import BackPressure
from sidecar.receivers.base import Receiver
from sidecar.receivers.ingest import PipelineError, Refused

#: The OTLP service that carries each signal (what opentelemetry-proto's generated stubs register).
_SERVICES = {
    Signal.TRACES: "opentelemetry.proto.collector.trace.v1.TraceService",
    Signal.METRICS: "opentelemetry.proto.collector.metrics.v1.MetricsService",
    Signal.LOGS: "opentelemetry.proto.collector.logs.v1.LogsService",
}


class _Service:
    """One ``Export`` method for one signal."""

    def __init__(self, signal: Signal, receiver: OtlpGrpcReceiver) -> None:
        self.signal = signal
        self.receiver = receiver

    def handler(self) -> grpc.GenericRpcHandler:
        """Registered like the generated stubs, but the request arrives as its wire bytes.

        Decoding is the handler's job, not gRPC's: the token is checked before a byte is
        decoded, the item count and memory are bounded before the objects exist, and a body
        that does not decode is ``INVALID_ARGUMENT`` (counted ``bad_request``, as HTTP's 400)
        instead of gRPC's ``UNKNOWN`` with a logged traceback.
        """
        method = grpc.unary_unary_rpc_method_handler(
            self.Export, request_deserializer=bytes, response_serializer=self.signal.response_type.SerializeToString)
        return grpc.method_handlers_generic_handler(_SERVICES[self.signal], {"Export": method})

    async def Export(self, body: bytes, context: grpc.aio.ServicerContext) -> Message:
        ingest = self.receiver.ingest
        metadata = dict(context.invocation_metadata() or ())
        if not self.receiver.token.allows(metadata.get("authorization")):
            ingest.outcome(self.signal, "unauthenticated")
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        try:
            request = await ingest.decode(self.signal, body, as_json=False)
            # As over HTTP: a clean trace request goes on as its own bytes when the chain takes them.
            response = await ingest.accept(self.signal, body, request)
        except Refused as exc:
            # Without RetryInfo, RESOURCE_EXHAUSTED tells an OTLP client not to send this request again.
            code = grpc.StatusCode.INVALID_ARGUMENT if exc.outcome == "bad_request" else grpc.StatusCode.RESOURCE_EXHAUSTED
            await context.abort(code, str(exc))
        except BackPressure as exc:
            message = f"sidecar is under back-pressure ({exc.reason}); retry later"
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, message,
                                _retry_info(grpc.StatusCode.RESOURCE_EXHAUSTED, message, exc.retry_after_s))
        except PipelineError:
            await context.abort(grpc.StatusCode.INTERNAL, "internal error in the sidecar pipeline")
        return response


def _retry_info(code: grpc.StatusCode, message: str, delay_s: float) -> tuple[tuple[str, bytes], ...]:
    """``grpc-status-details-bin`` carrying ``RetryInfo``, which OTLP clients read as the back-off hint."""
    info = error_details_pb2.RetryInfo(retry_delay=Duration(seconds=int(delay_s), nanos=int(delay_s % 1 * 1e9)))
    status = status_pb2.Status(code=code.value[0], message=message)
    status.details.add().Pack(info)
    return (("grpc-status-details-bin", status.SerializeToString()),)


class OtlpGrpcReceiver(Receiver):
    name = "otlp_grpc"
    _server: grpc.aio.Server | None = None

    async def start(self) -> None:
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", self.max_body_bytes),
                ("grpc.so_reuseport", 0),
            ]
        )
        server.add_generic_rpc_handlers(tuple(_Service(signal, self).handler() for signal in Signal))
        host = f"[{self.host}]" if ":" in self.host else self.host
        try:
            bound = server.add_insecure_port(f"{host}:{self.port}")
        except RuntimeError:  # newer grpcio raises where older ones returned 0
            bound = 0
        if bound == 0:
            raise OSError(98, f"OTLP/gRPC receiver cannot listen on {self.host}:{self.port}")
        self.port = bound
        await server.start()
        self._server = server
        self.listening = True

    async def stop(self, grace_s: float = 2.0) -> None:
        self.listening = False
        if self._server is not None:
            await self._server.stop(grace_s)
            self._server = None
