"""Recordings people already have, read by auto-detection into the one ``Record`` stream replay uses.

Formats (sniffed from the first bytes, never from the file name alone):

``fhrec``
    This project's own file (:mod:`feedhandler.recording.format`), plain or zstd-compressed
    (``.fhrec.zst``, rotated segments included, see :mod:`feedhandler.recording.compressed`).
``cryptofeed-v1``
    cryptofeed's raw capture (``raw_data_collection``): ``EXCH.ws.N.M`` text files with a
    ``URL <-> TS`` connect line, ``URL <- TS: FRAME`` for frames the client sent and ``TS: FRAME``
    for received frames; the REST answers are in the sibling ``EXCH.http.N.M`` (``URL -> TS: BODY``),
    read and merged by receive time automatically.
``cryptofeed-v3``
    cryptofeed v3's capture ``EXCH.jsonl.zst``: one JSON object a line, ``t`` one of ``header``,
    ``http``, ``connect``, ``send``, ``recv`` (``ts`` in seconds, ``data`` the frame text).
``hftbacktest``
    hftbacktest's collector: gzip (or plain) text, ``<recv_ns> <frame>`` a line; a REST depth
    snapshot appears inline as a bare ``{"lastUpdateId":...}`` line.
``frame``
    One captured binary WebSocket payload, as its bytes (``.bin``) or as hex text (``.hex``): a MEXC
    ``PushDataV3ApiWrapper`` (field 1, the channel ``spot@...``), as test suites keep them. No receive time.
``frame-lines``
    Captured text frames (or REST bodies) one per line, each a JSON object or array, as test suites keep
    them (crypto-crawler-rs's ``raw_msg`` samples). No receive time (``recv_ns`` 0); MEXC futures / spot v2
    pushes (``"channel":"push.*"``) go to :class:`~feedhandler.exchanges.mexc.legacy_json.MexcContractJsonParser`.

The exchange comes from the recording (the fhrec header, cryptofeed's exchange id, the WebSocket
URL) or, for hftbacktest files, from the frames themselves; the parser is then built by
``WebSocketStrategyFactory`` like a live feed's, so a replay runs the same decoder, sync and books.
Foreign recordings carry wall-clock receive times: their ``recv_ns`` is Unix ns.
"""
from __future__ import annotations

import gzip
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Sequence
from urllib.parse import parse_qs, urlsplit

from .compressed import zstd_reader
from .format import KIND_SNAPSHOT, KIND_TEXT, MAGIC, Record, RecordingError, read_recording

__all__ = ["Recording", "open_recording", "detect_format", "FORMATS", "KIND_SENT", "CRYPTOFEED_EXCHANGES"]

#: Frames the client sent (subscriptions): kept so a replay can count them, never fed to the parser.
KIND_SENT = 3

FORMATS = ("fhrec", "cryptofeed-v1", "cryptofeed-v3", "hftbacktest", "frame", "frame-lines")
#: ``protocol`` option of a MEXC recording of the retired spot v3 JSON push (hftbacktest's MEXC files)
MEXC_LEGACY_JSON = "json-v3"
#: ``protocol`` option of MEXC futures (contract) JSON pushes and retired spot v2 pushes
MEXC_CONTRACT_JSON = "contract-json"

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_FRAME_FILE = 1 << 20  # a "frame" file is one WebSocket payload
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

#: cryptofeed exchange ids (its ``feeds`` constants, the prefix of its capture file names) ->
#: (factory name, factory options). Source: cryptofeed/defines.py (BINANCE_FUTURES is USD-M, BINANCE_DELIVERY
#: COIN-M).
CRYPTOFEED_EXCHANGES: dict[str, tuple[str, dict[str, Any]]] = {
    "BINANCE": ("binance", {}),
    "BINANCE_US": ("binance", {}),
    "BINANCE_FUTURES": ("binance", {"market": "usdm"}),
    "BINANCE_DELIVERY": ("binance", {"market": "coinm"}),
    "GATEIO": ("gateio", {}),
    "GATEIO_FUTURES": ("gateio", {"market": "usdt"}),  # USDT-settled perpetuals (fx-ws.gateio.ws/v4/ws/usdt)
    "MEXC": ("mexc", {}),
    "OKX": ("okx", {}),
    "BYBIT": ("bybit", {}),
    "COINBASE": ("coinbase", {}),
}

