"""The shipped Snakemake workflow gives the same VCF as `dvcall run` (header lines with the command aside)."""
from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from deepvariant_py.cli.main import main
from deepvariant_py.workflow import snakefile_path

TESTDATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata")


def _body(path: str) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return [line for line in fh if not line.startswith("##dvcall_command")]


def _snakemake() -> list[str]:
    # the one installed with this Python first (hostile26: an un-activated venv ran another Python's from PATH)
    exe = shutil.which("snakemake", path=os.path.dirname(sys.executable)) or shutil.which("snakemake")
    if exe is None:
        pytest.skip("snakemake is not installed: pip install -e '.[test]'")
    return [exe]


def _run_workflow(tmp_path, config_text: str, dry_run: bool = False) -> str:
    """snakemake on the shipped Snakefile with this config, in tmp_path, on 2 cores (or only its plan: `dry_run`);
    returns what it printed."""
    snakemake = _snakemake()
    config = tmp_path / "config.yaml"
    config.write_text(config_text)
    proc = subprocess.run(snakemake + ["--snakefile", snakefile_path(), "--configfile", str(config), "--cores", "2",
                                       "--directory", str(tmp_path), *(["--dry-run"] if dry_run else ["--quiet"]), "all"],
                          capture_output=True, text=True, env={**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_workflow_command_prints_paths_and_config():
    result = CliRunner().invoke(main, ["workflow", "--print-path"])
    assert result.exit_code == 0 and result.output.strip() == snakefile_path() and os.path.exists(snakefile_path())
    result = CliRunner().invoke(main, ["workflow", "--print-config"])
    assert result.exit_code == 0 and "samples:" in result.output and "shards:" in result.output


def _direct_run(tmp_path, ref: str, reads: list[str], region: str, sample: str, phaser: str,
                exclude: str | None = None, extra: tuple = ()) -> tuple[list[str], list[str]]:
    """`dvcall run` as the workflow would call `sample`: (VCF lines, gVCF lines) without the command line."""
    vcf, gvcf = tmp_path / f"direct.{sample}.vcf.gz", tmp_path / f"direct.{sample}.g.vcf.gz"
    result = CliRunner().invoke(main, ["run", "--ref", ref, *[x for r in reads for x in ("--reads", r)], "--output-vcf", str(vcf),
                                       "--output-gvcf", str(gvcf), "--regions", region, *(["--exclude-regions", exclude] if exclude else []), "--model-type", "pacbio",
                                       "--sample-name", sample, "--num-shards", "1", "--phaser", phaser, "--quiet", *extra])
    assert result.exit_code == 0, result.output
    return _body(str(vcf)), _body(str(gvcf))


@pytest.mark.parametrize("phaser", ["direct", "whatshap"])
def test_snakemake_vcf_and_gvcf_equal_dvcall_run_on_untagged_long_reads(tmp_path, phaser):
    """One workflow run covers every rule: make_examples scattered over 2 shards with gVCF blocks (the pacbio
    model pools reads by haplotype: phased in make_examples, or with whatshap a first pass, `dvcall haplotag`
    and the tagged pass, through the same rules on 1 shard: the scatter is the direct run's), call_variants,
    postprocess; sample S2 is the same reads split over two files (a list
    in the config), merged for whatshap, and called as an XY sample's chrX would be (`haploid_contigs`, with a
    `par_regions` stretch left diploid); a stretch in `exclude_regions` is left out as run --exclude-regions leaves it."""
    if phaser == "whatshap":
        pytest.importorskip("whatshap")
    from builders import two_haplotype_sample
    from test_several_reads import split_by_name
    ref, bam, _ = two_haplotype_sample(str(tmp_path))
    os.makedirs(tmp_path / "lanes")
    lanes = split_by_name(bam, tmp_path / "lanes")
    region, exclude = "chr1:2,001-22,000", tmp_path / "exclude.bed"
    exclude.write_text("chr1\t10000\t11000\n")
    par = tmp_path / "par.bed"
    par.write_text("chr1\t2000\t8000\n")
    shards = 2 if phaser == "direct" else 1  # 22 jobs with whatshap on 2 shards, 14 on 1 (the suite's slowest test)
    config = (f"reference: {ref}\nsamples:\n  S1: {bam}\n  S2: [{lanes[0]}, {lanes[1]}]\nshards: {shards}\n"
              f"regions: ['{region}']\nexclude_regions: {exclude}\nmodel_type: pacbio\ngvcf: true\nphaser: {phaser}\n"
              f"haploid_contigs: {{S2: [chr1]}}\npar_regions: {par}\noutdir: {tmp_path / 'results'}\n")
    _run_workflow(tmp_path, config)
    if phaser == "direct":  # S1 made haploid afterwards: its postprocess reruns, not its make_examples shards (hours)
        plan = _run_workflow(tmp_path, config.replace("{S2: [chr1]}", "{S2: [chr1], S1: [chr1]}"), dry_run=True)
        assert "postprocess" in plan and "make_examples" not in plan, plan[-2000:]
        # the regions BED replaced by an edited copy with an older time (`cp -p`, rsync -a): Snakemake's mtime
        # trigger misses it, the file's identity in make_examples' params does not (workflow46: a stale VCF)
        stat = os.stat(exclude)
        exclude.write_text("chr1\t10000\t11500\n")
        os.utime(exclude, ns=(stat.st_atime_ns - 10**12, stat.st_mtime_ns - 10**12))
        plan = _run_workflow(tmp_path, config, dry_run=True)
        assert "make_examples" in plan, plan[-2000:]
        exclude.write_text("chr1\t10000\t11000\n")
    results = tmp_path / "results"
    for sample in ("S1", "S2"):
        assert not list((results / sample).glob("haplotagged.bam*"))  # whatshap's tagged copy: removed once read (temp)
        assert (results / "logs" / f"{sample}.haplotag.log").exists() == (phaser == "whatshap")
        assert (results / sample / "firstpass.vcf.gz").exists() == (phaser == "whatshap")  # inside the sample's folder
        assert not list((results / sample).glob("examples-*"))  # removed once called (temp): 45 GB for a genome
        assert len(list((results / sample).glob(f"calls-*-of-{shards:05d}.jsonl.gz"))) == shards  # one call_variants job a shard
        assert (results / f"{sample}.vcf.gz.tbi").exists() and (results / f"{sample}.g.vcf.gz").exists()
    assert not list((results / "S2").glob("*.merged.bam*"))  # the merge for whatshap is temporary
    # S2's tagged pass: whatshap had no het outside the PAR to tag reads by, which make-examples is told (hostile20)
    logs = list((results / "logs").glob("S2.make_examples.*.log"))
    assert logs and not any("carry an HP tag" in log.read_text() for log in logs)
    assert sorted(p.name for p in results.glob("*.vcf.gz")) == ["S1.g.vcf.gz", "S1.vcf.gz", "S2.g.vcf.gz", "S2.vcf.gz"]
    hets = {}
    for sample, reads, extra in (("S1", [bam], ()), ("S2", lanes, ("--haploid-contigs", "chr1", "--par-regions", str(par)))):
        body, gvcf = _direct_run(tmp_path, ref, reads, region, sample, phaser, str(exclude), extra)
        hets[sample] = [int(f[1]) for f in (line.split("\t") for line in body if not line.startswith("#"))
                        if f[9].split(":")[0] in ("0/1", "0|1", "1|0", "1/2")]
        assert sum(1 for line in body if not line.startswith("#")) > 20
        spans = [(int(f[1]), int(f[7].split("END=")[1].split(";")[0]) if "END=" in f[7] else int(f[1]))
                 for f in (line.split("\t") for line in gvcf if not line.startswith("#"))]
        assert not any(s <= 11_000 and e > 10_000 for s, e in spans)  # 1-based: the BED's 10,001-11,000 left out
        assert any(e == 10_000 for _, e in spans) and any(s == 11_001 for s, _ in spans)  # and only it
        assert _body(str(results / f"{sample}.vcf.gz")) == body, sample
        assert _body(str(results / f"{sample}.g.vcf.gz")) == gvcf, sample
    assert any(p > 8_000 for p in hets["S1"]) and any(p <= 8_000 for p in hets["S1"])
    assert hets["S2"] and all(p <= 8_000 for p in hets["S2"])  # haploid but for the PAR (1-based 2,001-8,000)


def test_snakemake_replaces_tags_that_contradict_the_reads_as_run_does(tmp_path):
    """Reads tagged by another phasing: `dvcall run` phases the partitions whose tags its reads contradict, and the
    workflow's make_examples now does too (it trusted every tag: another VCF than run's)."""
    from builders import two_haplotype_sample
    from test_direct_phasing import _retagged
    import numpy as np
    ref, bam, _ = two_haplotype_sample(str(tmp_path))
    rng = np.random.default_rng(3)
    wrong = _retagged(bam, str(tmp_path / "random.bam"), lambda i, hap: int(rng.integers(1, 3)))
    region = "chr1:2,001-22,000"
    _run_workflow(tmp_path, f"reference: {ref}\nsamples:\n  S1: {wrong}\nshards: 2\nregions: ['{region}']\n"
                            f"model_type: pacbio\ngvcf: false\noutdir: {tmp_path / 'results'}\n")
    body, _ = _direct_run(tmp_path, ref, [wrong], region, "S1", "direct")
    assert _body(str(tmp_path / "results" / "S1.vcf.gz")) == body
    trusted = tmp_path / "trusted.vcf.gz"
    result = CliRunner().invoke(main, ["run", "--ref", ref, "--reads", wrong, "--output-vcf", str(trusted), "--regions", region,
                                       "--model-type", "pacbio", "--sample-name", "S1", "--num-shards", "1",
                                       "--no-phase-reads", "--quiet"])
    assert result.exit_code == 0, result.output
    assert _body(str(trusted)) != body  # the tags as they are give other calls: the check made the difference


def test_the_config_phaser_defaults_as_run_does_and_an_unknown_one_is_a_one_line_error():
    from deepvariant_py.errors import InputError
    from deepvariant_py.model import default_model_dir
    from deepvariant_py.model_info import load_model_info
    from deepvariant_py.phasing import default_phaser
    from deepvariant_py.workflow import phaser
    ont = load_model_info(default_model_dir("ont"))
    assert phaser({}, ont) == default_phaser(ont) == "direct" and phaser({"phaser": "whatshap"}, ont) == "whatshap"
    with pytest.raises(InputError, match="phaser: 'hapcut2' in the workflow config is not known: use one of direct, whatshap"):
        phaser({"phaser": "hapcut2"}, ont)


def test_config_regions_take_one_string_as_one_region_or_bed():
    """The example config says `regions:` may be a BED path: one string is one entry, never its characters."""
    from deepvariant_py.errors import InputError
    from deepvariant_py.workflow import config_regions
    assert config_regions("/data/calling.bed") == ["/data/calling.bed"]
    assert config_regions(["chr20", "chr21:1-5,000,000"]) == ["chr20", "chr21:1-5,000,000"]
    assert config_regions(None) == config_regions([]) == config_regions("") == []
    assert config_regions([20]) == ["20"]
    with pytest.raises(InputError, match="give a region string, a BED path or a list of them"):
        config_regions({"chr20": 1})


def test_the_config_is_checked_before_any_job():
    """Misspelt keys fell back to defaults (the Illumina model on PacBio reads, 8 shards of the whole genome), the
    strings "false"/"no" read as true, and `shards: 0` ended in postprocess's "Missing option '--output-vcf'"."""
    from deepvariant_py.errors import InputError
    from deepvariant_py.workflow import check_config, sample_reads
    base = {"reference": "ref.fa", "samples": {"s": "s.bam"}}
    checked = check_config({**base, "gvcf": "false", "phase_reads": "no", "shards": "3"})
    assert (checked["gvcf"], checked["phase_reads"], checked["shards"], checked["model_type"]) == (False, False, 3, "illumina")
    assert check_config({**base, "gvcf": "yes", "phase_reads": "auto"})["gvcf"] is True
    assert check_config(base)["keep_supplementary"] is False
    assert check_config({**base, "keep_supplementary": "true"})["keep_supplementary"] is True
    assert check_config(base)["ffpe_filter"] is False and check_config({**base, "ffpe_filter": "yes"})["ffpe_filter"] is True
    with open(snakefile_path()) as fh:  # both reach make_examples' command line (a first pass's too), as run's flags
        text = fh.read()
    assert 'FFPE = " --ffpe-filter" if CONFIG["ffpe_filter"]' in text and text.count("+ SUPPLEMENTARY + FFPE + GATE +") == 1
    assert check_config(base)["recurrent_error_gate"] == "auto"
    assert check_config({**base, "recurrent_error_gate": "no"})["recurrent_error_gate"] is False
    assert check_config({**base, "recurrent_error_gate": True})["recurrent_error_gate"] is True
    assert '{"auto": "", True: " --recurrent-error-gate", False: " --no-recurrent-error-gate"}[CONFIG["recurrent_error_gate"]]' in text
    assert check_config(base)["phase_reads"] == "auto" and check_config(base)["shards"] == 8
    for bad, message in (({"model-type": "pacbio"}, "unknown key 'model-type' in the workflow config \\(did you mean 'model_type'\\?\\)"),
                         ({"shard": 2}, "did you mean 'shards'"),
                         ({"shards": 0}, "shards: 0 in the workflow config must be a whole number of at least 1"),
                         ({"shards": "abc"}, "must be a whole number"), ({"shards": 2.5}, "must be a whole number"),
                         ({"gvcf": "maybe"}, "gvcf: 'maybe' in the workflow config is not true or false"),
                         ({"phase_reads": "sometimes"}, "not true or false or auto"),
                         ({"model_type": "nanopore"}, "model_type: 'nanopore' .* use one of illumina, pacbio, ont, hybrid")):
        with pytest.raises(InputError, match=message):
            check_config({**base, **bad})
    with pytest.raises(InputError, match="needs `reference:`"):
        check_config({"samples": {"s": "s.bam"}})
    with pytest.raises(InputError, match="sample name 'a/b' .* cannot hold '/'"):
        sample_reads({"a/b": "s.bam"})


def test_an_edited_regions_bed_and_the_model_files_are_inputs_of_the_jobs(tmp_path):
    """A BED edited in place or a model retrained into the configured folder left the old VCF ('Nothing to be done');
    make_examples reads only the model's settings (and candidate filter), so new weights rerun the calling only."""
    from deepvariant_py.regions import region_files
    from deepvariant_py.workflow import example_model_files, file_params, model_files
    bed = tmp_path / "r.bed"
    bed.write_text("chr20\t0\t10\n")
    assert region_files([str(bed), "chr20:1-100"]) == [str(bed)]
    model = tmp_path / "m"
    model.mkdir()
    for name in ("model.keras", "model_info.json", "merger.keras", "merger_info.json"):
        (model / name).write_text("x")
    assert [os.path.basename(p) for p in model_files(str(model))] == ["model.keras", "model_info.json", "merger.keras",
                                                                      "merger_info.json"]
    assert [os.path.basename(p) for p in example_model_files(str(model))] == ["model_info.json"]
    with open(snakefile_path()) as fh:
        text = fh.read()
    assert text.count("model=MODEL_FILES") == 3 and text.count("model=example_model_files(MODEL)") == 1
    assert text.count("regions=REGION_FILES") == 2
    before = file_params([str(bed), str(tmp_path / "not_made_yet.bam")])
    stat = os.stat(bed)
    bed.write_text("chr20\t0\t11\n")
    os.utime(bed, ns=(stat.st_atime_ns - 10**12, stat.st_mtime_ns - 10**12))  # edited, and older
    assert before.startswith("r.bed=") and file_params([str(bed)]) != before


def test_a_sample_named_twice_in_the_config_file_is_an_error(tmp_path):
    from deepvariant_py.errors import InputError
    from deepvariant_py.workflow import check_unique_keys
    good, dup = tmp_path / "good.yaml", tmp_path / "dup.yaml"
    good.write_text("reference: r.fa\nsamples:\n  s1: a.bam\n  s2: b.bam\n")
    dup.write_text("reference: r.fa\nsamples:\n  s1: a.bam\n  s1: b.cram\n")
    check_unique_keys([good])
    with pytest.raises(InputError, match="dup.yaml line 4: 's1' is given twice"):
        check_unique_keys([good, dup])


def test_the_example_config_passes_the_config_check():
    import yaml

    from deepvariant_py.workflow import KEYS, check_config, example_config
    config = yaml.safe_load(example_config())
    assert set(config) == set(KEYS)  # every key the Snakefile reads is shown, and nothing else
    assert check_config(config)["shards"] == 8


def test_sample_names_that_would_mix_files_are_refused_before_any_job():
    """hostile12: a sample named `X.firstpass` was called from X's reads (the first pass's pseudo-sample), `S` and
    `S.g` with gVCFs both wrote S.g.vcf.gz, a comma split a path into a list; `out/` doubled slashes."""
    from deepvariant_py.errors import InputError
    from deepvariant_py.workflow import check_config, sample_reads
    with pytest.raises(InputError, match="'X.firstpass' .* ends in '.firstpass'"):
        sample_reads({"X": "a.bam", "X.firstpass": "b.bam"})
    with pytest.raises(InputError, match="'S' and 'S.g' .* both write S.g.vcf.gz"):
        sample_reads({"S": "a.bam", "S.g": "b.bam"}, gvcf=True)
    assert list(sample_reads({"S": "a.bam", "S.g": "b.bam"})) == ["S", "S.g"]  # no gVCF: no clash
    with pytest.raises(InputError, match="'a,b' .* holds a comma"):
        sample_reads({"a,b": "a.bam"})
    base = {"reference": "ref.fa", "samples": {"s": "s.bam"}}
    assert check_config({**base, "outdir": "out/"})["outdir"] == "out"
    with pytest.raises(InputError, match="outdir: 'a,b' .* holds a comma"):
        check_config({**base, "outdir": "a,b"})


def _bam(path, sample: str, ref_len: int, names: str) -> str:
    import pysam
    header = {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr20", "LN": ref_len}],
              "RG": [{"ID": "rg1", "SM": sample}]}
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i in range(3):
            read = pysam.AlignedSegment(out.header)
            read.query_name, read.reference_id, read.reference_start = f"{names}{i}", 0, 10_000_000 + 10 * i
            read.query_sequence, read.cigarstring, read.mapping_quality = "ACGTACGTAC", "10M", 60
            read.query_qualities = pysam.qualitystring_to_array("I" * 10)
            read.set_tag("RG", "rg1")
            out.write(read)
    pysam.index(str(path))
    return str(path)


def test_one_samples_files_of_two_people_are_refused_as_run_refuses_them(tmp_path):
    """hostile12: a sample's list holding another individual's BAM was called merged, exit 0, every log empty."""
    from deepvariant_py.errors import InputError
    from deepvariant_py.reference import Reference
    from deepvariant_py.workflow import check_sample_files
    ref = Reference(os.path.join(os.path.dirname(__file__), "..", "testdata", "ucsc.hg19.chr20.unittest.fasta.gz"))
    length = ref.lengths["chr20"]
    a = _bam(tmp_path / "a.bam", "NA12878", length, "a")
    lane2 = _bam(tmp_path / "l2.bam", "NA12878", length, "l")
    b = _bam(tmp_path / "b.bam", "NA12878_lane2", length, "b")
    check_sample_files({"NA12878": [a, lane2], "other": [b]}, ref)  # one person's lanes; one file: nothing to compare
    with pytest.raises(InputError, match="sample 'NA12878' .* lists reads of different samples: .*a.bam is 'NA12878' and "
                                         ".*b.bam is 'NA12878_lane2'"):
        check_sample_files({"NA12878": [a, b]}, ref)


def test_yaml_merge_keys_pass_the_duplicate_key_check(tmp_path):
    from deepvariant_py.workflow import check_unique_keys
    config = tmp_path / "c.yaml"
    config.write_text("defaults: &d {shards: 2, gvcf: true}\nrun:\n  <<: *d\n  shards: 3\n")
    check_unique_keys([config])  # an override of a merged key is YAML, not a key given twice


def test_postprocess_gets_each_kind_of_shard_file_as_one_glob():
    """hostile12: every shard's calls in one comma-joined argument passed Linux's 128 KiB limit near 1,000 shards,
    in the last job of a genome's run."""
    with open(snakefile_path()) as fh:
        text = fh.read()
    assert '",".join(input.calls)' not in text and "','.join(input.blocks)" not in text
    assert '/{kind}-*-of-{SHARDS:05d}{suffix}' in text  # shard_glob: one glob of this shard count's files
    assert '"calls", ".jsonl.gz")' in text and "'gvcf', '.tsv.gz')" in text


def test_phase_reads_true_needs_a_model_that_reads_hp_tags():
    """hostile12: `phase_reads: true` with the Illumina model passed the config check and failed in every job."""
    from deepvariant_py.errors import InputError
    from deepvariant_py.model import default_model_dir
    from deepvariant_py.model_info import load_model_info
    from deepvariant_py.workflow import check_phase_reads
    illumina, pacbio = (load_model_info(default_model_dir(m)) for m in ("illumina-wgs", "pacbio-hifi"))
    check_phase_reads(True, pacbio)
    check_phase_reads("auto", illumina)
    with pytest.raises(InputError, match="phase_reads: true .* this model has none"):
        check_phase_reads(True, illumina)


def test_a_missing_reference_or_model_is_named_by_its_config_key(tmp_path):
    """hostile12: a missing `reference:` said "pass an existing FASTA with --ref", a flag a workflow user never gave."""
    from deepvariant_py.errors import InputError
    from deepvariant_py.workflow import check_config_paths
    ref = tmp_path / "ref.fa"
    ref.write_text(">c\nACGT\n")
    check_config_paths({"reference": str(ref), "model": str(tmp_path)})
    with pytest.raises(InputError, match="reference: '.*nope.fa' in the workflow config is not an existing FASTA file"):
        check_config_paths({"reference": str(tmp_path / "nope.fa")})
    with pytest.raises(InputError, match="model: '.*m2' in the workflow config is not an existing model folder"):
        check_config_paths({"reference": str(ref), "model": str(tmp_path / "m2")})


def test_haploid_contigs_are_checked_per_sample_before_any_job(tmp_path):
    from deepvariant_py.errors import InputError
    from deepvariant_py.workflow import haploid_args
    samples, lengths = {"XY": ["a.bam"], "XX": ["b.bam"]}, {"chrX": 1000, "chrY": 500, "chr1": 2000}
    par = tmp_path / "par.bed"
    par.write_text("chrX\t0\t100\n")
    assert haploid_args({}, samples, lengths) == {}
    assert haploid_args({"haploid_contigs": {"XY": ["chrX", "chrY"]}, "par_regions": str(par)}, samples, lengths) == \
        {"XY": f" --haploid-contigs chrX,chrY --par-regions {par}"}
    assert haploid_args({"haploid_contigs": {"XY": "chrX, chrY"}}, samples, lengths) == {"XY": " --haploid-contigs chrX,chrY"}
    for diploid in ([], "", None):  # review42: a sample listed without contigs failed the whole config with a PAR BED
        assert haploid_args({"haploid_contigs": {"XY": ["chrX"], "XX": diploid}, "par_regions": str(par)}, samples,
                            lengths) == {"XY": f" --haploid-contigs chrX --par-regions {par}"}
    for config, message in (({"haploid_contigs": ["chrX"]}, "not a mapping of sample -> contigs"),
                            ({"haploid_contigs": {"HG002": ["chrX"]}}, "names sample 'HG002', which `samples:` does not have"),
                            ({"haploid_contigs": {"XY": [1]}}, "give contig names"),
                            ({"haploid_contigs": {"XY": ["X"]}},
                             "workflow config, haploid_contigs of sample 'XY' / par_regions: haploid_contigs names 'X', "
                             "which the reference does not have"),
                            ({"haploid_contigs": {"XY": ["chrX"]}, "par_regions": "T2T"},  # verify44: the flags' wording
                             "sample 'XY' / par_regions: par_regions T2T is neither a BED file nor an assembly"),
                            ({"haploid_contigs": {"XY": [], "XX": None}, "par_regions": str(par)},
                             "every sample listed there has none"),
                            ({"par_regions": str(par)}, "only matters with haploid_contigs")):
        with pytest.raises(InputError, match=message):
            haploid_args(config, samples, lengths)


def test_long_reads_with_no_model_type_are_refused_before_any_job(tmp_path):
    """As `dvcall run` refuses them: the workflow's make_examples would call HiFi with the Illumina model and say so
    only in its shard logs."""
    from builders import two_haplotype_sample
    from deepvariant_py.errors import InputError
    from deepvariant_py.reference import Reference
    from deepvariant_py.workflow import check_config, check_read_kinds
    ref, bam, _ = two_haplotype_sample(str(tmp_path))
    reference = Reference(ref)
    defaulted = check_config({"reference": ref, "samples": {"S": bam}})
    with pytest.raises(InputError, match=r"sample 'S': .* are long .*\(no --model-type was given.* model_type is empty"):
        check_read_kinds(defaulted, {"S": [bam]}, reference, [])
    check_read_kinds(check_config({"reference": ref, "samples": {"S": bam}, "model_type": "pacbio"}), {"S": [bam]}, reference, [])
    check_read_kinds(check_config({"reference": ref, "samples": {"S": bam}, "model_type": "illumina"}), {"S": [bam]},
                     reference, [])  # named: the run warns, as `dvcall run --model-type illumina` does


def test_the_workflow_runs_as_a_module_of_a_pipeline_once_per_config(tmp_path):
    """A pipeline author's own Snakefile takes the workflow in as a Snakemake module, once per configuration
    (e.g. Illumina and HiFi samples, whose model types differ), each with its own outdir and rule prefix."""
    ref = os.path.join(TESTDATA, "ucsc.hg19.chr20.unittest.fasta.gz")
    bam = os.path.join(TESTDATA, "NA12878.chr20_10.00-10.02Mb.bam")
    (tmp_path / "config.yaml").write_text("".join(
        f"{name}:\n  reference: {ref}\n  samples:\n    {sample}: {bam}\n  shards: {shards}\n"
        f"  regions: chr20:10,000,000-10,010,000\n  outdir: calls/{name}\n"
        for name, sample, shards in (("lanes", "NA12878", 2), ("again", "S2", 3))))
    modules = "".join(f'module {name}:\n    snakefile: {snakefile_path()!r}\n    config: config[{name!r}]\n\n'
                      f'use rule * from {name} as {name}_*\n\n' for name in ("lanes", "again"))
    (tmp_path / "Snakefile").write_text('configfile: "config.yaml"\n\n' + modules +
                                        'rule all:\n    input: "calls/lanes/NA12878.vcf.gz", "calls/again/S2.vcf.gz"\n'
                                        '    default_target: True\n')
    proc = subprocess.run(_snakemake() + ["--snakefile", str(tmp_path / "Snakefile"), "--directory", str(tmp_path),
                                          "--cores", "2", "--dry-run"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    plan = dict(re.findall(r"^(\w+)\s+(\d+)$", proc.stdout, re.M))
    assert {k: plan.get(k) for k in ("lanes_make_examples", "lanes_call_variants", "lanes_postprocess",
                                     "again_make_examples", "again_postprocess")} == {
        "lanes_make_examples": "2", "lanes_call_variants": "2", "lanes_postprocess": "1",
        "again_make_examples": "3", "again_postprocess": "1"}, proc.stdout
