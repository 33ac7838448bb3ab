"""The genotype network."""
import numpy as np

from deepvariant_py.model import build_model


def test_read_rows_are_a_set_so_row_order_cannot_change_a_call():
    # Why haplotype sorting is off in every preset: permuting the read rows (rows below the reference rows)
    # leaves the output unchanged, because the network pools read features over rows.
    shape = (20, 31, 7)
    model = build_model(shape, ref_rows=5, crop_width=21)
    rng = np.random.default_rng(3)
    pileups = rng.integers(0, 255, size=(4,) + shape, dtype=np.uint8)
    pileups[:, 17:] = 0  # empty rows at the bottom, as in a shallow pileup
    shuffled = pileups.copy()
    shuffled[:, 5:17] = pileups[:, 5:17][:, rng.permutation(12)]
    assert not np.array_equal(shuffled, pileups)
    out = model(pileups, training=False).numpy()
    assert np.allclose(out, model(shuffled, training=False).numpy(), atol=1e-6)
    # ... whereas changing a read does change the output, so the check can fail
    changed = pileups.copy()
    changed[:, 6] = 255 - changed[:, 6]
    assert not np.allclose(out, model(changed, training=False).numpy(), atol=1e-6)
