"""Examples on disk: round trip, sidecar, and the model/examples mismatch refusal."""
from __future__ import annotations

import numpy as np
import pytest

from deepvariant_py.errors import InputError
from deepvariant_py.examples_io import (CallRecord, ExampleWriter, VariantInfo, example_dataset, expand_paths,
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
    assert read_sidecar(str(path)).shape == (10, 21, 6)
    other = tmp_path / "aborted.tfrecord.gz"
    w = ExampleWriter(str(other))
    w.abort()
    assert not other.exists() and not (tmp_path / "aborted.tfrecord.gz.partial").exists()


def test_missing_sidecar_is_input_error(tmp_path):
    with pytest.raises(InputError, match="make-examples"):
        read_sidecar(str(tmp_path / "none.tfrecord.gz"))


def test_a_damaged_sidecar_is_one_input_error(tmp_path):
    from deepvariant_py.errors import InputError

    path = str(tmp_path / "ex.tfrecord.gz")
    for bad in ('{"shape": [100, 221], "channels": [1]}', '{"shape": [100, 221, 2], "channels": [1]}',
                '{"shape": [100, 221, 1], "channels": [1], "settings": []}', '{"channels": [1]}', "[1, 2]"):
        with open(path + ".example_info.json", "w") as fh:
            fh.write(bad)
        with pytest.raises(InputError, match="sidecar .* is unreadable .*regenerate the examples"):
            read_sidecar(path)


def test_calls_round_trip(tmp_path):
    path = str(tmp_path / "calls.jsonl.gz")
    rec = CallRecord(VariantInfo("chr1", 5, "A", ("G",), 7, (3, 4)), (0,), (0.1, 0.7, 0.2))
    assert write_calls(path, iter([rec])) == 1
    assert list(read_calls([path])) == [rec]


def test_calls_files_carry_a_version_and_old_or_foreign_ones_are_handled(tmp_path):
    import gzip
    import json

    from deepvariant_py.errors import InputError

    path = str(tmp_path / "calls.jsonl.gz")
    rec = CallRecord(VariantInfo("chr1", 5, "A", ("G",), 7, (3, 4)), (0,), (0.1, 0.7, 0.2))
    write_calls(path, iter([rec]))
    with gzip.open(path, "rt") as fh:
        assert json.loads(fh.readline()) == {"format": "dvcall-calls", "version": 2}
        body = fh.read()
    assert json.loads(body)["v"] == {"contig": "chr1", "start": 5, "ref": "A", "alts": ["G"], "depth": 7, "allele_depths": [3, 4]}
    legacy = str(tmp_path / "legacy.jsonl.gz")  # written before the header existed, variant as a positional list
    with gzip.open(legacy, "wt") as fh:
        fh.write(json.dumps({"v": ["chr1", 5, "A", ["G"], 7, [3, 4]], "i": [0], "p": [0.1, 0.7, 0.2]}) + "\n")
    assert list(read_calls([legacy])) == [rec]
    for name, header, message in (("newer", {"format": "dvcall-calls", "version": 99}, "newer dvcall"),
                                  ("foreign", {"format": "something-else", "version": 1}, "not a dvcall calls file")):
        other = str(tmp_path / f"{name}.jsonl.gz")
        with gzip.open(other, "wt") as fh:
            fh.write(json.dumps(header) + "\n" + body)
        with pytest.raises(InputError, match=message):
            list(read_calls([other]))


def test_postprocess_refuses_a_site_missing_an_image_or_given_twice(tmp_path):
    import os

    import shutil

    from deepvariant_py.errors import InputError
    from deepvariant_py.postprocess import postprocess

    ref = os.path.join(os.path.dirname(__file__), "..", "testdata", "ucsc.hg19.chr20.unittest.fasta.gz")
    site = VariantInfo("chr20", 10002456, "A", ("AT", "ATT"), 30, (10, 10, 10))  # REF: the reference's base
    images = {(0,): (0.1, 0.8, 0.1), (1,): (0.1, 0.8, 0.1), (0, 1): (0.05, 0.05, 0.9)}
    calls = str(tmp_path / "calls.jsonl.gz")
    write_calls(calls, (CallRecord(site, s, p) for s, p in images.items() if s != (0, 1)))  # the pair image lost
    with pytest.raises(InputError, match=r"chr20:10002457 A>AT,ATT lack the images \[\[0, 1\]\]"):
        postprocess(calls, ref, str(tmp_path / "out.vcf.gz"), "S")
    write_calls(calls, (CallRecord(site, s, p) for s, p in images.items()))
    copy = str(tmp_path / "copy.jsonl.gz")
    shutil.copy(calls, copy)
    with pytest.raises(InputError, match=r"image \[0\] of chr20:10002457 A>AT,ATT twice"):
        postprocess(f"{calls},{copy}", ref, str(tmp_path / "out.vcf.gz"), "S")
    postprocess(calls, ref, str(tmp_path / "out.vcf.gz"), "S")  # complete: fine
    assert not os.path.exists(tmp_path / "out.vcf.gz.partial.vcf.gz")


def test_examples_sidecar_versions_old_read_unknown_refused(tmp_path):
    import json

    from deepvariant_py.errors import InputError

    path = str(tmp_path / "ex.tfrecord.gz")
    write_sidecar(path, (100, 221, 6), [1, 2, 3, 4, 5, 6])
    assert read_sidecar(path).version == "dvcall-examples-2"
    info = json.load(open(path + ".example_info.json"))
    for version, ok in (("dvcall-examples-1", True), (None, True), ("dvcall-examples-9", False)):
        with open(path + ".example_info.json", "w") as fh:
            json.dump({k: v for k, v in {**info, "version": version}.items() if v is not None}, fh)
        if ok:
            read_sidecar(path)
        else:
            with pytest.raises(InputError, match="cannot read"):
                read_sidecar(path)
    v = VariantInfo("chr1", 5, "AT", ("A", "ATT"), 9, (3, 4, 2))
    assert VariantInfo.from_bytes(v.to_bytes()) == v
    assert VariantInfo.from_bytes(b'["chr1", 5, "AT", ["A", "ATT"], 9, [3, 4, 2]]') == v  # examples-1 encoding


def test_damaged_variant_bytes_and_resume_markers_are_handled(tmp_path):
    from deepvariant_py.errors import InputError
    from deepvariant_py.resume import completed

    for bad in (b"{not json", b'{"contig": "c"}', b"[1, 2]"):
        with pytest.raises(InputError, match="variant record is unreadable"):
            VariantInfo.from_bytes(bad)
    out = tmp_path / "x.tfrecord.gz"
    out.write_text("x")
    (tmp_path / "x.tfrecord.gz.done.json").write_text("[1, 2, 3]")  # valid JSON, not a marker
    assert completed(str(out), "fingerprint") is None


def test_a_set_of_example_files_is_checked_file_by_file(tmp_path):
    from deepvariant_py.errors import InputError
    from deepvariant_py.examples_io import read_sidecars

    a, b, c = (str(tmp_path / f"{n}.tfrecord.gz") for n in "abc")
    write_sidecar(a, (100, 221, 6), [1, 2, 3, 4, 5, 6])
    write_sidecar(b, (100, 221, 6), [1, 2, 3, 4, 5, 6])
    write_sidecar(c, (100, 199, 7), [1, 2, 3, 4, 5, 6, 7])
    assert read_sidecars([a, b], "call each set").shape == (100, 221, 6)
    with pytest.raises(InputError, match=r"c.tfrecord.gz \(shape \[100, 199, 7\].*call each set separately"):
        read_sidecars([a, b, c], "call each set")
    with pytest.raises(InputError, match="no sidecar"):
        read_sidecars([a, str(tmp_path / "missing.tfrecord.gz")], "call each set")
    with pytest.raises(InputError, match="no examples given"):
        read_sidecars([], "call each set")


def test_example_sets_made_with_different_settings_are_refused_for_one_model(tmp_path):
    from deepvariant_py.examples_io import check_same_settings
    paths = []
    for name, settings in (("old", {"realign": True}), ("overlapping", {"realign": True, "indel_reads": "overlapping"}),
                           ("spanning", {"realign": True, "indel_reads": "spanning"}), ("plain", {"realign": False})):
        path = str(tmp_path / f"{name}.tfrecord.gz")
        write_sidecar(path, (10, 21, 6), [1, 2, 3, 4, 5, 6], settings)
        paths.append(path)
    old, overlapping, spanning, plain = paths
    check_same_settings([old, overlapping])  # a sidecar from before indel_reads was recorded: overlapping
    with pytest.raises(InputError, match=r"spanning.tfrecord.gz were made with indel_reads=spanning, .*old.tfrecord.gz "
                                         r"with indel_reads=overlapping"):
        check_same_settings([old, overlapping, spanning])
    with pytest.raises(InputError, match="realign=False"):
        check_same_settings([old, plain])
    # A key older sidecars lack and that has no recorded default is not held against them
    newer = str(tmp_path / "newer.tfrecord.gz")
    write_sidecar(newer, (10, 21, 6), [1, 2, 3, 4, 5, 6], {"realign": True, "realign_long_reads": False})
    check_same_settings([old, newer])


@pytest.mark.parametrize("what, command", [("examples", "`dvcall make-examples`"), ("calls", "`dvcall call-variants`"),
                                           ("gVCF reference blocks", "`dvcall make-examples --gvcf")])
def test_missing_inputs_name_the_command_that_makes_them(tmp_path, what, command):
    with pytest.raises(InputError, match=f"no {what} found at .*missing.gz: run {command}"):
        expand_paths(str(tmp_path / "missing.gz"), what)
    (tmp_path / "here.gz").write_bytes(b"\x1f\x8b")
    assert expand_paths(str(tmp_path / "*.gz"), what) == [str(tmp_path / "here.gz")]
    with pytest.raises(InputError, match=f"the {what} file .*here.gz is given twice: give each file once"):
        expand_paths(f"{tmp_path / 'here.gz'},{tmp_path / '*.gz'}", what)
    (tmp_path / "here.gz").write_bytes(b"")  # a failed copy
    with pytest.raises(InputError, match=f"the {what} file .*here.gz is empty \\(0 bytes\\): copy it again or rerun {command}"):
        expand_paths(str(tmp_path / "here.gz"), what)


def test_examples_made_with_other_settings_than_the_model_are_refused(tmp_path):
    """calibrate fitted a model's temperature on examples it never sees in a run (train refuses such a mix)."""
    from deepvariant_py.examples_io import check_settings_fit_model, write_sidecar

    path = str(tmp_path / "ex.tfrecord.gz")
    write_sidecar(path, (100, 221, 6), [1, 2, 3, 4, 5, 6], {"indel_reads": "overlapping", "realign": True})
    check_settings_fit_model([path], {"indel_reads": "overlapping"}, "m")  # a key the model did not record: no say
    with pytest.raises(InputError, match="made with indel_reads=overlapping, but the model in m with indel_reads=spanning"):
        check_settings_fit_model([path], {"indel_reads": "spanning", "realign": True}, "m")


def test_a_run_records_where_it_called_joined_into_spans(tmp_path):
    from deepvariant_py.examples_io import examples_spans, read_sidecar, spans_overlap, write_sidecar
    from deepvariant_py.regions import Region
    assert examples_spans([Region("20", 0, 10), Region("20", 50_000, 60_000), Region("20", 200_000, 200_001),
                           Region("21", 5, 6)]) == [("20", 0, 60_000), ("20", 200_000, 200_001), ("21", 5, 6)]
    a, b = tmp_path / "a.tfrecord.gz", tmp_path / "b.tfrecord.gz"
    for path, spans in ((a, [("20", 0, 100)]), (b, [("20", 50, 300), ("20", 90, 120)])):
        path.write_bytes(b"")
        write_sidecar(str(path), (100, 221, 6), [1, 2, 3, 4, 5, 6], spans=spans)
    assert read_sidecar(str(a)).spans == (("20", 0, 100),)
    assert spans_overlap([str(a)], [str(b)]) == ("20", 50, 100, 50)  # b's two spans merged first: counted once
    assert spans_overlap([str(a)], [str(a)]) == ("20", 0, 100, 100)
    write_sidecar(str(b), (100, 221, 6), [1, 2, 3, 4, 5, 6])  # made before spans were recorded: nothing to compare
    assert spans_overlap([str(a)], [str(b)]) is None
