"""Numba kernels behind indices/: the fused DN -> index kernels (the median over time is in
:mod:`indices._median`).

The static kernels (median, composite) are cached on disk by numba (``cache=True``); the fused
index kernels (:func:`fused_kernel` writes index layers, :func:`reduce_kernel` reduces them to
sums and counts in the same pass) are generated per set of indices, written as modules under
``BLUECARBON_KERNEL_CACHE`` and cached by numba there too (~2-10 s to compile, once).

Every kernel takes C-contiguous numpy blocks (callers ``np.ascontiguousarray`` them: numba loses
vectorisation on strided views), writes float32 into a preallocated output and is parallel over
rows (``prange``). Kernels release the GIL; :data:`KERNEL_LOCK` serialises launches so that dask
threads never start two parallel kernels at once (each already uses every core, and numba's
``workqueue`` threading layer aborts the process on concurrent launches). The reduce kernels
also come serial (``kernel.serial``): dask tasks run those, one a thread, with no lock.

Reflectance from a DN is ``max(DN + boa_offset, 0) * 1e-4`` in float32: negative surface
reflectance (noise over dark water, kept by the -1000 offset) is floored at 0 so that
normalised differences stay within [-1, 1].
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

KERNEL_LOCK = threading.Lock()
_THIS_FILE_HASH = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()
_LOAD_LOCK = threading.Lock()
"""Held while a parallel kernel runs (see the module docstring)."""

SCALE = np.float32(1e-4)
"""Reflectance per digital number, L2A quantification 10000."""

_NAN = np.float32(np.nan)
_INF = np.float32(np.inf)
_ZERO = np.float32(0.0)
_ONE = np.float32(1.0)
_HALF = np.float32(0.5)

_jit = functools.partial(numba.njit, nogil=True, error_model="numpy")


@_jit(inline="always")
def dn_reflectance(dn, offset):
    """Reflectance of a DN (uint16) and its scene's offset (float32), floored at 0, float32.

    ``DN + offset`` is an integer below 2**24, so float32 holds it exactly (the same value as
    integer arithmetic); float32 keeps the loop in 8-wide vector lanes, where numba's int64
    promotion of integer sums would force scalar int64 -> float conversions.
    """
    v = np.float32(dn) + offset
    return (v if v > _ZERO else _ZERO) * SCALE


@_jit(inline="always")
def floor_reflectance(v):
    """Float reflectance as float32, negatives floored at 0, NaN kept."""
    v = np.float32(v)
    return _ZERO if v < _ZERO else v


def scl_bits(classes) -> np.uint32:
    """Bit set of SCL classes (all < 31) for :func:`scl_in`."""
    if any(not 0 <= c < 31 for c in classes):
        raise ValueError(f"SCL classes must be in 0..30, got {classes}")
    return np.uint32(sum(1 << c for c in set(classes)))


@_jit(inline="always")
def scl_in(scl, bits):
    """``scl in classes`` for ``bits = scl_bits(classes)``; branch-free, so loops vectorise
    (a 256-entry lookup table is a gather that stops LLVM vectorising the fused kernel), and
    in 32-bit lanes (:func:`scl_weight`)."""
    return scl_weight(bits, scl) != _ZERO


@intrinsic
def scl_weight(typingctx, bits, scl):
    """float32 1.0 where bit ``scl`` of ``bits`` (a :func:`scl_bits` set) is set, else 0.0
    (``scl`` > 31: 0.0), computed in 32-bit integer lanes.

    The same test in numba's integer arithmetic shifts in 64 bits (numba widens uint32), so
    LLVM vectorised it as pairs of 4-lane 64-bit shifts and packs; written here in LLVM IR it
    is one 8-lane ``vpsrlvd``: ~15 % of the reduce kernels' time on AVX2."""
    if not (isinstance(bits, types.Integer) and isinstance(scl, types.Integer)
            and scl.bitwidth <= 32):
        return None

    def codegen(context, builder, signature, args):
        i32 = ir.IntType(32)
        b = context.cast(builder, args[0], signature.args[0], types.uint32)
        v = builder.zext(args[1], i32) if scl.bitwidth < 32 else args[1]
        top = ir.Constant(i32, 31)
        v = builder.select(builder.icmp_unsigned("<", v, top), v, top)
        bit = builder.and_(builder.lshr(b, v), ir.Constant(i32, 1))
        return builder.uitofp(bit, ir.FloatType())
    return types.float32(bits, scl), codegen


