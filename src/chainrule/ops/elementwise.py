"""Elementwise primitives: each forward beside its derivative (as a VJP in Tensor ops)."""
from __future__ import annotations

import math
import numbers

import numpy

from .. import backend
from .primitive import Rejects, Sample, ShapeError, composite, constant, fast_vjp, primitive

BROADCAST = [Sample(((3, 4), (3, 4))), Sample(((3, 4), (4,))), Sample(((2, 1, 4), (3, 1)))]
BAD_BROADCAST = [Rejects(((3, 4), (5,)), {}, ShapeError)]
INTEGERS = numpy.array([1, -2, 3, 0])
_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < float


def _promoted(a, b):
    """The operands' arrays in one dtype, by PyTorch's rule where it differs from NumPy's: the
    operand of the higher kind sets the dtype (int64 * float32 is float32; NumPy makes float64),
    and between operands of one kind a 0-d tensor does not widen one with dimensions (float32 *
    a float64 0-d tensor stays float32). Otherwise NumPy's rule is PyTorch's."""
    x, y = a.data, b.data
    if x.dtype == y.dtype:
        return x, y
    x_rank, y_rank = _KIND_RANK[x.dtype.kind], _KIND_RANK[y.dtype.kind]
    if x_rank != y_rank:
        dtype = x.dtype if x_rank > y_rank else y.dtype
    elif (x.ndim == 0) != (y.ndim == 0):
        dtype = y.dtype if x.ndim == 0 else x.dtype
    else:
        return x, y
    return x.astype(dtype, copy=False), y.astype(dtype, copy=False)


def _float_data(a):
    """``a``'s array, in the default float dtype if it holds integers or bools: exp, sigmoid and
    the other float functions of integers give floats, as in PyTorch (NumPy: float64)."""
    return a.data if a.data.dtype.kind == "f" else a.data.astype(backend.get_default_dtype())


@primitive(samples=BROADCAST, rejects=BAD_BROADCAST, saves=())
def add(a, b):
    x, y = _promoted(a, b)
    return x + y, (lambda g, out: g, lambda g, out: g)


@primitive(samples=BROADCAST, rejects=BAD_BROADCAST, saves=())
def sub(a, b):
    x, y = _promoted(a, b)
    return x - y, (lambda g, out: g, lambda g, out: -g)


@primitive(samples=BROADCAST + [Sample(((3, 4), INTEGERS))], rejects=BAD_BROADCAST)
def mul(a, b):
    x, y = _promoted(a, b)
    return x * y, (lambda g, out: g * b, lambda g, out: g * a)


@primitive(samples=[Sample(((3, 4), (3, 4)), low=0.5), Sample(((3, 4), (4,)), low=0.5),
                    Sample((INTEGERS, (3, 4)), low=0.5)],
           rejects=BAD_BROADCAST, saves=("b", "out"))
def div(a, b):
    # d(a/b)/da = 1/b,  d(a/b)/db = -a/b² = -out/b
    x, y = _promoted(a, b)
    if x.dtype.kind != "f":  # integers divide into the default float dtype, as in PyTorch
        x, y = x.astype(backend.get_default_dtype()), y.astype(backend.get_default_dtype())
    return x / y, (lambda g, out: g / b, lambda g, out: -g * out / b)


@primitive(samples=[Sample(((3, 4),))], saves=())
def neg(a):
    return -a.data, lambda g, out: -g


@primitive(samples=[Sample(((3, 4), (3, 4)), low=0.5), Sample(((3, 4), (4,)), low=0.5)],
           rejects=BAD_BROADCAST, saves=("a", "b", "out"))