#: WebSocket host -> (factory name, options), for recordings whose exchange id is unknown.
_HOSTS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("fstream.binance", "binance", {"market": "usdm"}),
    ("dstream.binance", "binance", {"market": "coinm"}),
    ("binance", "binance", {}),
    ("fx-ws.gateio.ws", "gateio", {"market": "usdt"}),
    ("gateio.ws", "gateio", {}),
    ("mexc.com", "mexc", {}),
    ("okx.com", "okx", {}),
    ("bybit.com", "bybit", {}),
    ("coinbase.com", "coinbase", {}),
)

#: REST snapshot bodies: the update-id field of each exchange's depth answer.
_SNAPSHOT_ID_KEYS = ("lastUpdateId", "id", "version", "sequence", "u", "seqId")
#: ... and the query parameter naming the symbol.
_SYMBOL_PARAMS = ("symbol", "currency_pair", "instId", "product_id", "contract")


def _cryptofeed_id(name: str) -> str:
    """``BINANCE_FUTURES`` from ``BINANCE_FUTURES.ws.1.0`` / ``BYBIT.jsonl.zst`` / ``OKX.0``."""
    return name.split(".", 1)[0].upper()


def exchange_from_url(url: str) -> tuple[str, dict[str, Any]] | None:
    host = urlsplit(url).netloc.lower()
    for needle, exchange, options in _HOSTS:
        if needle in host:
            return exchange, dict(options)
    return None


def snapshot_from_rest(url: str, body: bytes | str, symbol: str | None = None) -> dict[str, Any] | None:
    """A recorded REST depth answer as ``{"symbol", "last_update_id", "bids", "asks"}``, None if not a depth answer.

    Prices and sizes go through ``float()`` (bit-identical to the stream decoders' parser).
    """
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("result"), dict) and "bids" not in doc:
        doc = doc["result"]
    if not isinstance(doc, dict) or not isinstance(doc.get("bids"), list) or not isinstance(doc.get("asks"), list):
        return None
    update_id = next((doc[k] for k in _SNAPSHOT_ID_KEYS if isinstance(doc.get(k), int)), None)
    if update_id is None:
        return None
    if symbol is None and url:
        query = parse_qs(urlsplit(url).query)
        symbol = next((query[p][0] for p in _SYMBOL_PARAMS if p in query), None)

    def levels(raw: list[Any]) -> list[list[float]]:
        out = []
        for lvl in raw:
            if isinstance(lvl, dict):  # {"p": .., "s": ..} (Gate.io futures)
                out.append([float(lvl["p"]), float(lvl["s"])])
            else:
                out.append([float(lvl[0]), float(lvl[1])])
        return out

    try:
        return {"symbol": symbol, "last_update_id": int(update_id), "bids": levels(doc["bids"]),
                "asks": levels(doc["asks"])}
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _snapshot_record(snap: dict[str, Any], recv_ns: int) -> Record:
    return Record(recv_ns, 0, KIND_SNAPSHOT, json.dumps(snap).encode())


def _seconds_to_ns(text: bytes | str | float) -> int:
    """``1633998512.0633569`` -> ns, exactly from the decimal text (no float rounding of the ns)."""
    s = text.decode() if isinstance(text, bytes) else (repr(text) if isinstance(text, float) else text)
    whole, _, frac = s.strip().partition(".")
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])


class _CountingReader(io.RawIOBase):
    """Counts the bytes read from the file under a decompressor, for the progress bar."""

    def __init__(self, f: BinaryIO):
        self._f = f
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = self._f.readinto(b)
        self.position += n or 0
        return n or 0

    def close(self) -> None:
        self._f.close()
        super().close()


def _head(path: Path, n: int = 4096) -> tuple[bytes, bytes]:
    """(the first raw bytes, the first decompressed bytes) of ``path``."""
    with open(path, "rb") as f:
        raw = f.read(n)
    if raw.startswith(_GZIP_MAGIC):
        with gzip.open(path, "rb") as g:
            try:
                return raw, g.read(n)
            except (OSError, EOFError):
                return raw, b""
    if raw.startswith(_ZSTD_MAGIC):
        with open(path, "rb") as f:
            try:
                return raw, zstd_reader(f).read(n)
            except Exception:
                return raw, b""
    return raw, raw


