"""major_slices against scipy's own slicing."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from siteplan.model.sparse import major_slices


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("seed", [0, 1])
def test_major_slices_hold_what_slicing_the_matrix_holds(fmt, seed):
    rng = np.random.default_rng(seed)
    m = sp.random(40, 30, density=0.15, format=fmt, random_state=seed)
    which = rng.integers(0, m.shape[0] if fmt == "csr" else m.shape[1], size=25)  # repeats and empty ones too
    at, lens = major_slices(m, which)
    ref = m[which] if fmt == "csr" else m[:, which]
    assert lens.tolist() == np.diff(ref.indptr).tolist()
    assert m.indices[at].tolist() == ref.indices.tolist()
    assert m.data[at].tolist() == ref.data.tolist()


def test_no_slices_is_empty():
    at, lens = major_slices(sp.eye(3, format="csr"), np.array([], dtype=int))
    assert len(at) == 0 and len(lens) == 0