def pow(a, b):
    """d(aᵇ)/da = b·aᵇ⁻¹, and 0 where b = 0 (a⁰ is the constant 1, but at a = 0 the formula is
    0·0⁻¹ = nan). d(aᵇ)/db = aᵇ·ln a, and 0 where a = 0 and b ≥ 0 (the formula is 0·(−inf) =
    nan). Both zeros as in PyTorch: x ** arange(3) at x = 0 has a gradient, not nan."""
    x, y = _promoted(a, b)
    def base_vjp(g, out):
        # the exponent tested first: x ** 2 then reads no element of x more than its formula
        # does (nor replays, compiled, a test of every one and a branch on it)
        zero_exponent = b.data == 0
        base = _base_where(a, (a.data == 0) & zero_exponent) if zero_exponent.any() else a
        return g * b * base ** (b - 1)

    def exponent_vjp(g, out):
        return g * out * _base_where(a, (a.data == 0) & (b.data >= 0)).log()
    # numpy.power, not x ** y: NumPy < 2.3's ndarray.__pow__ reads a 0-d exponent with float()
    # (its fast path for x ** 2), which chainrule.compile refuses as a value frozen into the step
    return backend.xp.power(x, y), (base_vjp, exponent_vjp)


def _base_where(a, replaced):
    """``a`` with 1 at the ``replaced`` places, where pow's formulas read 0·inf. The base is
    replaced before the formula rather than its result afterwards: a nan computed and then
    masked would come back through the mask's zero in a second derivative."""
    return where(constant(replaced), 1.0, a) if replaced.any() else a


@primitive(samples=[Sample(((3, 4),))], saves=("out",))
def exp(a):
    return backend.xp.exp(_float_data(a)), lambda g, out: g * out


@primitive(samples=[Sample(((3, 4),), low=0.2, high=3.0)])
def log(a):
    return backend.xp.log(_float_data(a)), lambda g, out: g / a


@primitive(samples=[Sample(((3, 4),), low=0.2, high=3.0)], saves=("out",))
def sqrt(a):
    return backend.xp.sqrt(_float_data(a)), lambda g, out: g / (2 * out)


@primitive(samples=[Sample(((3, 4),))])
def abs(a):
    # the derivative of |a| is sign(a), taken as 0 at 0 like PyTorch
    return backend.xp.abs(a.data), lambda g, out: g * constant(backend.xp.sign(a.data))


@primitive(samples=[Sample(((3, 4),))])
def sin(a):
    return backend.xp.sin(_float_data(a)), lambda g, out: g * a.cos()


@primitive(samples=[Sample(((3, 4),))])
def cos(a):
    return backend.xp.cos(_float_data(a)), lambda g, out: -g * a.sin()


@primitive(samples=[Sample(((3, 4),))], saves=("out",))
def tanh(a):
    return backend.xp.tanh(_float_data(a)), lambda g, out: g * (1 - out * out)


@primitive(samples=[Sample(((3, 4),), low=-6, high=6)], saves=("out",))
def sigmoid(a):
    """σ(a) = 1 / (1 + e⁻ᵃ), computed so, as PyTorch computes it: exact to a rounding on both
    sides. Below a ≈ −88.7 (float32; −709.8 in float64) e⁻ᵃ overflows to inf, and σ is 1/inf = 0,
    as in PyTorch, where it is below the smallest normal number. (½(1 + tanh(a/2)), as before,
    cancelled for a < 0: σ(−15) was 3% off in float32 and σ(−20) was 0, so log σ(a) was −inf.)
    σ′(a) = σ(a)(1 − σ(a))."""
    x = _float_data(a)
    xp = backend.xp
    # one new array, the rest in place (out= keeps a 0-d input an array, not a NumPy scalar)
    out = xp.negative(x, out=xp.empty_like(x))
    with numpy.errstate(over="ignore"):  # the overflow to inf is the answer, not an accident
        xp.exp(out, out=out)
    out += 1
    xp.divide(1, out, out=out)
    return out, _SIGMOID_VJP


def _sigmoid_backward(g, out):
    """ḡ σ(1 − σ) on arrays: three passes, one new array, no op calls."""
    slope = 1 - out
    slope *= out
    slope *= g
    return slope


