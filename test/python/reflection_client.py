#!/usr/bin/env python3
"""A strict gRPC client that knows nothing but a server's address.

It discovers the services through server reflection alone and builds every file the server sends into a
protobuf DescriptorPool (the C++ pool in Debian's python3-protobuf). That is the check grpcurl and the Go,
C++ and Python runtimes make: a descriptor with a wrong name, a missing dependency or an unresolved type
fails here. Needs only grpcio and protobuf (Debian: python3-grpcio python3-protobuf).

Usage:
  reflection_client.py ADDRESS list
  reflection_client.py ADDRESS call full.package.Service/Method 'JSON' [--metadata key=value ...]

Output: JSON on stdout. Exit status: 0 done; 2 bad usage; 3 the call failed (its status code name and details
on stderr); 4 reflection failed or the server's descriptors do not build.
"""

import argparse
import json
import queue
import sys
from collections import namedtuple

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

EXIT_RPC_ERROR = 3
EXIT_REFLECTION_ERROR = 4
REFLECTION_PACKAGES = {"v1": "grpc.reflection.v1", "v1alpha": "grpc.reflection.v1alpha"}
CALL_TIMEOUT_SECONDS = 30

# --- The reflection protocol, declared here so that no generated module is needed. -------------------------
# Same messages and field numbers as grpc/reflection/v1/reflection.proto (v1alpha is identical on the wire).

Field = namedtuple("Field", "name number type oneof repeated", defaults=(None, False))
_T = descriptor_pb2.FieldDescriptorProto

REFLECTION_MESSAGES = {
    "ServerReflectionRequest": (
        Field("host", 1, _T.TYPE_STRING),
        Field("file_by_filename", 3, _T.TYPE_STRING, "message_request"),
        Field("file_containing_symbol", 4, _T.TYPE_STRING, "message_request"),
        Field("file_containing_extension", 5, "ExtensionRequest", "message_request"),
        Field("all_extension_numbers_of_type", 6, _T.TYPE_STRING, "message_request"),
        Field("list_services", 7, _T.TYPE_STRING, "message_request"),
    ),
    "ExtensionRequest": (
        Field("containing_type", 1, _T.TYPE_STRING),
        Field("extension_number", 2, _T.TYPE_INT32),
    ),
    "ServerReflectionResponse": (
        Field("valid_host", 1, _T.TYPE_STRING),
        Field("original_request", 2, "ServerReflectionRequest"),
        Field("file_descriptor_response", 4, "FileDescriptorResponse", "message_response"),
        Field("all_extension_numbers_response", 5, "ExtensionNumberResponse", "message_response"),
        Field("list_services_response", 6, "ListServiceResponse", "message_response"),
        Field("error_response", 7, "ErrorResponse", "message_response"),
    ),
    "FileDescriptorResponse": (Field("file_descriptor_proto", 1, _T.TYPE_BYTES, repeated=True),),
    "ExtensionNumberResponse": (
        Field("base_type_name", 1, _T.TYPE_STRING),
        Field("extension_number", 2, _T.TYPE_INT32, repeated=True),
    ),
    "ListServiceResponse": (Field("service", 1, "ServiceResponse", repeated=True),),
    "ServiceResponse": (Field("name", 1, _T.TYPE_STRING),),
    "ErrorResponse": (
        Field("error_code", 1, _T.TYPE_INT32),
        Field("error_message", 2, _T.TYPE_STRING),
    ),
}


def reflection_file(package):
    """The FileDescriptorProto of the reflection protocol in `package`."""
    file = descriptor_pb2.FileDescriptorProto(
        name=package.replace(".", "/") + "/reflection.proto", package=package, syntax="proto3"
    )
    for message_name, fields in REFLECTION_MESSAGES.items():
        message = file.message_type.add(name=message_name)
        oneofs = []
        for field in fields:
            proto = message.field.add(name=field.name, number=field.number, json_name=_json_name(field.name))
            proto.label = _T.LABEL_REPEATED if field.repeated else _T.LABEL_OPTIONAL
            if isinstance(field.type, str):
                proto.type = _T.TYPE_MESSAGE
                proto.type_name = f".{package}.{field.type}"
            else:
                proto.type = field.type
            if field.oneof is not None:
                if field.oneof not in oneofs:
                    oneofs.append(field.oneof)
                    message.oneof_decl.add(name=field.oneof)
                proto.oneof_index = oneofs.index(field.oneof)
    return file