_V1_RECV = re.compile(rb"^\d{9,11}(\.\d+)?: ")
_V1_WS = re.compile(rb"^\S+ (<->|<-) \d{9,11}(\.\d+)?")
_V1_HTTP = re.compile(rb"^\S+ -> \d{9,11}(\.\d+)?: ")
_HFT = re.compile(rb"^\d{16,20} [\[{]")


_HEX = re.compile(rb"^\s*([0-9a-fA-F]{2})+\s*$")


def _raw_frame(data: bytes) -> bytes | None:
    """The payload if ``data`` is one MEXC protobuf push (raw, or as hex text), else None."""
    if _HEX.match(data):
        data = bytes.fromhex(data.decode().strip())
    # field 1 (LEN, tag 0x0a), a one-byte length, then the channel name
    if len(data) > 2 and data[0] == 0x0A and data[1] < 0x80 and data[2:14] == b"spot@public.":
        return data
    return None


def detect_format(path: str | Path) -> str:
    """One of :data:`FORMATS`; raises :class:`RecordingError` naming the formats it knows."""
    path = Path(path)
    try:
        raw, head = _head(path)
    except OSError as exc:
        raise RecordingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    first = head.lstrip(b"\n").split(b"\n", 1)[0]
    if head.startswith(MAGIC):
        return "fhrec"
    if raw.startswith(_ZSTD_MAGIC) and first.startswith(b"{") and b'"t":' in first[:40]:
        return "cryptofeed-v3"
    if _HFT.match(first):
        return "hftbacktest"
    if _V1_WS.match(first) or _V1_RECV.match(first) or _V1_HTTP.match(first):
        return "cryptofeed-v1"
    if _raw_frame(raw) is not None:
        return "frame"
    if first[:1] in (b"{", b"[") and not raw.startswith((_GZIP_MAGIC, _ZSTD_MAGIC)):
        try:
            json.loads(first)
            return "frame-lines"
        except ValueError:
            pass
    raise RecordingError(f"{path}: not a feedhandler recording, nor one of the formats replay reads "
                         f"({', '.join(FORMATS)})")