@_jit(inline="always")
def safe_div(a, b):
    """``a / b``, NaN where ``b == 0`` (also 0/0): an index is undefined there, not infinite."""
    return a / b if b != _ZERO else _NAN


@numba.njit(nogil=True, error_model="numpy", fastmath={"reassoc", "nsz"}, cache=True)
def row_sum(values):
    """Sum of a float32 row, in float64.

    ``reassoc`` and ``nsz`` let LLVM split the sum over vector lanes (a strict left-to-right
    float sum does not vectorise: ~8 Gfloat/s a core against ~1); they apply to this function
    only, so the index arithmetic of the kernels calling it keeps IEEE order. Summing in
    float64 keeps the result within ~1e-15 of any other order. An index loop, not
    ``for v in values``: numba's array iterator does not vectorise.
    """
    s = 0.0
    for i in range(values.shape[0]):
        s += np.float64(values[i])
    return s


@_jit(cache=True)
def row_count(flags, bit):
    """How many values of an int32 row have bit ``bit`` set.

    The reduce kernels flag what they count as bits of one int32 per pixel: one store per
    pixel whatever the number of counts. Each row buffer stored to is one more pointer whose
    overlap LLVM must check at run time, and past a handful of them it gives up vectorising
    the pixel loop altogether (10x slower); integer counters inside the loop would make it
    pick 4 lanes (int64) instead of 8 (float32)."""
    c = 0
    for i in range(flags.shape[0]):
        c += (flags[i] >> bit) & 1
    return c


# --------------------------------------------------------------------------- fused indices

_DN_TEMPLATE = """
def fused(__ARGS__, offsets, out):
    T, Y, X = __FIRST__.shape
    for r in prange(T * Y):
        t = r // Y
        y = r - t * Y
        off = np.float32(offsets[t])
__ROWS__
        for x in range(X):
__BODY__
"""

_REFL_TEMPLATE = """
def fused(__ARGS__, out):
    R, X = __FIRST__.shape
    for r in prange(R):
__ROWS__
        for x in range(X):
__BODY__
"""


def membership(var: str, classes: tuple[int, ...]) -> str:
    """Source of a branch-free ``var in classes`` test from runs of consecutive classes."""
    runs: list[list[int]] = []
    for c in sorted(set(classes)):
        if runs and c == runs[-1][1] + 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    tests = [f"({var} == {a})" if a == b else f"(({var} >= {a}) & ({var} <= {b}))"
             for a, b in runs]
    return " | ".join(tests) or "False"


def _indent(lines: list[str], n: int) -> str:
    return "\n".join(" " * n + line for line in lines)


def _one_at_a_time(func):
    """``functools.cache`` whose first call per key runs once: dask threads asking for the
    same kernel at once would both generate and compile it (seconds each)."""
    cached = functools.cache(func)
    lock = threading.RLock()

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with lock:
            return cached(*args, **kwargs)
    wrapper.cache_info = cached.cache_info
    return wrapper


