"""The compiled depth-snapshot decoder (feedhandler.sync.snapshot) against json.loads + float().

Oracle: ``json.loads`` for the document and ``float()`` for every price and quantity text; real REST
bodies from the recordings; bounded decoding of bodies far larger than asked; the REST fetchers end to
end against a local server on 127.0.0.1.
"""
from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedhandler.core.errors import RestError
from feedhandler.exchanges.binance.rest import BinanceSnapshotFetcher
from feedhandler.exchanges.binance.rest import parse_depth_snapshot as binance_parse
from feedhandler.exchanges.gateio.rest import GateioSnapshotFetcher
from feedhandler.exchanges.mexc.rest import parse_depth_snapshot as mexc_parse
from feedhandler.sync.snapshot import DepthSnapshotDecoder, snapshot_body_limit

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def oracle(doc: dict, bids: str = "bids", asks: str = "asks", uid: str = "lastUpdateId"):
    """What the decoder must return, computed with json.loads' result and float()."""
    def side(levels):
        return np.array([(float(lv[0]), float(lv[1])) for lv in levels], dtype=np.float64).reshape(-1, 2)
    return int(doc[uid]), side(doc[bids]), side(doc[asks])


def assert_same(got, want):
    assert got[0] == want[0]
    for g, w in zip(got[1:], want[1:]):
        assert g.dtype == np.float64 and g.shape == w.shape
        assert g.tobytes() == w.tobytes()  # bit for bit (signed zeros included)


# ----------------------------------------------------------------- real bodies

def _http_bodies(pattern: str):
    if not DATA.is_dir():
        pytest.skip(f"recordings not found at {DATA}")
    out = []
    for path in sorted(DATA.glob(pattern)):
        for line in path.read_bytes().splitlines():
            url, _, rest = line.partition(b" -> ")
            _, _, body = rest.partition(b": ")
            if body.startswith(b"{"):
                out.append((url.decode(), body))
    if not out:
        pytest.skip(f"no REST bodies matching {pattern}")
    return out


def test_real_binance_rest_bodies_match_json_loads():
    n = 0
    for url, body in _http_bodies("binance/cryptofeed_*/*.http.0.0"):
        doc = json.loads(body)
        if "lastUpdateId" not in doc:
            continue
        assert_same(binance_parse(body), oracle(doc))
        n += 1
    assert n >= 4


def test_real_gateio_rest_bodies_match_json_loads():
    decoder = DepthSnapshotDecoder("gateio", 5000, update_id="id")
    n = 0
    for url, body in _http_bodies("gateio/cryptofeed_spot_*/*.http.0.0"):
        if "order_book" not in url:
            continue
        assert_same(decoder.decode(body), oracle(json.loads(body), uid="id"))
        n += 1
    assert n >= 1


def test_real_hftbacktest_snapshot_matches_json_loads():
    import gzip
    path = DATA / "binance" / "hftbacktest_2024-08-08" / "spot_btcusdt_20240808.gz"
    if not path.exists():
        pytest.skip(f"recording not found at {path}")
    with gzip.open(path, "rb") as fh:
        body = next(raw for raw in (ln.split(b" ", 1)[1].rstrip() for ln in fh) if raw.startswith(b'{"lastUpdateId"'))
    assert_same(binance_parse(body), oracle(json.loads(body)))
    assert_same(mexc_parse(body), oracle(json.loads(body)))


# ------------------------------------------------------------ differential fuzz

number_text = st.one_of(
    st.integers(0, 10**12).map(str),
    st.decimals(min_value=0, max_value=10**9, allow_nan=False, allow_infinity=False, places=8).map(str),
    st.floats(min_value=1e-300, max_value=1e300).map(repr),
    st.sampled_from(["0.1", "1e-5", "2.5E+3", "0", "0.00000001", "123456789012345678901234567890"]),
)
quoted = st.booleans()


@st.composite
def level_json(draw):
    p, q = draw(number_text), draw(number_text)
    items = [f'"{p}"' if draw(quoted) else p, f'"{q}"' if draw(quoted) else q]
    items += draw(st.lists(st.sampled_from(['3', '"x"', '[1,[2]]', '{"a":null}']), max_size=2))
    ws = draw(st.sampled_from(["", " ", "\n\t "]))
    return "[" + ("," + ws).join(items) + "]"


