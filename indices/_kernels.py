"""Numba kernels behind indices/: the fused DN -> index kernels (the median over time is in
:mod:`indices._median`, the generated reduce kernels in :mod:`indices._reduce_kernels`).

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