@_one_at_a_time
def fused_kernel(symbols: tuple[str, ...], outputs: tuple[tuple[str, tuple[str, ...]], ...],
                 source: str, valid_scl: tuple[int, ...] | None = None):
    """Compile (once per argument tuple) a kernel computing several indices in one pass,
    parallel over rows; ``kernel.serial`` is the same loop on the calling thread.

    Parameters
    ----------
    symbols
        Band symbols read, in argument order (``("G", "R", "N")``); each is read once a pixel.
    outputs
        ``(expression, symbols used)`` per output layer; expressions are Python over the
        symbols, ``abs``, ``safe_div`` and ``f32`` (float32 constants), as built by
        ``indices.spectral``.
    source
        ``"dn"``: arguments ``(*bands (T, Y, X) uint16, [scl (T, Y, X) uint8], offsets (T,)
        int, out)``, ``out`` k float32 layers ``(T, Y, X)``: a tuple of arrays (each its own
        allocation: see :class:`indices.spectral._FusedBlock`) or one ``(k, T, Y, X)`` array;
        an output is NaN where any band it uses is 0 or, given ``valid_scl``, where SCL is
        not one of those classes.
        ``"reflectance"``: arguments ``(*bands (R, X) float, out)``, ``out`` k layers
        ``(R, X)`` as above; NaN propagates.
    valid_scl
        ``"dn"`` only: SCL classes that count as valid (``None``: no SCL argument, no test).
        The test is generated as comparisons on the uint8 value, e.g.
        ``(s == 2) | ((s >= 4) & (s <= 7))``, which vectorise in byte lanes (a lookup table is
        a gather that stops LLVM vectorising; a bit-set shift runs in 64-bit lanes, ~12 %
        slower).
    """
    args = [f"a_{s}" for s in symbols]
    if source == "dn":
        rows = [f"r_{s} = a_{s}[t, y]" for s in symbols] + [
            f"o_{i} = out[{i}][t, y]" for i in range(len(outputs))]
        body = []
        for s in symbols:
            body += [f"d_{s} = r_{s}[x]", f"{s} = dn_reflectance(d_{s}, off)"]
        use_scl = valid_scl is not None
        if use_scl:
            args.append("scl")
            rows.append("r_scl = scl[t, y]")
            body += ["s = r_scl[x]", f"m = {membership('s', valid_scl)}"]
        for i, (expr, used) in enumerate(outputs):
            ok = " & ".join((["m"] if use_scl else []) + [f"(d_{s} != 0)" for s in used])
            body += [f"v_{i} = {expr}", f"o_{i}[x] = v_{i} if {ok} else NAN"]
        template = _DN_TEMPLATE
    elif source == "reflectance":
        rows = [f"r_{s} = a_{s}[r]" for s in symbols] + [
            f"o_{i} = out[{i}][r]" for i in range(len(outputs))]
        body = [f"{s} = floor_reflectance(r_{s}[x])" for s in symbols]
        body += [f"o_{i}[x] = {expr}" for i, (expr, _) in enumerate(outputs)]
        template = _REFL_TEMPLATE
    else:
        raise ValueError(f"source must be 'dn' or 'reflectance', not {source!r}")
    src = (template.replace("__ARGS__", ", ".join(args))
           .replace("__FIRST__", args[0])
           .replace("__ROWS__", _indent(rows, 8))
           .replace("__BODY__", _indent(body, 12)))
    # the serial twin (kernel.serial), as for the reduce kernels
    src += "\n\n" + src.replace("def fused(", "def fused_serial(").replace("prange(", "range(")
    return _compile_generated(src)


_REDUCE_RUN = 256
"""Pixels summed in float32 before a reduce kernel adds them to its float64 totals."""

_DN_REDUCE_TEMPLATE = """
@numba.njit(nogil=True, error_model="numpy", fastmath=False, forceinline=True, cache=CACHE)
def pixel(__PIXARGS__, off):
__PIXBODY__
    return (__RESULTS__,)


@numba.njit(nogil=True, error_model="numpy", fastmath={"reassoc", "nsz", "contract"},
            cache=CACHE)
def row(__ROWARGS__, off, o):
    for j in range(__W__):
        o[j] = 0.0
    X = __FIRSTROW__.shape[0]
    for x0 in range(0, X, RUN):
        n = min(RUN, X - x0)
__ZEROS__
        for i in range(n):
            x = np.uint64(x0) + np.uint64(i)
            q = pixel(__LOADS__, off)
__ADDS__
__STORES__


def fused(__ARGS__, offsets, out):
    T, Y, X = __FIRST__.shape
    for r in prange(T * Y):
        t = r // Y
        y = r - t * Y
        row(__SLICES__, np.float32(offsets[t]), out[r])
"""


class _SafeDenominators(ast.NodeTransformer):
    """``safe_div(a, b)`` -> ``(a / (e_k if z_k else ONE))``, recording ``e_k = b`` (inner
    divisions first) and ``z_k = e_k != ZERO``: a denominator that is 0 divides by 1 instead
    (a finite value, never counted) and zeroes the index's weight."""

    def __init__(self, prefix: str):
        self.prefix, self.statements, self.tests = prefix, [], []

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "safe_div":
            k = len(self.tests)
            e, z = f"e_{self.prefix}{k}", f"z_{self.prefix}{k}"
            self.statements += [f"{e} = {ast.unparse(node.args[1])}", f"{z} = {e} != ZERO"]
            self.tests.append(z)
            divisor = ast.parse(f"({e} if {z} else ONE)", mode="eval").body
            return ast.BinOp(node.args[0], ast.Div(), divisor)
        return node