def _json_name(name):
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def message_class(descriptor):
    """The message class of a descriptor, on protobuf 4.21 (Debian 12) as on newer releases."""
    get_message_class = getattr(message_factory, "GetMessageClass", None)
    if get_message_class is not None:
        return get_message_class(descriptor)
    return message_factory.MessageFactory(descriptor.file.pool).GetPrototype(descriptor)


class ReflectionError(Exception):
    """Reflection answered an error_response, or its answers do not build."""


class ReflectionSession:
    """One ServerReflectionInfo stream; each request's answer is read before the next request is sent."""

    _END = object()

    def __init__(self, channel, package):
        pool = descriptor_pool.DescriptorPool()
        pool.AddSerializedFile(reflection_file(package).SerializeToString())
        self._request_class = message_class(pool.FindMessageTypeByName(f"{package}.ServerReflectionRequest"))
        response_class = message_class(pool.FindMessageTypeByName(f"{package}.ServerReflectionResponse"))
        stream = channel.stream_stream(
            f"/{package}.ServerReflection/ServerReflectionInfo",
            request_serializer=self._request_class.SerializeToString,
            response_deserializer=response_class.FromString,
        )
        self._requests = queue.Queue()
        self._responses = stream(iter(self._requests.get, self._END), timeout=CALL_TIMEOUT_SECONDS)

    def ask(self, **request_fields):
        self._requests.put(self._request_class(**request_fields))
        response = next(self._responses)
        if response.WhichOneof("message_response") == "error_response":
            error = response.error_response
            raise ReflectionError(f"reflection error {error.error_code}: {error.error_message}")
        return response

    def close(self):
        self._requests.put(self._END)
        try:
            for _ in self._responses:
                pass
        except grpc.RpcError:
            pass  # The stream had already failed; that failure is what gets reported.


def open_reflection(channel, version):
    """A session on the requested reflection version; `auto` falls back to v1alpha when v1 is unimplemented."""
    versions = ["v1", "v1alpha"] if version == "auto" else [version]
    for candidate in versions:
        session = ReflectionSession(channel, REFLECTION_PACKAGES[candidate])
        try:
            names = [service.name for service in session.ask(list_services="").list_services_response.service]
            return session, names
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.UNIMPLEMENTED or candidate == versions[-1]:
                raise
    raise AssertionError("unreachable")


class ReflectedPool:
    """A DescriptorPool filled only from what reflection sends, built strictly, dependencies first."""

    def __init__(self, session):
        self.pool = descriptor_pool.DescriptorPool()
        self._session = session
        self._received = {}

    def load_symbol(self, symbol):
        response = self._session.ask(file_containing_symbol=symbol)
        names = []
        for raw in response.file_descriptor_response.file_descriptor_proto:
            proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
            self._received.setdefault(proto.name, (proto, raw))
            names.append(proto.name)
        for name in names:
            self._build(name, [])

    def _build(self, name, importers):
        if self._known(name):
            return
        if name not in self._received:
            chain = " <- ".join(reversed(importers))
            raise ReflectionError(f"the server did not send {name}, imported by {chain}")
        proto, raw = self._received[name]
        for dependency in proto.dependency:
            self._build(dependency, importers + [name])
        try:
            # The server's bytes, unchanged: exactly what a strict client gets to build.
            self.pool.AddSerializedFile(raw)
        except (TypeError, ValueError) as error:
            raise ReflectionError(f"{name} does not build into a descriptor pool: {error}") from error

    def _known(self, name):
        try:
            self.pool.FindFileByName(name)
            return True
        except KeyError:
            return False