@st.composite
def snapshot_json(draw):
    bids = draw(st.lists(level_json(), max_size=12))
    asks = draw(st.lists(level_json(), max_size=12))
    uid = draw(st.one_of(st.integers(-(2**63), 2**63 - 1).map(str), st.integers(0, 2**62).map(lambda i: f'"{i}"')))
    members = [f'"lastUpdateId":{uid}', f'"bids":[{",".join(bids)}]', f'"asks":[{",".join(asks)}]']
    members += draw(st.lists(st.sampled_from(['"E":1723161255208', '"s":"BTC\\u0055SDT"', '"x":[[1,2],[3]]']),
                             max_size=2))
    order = draw(st.permutations(members))
    return ("{" + ",".join(order) + "}").encode()


def _positive(doc):
    return all(float(lv[0]) > 0 and math.isfinite(float(lv[0])) and math.isfinite(float(lv[1]))
               for side in ("bids", "asks") for lv in doc[side])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=snapshot_json())
def test_decoder_matches_json_loads_and_float(body):
    doc = json.loads(body)
    decoder = DepthSnapshotDecoder("t", 20)
    if _positive(doc):
        assert_same(decoder.decode(body), oracle(doc))
        assert decoder.truncated == 0
    else:
        with pytest.raises(RestError, match=r"(bids|asks)\[\d+\]"):
            decoder.decode(body)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=snapshot_json(), data=st.data())
def test_mutated_bodies_decode_as_json_loads_or_raise(body, data):
    # Random byte edits: the decoder either agrees with json.loads + float() or raises RestError.
    b = bytearray(body)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(b) - 1))
        b[i] = data.draw(st.sampled_from(b'[]{},:"0123456789.-eE \\x\xff'))
    decoder = DepthSnapshotDecoder("t", 20)
    try:
        doc = json.loads(bytes(b).decode("utf-8"))
        want = oracle(doc) if isinstance(doc, dict) and _positive(doc) else None
    except Exception:  # noqa: BLE001 - anything json.loads/float()/int() refuses
        want = None
    if want is None:
        with pytest.raises(RestError):
            decoder.decode(bytes(b))
    else:
        assert_same(decoder.decode(bytes(b)), want)


# ------------------------------------------------------------------- layouts

def test_paths_and_key_names_for_other_exchanges():
    bybit = (b'{"retCode":0,"retMsg":"OK","result":{"s":"BTCUSDT","b":[["65485.47","47.081829"]],'
             b'"a":[["65557.7","16.606555"],["65558","1"]],"ts":1716863719031,"u":230704,"seq":1432604333},'
             b'"time":1716863719382}')
    got = DepthSnapshotDecoder("bybit", 200, bids="b", asks="a", update_id="u", path=("result",)).decode(bybit)
    assert_same(got, oracle(json.loads(bybit)["result"], "b", "a", "u"))
    okx = (b'{"code":"0","msg":"","data":[{"asks":[["41006.8","0.60038921","0","1"]],'
           b'"bids":[["41006.3","0.30178218","0","2"]],"ts":"1629966436396","seqId":"3082274"}]}')
    got = DepthSnapshotDecoder("okx", 400, update_id="seqId", path=("data", 0)).decode(okx)
    assert_same(got, oracle(json.loads(okx)["data"][0], uid="seqId"))
    with pytest.raises(RestError, match="no item 1"):
        DepthSnapshotDecoder("okx", 400, update_id="seqId", path=("data", 1)).decode(okx)
    with pytest.raises(RestError, match="no 'result' member"):
        DepthSnapshotDecoder("bybit", 200, path=("result",)).decode(okx)
    with pytest.raises(TypeError):
        DepthSnapshotDecoder("x", 10, path=(1.5,))