def _pixel_function(symbols: tuple[str, ...],
                    outputs: tuple[tuple[str, str, tuple[str, ...]], ...],
                    valid_scl: tuple[int, ...] | None, *, where: bool,
                    prelude: tuple[str, ...], counts: tuple[str, ...]
                    ) -> tuple[list[str], list[str], list[str]]:
    """The pixel function of :func:`reduce_kernel`: ``(arguments, body lines, results)``,
    each index's value and weight, then the counts (see there for what each name means)."""
    names = [f"d_{s}" for s in symbols]
    body = []
    for s in symbols:
        # dn_reflectance's value, as max(): a select, where its conditional is a branch
        body += [f"f_{s} = f32(d_{s})", f"{s} = max(f_{s} + off, ZERO) * SCALE"]
    if valid_scl is not None:
        names.append("sv")
        body.append(f"mf = scl_weight(np.uint32({int(scl_bits(valid_scl))}), sv)")
    else:
        body.append("mf = ONE")
    if where:
        names.append("site")
        body.append("inf = min(f32(site), ONE)")
    else:
        body.append("inf = ONE")
    body += ["mif = mf * inf", "m = mf != ZERO", "inside = inf != ZERO", "mi = mif != ZERO"]
    results = []
    present: dict[tuple[str, ...], str] = {(): "mif"}
    for name, expr, used in outputs:
        rewrite = _SafeDenominators(f"{name}_")
        plain = ast.unparse(rewrite.visit(ast.parse(expr, mode="eval")))
        # 1 where SCL and site allow and every band used is nonzero: min(mif, f_A, f_B, ...)
        # (mif is 0 or 1, a DN a nonnegative integer), prefixes shared between indices
        for k in range(1, len(used) + 1):
            if used[:k] not in present:
                present[used[:k]] = f"p_{'_'.join(used[:k])}"
                body.append(f"{present[used[:k]]} = min({present[used[:k - 1]]}, f_{used[k - 1]})")
        weight = present[tuple(used)]
        defined = " & ".join(rewrite.tests)
        # the weight before the value (the other order once stopped LLVM vectorising)
        body += rewrite.statements + [
            f"w_{name} = {weight} if {defined} else ZERO" if defined
            else f"w_{name} = {weight}",
            f"v_{name} = {plain}",
            f"ok_{name} = w_{name} != ZERO"]
        results += [f"v_{name}", f"w_{name}"]
    body += list(prelude)
    results += [f"f32({expr})" for expr in counts]
    return names, body, results


