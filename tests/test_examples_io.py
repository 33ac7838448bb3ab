"""Examples on disk: round trip, sidecar, and the model/examples mismatch refusal."""
from __future__ import annotations

import numpy as np
import pytest

from deepvariant_py.errors import InputError, ModelError
from deepvariant_py.examples_io import (CallRecord, ExampleWriter, VariantInfo, check_model_matches, example_dataset,
                                        read_calls, read_sidecar, write_calls, write_sidecar)


def _write(path, n=3, label=True):
    writer = ExampleWriter(str(path))
    rng = np.random.default_rng(0)
    images = []
    for i in range(n):
        img = rng.integers(0, 255, (10, 21, 6), dtype=np.uint8)
        images.append(img)
        writer.write(VariantInfo("chr1", 100 + i, "A", ("C", "AT"), 20, (10, 5, 5)), (0, 1) if i else (0,), img, i % 3 if label else None)
    writer.close()
    write_sidecar(str(path), (10, 21, 6), [1, 2, 3, 4, 5, 6])
    return images


def test_round_trip_with_labels(tmp_path):
    path = tmp_path / "ex.tfrecord.gz"
    images = _write(path)
    got = list(example_dataset([str(path)], (10, 21, 6), with_label=True))
    assert [int(l) for _, l in got] == [0, 1, 2]
    for (img, _), want in zip(got, images):
        np.testing.assert_array_equal(img.numpy(), want)


def test_round_trip_variant_and_indices(tmp_path):
    path = tmp_path / "ex.tfrecord.gz"
    _write(path, n=2, label=False)
    recs = list(example_dataset([str(path)], (10, 21, 6), with_label=False))
    v = VariantInfo.from_bytes(recs[1][1].numpy())
    assert (v.contig, v.start, v.ref, v.alts, v.allele_depths) == ("chr1", 101, "A", ("C", "AT"), (10, 5, 5))
    assert recs[1][2].numpy() == b"0,1"


def test_sidecar_and_no_partial_file_on_abort(tmp_path):
    path = tmp_path / "ex.tfrecord.gz"
    _write(path, n=1)
    assert read_sidecar(str(path))["shape"] == [10, 21, 6]
    other = tmp_path / "aborted.tfrecord.gz"
    w = ExampleWriter(str(other))
    w.abort()
    assert not other.exists() and not (tmp_path / "aborted.tfrecord.gz.partial").exists()


def test_missing_sidecar_is_input_error(tmp_path):
    with pytest.raises(InputError, match="make-examples"):
        read_sidecar(str(tmp_path / "none.tfrecord.gz"))


def test_model_mismatch_is_refused():
    with pytest.raises(ModelError, match="shape"):
        check_model_matches({"shape": [100, 221, 7], "channels": [1, 2, 3, 4, 5, 6, 19]},
                            {"shape": [100, 221, 6], "channels": [1, 2, 3, 4, 5, 6]}, "m")
    check_model_matches({"shape": [100, 221, 6], "channels": [1, 2, 3, 4, 5, 6]},
                        {"shape": [100, 221, 6], "channels": [1, 2, 3, 4, 5, 6]}, "m")


def test_calls_round_trip(tmp_path):
    path = str(tmp_path / "calls.jsonl.gz")
    rec = CallRecord(VariantInfo("chr1", 5, "A", ("G",), 7, (3, 4)), (0,), (0.1, 0.7, 0.2))
    assert write_calls(path, iter([rec])) == 1
    assert list(read_calls([path])) == [rec]
