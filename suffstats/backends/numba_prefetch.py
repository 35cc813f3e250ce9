"""A cache prefetch hint for compiled kernels: ``prefetch(array, index)`` asks for the line holding an element.

Reading a file-sized array is the slowest part of a pass whose compute is
light (k-means with a few centres): rows come from memory at its bandwidth,
and a kernel that finishes one chunk before it asks for the next waits for
each. A kernel that hints the next rows while it adds up the current ones
finds them in the cache. The hint never changes a value, and an index past
the array's end is never hinted (callers keep it in range).

Examples
--------
>>> import numpy as np
>>> from numba import njit
>>> from suffstats.backends.numba_prefetch import prefetch
>>> @njit
... def total(a):
...     s = 0.0
...     for i in range(a.size):
...         if i + 64 < a.size:
...             prefetch(a, i + 64)
...         s += a[i]
...     return s
>>> float(total(np.arange(100.0)))
4950.0
"""

from __future__ import annotations

from llvmlite import binding, ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch"]

#: LLVM 15 and later name the intrinsic by the opaque pointer type, earlier versions by ``i8*``.
_NAME = "llvm.prefetch.p0" if binding.llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"


@intrinsic
def prefetch(typingctx, array, index):
    """Hint that ``array.ravel()[index]`` (a C-contiguous array) will be read soon: kept in every cache level."""
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None
    signature = types.void(array, index)

    def codegen(context, builder, sig, args):
        array_type = sig.args[0]
        data = context.make_array(array_type)(context, builder, args[0]).data
        byte = ir.IntType(8).as_pointer()
        size = context.get_abi_sizeof(context.get_data_type(array_type.dtype))
        offset = builder.mul(context.cast(builder, args[1], sig.args[1], types.intp),
                             context.get_constant(types.intp, size))
        address = builder.gep(builder.bitcast(data, byte), [offset])
        i32 = ir.IntType(32)
        hint = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [byte, i32, i32, i32]),
                                              _NAME)
        builder.call(hint, [address, i32(0), i32(3), i32(1)])  # read, keep in all levels, data cache
        return context.get_dummy_value()

    return signature, codegen
