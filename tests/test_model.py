"""The genotype network."""
import numpy as np
import pytest

from deepvariant_py.model import build_model, model_version


@pytest.mark.parametrize("max_pooling", [True, False])
def test_read_rows_are_a_set_so_row_order_cannot_change_a_call(max_pooling):
    # Why haplotype sorting is off in every preset: permuting the read rows (rows below the reference rows)
    # leaves the output unchanged, because the network pools read features over rows (mean and max, or mean only).
    shape = (20, 31, 7)
    model = build_model(shape, ref_rows=5, crop_width=21, max_pooling=max_pooling)
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


def _tagged_pileups(shape, hp_index, seed=5):
    rng = np.random.default_rng(seed)
    pileups = rng.integers(1, 255, size=(6,) + shape, dtype=np.uint8)
    pileups[:, 17:] = 0
    pileups[:, :5, :, hp_index] = 0  # reference rows carry no tag
    pileups[:, 5:17, :, hp_index] = rng.choice(np.array([0, 127, 254], np.uint8), size=(6, 12, 1))
    return pileups


def test_haplotype_pooling_is_blind_to_which_haplotype_is_called_1():
    # whatshap's HP=1 in one phase block is an arbitrary choice, so swapping 1 and 2 must not change a call.
    shape, hp = (20, 31, 7), 6
    model = build_model(shape, ref_rows=5, crop_width=21, hp_index=hp)
    pileups = _tagged_pileups(shape, hp)
    swapped = pileups.copy()
    swapped[..., hp] = np.select([pileups[..., hp] == 127, pileups[..., hp] == 254], [254, 127], 0)
    assert not np.array_equal(swapped, pileups)
    out = model(pileups, training=False).numpy()
    np.testing.assert_allclose(out, model(swapped, training=False).numpy(), atol=1e-6)
    # rows are still a set...
    shuffled = pileups.copy()
    shuffled[:, 5:17] = pileups[:, 5:17][:, np.random.default_rng(0).permutation(12)]
    np.testing.assert_allclose(out, model(shuffled, training=False).numpy(), atol=1e-6)
    # ... but moving one read to the other haplotype is seen (untagged -> tagged, or 1 -> 2 in a mixed pileup)
    moved = pileups.copy()
    moved[:, 5, :, hp] = np.where(pileups[:, 5, :, hp] == 127, 254, 127)
    assert not np.allclose(out, model(moved, training=False).numpy(), atol=1e-6)


def test_model_version_marks_haplotype_pooling():
    assert model_version(build_model((20, 31, 7), crop_width=21)) == "dvcall-readset-1"
    assert model_version(build_model((20, 31, 7), crop_width=21, hp_index=6)) == "dvcall-readset-2"


def test_without_max_pooling_the_read_features_enter_the_columns_once():
    # mean-only pooling drops the 16 max features from col_conv0's input (kernel 5 wide, 96 out), nothing else
    shape = (20, 31, 7)
    plain, pooled = build_model(shape, crop_width=21, max_pooling=False), build_model(shape, crop_width=21)
    assert pooled.count_params() - plain.count_params() == 5 * 16 * 96
    assert model_version(plain) == model_version(pooled) == "dvcall-readset-1"