def describe_service(service):
    proto = descriptor_pb2.ServiceDescriptorProto()
    service.CopyToProto(proto)
    return {
        "name": service.full_name,
        "file": service.file.name,
        "methods": [
            {
                "name": method.name,
                "full_name": f"{service.full_name}/{method.name}",
                "input_type": method.input_type.lstrip("."),
                "output_type": method.output_type.lstrip("."),
                "client_streaming": method.client_streaming,
                "server_streaming": method.server_streaming,
            }
            for method in proto.method
        ],
    }


def list_services(session, names):
    reflected = ReflectedPool(session)
    services = []
    for name in names:
        reflected.load_symbol(name)
        services.append(describe_service(reflected.pool.FindServiceByName(name)))
    print(json.dumps({"services": services}, indent=2))


def call_method(channel, session, target, request_json, metadata):
    service_name, _, method_name = target.lstrip("/").partition("/")
    if not method_name:
        raise ReflectionError(f"{target}: expected full.package.Service/Method")
    reflected = ReflectedPool(session)
    reflected.load_symbol(service_name)
    method = reflected.pool.FindServiceByName(service_name).methods_by_name.get(method_name)
    if method is None:
        raise ReflectionError(f"{service_name} has no method {method_name}")
    request_class = message_class(method.input_type)
    response_class = message_class(method.output_type)
    request = json_format.Parse(request_json, request_class())
    path = f"/{service_name}/{method_name}"
    options = dict(request_serializer=request_class.SerializeToString, response_deserializer=response_class.FromString)
    if _is_server_streaming(method):
        # One JSON document per line, one line per message received.
        for response in channel.unary_stream(path, **options)(request, metadata=metadata, timeout=CALL_TIMEOUT_SECONDS):
            print(json_format.MessageToJson(response, preserving_proto_field_name=True, indent=None))
        return
    response = channel.unary_unary(path, **options)(request, metadata=metadata, timeout=CALL_TIMEOUT_SECONDS)
    print(json_format.MessageToJson(response, preserving_proto_field_name=True))


def _is_server_streaming(method):
    proto = descriptor_pb2.MethodDescriptorProto()
    method.CopyToProto(proto)
    if proto.client_streaming:
        raise ReflectionError(f"{method.full_name} is client-streaming; only unary and server-streaming calls are supported")
    return proto.server_streaming


def parse_metadata(parser, pairs):
    metadata = []
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            parser.error(f"--metadata {pair!r}: expected key=value")
        metadata.append((key.lower(), value))
    return metadata


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description="Discover and call a gRPC server by reflection alone.")
    parser.add_argument("address", help="host:port")
    parser.add_argument("--reflection", choices=["auto", "v1", "v1alpha"], default="auto")
    modes = parser.add_subparsers(dest="mode", required=True)
    modes.add_parser("list", help="print the services and their methods as JSON")
    call = modes.add_parser("call", help="call a unary or server-streaming method with a JSON request")
    call.add_argument("method", help="full.package.Service/Method")
    call.add_argument("request", help="the request message as JSON")
    call.add_argument("--metadata", action="append", default=[], metavar="KEY=VALUE")
    arguments = parser.parse_args(argv)
    arguments.metadata = parse_metadata(parser, getattr(arguments, "metadata", []))
    return arguments


def main(argv):
    arguments = parse_arguments(argv)
    with grpc.insecure_channel(arguments.address) as channel:
        try:
            session, names = open_reflection(channel, arguments.reflection)
            try:
                if arguments.mode == "list":
                    list_services(session, names)
                else:
                    call_method(channel, session, arguments.method, arguments.request, arguments.metadata)
            finally:
                session.close()
        except grpc.RpcError as error:
            print(f"{error.code().name}: {error.details()}", file=sys.stderr)
            return EXIT_RPC_ERROR
        except (ReflectionError, json_format.ParseError) as error:
            print(f"reflection_client: {error}", file=sys.stderr)
            return EXIT_REFLECTION_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