@_one_at_a_time
def reduce_kernel(symbols: tuple[str, ...],
                  outputs: tuple[tuple[str, str, tuple[str, ...]], ...],
                  valid_scl: tuple[int, ...] | None, *, where: bool = False,
                  prelude: tuple[str, ...] = (), counts: tuple[str, ...] = (),
                  constants: tuple[str, ...] = ()):
    """Compile (once per argument tuple) a kernel that reduces indices to sums in one pass.

    No index layer is written. Per pixel, a strict-IEEE function computes each index exactly
    as :func:`fused_kernel` does (same float32 operations in the same order, so the same
    bits) and a weight, 1 where the index is counted and 0 elsewhere, all in float32 lanes:
    the weight is ``min(scl_ok, DN_a, DN_b, ...)`` over the bands the index uses (the SCL
    test, :func:`scl_weight`, is 0 or 1 and a DN a nonnegative integer; indices share
    prefixes of these), and a zero denominator divides by 1 and zeroes the weight. Boolean
    masks of mixed widths (uint8 SCL, uint16 DN, float32 values) make LLVM pack and widen
    them in every iteration, and per-pixel stores to row buffers summed afterwards cost as
    much as the indices; here the pixel loop only adds ``value * weight`` (one FMA:
    ``contract`` on the loop, not on the pixel function) and ``weight`` into float32 partial
    sums, which LLVM keeps in vector lanes (``reassoc`` on that loop only: the pixel function says
    ``fastmath=False`` explicitly, as numba otherwise compiles a callee with its caller's
    fastmath flags, and reassociated index arithmetic moves values, EVI's by ~1e-5, and
    thresholds with them; and ``forceinline``: a loop that calls it is not vectorised, and
    LLVM's inliner declines a pixel function with a few counts). Partial sums cover
    :data:`_REDUCE_RUN` pixels, then go to float64: counts are exact, sums within ~1e-7 of
    the float64 sum of the same values, relative to the sum of their magnitudes. ~1.7x the
    speed of the row-buffer kernel (4 indices, 8192² uint16, 2 cores); the 32-bit SCL test
    and the min weights another ~1.2x, the FMA ~1.06x (~27 cycles for 8 pixels and 4 indices
    on Zen 3, four ``vdivps`` among ~86 instructions, ~20 of them spills and reloads of the 8
    partial sums and constants). The floor: loading and converting the 4 bands and the SCL
    alone takes ~half the time, the divisions ~a quarter.

    The compiled kernel is parallel over rows; ``kernel.serial`` is the same loop on the
    calling thread, for dask tasks (:class:`indices.spectral._ReduceBlock`).

    Parameters
    ----------
    symbols, valid_scl
        As for :func:`fused_kernel` with ``source="dn"``.
    outputs
        ``(name, expression, symbols used)`` per index; ``name`` is an identifier.
    where
        Take a ``site`` argument ``(Y, X)`` uint8 after ``scl``: only pixels where it is
        nonzero count.
    prelude, counts
        Statements run per pixel, then boolean expressions counted. Both may use ``d_<S>``
        (DN), ``<S>`` (reflectance), ``sv`` (SCL value), ``m`` (SCL valid), ``inside``
        (site), ``mi`` (both), ``v_<name>`` (index value; garbage where not ``ok_<name>``)
        and ``ok_<name>`` (counted: ``mi``, the index's bands nonzero and its denominators
        nonzero, i.e. where :func:`fused_kernel` gives a number); ``f32``, ``np``; and
        ``c_<name>`` for each of ``constants``.
    constants
        Names of float32 values given at run time (a site's water parameters): the kernel
        then takes ``consts (len(constants),) float32`` after ``offsets``, and one compiled
        kernel serves every site.

    Arguments ``(*bands (T, Y, X) uint16, [scl (T, Y, X) uint8], [site (Y, X) uint8],
    offsets (T,) int, [consts], out (T * Y, 2 * len(outputs) + len(counts)) float64)``; row ``t * Y + y``
    of ``out`` gets, per index, the sum of its counted values and their number, then each
    count.
    """
    names, body, results = _pixel_function(symbols, outputs, valid_scl, where=where,
                                           prelude=prelude, counts=counts)
    width = len(results)
    cnames = [f"c_{c}" for c in constants]
    # value * weight summed in the loop, where ``contract`` makes it one FMA (~6 %)
    adds = [f"p_{j} += q[{j}] * q[{j + 1}]" if j < 2 * len(outputs) and j % 2 == 0
            else f"p_{j} += q[{j}]" for j in range(width)]
    if not width:
        raise ValueError("a reduce kernel needs at least one index or count")
    rows = [f"r_{n}" for n in names]
    args = [f"a_{s}" for s in symbols] + (["scl"] if valid_scl is not None else []) \
        + (["site"] if where else [])
    slices = [f"{a}[t, y]" for a in args[:len(symbols) + (valid_scl is not None)]] \
        + (["site[y]"] if where else [])
    template = _DN_REDUCE_TEMPLATE
    if constants:  # values read once a row, passed to the (inlined) pixel function
        template = (template.replace("off):\n__PIXBODY__", "off, __CNAMES__):\n__PIXBODY__")
                    .replace("def row(__ROWARGS__, off, o):",
                             "def row(__ROWARGS__, off, cs, o):\n__CLOADS__")
                    .replace("q = pixel(__LOADS__, off)", "q = pixel(__LOADS__, off, __CNAMES__)")
                    .replace("def fused(__ARGS__, offsets, out):",
                             "def fused(__ARGS__, offsets, cs, out):")
                    .replace("np.float32(offsets[t]), out[r])",
                             "np.float32(offsets[t]), cs, out[r])")
                    .replace("__CNAMES__", ", ".join(cnames))
                    .replace("__CLOADS__", _indent([f"{c} = cs[{i}]" for i, c in
                                                    enumerate(cnames)], 4)))
    src = (template.replace("__PIXARGS__", ", ".join(names))
           .replace("__PIXBODY__", _indent(body, 4))
           .replace("__RESULTS__", ", ".join(results))
           .replace("__ROWARGS__", ", ".join(rows))
           .replace("__FIRSTROW__", rows[0])
           .replace("__W__", str(width))
           .replace("__ZEROS__", _indent([f"p_{j} = ZERO" for j in range(width)], 8))
           .replace("__LOADS__", ", ".join(f"{r}[x]" for r in rows))
           .replace("__ADDS__", _indent(adds, 12))
           .replace("__STORES__", _indent([f"o[{j}] += p_{j}" for j in range(width)], 8))
           .replace("__ARGS__", ", ".join(args))
           .replace("__FIRST__", args[0])
           .replace("__SLICES__", ", ".join(slices)))
    # the serial twin (kernel.serial): the same loop without prange, under its own name
    parallel = src[src.index("def fused("):]
    src += "\n\n" + parallel.replace("def fused(", "def fused_serial(").replace("prange(", "range(")
    return _compile_generated(src)


