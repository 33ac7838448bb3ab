"""Golden files (testdata/golden/, made by scripts/regen_golden.py): make_examples must draw exactly the pinned
tensors, and postprocess must write exactly the pinned VCF and gVCF from the pinned calls. A change that moves
them on purpose regenerates them (`python scripts/regen_golden.py`) and says why in its commit."""
from __future__ import annotations

import gzip
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN = os.path.join(ROOT, "testdata", "golden")
sys.path.insert(0, os.path.join(ROOT, "scripts"))

import regen_golden  # noqa: E402

from deepvariant_py import make_examples as make_examples_module  # noqa: E402
from deepvariant_py.examples_io import example_digests  # noqa: E402


@pytest.fixture(scope="module")
def setup() -> dict:
    with open(os.path.join(GOLDEN, "golden.json")) as fh:
        return json.load(fh)


def _golden(name: str) -> list[str]:
    with open(os.path.join(GOLDEN, name)) as fh:
        return fh.readlines()


def _first_difference(got: list[str], want: list[str]) -> str:
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return f"line {i + 1}: got {a.rstrip()!r}, golden {b.rstrip()!r}"
    return f"{len(got)} lines, golden {len(want)}"


def _digests(setup: dict, tmp_path) -> list[str]:
    examples, _ = regen_golden.run_make_examples(setup, str(tmp_path))
    return [line + "\n" for line in example_digests(examples)]


def _postprocessed(setup: dict, tmp_path, calls: str | None = None) -> tuple[list[str], list[str]]:
    return regen_golden.run_postprocess(setup, calls or os.path.join(GOLDEN, "calls.jsonl.gz"),
                                        os.path.join(GOLDEN, "gvcf_blocks.tsv.gz"), str(tmp_path))


def test_make_examples_draws_the_golden_tensors(setup, tmp_path):
    got, want = _digests(setup, tmp_path), _golden("examples.tsv")
    assert len(want) > 20
    assert got == want, "make_examples moved: " + _first_difference(got, want)


def test_postprocess_writes_the_golden_vcf_and_gvcf(setup, tmp_path):
    vcf, gvcf = _postprocessed(setup, tmp_path)
    want_vcf, want_gvcf = _golden("expected.vcf"), _golden("expected.g.vcf")
    assert sum(not line.startswith("#") for line in want_vcf) > 20
    assert vcf == want_vcf, "the VCF moved: " + _first_difference(vcf, want_vcf)
    assert gvcf == want_gvcf, "the gVCF moved: " + _first_difference(gvcf, want_gvcf)


def test_one_pixel_fails_the_examples_check(setup, tmp_path, monkeypatch):
    real = make_examples_module.build_images
    flipped = []

    def one_pixel_off(*args, **kwargs):
        for subset, image in real(*args, **kwargs):
            if not flipped:
                image = image.copy()
                image[10, 100, 1] ^= 1
                flipped.append(subset)
            yield subset, image

    monkeypatch.setattr(make_examples_module, "build_images", one_pixel_off)
    got, want = _digests(setup, tmp_path), _golden("examples.tsv")
    assert flipped and got != want
    assert sum(a != b for a, b in zip(got, want)) == 1  # exactly the example it changed


def test_one_changed_rounding_fails_the_vcf_check(setup, tmp_path, monkeypatch):
    import math
    from dataclasses import replace

    from deepvariant_py import postprocess as postprocess_module
    from deepvariant_py.genotypes import MAX_CONFIDENCE

    real = postprocess_module.call_genotype

    def gq_rounded_down(probs):  # GQ = floor(-10 log10(1 - p)) instead of the nearest integer
        call = real(probs)
        p = min(float(max(probs)), MAX_CONFIDENCE)
        return replace(call, gq=max(0, min(99, math.floor(-10 * math.log10(1 - p)))))

    monkeypatch.setattr(postprocess_module, "call_genotype", gq_rounded_down)
    vcf, gvcf = _postprocessed(setup, tmp_path)
    assert vcf != _golden("expected.vcf") and gvcf != _golden("expected.g.vcf")


def test_one_moved_probability_fails_the_vcf_check(setup, tmp_path):
    calls = tmp_path / "calls.jsonl.gz"
    with gzip.open(os.path.join(GOLDEN, "calls.jsonl.gz"), "rt") as fh:
        records = [json.loads(line) for line in fh]
    p = next(r["p"] for r in records if "v" in r and len(r["v"]["alts"]) == 1 and max(r["p"]) < 0.999)  # bi-allelic, not certain
    k = p.index(max(p))
    p[k], p[(k + 1) % 3] = p[k] - 0.01, p[(k + 1) % 3] + 0.01
    with gzip.open(calls, "wt") as fh:
        fh.writelines(json.dumps(r) + "\n" for r in records)
    vcf, _ = _postprocessed(setup, tmp_path, str(calls))
    assert vcf != _golden("expected.vcf")


def test_blocks_of_several_shards_or_out_of_order_give_the_golden_gvcf(setup, tmp_path):
    """Shards' blocks files are merged as they are read (each in reference order); a file out of order (shards'
    files concatenated the wrong way round) is gathered and sorted instead: the same gVCF either way."""
    with gzip.open(os.path.join(GOLDEN, "gvcf_blocks.tsv.gz"), "rt") as fh:
        lines = fh.readlines()
    assert len(lines) > 80
    cut = [lines[i:i + 20] for i in range(0, len(lines), 20)]  # blocks of lines dealt to two "shards" in turn
    paths = []
    for name, parts in (("even", cut[0::2]), ("odd", cut[1::2]), ("scrambled", cut[1::2] + cut[0::2])):
        paths.append(str(tmp_path / f"{name}.tsv.gz"))
        with gzip.open(paths[-1], "wt") as fh:
            fh.writelines(line for part in parts for line in part)
    from deepvariant_py.examples_io import read_calls, write_calls

    golden_calls = os.path.join(GOLDEN, "calls.jsonl.gz")
    backwards = str(tmp_path / "backwards.jsonl.gz")  # calls out of order too: every site gathered first
    write_calls(backwards, list(read_calls([golden_calls]))[::-1])
    want_vcf, want_gvcf = _golden("expected.vcf"), _golden("expected.g.vcf")
    for calls, spec, where in ((golden_calls, f"{paths[0]},{paths[1]}", "two"), (golden_calls, paths[2], "scrambled"),
                               (backwards, f"{paths[0]},{paths[1]}", "calls backwards")):
        out = tmp_path / where
        out.mkdir()
        vcf, gvcf = regen_golden.run_postprocess(setup, calls, spec, str(out))
        assert vcf == want_vcf and gvcf == want_gvcf, where