@dataclass
class Recording:
    """One recording (a file, or several read back to back), ready to replay.

    Attributes
    ----------
    paths:
        The files, in replay order (a cryptofeed v1 ``.ws.`` file brings its ``.http.`` sibling).
    format:
        One of :data:`FORMATS`.
    exchange, options:
        The factory name and options (``market`` for Binance futures) the parser is built with.
    header:
        What the recording says about itself (the fhrec header, cryptofeed's header line, the URL).
    """

    paths: list[Path]
    format: str
    exchange: str
    options: dict[str, Any] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    #: connection id -> the WebSocket URL it was opened to, as far as the records read so far say
    connections: dict[int, str] = field(default_factory=dict)
    _readers: list[_CountingReader] = field(default_factory=list, repr=False)

    @property
    def size(self) -> int:
        """Bytes on disk (compressed), the progress bar's 100%."""
        return sum(p.stat().st_size for p in self.paths)

    @property
    def position(self) -> int:
        """Bytes of the files read so far."""
        return sum(r.position for r in self._readers)

    def create_parser(self, **options: Any) -> Any:
        """The exchange's public parser from ``WebSocketStrategyFactory`` (REST snapshots off: they are recorded)."""
        from ..core import WebSocketStrategyFactory

        options = {**self.options, **options}
        protocol = options.pop("protocol", None) if self.exchange == "mexc" else None
        if protocol == MEXC_LEGACY_JSON:
            from ..exchanges.mexc.legacy_json import MexcLegacyJsonParser

            return MexcLegacyJsonParser(**options)  # replay only: the live feed speaks protobuf
        if protocol == MEXC_CONTRACT_JSON:
            from ..exchanges.mexc.legacy_json import MexcContractJsonParser

            return MexcContractJsonParser(**options)  # replay only: the futures feed is not a live exchange here
        _, _, parser = WebSocketStrategyFactory.create_strategies(self.exchange, False, **options)
        return parser

    def snapshot_symbol_hint(self) -> str | None:
        """A symbol for inline snapshots that do not name one (hftbacktest: ``btcusdt_20240808.gz``)."""
        m = re.match(r"^(?:[a-z]+_)?([a-z0-9]+?)_\d{8}", self.paths[0].name.lower())
        return m.group(1).upper() if m else None

    def records(self) -> Iterator[Record]:
        """Every record in receive order: frames (``KIND_TEXT``/``KIND_BINARY``), snapshots, ``KIND_SENT``."""
        self._readers = []
        reader = {"fhrec": self._fhrec, "cryptofeed-v1": self._cryptofeed_v1, "cryptofeed-v3": self._cryptofeed_v3,
                  "hftbacktest": self._hftbacktest, "frame": self._frame,
                  "frame-lines": self._frame_lines}[self.format]
        return reader()

    def _open(self, path: Path) -> BinaryIO:
        counting = _CountingReader(open(path, "rb"))
        self._readers.append(counting)
        buffered = io.BufferedReader(counting, 1 << 16)
        head = buffered.peek(4)[:4]
        if head.startswith(_GZIP_MAGIC):
            return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
        if head.startswith(_ZSTD_MAGIC):
            return zstd_reader(buffered)  # type: ignore[arg-type]
        return buffered  # type: ignore[return-value]

    # -- fhrec --------------------------------------------------------------------------------------------------
    def _fhrec(self) -> Iterator[Record]:
        for path in self.paths:
            _, records = read_recording(path, opener=self._open)
            yield from records

    # -- one captured frame ------------------------------------------------------------------------------------
    def _frame(self) -> Iterator[Record]:
        for path in self.paths:
            with self._open(path) as f:
                payload = _raw_frame(f.read(_MAX_FRAME_FILE + 1)[:_MAX_FRAME_FILE])
            if payload is None:
                raise RecordingError(f"{path}: not one MEXC protobuf frame")
            yield Record(0, 1, 1, payload)  # KIND_BINARY; no receive time was kept

    # -- captured text frames, one a line -----------------------------------------------------------------------
    def _frame_lines(self) -> Iterator[Record]:
        for path in self.paths:
            with self._open(path) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        yield Record(0, 1, KIND_TEXT, line)  # no receive time was kept

    # -- hftbacktest --------------------------------------------------------------------------------------------
    def _hftbacktest(self) -> Iterator[Record]:
        hint = self.snapshot_symbol_hint()
        for path in self.paths:
            with self._open(path) as f:
                for lineno, line in enumerate(f, 1):
                    ts, sep, body = line.rstrip(b"\r\n").partition(b" ")
                    if not sep or not ts.isdigit():
                        if not line.strip():
                            continue
                        raise RecordingError(f"{path}: line {lineno}: not '<recv_ns> <frame>'")
                    recv_ns = int(ts)
                    if body.startswith(b'{"lastUpdateId"'):
                        snap = snapshot_from_rest("", body, hint)
                        if snap is None:
                            raise RecordingError(f"{path}: line {lineno}: unreadable inline depth snapshot")
                        yield _snapshot_record(snap, recv_ns)
                    else:
                        yield Record(recv_ns, 1, KIND_TEXT, body)

    # -- cryptofeed v1 ------------------------------------------------------------------------------------------
    def _cryptofeed_v1(self) -> Iterator[Record]:
        for path in self.paths:
            yield from _merge_by_time(self._v1_http(path), self._v1_ws(path))

    def _v1_ws(self, path: Path) -> Iterator[Record]:
        conn = 0
        with self._open(path) as f:
            for lineno, line in enumerate(f, 1):
                line = line.rstrip(b"\r\n")
                if not line.strip():
                    continue
                head, sep, body = line.partition(b": ")
                if b" <-> " in head or (not sep and b" <-> " in line):
                    conn += 1
                    self.connections[conn] = line.split(b" <-> ", 1)[0].decode(errors="replace")
                    continue
                if not sep:
                    raise RecordingError(f"{path}: line {lineno}: not a cryptofeed v1 line")
                if b" <- " in head:
                    yield Record(_seconds_to_ns(head.rsplit(b" ", 1)[1]), conn, KIND_SENT, body)
                    continue
                try:
                    recv_ns = _seconds_to_ns(head)
                except ValueError:
                    raise RecordingError(f"{path}: line {lineno}: bad timestamp {head[:40]!r}") from None
                yield Record(recv_ns, conn, KIND_TEXT, body)

    def _v1_http(self, ws_path: Path) -> Iterator[Record]:
        for http in _v1_http_siblings(ws_path):
            with self._open(http) as f:
                for line in f:
                    head, sep, body = line.rstrip(b"\r\n").partition(b": ")
                    url, arrow, ts = head.rpartition(b" -> ")
                    if not sep or not arrow:
                        continue  # blank separator lines
                    snap = snapshot_from_rest(url.decode(errors="replace"), body)
                    if snap is not None:
                        yield _snapshot_record(snap, _seconds_to_ns(ts))

    # -- cryptofeed v3 ------------------------------------------------------------------------------------------
    def _cryptofeed_v3(self) -> Iterator[Record]:
        conns: dict[str, int] = {}
        for path in self.paths:
            with self._open(path) as f:
                for lineno, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                        kind = obj["t"]
                    except (ValueError, KeyError, TypeError):
                        raise RecordingError(f"{path}: line {lineno}: not a cryptofeed v3 record") from None
                    if kind == "recv":
                        conn = conns.setdefault(obj.get("conn", ""), len(conns) + 1)
                        data = obj["data"]
                        yield Record(_seconds_to_ns(obj["ts"]), conn, KIND_TEXT,
                                     data.encode() if isinstance(data, str) else json.dumps(data).encode())
                    elif kind == "connect":
                        conn = conns.setdefault(obj.get("conn", ""), len(conns) + 1)
                        self.connections[conn] = str(obj.get("addr", ""))
                    elif kind == "send":
                        conn = conns.setdefault(obj.get("conn", ""), len(conns) + 1)
                        yield Record(_seconds_to_ns(obj["ts"]), conn, KIND_SENT, str(obj.get("data", "")).encode())
                    elif kind == "http":
                        snap = snapshot_from_rest(obj.get("url", ""), obj.get("data", ""))
                        if snap is not None:
                            yield _snapshot_record(snap, _seconds_to_ns(obj["ts"]))