_GENERATED_HEADER = """# generated by indices._kernels; safe to delete (rebuilt on demand)
import numba
import numpy as np
from numba import prange
from indices._kernels import _NAN as NAN, _ONE as ONE, _ZERO as ZERO, _REDUCE_RUN as RUN
from indices._kernels import SCALE, dn_reflectance, floor_reflectance, safe_div, scl_weight
f32 = np.float32
CACHE = "__file__" in globals()  # numba caches functions of files only
"""


def _kernel_cache_dir() -> Path:
    """Where generated kernels live as modules, so that numba can cache their machine code
    across processes (it caches only functions defined in files): ``BLUECARBON_KERNEL_CACHE``,
    else ``$XDG_CACHE_HOME/bluecarbon/kernels`` (``~/.cache/...``)."""
    root = os.environ.get("BLUECARBON_KERNEL_CACHE")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bluecarbon" / "kernels"


def _load_generated(src: str):
    """The module of ``src`` (its ``fused`` function, ...), from a file named by the hash of the
    source and of this file (a change to either gives a new module, so a stale cache is never
    used). Falls back to an in-memory namespace (no cross-process cache) where the disk is
    read-only.
    """
    text = _GENERATED_HEADER + src
    digest = hashlib.sha256((text + _THIS_FILE_HASH).encode()).hexdigest()[:20]
    try:
        folder = _kernel_cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"fused_{digest}.py"
        if not path.exists():
            tmp = folder / f".fused_{digest}.{os.getpid()}.{threading.get_ident()}.tmp"
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)  # atomic: concurrent processes write the same bytes
        name = f"_bluecarbon_fused_{digest}"
        with _LOAD_LOCK:  # dask threads may ask for the same kernel at once
            if name not in sys.modules:  # numba's cache re-imports the module by name
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                sys.modules[name] = module  # only once complete: others never see it half-run
            return sys.modules[name]
    except OSError:
        namespace: dict = {}
        exec(compile(text, f"<fused kernel {digest}>", "exec"), namespace)
        return SimpleNamespace(**namespace)


def _compile_generated(src: str):
    """The parallel kernel of generated source ``src``: cached on disk by numba where its
    module could be written, else compiled in memory only (numba caches only file-backed
    functions)."""
    module = _load_generated(src)
    cacheable = not module.fused.__code__.co_filename.startswith("<")
    kernel = _jit(parallel=True, cache=cacheable)(module.fused)
    kernel.source = src
    # the same loop without prange where the source has one (its own name: numba's disk cache
    # keys a function by name and signature, not by its parallel flag)
    serial = getattr(module, "fused_serial", None)
    kernel.serial = _jit(cache=cacheable)(serial) if serial is not None else None
    return kernel
