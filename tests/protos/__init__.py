"""Test helper: compile the ``.proto`` files in this folder and load the generated modules.

Tests encode messages with the official ``protobuf`` library as an independent
oracle for the feed's own wire readers::

    from protos import load_proto, message_strategy
    wire_test = load_proto("wire_test")        # tests/protos/wire_test.proto
    msg = wire_test.AllTypes(f_int64=-1)

Every ``.proto`` under this folder is compiled together with
``grpc_tools.protoc`` (include path: this folder plus protobuf's well-known
types) into one temporary directory, once per session, so schemas that
``import`` each other (e.g. MEXC's ``PushDataV3ApiWrapper.proto``) work:
``load_proto("sub/Name")`` loads ``sub/Name.proto``.
"""
from __future__ import annotations

import atexit
import importlib
import importlib.resources
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["PROTO_DIR", "load_proto", "message_strategy", "tag", "varint"]

PROTO_DIR = Path(__file__).resolve().parent
_out_dir: Path | None = None


def _compile_all() -> Path:
    global _out_dir
    if _out_dir is not None:
        return _out_dir
    from grpc_tools import protoc  # imported lazily: only tests that use protobuf need it

    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    if not protos:
        raise FileNotFoundError(f"no .proto files under {PROTO_DIR}")
    out = Path(tempfile.mkdtemp(prefix="feedhandler-protos-"))
    atexit.register(shutil.rmtree, out, True)
    well_known = importlib.resources.files("grpc_tools") / "_proto"
    args = ["protoc", f"-I{PROTO_DIR}", f"-I{well_known}", f"--python_out={out}", *protos]
    rc = protoc.main(args)
    if rc != 0:
        raise RuntimeError(f"protoc failed with exit code {rc} on {protos} (see its stderr above)")
    # The generated modules import each other by their path under the include root.
    sys.path.insert(0, str(out))
    _out_dir = out
    return out


def varint(v: int) -> bytes:
    """``v`` (taken modulo 2**64) as a base-128 varint, for hand-built wire bytes."""
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    """The tag of field ``number`` with ``wire_type``."""
    return varint((number << 3) | wire_type)


def load_proto(name: str) -> ModuleType:
    """Return the generated ``_pb2`` module of ``tests/protos/<name>.proto``.

    Parameters
    ----------
    name : str
        The proto file's path under ``tests/protos`` without ``.proto``,
        e.g. ``"wire_test"``.

    Returns
    -------
    module
        The ``<name>_pb2`` module (cached: every call returns the same module).
    """
    if not (PROTO_DIR / f"{name}.proto").is_file():
        raise FileNotFoundError(f"{PROTO_DIR / (name + '.proto')} does not exist")
    _compile_all()
    return importlib.import_module(name.replace("/", ".") + "_pb2")


def message_strategy(message_class: Any, max_depth: int = 2, max_repeated: int = 5) -> Any:
    """A hypothesis strategy for random instances of a generated message class.

    Every field gets a random value over its full range (negative int32/int64,
    NaN/inf doubles, float32 values, any unicode text, unknown enum values);
    each oneof (and proto3 ``optional`` field) holds at most one member;
    nested messages stop at ``max_depth``; repeated fields hold at most
    ``max_repeated`` items.
    """
    from google.protobuf import message_factory
    from google.protobuf.descriptor import FieldDescriptor as F
    from hypothesis import strategies as st

    def ints(bits: int, signed: bool) -> Any:
        if signed:
            return st.integers(-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
        return st.integers(0, 2**bits - 1)

    scalar = {
        F.TYPE_DOUBLE: st.floats(),
        F.TYPE_FLOAT: st.floats(width=32),
        F.TYPE_INT32: ints(32, True),
        F.TYPE_SINT32: ints(32, True),
        F.TYPE_SFIXED32: ints(32, True),
        F.TYPE_ENUM: ints(32, True),  # proto3 enums are open: unknown values are kept
        F.TYPE_INT64: ints(64, True),
        F.TYPE_SINT64: ints(64, True),
        F.TYPE_SFIXED64: ints(64, True),
        F.TYPE_UINT32: ints(32, False),
        F.TYPE_FIXED32: ints(32, False),
        F.TYPE_UINT64: ints(64, False),
        F.TYPE_FIXED64: ints(64, False),
        F.TYPE_BOOL: st.booleans(),
        F.TYPE_STRING: st.text(max_size=20),
        F.TYPE_BYTES: st.binary(max_size=20),
    }

    def build(cls: Any, depth: int) -> Any:
        desc = cls.DESCRIPTOR

        def value(fd: Any) -> Any:
            if fd.type == F.TYPE_MESSAGE:
                if depth >= max_depth:
                    return st.none() if not fd.is_repeated else st.just([])
                inner = build(message_factory.GetMessageClass(fd.message_type), depth + 1)
                return st.lists(inner, max_size=max_repeated) if fd.is_repeated else st.none() | inner
            base = scalar[fd.type]
            return st.lists(base, max_size=max_repeated) if fd.is_repeated else base

        plain = [fd for fd in desc.fields if fd.containing_oneof is None]
        oneofs = list(desc.oneofs)

        @st.composite
        def draw(draw_: Any) -> Any:
            msg = cls()
            fields = list(plain)
            for oneof in oneofs:
                choice = draw_(st.sampled_from([None, *oneof.fields]))
                if choice is not None:
                    fields.append(choice)
            for fd in fields:
                v = draw_(value(fd))
                if fd.type == F.TYPE_MESSAGE:
                    if fd.is_repeated:
                        for item in v:
                            getattr(msg, fd.name).add().CopyFrom(item)
                    elif v is not None:
                        getattr(msg, fd.name).CopyFrom(v)
                    elif fd.containing_oneof is not None:
                        getattr(msg, fd.name).SetInParent()  # chosen oneof member: present, empty
                elif fd.is_repeated:
                    getattr(msg, fd.name).extend(v)
                else:
                    setattr(msg, fd.name, v)
            return msg

        return draw()

    return build(message_class, 0)