def _v1_http_siblings(ws_path: Path) -> list[Path]:
    """The REST answers beside a ``.ws.`` file: ``EXCH.http.*`` (cryptofeed >= 2021) or ``EXCH.<n>``."""
    prefix = ws_path.name.split(".ws.", 1)[0]
    found = [p for p in ws_path.parent.glob(f"{prefix}.*") if p != ws_path and ".ws." not in p.name
             and re.fullmatch(re.escape(prefix) + r"\.(http\.)?[\d.]+", p.name)]
    return sorted(found)


def _merge_by_time(rest: Iterable[Record], frames: Iterable[Record]) -> Iterator[Record]:
    """Merge the (small) REST stream into the frames by ``recv_ns``; on a tie the snapshot first."""
    import heapq

    return heapq.merge(list(rest), frames, key=lambda r: r.recv_ns)


def _exchange_of(fmt: str, path: Path, head: bytes) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """(exchange, options, header) from what the file says about itself."""
    header: dict[str, Any] = {}
    if fmt == "fhrec":
        header, records = read_recording(path, opener=None)
        records.close()
        return header.get("exchange"), dict(header.get("options") or {}), header
    if fmt == "frame":
        return "mexc", {}, {}
    if fmt == "frame-lines":
        return (*_sniff_lines(head), header)
    if fmt == "cryptofeed-v3":
        first = head.split(b"\n", 1)[0]
        try:
            header = json.loads(first)
        except ValueError:
            header = {}
        cf = str(header.get("exchange") or _cryptofeed_id(path.name))
        if cf in CRYPTOFEED_EXCHANGES:
            name, opts = CRYPTOFEED_EXCHANGES[cf]
            return name, dict(opts), header
        for line in head.split(b"\n")[1:]:
            m = re.search(rb'"addr":"([^"]+)"', line)
            if m and (found := exchange_from_url(m.group(1).decode())):
                return found[0], found[1], header
        return None, {}, header
    if fmt == "cryptofeed-v1":
        cf = _cryptofeed_id(path.name)
        first = head.split(b"\n", 1)[0]
        url = first.split(b" ", 1)[0].decode(errors="replace")
        header = {"cryptofeed_id": cf, "url": url}
        if cf in CRYPTOFEED_EXCHANGES:
            name, opts = CRYPTOFEED_EXCHANGES[cf]
            return name, dict(opts), header
        found = exchange_from_url(url)
        return (found[0], found[1], header) if found else (None, {}, header)
    # hftbacktest: the collector writes the exchange's frames verbatim; recognise them
    return (*_sniff_frames(head, path), header)


