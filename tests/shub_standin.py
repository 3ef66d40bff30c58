"""A Sentinel Hub stand-in on 127.0.0.1: OAuth token, Catalog and Process APIs over real HTTP.

Serves the demo simulator (:class:`flows.sources.demo.DemoSource`) so that what goes through the
real sentinelhub-py client can be compared with the simulator in memory. Register the sites it
serves with :meth:`StandIn.add_site`: catalog searches match them by WGS84 bbox, process requests
by UTM grid (the request bounds must lie on a registered site's 10 m grid; the stand-in does not
resample). Request bodies are checked as strictly as the service does and refused with its error
JSON. Faults on demand per endpoint (``token``, ``catalog``, ``process``): see :class:`Fault`.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import tarfile
import threading
import time
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import numpy as np
import tifffile
from pyproj import Transformer

from aoi import Site, site_grid
from flows.sources.demo import DemoSource

TOKEN_PATH = "/auth/realms/main/protocol/openid-connect/token"
CATALOG_PATH = "/api/v1/catalog/1.0.0/search"
PROCESS_PATH = "/api/v1/process"
SERVED = ("B02", "B03", "B04", "B08", "B11", "B12", "SCL", "dataMask")
S2L2A_BANDS = frozenset({"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09",
                         "B11", "B12", "SCL", "AOT", "WVP", "SNW", "CLD", "CLP", "CLM",
                         "sunAzimuthAngles", "sunZenithAngles", "viewAzimuthMean",
                         "viewZenithMean", "dataMask"})
_REASONS = {400: "Bad Request", 401: "Unauthorized", 429: "Too Many Requests",
            500: "Internal Server Error"}


@dataclass(frozen=True)
class Fault:
    """Answer some calls of one endpoint with a failure instead.

    ``kind``: ``"429"`` (with ``Retry-After`` in ms), ``"500"``, ``"truncate"`` (headers announce
    the whole body, half of it is sent, the connection closes), ``"corrupt"`` (a complete 200
    response whose body is cut in half) or ``"401"`` (the caller's token is revoked and refused,
    as when it expired early; with ``revoke=False`` the request is refused and the token left
    valid, so a fault on one scene cannot reach the other scenes sharing the token).
    ``calls``: 1-based numbers of the endpoint's calls hit (None: every call); ``scene_day``:
    process calls whose time range covers that day.
    """

    endpoint: str
    kind: str
    calls: frozenset[int] | None = None
    scene_day: dt.date | None = None
    retry_after_ms: int = 30
    revoke: bool = True


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400, code: str = "COMMON_BAD_PAYLOAD"):
        super().__init__(message)
        self.status, self.code = status, code


class StandIn:
    """The server; ``with StandIn(demo) as shub: ...`` starts it on a free port."""

    def __init__(self, demo: DemoSource, client_id: str = "bluecarbon-test",
                 client_secret: str = "s3cret-for-tests", token_lifetime_s: int = 3600):
        self.demo, self.client_id, self.client_secret = demo, client_id, client_secret
        self.token_lifetime_s = token_lifetime_s
        self.sites: dict[str, Site] = {}
        self.faults: list[Fault] = []
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, dict]] = []
        self.call_times: list[tuple[str, float]] = []
        self._tokens: dict[str, float] = {}
        self._renders: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.standin = self  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.token_url = self.base_url + TOKEN_PATH

    def __enter__(self) -> StandIn:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def add_site(self, site: Site) -> None:
        self.sites[site.id] = site

    def reset(self, *faults: Fault) -> None:
        """Forget calls and faults, then arm ``faults``."""
        with self._lock:
            self.calls.clear()
            self.requests.clear()
            self.call_times.clear()
            self.faults = list(faults)

    # -- bookkeeping, called from handler threads -----------------------------------------
    def _count(self, endpoint: str, body: dict | None) -> int:
        with self._lock:
            self.calls[endpoint] += 1
            self.requests.append((endpoint, body or {}))
            self.call_times.append((endpoint, time.monotonic()))
            return self.calls[endpoint]

    def _fault(self, endpoint: str, n: int, days: tuple[dt.date, dt.date] | None) -> Fault | None:
        for f in self.faults:
            if f.endpoint != endpoint or (f.calls is not None and n not in f.calls):
                continue
            if f.scene_day is not None and not (days and days[0] <= f.scene_day <= days[1]):
                continue
            return f
        return None

    def _issue_token(self) -> str:
        claims = {"azp": self.client_id, "exp": int(time.time()) + self.token_lifetime_s,
                  "jti": uuid.uuid4().hex}
        parts = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=").decode()
                 for p in ({"alg": "none", "typ": "JWT"}, claims)]
        token = ".".join([*parts, "stand-in"])
        with self._lock:
            self._tokens[token] = time.time() + self.token_lifetime_s
        return token

    def _check_token(self, header: str | None) -> str:
        token = (header or "").removeprefix("Bearer ").strip()
        with self._lock:
            ok = self._tokens.get(token, 0) > time.time()
        if not ok:
            raise BadRequest("You are not authorized! Please provide a valid access token within "
                             "the header [Authorization: Bearer <accessToken>] of your request.",
                             401, "COMMON_UNAUTHORIZED")
        return token

    def _revoke(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    # -- catalog ---------------------------------------------------------------------------
    def catalog(self, body: dict) -> dict:
        known = {"collections", "datetime", "bbox", "intersects", "ids", "filter", "filter-lang",
                 "filter-crs", "fields", "distinct", "limit", "next"}
        _no_unknown(body, known, "search body")
        if body.get("collections") != ["sentinel-2-l2a"]:
            raise BadRequest(f"Unknown or unsupported collections: {body.get('collections')!r}")
        start, end = _interval(body.get("datetime"))
        bbox = body.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_num(v) for v in bbox)
                and -180 <= bbox[0] < bbox[2] <= 180 and -90 <= bbox[1] < bbox[3] <= 90):
            raise BadRequest("bbox must be [minLon, minLat, maxLon, maxLat] in WGS84 "
                             "(the stand-in does not serve 'intersects')")
        limit, offset = body.get("limit", 10), body.get("next", 0)
        if not (isinstance(limit, int) and 1 <= limit <= 100):
            raise BadRequest(f"limit must be an integer between 1 and 100, got {limit!r}")
        if not (isinstance(offset, int) and offset >= 0):
            raise BadRequest(f"next must be a non-negative integer, got {offset!r}")
        if body.get("filter-lang", "cql2-text") != "cql2-text":
            raise BadRequest("the stand-in understands filter-lang cql2-text only")
        keep = _cql2(body.get("filter"))
        items = []
        for site in self.sites.values():
            w, s, e, n = site.geometry.bounds
            if w > bbox[2] or e < bbox[0] or s > bbox[3] or n < bbox[1]:
                continue
            for ref in self.demo.search(site, start.date(), end.date()):
                if start <= ref.datetime <= end and keep(ref.cloud_cover):
                    items.append(_item(site, ref))
        items.sort(key=lambda i: (i["properties"]["datetime"], i["id"]))
        page = items[offset:offset + limit]
        context = {"limit": limit, "returned": len(page)}
        if offset + limit < len(items):
            context["next"] = offset + limit
        return {"type": "FeatureCollection", "features": page, "links": [], "context": context}

    # -- process ---------------------------------------------------------------------------
    def process(self, body: dict, accept: str) -> tuple[bytes, str]:
        req = _ProcessRequest.parse(body)
        multi = len(req.responses) > 1
        wanted = "application/x-tar" if multi else "image/tiff"
        if multi and not any(t in accept for t in ("application/x-tar", "application/tar")):
            raise BadRequest("Several responses need Accept: application/x-tar")
        if not multi and not any(t in accept for t in (wanted, "*/*")):
            raise BadRequest(f"Accept {accept!r} does not match the response format {wanted}")
        site, window = self._locate(req)
        samples = self._samples(site, req, window)
        files = {}
        for ident in req.responses:
            n_bands, sample_type, names = req.outputs[ident]
            values = [samples[name] for name in names]
            files[f"{ident}.tif"] = _tiff(np.stack(values, axis=-1), sample_type, req)
        if not multi:
            return next(iter(files.values())), "image/tiff"
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as tar:
            for name, payload in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
        return out.getvalue(), "application/x-tar"

    def _locate(self, req: _ProcessRequest) -> tuple[Site, tuple[int, int]]:
        minx, miny, maxx, maxy = req.bbox
        for site in self.sites.values():
            g = site_grid(site)
            left, bottom, right, top = g.bounds
            if g.epsg != req.epsg or minx < left or maxx > right or miny < bottom or maxy > top:
                continue
            col, row = (minx - left) / g.res, (top - maxy) / g.res
            size = ((maxx - minx) / g.res, (maxy - miny) / g.res)
            if max(abs(v - round(v)) for v in (col, row, *size)) > 1e-6 or \
                    (round(size[0]), round(size[1])) != (req.width, req.height):
                raise BadRequest("stand-in: bounds and size must lie on the site's 10 m grid")
            return site, (round(row), round(col))
        raise BadRequest(f"stand-in: no registered site grid holds bbox {req.bbox} in EPSG:{req.epsg}")

    def _samples(self, site: Site, req: _ProcessRequest, window: tuple[int, int]) -> dict:
        """Per requested sample name, a (h, w) array as the service computes it (float
        reflectance unless units DN; harmonised unless harmonizeValues is false)."""
        r0, c0 = window
        h, w = req.height, req.width
        refs = [s for s in self.demo.search(site, req.start.date(), req.end.date())
                if req.start <= s.datetime <= req.end and s.cloud_cover <= req.max_cc]
        order = {"mostRecent": lambda s: -s.datetime.timestamp(),
                 "leastRecent": lambda s: s.datetime.timestamp(), "leastCC": lambda s: s.cloud_cover}
        mosaic = np.zeros((7, h, w), np.int32)
        filled = np.zeros((h, w), bool)
        for ref in sorted(refs, key=order[req.mosaicking_order]):
            dn = self._render(site, ref)[:, r0:r0 + h, c0:c0 + w].astype(np.int32)
            has = (dn[6] != 0) | (dn[:6] != 0).any(axis=0)
            if req.harmonize and ref.boa_offset:
                dn[:6] = np.where(has, np.maximum(dn[:6] + ref.boa_offset, 0), 0)
            new = has & ~filled
            mosaic[:, new] = dn[:, new]
            filled |= has
        samples = {"dataMask": filled.astype(np.int32), "SCL": mosaic[6]}
        for i, band in enumerate(SERVED[:6]):
            samples[band] = mosaic[i] if req.units == "DN" else mosaic[i] / 10000.0
        return samples

    def _render(self, site: Site, ref) -> np.ndarray:
        key = (site.id, ref.scene_id)
        with self._lock:
            if key in self._renders:
                self._renders.move_to_end(key)
                return self._renders[key]
        cube = self.demo.load(site, [ref]).compute(scheduler="synchronous")
        arr = np.stack([cube[b].values[0] for b in (*SERVED[:6], "SCL")]).astype(np.uint16)
        with self._lock:
            self._renders[key] = arr
            while len(self._renders) > 48:
                self._renders.popitem(last=False)
        return arr


@dataclass
class _ProcessRequest:
    epsg: int
    bbox: tuple[float, float, float, float]
    width: int
    height: int
    start: dt.datetime
    end: dt.datetime
    max_cc: float
    mosaicking_order: str
    harmonize: bool
    units: str
    outputs: dict[str, tuple[int, str, list[str]]]
    responses: list[str]

    @classmethod
    def parse(cls, body: dict) -> _ProcessRequest:
        _no_unknown(body, {"input", "output", "evalscript"}, "request")
        inp, out, script = body.get("input"), body.get("output"), body.get("evalscript")
        if not isinstance(inp, dict) or not isinstance(out, dict) or not isinstance(script, str):
            raise BadRequest("input, output and evalscript are required")
        _no_unknown(inp, {"bounds", "data"}, "input")
        bounds = inp.get("bounds") or {}
        _no_unknown(bounds, {"bbox", "geometry", "properties"}, "input.bounds")
        crs = (bounds.get("properties") or {}).get("crs", "")
        m = re.fullmatch(r"http://www\.opengis\.net/def/crs/EPSG/0/(\d+)", crs)
        bbox = bounds.get("bbox")
        if not m or not (isinstance(bbox, list) and len(bbox) == 4 and all(_num(v) for v in bbox)
                         and bbox[0] < bbox[2] and bbox[1] < bbox[3]):
            raise BadRequest("input.bounds needs bbox [minx, miny, maxx, maxy] and an EPSG crs URL "
                             "(the stand-in does not serve geometry bounds)")
        data = inp.get("data")
        if not (isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict)):
            raise BadRequest("input.data must hold exactly one collection (the stand-in's limit)")
        d = data[0]
        _no_unknown(d, {"type", "id", "dataFilter", "processing"}, "input.data[0]")
        if d.get("type") not in ("sentinel-2-l2a", "S2L2A"):
            raise BadRequest(f"Unknown data type {d.get('type')!r}")
        flt, proc = d.get("dataFilter") or {}, d.get("processing") or {}
        _no_unknown(flt, {"timeRange", "maxCloudCoverage", "mosaickingOrder"}, "dataFilter")
        _no_unknown(proc, {"upsampling", "downsampling", "harmonizeValues"}, "processing")
        tr = flt.get("timeRange") or {}
        start, end = _interval(f"{tr.get('from')}/{tr.get('to')}")
        max_cc = flt.get("maxCloudCoverage", 100)
        if not (_num(max_cc) and 0 <= max_cc <= 100):
            raise BadRequest(f"maxCloudCoverage must be within 0..100, got {max_cc!r}")
        order = flt.get("mosaickingOrder", "mostRecent")
        if order not in ("mostRecent", "leastRecent", "leastCC"):
            raise BadRequest(f"Unknown mosaickingOrder {order!r}")
        for key in ("upsampling", "downsampling"):
            if proc.get(key, "NEAREST") not in ("NEAREST", "BILINEAR", "BICUBIC"):
                raise BadRequest(f"Unknown {key} {proc[key]!r}")
        harmonize = proc.get("harmonizeValues", True)
        if not isinstance(harmonize, bool):
            raise BadRequest("harmonizeValues must be a boolean")
        _no_unknown(out, {"width", "height", "resx", "resy", "responses"}, "output")
        width, height = out.get("width"), out.get("height")
        if "resx" in out or "resy" in out:
            width, height = ((bbox[2] - bbox[0]) / out.get("resx", 0),
                             (bbox[3] - bbox[1]) / out.get("resy", 0))
            width, height = round(width), round(height)
        for name, v in (("width", width), ("height", height)):
            if not (isinstance(v, int) and 1 <= v <= 2500):
                raise BadRequest(f"output.{name} must be an integer between 1 and 2500, got {v!r}")
        responses = out.get("responses")
        if not (isinstance(responses, list) and responses):
            raise BadRequest("output.responses must be a non-empty list")
        idents = []
        for r in responses:
            if not (isinstance(r, dict) and isinstance(r.get("identifier"), str)
                    and (r.get("format") or {}).get("type") == "image/tiff"):
                raise BadRequest(f"each response needs an identifier and format image/tiff "
                                 f"(the stand-in's only format), got {r!r}")
            idents.append(r["identifier"])
        units, outputs = _evalscript(script)
        for ident in idents:
            if ident not in outputs:
                raise BadRequest(f"Output {ident} requested but missing from function setup()",
                                 code="RENDERER_EXCEPTION")
        return cls(int(m.group(1)), tuple(bbox), width, height, start, end, float(max_cc), order,
                   harmonize, units, outputs, idents)


def _evalscript(script: str) -> tuple[str, dict[str, tuple[int, str, list[str]]]]:
    """Units, and per output id (bands, sampleType, sample names returned) of a V3 script."""
    fail = lambda msg: BadRequest(msg, code="RENDERER_EXCEPTION")  # noqa: E731
    if not script.lstrip().startswith("//VERSION=3"):
        raise fail("the stand-in evaluates //VERSION=3 evalscripts only")
    setup = re.search(r"function\s+setup\s*\(\s*\)\s*\{(.*?)\n\}", script, re.S)
    pixel = re.search(r"function\s+evaluatePixel\s*\(\s*(\w+)[^)]*\)\s*\{(.*?)\n\}", script, re.S)
    if not setup or not pixel:
        raise fail("evalscript needs setup() and evaluatePixel(sample)")
    bands = re.search(r"bands\s*:\s*\[([^\]]*)\]", setup.group(1))
    inputs = re.findall(r"[\"'](\w+)[\"']", bands.group(1)) if bands else []
    unknown = [b for b in inputs if b not in S2L2A_BANDS]
    if not inputs or unknown:
        raise fail(f"Invalid or unknown input bands {unknown or inputs!r}")
    units = re.search(r"units\s*:\s*[\"'](\w+)[\"']", setup.group(1))
    units_name = units.group(1) if units else "REFLECTANCE"
    if units_name not in ("DN", "REFLECTANCE"):
        raise fail(f"Unknown units {units_name!r}")
    decl = {m[0]: (int(m[1]), m[2] or "AUTO") for m in re.findall(
        r"\{\s*[\"']?id[\"']?\s*:\s*[\"'](\w+)[\"']\s*,\s*[\"']?bands[\"']?\s*:\s*(\d+)\s*"
        r"(?:,\s*[\"']?sampleType[\"']?\s*:\s*[\"'](\w+)[\"'])?\s*\}", setup.group(1))}
    var, body = pixel.groups()
    returned = dict(re.findall(r"(\w+)\s*:\s*\[([^\]]*)\]", body.split("return", 1)[-1]))
    outputs = {}
    for ident, (n, sample_type) in decl.items():
        names = re.findall(rf"\b{var}\.(\w+)", returned.get(ident, ""))
        missing = [b for b in names if b not in inputs]
        if missing or len(names) != n:
            raise fail(f"Output {ident}: evaluatePixel returns {len(names)} values of declared "
                       f"inputs for {n} bands (undeclared: {missing})")
        if any(b not in SERVED for b in names):
            raise fail(f"the stand-in serves only {', '.join(SERVED)}")
        if sample_type not in ("AUTO", "UINT8", "UINT16", "FLOAT32"):
            raise fail(f"Unknown sampleType {sample_type!r}")
        outputs[ident] = (n, sample_type, names)
    return units_name, outputs


def _tiff(values: np.ndarray, sample_type: str, req: _ProcessRequest) -> bytes:
    if sample_type == "FLOAT32":
        arr = values.astype(np.float32)
    else:
        top = 65535 if sample_type == "UINT16" else 255
        dtype = np.uint16 if sample_type == "UINT16" else np.uint8
        if sample_type == "AUTO" or values.dtype.kind == "f":  # AUTO: 0..1 stretched to 0..255
            values = np.rint(values * (255.0 if sample_type == "AUTO" else 1.0))
        arr = np.clip(values, 0, top).astype(dtype)
    arr = arr[..., 0] if arr.shape[-1] == 1 else arr
    res_x = (req.bbox[2] - req.bbox[0]) / req.width
    res_y = (req.bbox[3] - req.bbox[1]) / req.height
    geotags = [(33550, "d", 3, (res_x, res_y, 0.0), True),
               (33922, "d", 6, (0.0, 0.0, 0.0, req.bbox[0], req.bbox[3], 0.0), True),
               (34735, "H", 16, (1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, req.epsg),
                True)]
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, photometric="minisblack", compression="zlib",
                     compressionargs={"level": 1}, extratags=geotags,
                     planarconfig="contig" if arr.ndim == 3 else None)
    return buf.getvalue()


def _item(site: Site, ref) -> dict:
    g = site_grid(site)
    to_wgs = Transformer.from_crs(g.crs, "EPSG:4326", always_xy=True)
    w, s, e, n = to_wgs.transform_bounds(*g.bounds)
    stamp = ref.datetime.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {
        "stac_version": "1.0.0", "type": "Feature", "id": ref.scene_id,
        "collection": "sentinel-2-l2a", "bbox": [w, s, e, n],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {"datetime": stamp, "eo:cloud_cover": ref.cloud_cover,
                       "platform": f"sentinel-{ref.scene_id[1:3].lower()}",
                       "constellation": "sentinel-2", "instruments": ["msi"], "gsd": 10,
                       "proj:epsg": g.epsg},
        "assets": {}, "links": [],
    }


def _cql2(text: object):
    """A predicate on cloud cover from ``eo:cloud_cover < 30 [AND ...]`` (cql2-text)."""
    if text is None:
        return lambda _: True
    if not isinstance(text, str):
        raise BadRequest("filter must be a cql2-text string")
    ops = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
           "=": np.equal}
    tests = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.I):
        m = re.fullmatch(r"eo:cloud_cover\s*(<=|>=|<|>|=)\s*(-?\d+(?:\.\d+)?)", part.strip())
        if not m:
            raise BadRequest(f"Cannot parse filter {part!r} (the stand-in filters eo:cloud_cover)")
        tests.append((ops[m.group(1)], float(m.group(2))))
    return lambda cc: all(bool(op(cc, v)) for op, v in tests)


def _interval(text: object) -> tuple[dt.datetime, dt.datetime]:
    try:
        a, b = str(text).split("/")
        parse = lambda s, d: d if s in ("..", "") else dt.datetime.fromisoformat(s)  # noqa: E731
        start = parse(a, dt.datetime(1970, 1, 1, tzinfo=dt.UTC))
        end = parse(b, dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
        if start.tzinfo is None or end.tzinfo is None or start > end:
            raise ValueError
        return start, end
    except ValueError:
        raise BadRequest(f"Invalid datetime interval {text!r}") from None


def _num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _no_unknown(obj: object, known: set[str], where: str) -> None:
    if not isinstance(obj, dict):
        raise BadRequest(f"{where} must be a JSON object")
    extra = sorted(set(obj) - known)
    if extra:
        raise BadRequest(f"Unrecognized field(s) {extra} in {where}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802
        shub: StandIn = self.server.standin  # type: ignore[attr-defined]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        endpoint = {TOKEN_PATH: "token", CATALOG_PATH: "catalog",
                    PROCESS_PATH: "process"}.get(self.path.split("?")[0])
        if endpoint is None:
            return self._json(404, _error(404, "Not Found", "No such endpoint", "NOT_FOUND"))
        if endpoint == "token":
            return self._token(shub, raw)
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        n = shub._count(endpoint, body if isinstance(body, dict) else None)
        try:
            token = shub._check_token(self.headers.get("Authorization"))
            if not isinstance(body, dict):
                raise BadRequest("Request body is not a JSON object")
            fault = shub._fault(endpoint, n, request_days(body) if endpoint == "process" else None)
            if fault and fault.kind == "401":
                if fault.revoke:
                    shub._revoke(token)
                    shub._check_token(self.headers.get("Authorization"))
                raise BadRequest("You are not authorized! Please provide a valid access token "
                                 "within the header [Authorization: Bearer <accessToken>] of "
                                 "your request.", 401, "COMMON_UNAUTHORIZED")
            if fault and fault.kind in ("429", "500"):
                status = int(fault.kind)
                headers = {"Retry-After": str(fault.retry_after_ms)} if status == 429 else {}
                return self._json(status, _error(status, _REASONS[status], "stand-in fault",
                                                 "RATE_LIMIT_EXCEEDED" if status == 429
                                                 else "INTERNAL_SERVER_ERROR"), headers)
            if endpoint == "catalog":
                payload, ctype = json.dumps(shub.catalog(body)).encode(), "application/json"
            else:
                payload, ctype = shub.process(body, self.headers.get("Accept", ""))
        except BadRequest as exc:
            return self._json(exc.status, _error(exc.status, _REASONS.get(exc.status, "Error"),
                                                 str(exc), exc.code))
        if fault and fault.kind == "corrupt":
            payload = payload[: len(payload) // 2]
        self._send(200, payload, ctype, truncate=bool(fault and fault.kind == "truncate"))

    def _token(self, shub: StandIn, raw: bytes) -> None:
        n = shub._count("token", None)
        fault = shub._fault("token", n, None)
        if fault and fault.kind in ("429", "500"):
            return self._json(int(fault.kind), {"error": "server_error"})
        if "application/x-www-form-urlencoded" not in self.headers.get("Content-Type", ""):
            return self._json(400, {"error": "invalid_request",
                                    "error_description": "form-encoded body expected"})
        form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        if form.get("grant_type") != "client_credentials":
            return self._json(400, {"error": "unsupported_grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (shub.client_id,
                                                                  shub.client_secret):
            return self._json(401, {"error": "invalid_client",
                                    "error_description": "Invalid client or Invalid client credentials"})
        body = {"access_token": shub._issue_token(), "expires_in": shub.token_lifetime_s,
                "token_type": "Bearer", "not-before-policy": 0, "scope": "email profile"}
        self._send(200, json.dumps(body).encode(), "application/json",
                   truncate=bool(fault and fault.kind == "truncate"))

    def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
        self._send(status, json.dumps(body).encode(), "application/json", headers=headers)

    def _send(self, status: int, payload: bytes, ctype: str, *, truncate: bool = False,
              headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if truncate:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload[: len(payload) // 2] if truncate else payload)
        if truncate:
            self.wfile.flush()
            self.close_connection = True


def request_days(body: dict) -> tuple[dt.date, dt.date] | None:
    """The days a process request's time range covers (None when it is malformed)."""
    try:
        tr = body["input"]["data"][0]["dataFilter"]["timeRange"]
        return tuple(dt.datetime.fromisoformat(tr[k]).date() for k in ("from", "to"))
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _error(status: int, reason: str, message: str, code: str) -> dict:
    return {"error": {"status": status, "reason": reason, "message": message, "code": code}}