# σ's VJP reads only the error signal and the output, so one function serves every call: none
# is built per call in the forward.
_SIGMOID_VJP = fast_vjp(_sigmoid_backward, lambda g, out: g * out * (1 - out))


@primitive(samples=[Sample(((3, 4),), low=-4, high=4),
                    Sample(((3, 4),), {"beta": 2.0, "threshold": 3.0}, low=-4, high=4)])
def softplus(a, beta: float = 1.0, threshold: float = 20.0):
    """softplus(a) = log(1 + e^(βa))/β, a smooth ReLU, with PyTorch's switch to the line: a
    itself where βa > threshold (there e^(βa) would overflow, and the two differ by less than
    e^(−threshold)/β). log1p keeps the tiny values of very negative βa (log(1 + e⁻⁶⁰) is 0 in
    float32, log1p gives 8.7e-27). softplus′(a) = σ(βa), and 1 on the line."""
    x = _float_data(a)
    scaled = x * beta
    on_line = scaled > threshold
    with numpy.errstate(over="ignore"):  # e^(βa) of the points on the line is not used
        out = backend.xp.where(on_line, x, backend.xp.log1p(backend.xp.exp(scaled)) / beta)
    return out, lambda g, out: g * where(constant(on_line), 1.0, (a * beta).sigmoid())


@primitive(samples=[Sample(((3, 4),), low=-6, high=6)])
def logsigmoid(a):
    """log σ(a) = min(a, 0) − log(1 + e^(−|a|)), as PyTorch computes it: no overflow for any a
    (log of a sigmoid that rounded to 0 would be −inf from a ≈ −88.7 in float32).
    (log σ)′(a) = 1 − σ(a) = σ(−a)."""
    x = _float_data(a)
    xp = backend.xp
    return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x))), lambda g, out: g * (-a).sigmoid()


@composite(samples=[Sample(((3, 4),)), Sample(((3, 4),), {"negative_slope": 0.2})])
def leaky_relu(a, negative_slope: float = 0.01, inplace: bool = False):
    """a where a > 0, else negative_slope · a; its slope at 0 is negative_slope, as PyTorch's.
    ``inplace=True`` is accepted for PyTorch's code; the result is a new tensor all the same."""
    return where(a > 0, a, a * negative_slope)


@primitive(samples=[Sample(((3, 4),))], saves=("out",))
def relu(a):
    """max(a, 0). relu′(a) = [a > 0], read off the output: max(a, 0) > 0 exactly where a > 0
    (NaN neither), as PyTorch's ReLU does."""
    return backend.xp.maximum(a.data, 0), _RELU_VJP


# ReLU's VJP reads only the error signal and the output, so one function serves every call.
_RELU_VJP = fast_vjp(lambda g, out: g * (out > 0), lambda g, out: g * constant(out.data > 0))


@primitive(samples=[Sample(((3, 4),))])
def erf(a):
    """erf′(a) = 2/√π · e^(−a²)."""
    scale = 2 / math.sqrt(math.pi)
    return backend.erf(_float_data(a)), lambda g, out: g * scale * (-(a * a)).exp()


def _share(winner, tie, dtype):
    """Where the inputs tie, each gets half the gradient (as PyTorch does)."""
    return constant(winner.astype(dtype) + tie.astype(dtype) * dtype.type(0.5))


@primitive(samples=BROADCAST, rejects=BAD_BROADCAST)
def maximum(a, b):
    out = backend.xp.maximum(*_promoted(a, b))
    def share_a(g, out):
        return g * _share(a.data > b.data, a.data == b.data, out.dtype)
    def share_b(g, out):
        return g * _share(b.data > a.data, a.data == b.data, out.dtype)
    return out, (share_a, share_b)


@primitive(samples=BROADCAST, rejects=BAD_BROADCAST)
def minimum(a, b):
    out = backend.xp.minimum(*_promoted(a, b))
    def share_a(g, out):
        return g * _share(a.data < b.data, a.data == b.data, out.dtype)
    def share_b(g, out):
        return g * _share(b.data < a.data, a.data == b.data, out.dtype)
    return out, (share_a, share_b)