def _sniff_frames(head: bytes, path: Path) -> tuple[str | None, dict[str, Any]]:
    """The exchange of hftbacktest lines from the frames' own shape (and the folder name as a tie-break)."""
    lines = head.split(b"\n")[:-1] or head.split(b"\n")
    folder = path.parent.name.lower() + "/" + path.name.lower()
    for line in lines:
        body = line.partition(b" ")[2]
        if body.startswith(b'{"stream":"') or b'"e":"depthUpdate"' in body:
            if b'"pu":' in body or "usdm" in folder or "futures" in folder:
                return "binance", {"market": "coinm" if b'USD_' in body else "usdm"}
            if b'"e":"depthUpdate"' in body or b"@bookTicker" in body or b"@trade" in body:
                return "binance", {}
        if body.startswith(b'{"c":"spot@'):  # the retired spot v3 JSON push (before protobuf)
            return "mexc", {"protocol": MEXC_LEGACY_JSON}
        if body.startswith(b'{"channel":"spot@'):
            return "mexc", {}
        if b'"channel":"spot.' in body:
            return "gateio", {}
        if b'"channel":"futures.' in body:
            return "gateio", {"market": "usdt"}
    return None, {}


def _sniff_lines(head: bytes) -> tuple[str | None, dict[str, Any]]:
    """The exchange of captured frame lines from the frames' own shape."""
    for line in head.split(b"\n"):
        if line.startswith(b'["push.') or b'"channel":"push.' in line[:200]:
            return "mexc", {"protocol": MEXC_CONTRACT_JSON}
        found = _sniff_frames(b"0 " + line, Path("."))
        if found[0]:
            return found
    return None, {}


def open_recording(paths: str | Path | Sequence[str | Path], *, exchange: str | None = None,
                   **options: Any) -> Recording:
    """Open one recording, or several files of the same feed to replay back to back.

    Parameters
    ----------
    paths:
        A file (fhrec, a cryptofeed ``.ws.``/``.jsonl.zst`` file, an hftbacktest ``.gz``), a cryptofeed v1
        folder (its ``*.ws.*`` file is used), or a list of files in replay order (e.g. two hftbacktest days).
    exchange, options:
        Override what the recording says (``exchange="binance", market="usdm"``).

    Raises
    ------
    RecordingError
        A file is missing, not a known format, or the files disagree on format or exchange.
    """
    items = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not items:
        raise RecordingError("no recording given")
    files: list[Path] = []
    for p in items:
        if p.is_dir():
            ws = sorted(p.glob("*.ws.*")) or sorted(p.glob("*.jsonl.zst")) or sorted(p.glob("*.fhrec*"))
            if not ws:
                raise RecordingError(f"{p}: no recording in this folder (*.ws.*, *.jsonl.zst, *.fhrec)")
            files.extend(ws)
        elif not p.exists():
            raise RecordingError(f"{p}: no such file")
        else:
            files.append(p)
    fmt = detect_format(files[0])
    if fmt == "cryptofeed-v1" and _V1_HTTP.match(_head(files[0])[1]):
        # a REST answers file (``EXCH.http.0.0``, ``OKX.0``): its frames are in the ``.ws.`` sibling
        ws = sorted(files[0].parent.glob(_cryptofeed_id(files[0].name) + ".ws.*"))
        if not ws:
            raise RecordingError(f"{files[0]}: REST answers only; the frames' {_cryptofeed_id(files[0].name)}.ws.* "
                                 "file is not beside it")
        files = ws + files[1:]
    for other in files[1:]:
        if detect_format(other) != fmt:
            raise RecordingError(f"{other}: not the same format as {files[0]} ({fmt})")
    _, head = _head(files[0], 1 << 16)
    found, found_options, header = _exchange_of(fmt, files[0], head)
    name = exchange or found
    if not name:
        raise RecordingError(f"{files[0]}: cannot tell which exchange this {fmt} recording is from: pass --exchange")
    opts = {**(found_options if exchange is None or exchange == found else {}), **options}
    return Recording(files, fmt, name.lower(), opts, header)


def progress_printer(recording: Recording, stream: Any, every_s: float = 0.2) -> Callable[[int], None]:
    """A progress-bar callback (``frames`` so far) that redraws at most every ``every_s`` on ``stream``."""
    import time

    size = max(recording.size, 1)
    last = [0.0]

    def draw(frames: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - last[0] < every_s:
            return
        last[0] = now
        frac = 1.0 if final else min(recording.position / size, 1.0)
        bar = "#" * int(frac * 30)
        print(f"\r[{bar:<30}] {frac * 100:5.1f}%  {frames:,} frames", end="" if not final else "\n",
              file=stream, flush=True)

    return draw
