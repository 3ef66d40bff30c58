"""The generated reduce kernels (:func:`reduce_kernel`): indices reduced to per-scene sums and
counts in one pass, no index layer written (split out of :mod:`indices._kernels`, which
compiles and caches them as it does the fused kernels, and still exports the name).
"""

from __future__ import annotations

import ast

from indices._kernels import _compile_generated, _indent, _one_at_a_time, scl_bits

__all__ = ["reduce_kernel"]

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


def _constant_load(name: str, i: int, wide: bool, fixed: dict[str, float]) -> str:
    value = repr(float(fixed[name])) if name in fixed else f"cs[{i}]"
    return f"c_{name} = {value}" if wide else f"c_{name} = f32({value})"


@_one_at_a_time
def reduce_kernel(symbols: tuple[str, ...],
                  outputs: tuple[tuple[str, str, tuple[str, ...]], ...],
                  valid_scl: tuple[int, ...] | None, *, where: bool = False,
                  prelude: tuple[str, ...] = (), counts: tuple[str, ...] = (),
                  constants: tuple[str, ...] = (), wide: tuple[str, ...] = (),
                  fixed: tuple[tuple[str, float], ...] = ()):
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
    calling thread, for dask tasks (:class:`indices.sums._ReduceBlock`).

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
        Names of values given at run time (a site's water parameters): the kernel then takes
        ``consts (len(constants),) float64`` after ``offsets``, and one compiled kernel
        serves every site. Each is read as float32 (``c_<name>``, the float32 arithmetic of
        the array code), except those named in ``wide``, read as float64 (a mangrove site's
        discriminant axis, :mod:`indices.mangrove_axis`, computed in float64).
    fixed
        ``(name, value)`` of constants compiled in as literals (their run-time value is not
        read): a branch on a flag the same for every pixel of a site is then folded away, and
        the pixel loop stays vectorised (:class:`indices.sums._ReduceBlock`'s ``switch``).

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
                    .replace("__CLOADS__", _indent(
                        [_constant_load(c, i, c in wide, dict(fixed))
                         for i, c in enumerate(constants)], 4)))
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