_CONDITION = numpy.array([[True, False, True, True], [False, False, True, False],
                          [True, True, False, True]])


@primitive(samples=[Sample((_CONDITION, (3, 4), (3, 4))), Sample((_CONDITION, (4,), (3, 1)))],
           rejects=[Rejects((numpy.ones((2, 2), bool), (3, 4), (3, 4)), {}, ShapeError)],
           saves=("condition",))
def where(condition, a, b):
    if condition.dtype != backend.bool_:
        raise TypeError(f"where: the condition must be a bool tensor, not {condition.dtype}")
    mask = condition.data
    zero = constant(backend.xp.zeros((), dtype=a.dtype))
    return backend.xp.where(mask, *_promoted(a, b)), (
        None,
        lambda g, out: where(condition, g, zero),
        lambda g, out: where(condition, zero, g),
    )


@primitive(samples=[Sample(((3, 4),), {"min": -0.5, "max": 0.7}), Sample(((3, 4),), {"min": 0.1})],
           rejects=[Rejects(((3, 4),), {"min": numpy.zeros(4)}, TypeError)], saves=())
def clamp(a, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for bound in (min, max):
        if bound is not None and not isinstance(bound, numbers.Real):
            raise TypeError(f"clamp: min and max must be numbers, not {type(bound).__name__}; for "
                            "tensor bounds use chainrule.maximum(x, low) and minimum(x, high)")
    # integers clamped to float bounds become floats of the default dtype, as in PyTorch
    floats = isinstance(min, float) or isinstance(max, float)
    out = backend.xp.clip(_float_data(a) if floats else a.data, min, max)
    inside = backend.xp.ones(a.shape, dtype=bool)
    if min is not None:
        inside &= a.data >= min
    if max is not None:
        inside &= a.data <= max
    return out, lambda g, out: g * constant(inside)


@primitive(samples=[Sample(((3, 4),), {"dtype": backend.float64})], saves=())
def cast(a, dtype=None):
    """A change of dtype; the gradient goes back in the input's dtype."""
    dtype = backend.as_dtype(dtype)
    return a.data.astype(dtype), lambda g, out: cast(g, dtype=a.dtype)


# ---------------------------------------------------------------- no gradient
def _no_grad(function):
    """Ops whose result is piecewise constant: they return a tensor outside the graph."""
    def op(*args):
        arrays = [a.data if hasattr(a, "data") else a for a in args]
        return constant(function(*arrays))
    op.__name__ = function.__name__
    return op


def _compare(name, function):
    def compare(a, b):
        a_data = a.data if hasattr(a, "data") else a
        b_data = b.data if hasattr(b, "data") else b
        try:
            return constant(function(a_data, b_data))
        except ValueError:
            raise ShapeError(f"{name}: cannot compare shapes {numpy.shape(a_data)} and "
                             f"{numpy.shape(b_data)}") from None
    compare.__name__ = name
    return compare


eq = _compare("eq", lambda a, b: a == b)
ne = _compare("ne", lambda a, b: a != b)
lt = _compare("lt", lambda a, b: a < b)
le = _compare("le", lambda a, b: a <= b)
gt = _compare("gt", lambda a, b: a > b)
ge = _compare("ge", lambda a, b: a >= b)
logical_and = _compare("logical_and", lambda a, b: a & b)
logical_or = _compare("logical_or", lambda a, b: a | b)
logical_not = _no_grad(lambda a: ~a)
sign = _no_grad(lambda a: backend.xp.sign(a))
floor = _no_grad(lambda a: backend.xp.floor(a))
ceil = _no_grad(lambda a: backend.xp.ceil(a))
round = _no_grad(lambda a: backend.xp.round(a))
isnan = _no_grad(lambda a: backend.xp.isnan(a))
isfinite = _no_grad(lambda a: backend.xp.isfinite(a))
