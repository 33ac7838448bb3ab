"""scripts/transform_qualities.py: the robustness rows' quality rewrite, and its refusals."""
import importlib.util
import os
import shutil
from pathlib import Path

import numpy as np
import pysam
import pytest

TESTDATA = Path(__file__).resolve().parent.parent / "testdata"
_spec = importlib.util.spec_from_file_location("transform_qualities",
                                               Path(__file__).resolve().parent.parent / "scripts" / "transform_qualities.py")
tq = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tq)


def test_novaseq_bins_are_the_four_levels():
    q = np.array([0, 2, 3, 14, 15, 30, 31, 41], np.int16)
    assert tq.novaseq_bins(q).tolist() == [2, 2, 12, 12, 23, 23, 37, 37]


def _bam(tmp_path: Path, n: int = 40) -> Path:
    """The first n reads of the test BAM (indexed), so a refusal test can compare bytes cheaply."""
    src = TESTDATA / "NA12878.chr20_10.00-10.02Mb.bam"
    out = tmp_path / "in.bam"
    with pysam.AlignmentFile(str(src)) as inp, pysam.AlignmentFile(str(out), "wb", template=inp) as o:
        for i, read in enumerate(inp):
            if i == n:
                break
            o.write(read)
    pysam.index(str(out))
    return out


@pytest.mark.parametrize("bins, shift, ceiling", [(False, -8, 41), (True, None, 41), (False, 10, 93)])
def test_every_quality_is_rewritten_and_nothing_else(tmp_path, bins, shift, ceiling):
    src = _bam(tmp_path)
    out = tmp_path / "out.bam"
    tq.transform(str(src), str(out), bins, shift, ceiling)
    assert os.path.exists(str(out) + ".bai") and not any("partial" in p.name for p in tmp_path.iterdir())
    with pysam.AlignmentFile(str(src)) as a, pysam.AlignmentFile(str(out)) as b:
        pairs = list(zip(a, b))
    assert len(pairs) == 40
    for x, y in pairs:
        q = np.asarray(x.query_qualities, np.int16)
        want = tq.novaseq_bins(q) if bins else np.clip(q + shift, 2, ceiling)
        assert np.asarray(y.query_qualities).tolist() == want.tolist()
        assert (x.query_name, x.reference_start, x.cigarstring, x.query_sequence) == \
            (y.query_name, y.reference_start, y.cigarstring, y.query_sequence)


def test_refusals_leave_every_file_as_it_was(tmp_path, capsys, monkeypatch):
    src = _bam(tmp_path)
    before = src.read_bytes()
    not_bam = tmp_path / "notes.bam"
    not_bam.write_text("not a bam\n")
    kept = tmp_path / "kept.bam"
    shutil.copyfile(src, kept)
    for inp, out, words in ((src, src, "destroy the input"), (tmp_path / "missing.bam", kept, "does not exist"),
                            (not_bam, kept, "cannot read")):
        monkeypatch.setattr(tq.sys, "argv", ["transform_qualities.py", str(inp), str(out), "--shift", "-8"])
        with pytest.raises(SystemExit) as exc:
            tq.main()
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0]
    assert src.read_bytes() == before and kept.read_bytes() == before
    assert not any("partial" in p.name for p in tmp_path.iterdir())
