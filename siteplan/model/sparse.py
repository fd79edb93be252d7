"""Small helpers over compressed sparse matrices (CSR rows, CSC columns), for loops that slice them often."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["major_slices"]


def major_slices(m: sp.csr_matrix | sp.csc_matrix, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the rows (CSR) or columns (CSC) ``which`` of ``m`` lie in ``m.indices`` and ``m.data``, one after another,
    and how many entries each has: ``m.indices[at]`` is what ``m[which]`` (``m[:, which]``) holds, without building it.

    Slicing a sparse matrix costs tens of microseconds of checks each time, which a loop over thousands of
    candidate moves or discs pays again and again.
    """
    which = np.asarray(which, dtype=np.intp)
    lens = m.indptr[which + 1] - m.indptr[which]
    ends = np.cumsum(lens)
    at = np.repeat(m.indptr[which] - (ends - lens), lens) + np.arange(ends[-1] if len(ends) else 0)
    return at, lens