@pytest.mark.parametrize("body, match", [
    (b"", "empty"),
    (b"[1,2]", "not a JSON object"),
    (b'{"bids":[],"asks":[]}', "no 'lastUpdateId'"),
    (b'{"lastUpdateId":1,"asks":[]}', "no 'bids'"),
    (b'{"lastUpdateId":1.5,"bids":[],"asks":[]}', "'lastUpdateId' is not an int64 .at byte 16"),
    (b'{"lastUpdateId":1,"bids":{},"asks":[]}', "'bids' is not an array .at byte 25"),
    (b'{"lastUpdateId":1,"bids":[["1"]],"asks":[]}', r"'bids'.*at byte"),
    (b'{"lastUpdateId":1,"bids":[["1","x"]],"asks":[]}', r"'bids'.*at byte"),
    (b'{"lastUpdateId":1,"bids":[],"asks":[["-1","2"]]}', r"asks\[0\]"),
    (b'{"lastUpdateId":1,"bids":[],"asks":[["1","1e400"]]}', r"asks\[0\]"),
    (b'{"lastUpdateId":1,"bids":[],"asks":[]} x', "at byte 39"),
    (b'{"lastUpdateId":1,"bids":[],"asks":[],}', "at byte"),
])
def test_errors_name_the_field_and_offset(body, match):
    with pytest.raises(RestError, match=match):
        DepthSnapshotDecoder("binance", 10).decode(body)


# ----------------------------------------------------------------- bounded

def _big_body(n: int, best_first: bool = True) -> bytes:
    bids = ",".join(f'["{60000 - i * 0.01:.2f}","1.5"]' for i in range(n))
    order = range(n) if best_first else reversed(range(n))
    asks = ",".join(f'["{60000.01 + i * 0.01:.2f}","2"]' for i in order)
    return f'{{"lastUpdateId":7,"bids":[{bids}],"asks":[{asks}]}}'.encode()


def test_far_larger_snapshot_is_truncated_in_bounded_memory():
    body = _big_body(200_000)  # 200x what was asked (the 18.9 case, scaled to keep the test fast)
    decoder = DepthSnapshotDecoder("binance", 1000)
    tracemalloc.start()
    try:
        uid, bids, asks = decoder.decode(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert uid == 7 and bids.shape == (1000, 2) and asks.shape == (1000, 2)
    assert decoder.truncated == 2 * 199_000
    assert bids[0].tolist() == [60000.0, 1.5] and bids[-1].tolist() == [float(f"{60000 - 999 * 0.01:.2f}"), 1.5]
    assert asks[0, 0] == 60000.01
    assert peak < 200_000  # the two (1000, 2) results and small objects: nothing per dropped level
    with pytest.raises(RestError, match="not sorted best first"):
        DepthSnapshotDecoder("binance", 1000).decode(_big_body(1500, best_first=False))
    # Not truncated: any order is accepted (the book sorts it).
    assert DepthSnapshotDecoder("binance", 2000).decode(_big_body(1500, best_first=False))[2].shape == (1500, 2)


def test_body_limit():
    assert snapshot_body_limit(1000) == 2 * 1000 * 128 + 65536
    assert len(_big_body(1000)) < snapshot_body_limit(1000)
    with pytest.raises(ValueError):
        snapshot_body_limit(0)


class _Server:
    def __init__(self, body: bytes):
        self.body = body
        self.app = web.Application()
        self.app.router.add_get("/api/v3/depth", self._serve)
        self.app.router.add_get("/api/v4/spot/order_book", self._serve)

    async def _serve(self, request):
        return web.Response(body=self.body, content_type="application/json")

    async def __aenter__(self):
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc):
        await self.runner.cleanup()


async def test_fetchers_decode_in_c_and_refuse_oversized_bodies():
    body = _big_body(500)
    async with _Server(body) as server:
        fetcher = BinanceSnapshotFetcher(server.url, limit=1000)
        try:
            assert_same(await fetcher(symbol="BTCUSDT"), oracle(json.loads(body)))
        finally:
            await fetcher.close()
        small = BinanceSnapshotFetcher(server.url, limit=100)  # body cap ~90 KiB < this 500-level body? no: 36 KiB
        try:
            uid, bids, asks = await small("BTCUSDT")
            assert bids.shape == (100, 2) and small.truncated == 800
        finally:
            await small.close()
    async with _Server(_big_body(20_000)) as server:  # ~1 MB for limit=100: refused while read
        fetcher = BinanceSnapshotFetcher(server.url, limit=100)
        try:
            with pytest.raises(RestError, match="larger than"):
                await fetcher("BTCUSDT")
        finally:
            await fetcher.close()
    gate_body = _big_body(50).replace(b'"lastUpdateId"', b'"id"')
    async with _Server(gate_body) as server:
        fetcher = GateioSnapshotFetcher(server.url, limit=100)
        try:
            assert_same(await fetcher("BTC_USDT"), oracle(json.loads(gate_body), uid="id"))
        finally:
            await fetcher.close()
