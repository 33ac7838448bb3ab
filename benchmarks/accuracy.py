#!/usr/bin/env python3
"""Accuracy table: dvcall vs bcftools vs freebayes on the real dev sets and simulated held-out samples.

Real rows (the shared data folder): NA12878 HiSeq 2000 (all GIAB v3.3.2 records, no BED), HG002 Illumina
2x148 30x and HG001 HiSeq X 2x151 (b37, inside their GIAB confident BEDs) and HG002 Revio HiFi (GRCh38
chr20:9.00-9.05 Mb, inside its BED). Their held-out halves are never called. A second table splits each
row's TP/FP/FN by sequence context: homopolymer >= 6 (HP>=6), tandem repeat (TR), other.

Usage: python benchmarks/accuracy.py [--shared ../shared/data] [--sim-sample work_sim/samples/test_hg001_30x]
                                     [--sim-sample work_lr/test_hifi_hg001_30x ...] [--no-real]
bcftools and freebayes rows appear when those programs are installed
(`apt-get install bcftools freebayes`); each call set is filtered to QUAL >= 20 and all are scored by
`deepvariant_py.evaluate` (genotype-aware, after normalisation, then haplotype matching of what is left, as hap.py does).

Captured samples (scripts/capture_reads.py: exome- or panel-like reads; their sample.json has a "capture"
section) are scored inside their targets (the sample's confident.bed).

Hybrid pairs (--hybrid-pair PREFIX, made by scripts/make_hybrid_data.sh: HiFi and Illumina reads of the same
haplotypes) give three rows: the HiFi reads alone (--model-type pacbio), the Illumina reads alone, and both
together (--model-type hybrid, dvcall only).

Long-read samples (made by scripts/make_long_read_data.sh; their sample.json says the platform) are called
with `--model-type pacbio` / `ont`, bcftools with `mpileup -X pacbio-ccs` / `-X ont`, and freebayes with
long-read settings; they are scored over their confident span (read depth tapers at the region's ends).
On untagged long reads `dvcall run` phases by itself (--phase-reads: each partition's reads from the
heterozygous-looking SNPs under them, in make_examples); --whatshap adds a row with --phaser whatshap
(first-pass calls -> `whatshap phase` -> `whatshap haplotag` -> calls on the tagged reads), --unphased one
with --no-phase-reads, --sort-ablation one with --sort-by-haplotypes (rows sorted by HP), which cannot
differ: the network pools over reads.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from deepvariant_py.errors import DvcallError  # noqa: E402
from deepvariant_py.evaluate import CONTEXTS, evaluate, evaluate_by_context, multiallelic_concordance  # noqa: E402
from deepvariant_py.outputs import check_outputs, write_json  # noqa: E402


@dataclass
class Dataset:
    name: str
    ref: str
    reads: str | tuple[str, ...]  # several: one sample's reads of two technologies (platform hybrid)
    truth: str
    region: str  # 1-based inclusive, samtools style
    platform: str = "illumina"  # illumina, hifi or ont (simulate_sample.py --platform), or hybrid (HiFi + Illumina)
    bed: str | None = None  # confident regions: only variants inside count

    @property
    def model_type(self) -> str:
        return {"illumina": "illumina", "hifi": "pacbio", "ont": "ont", "hybrid": "hybrid"}[self.platform]

    @property
    def reads_flags(self) -> list[str]:
        return [x for path in ((self.reads,) if isinstance(self.reads, str) else self.reads) for x in ("--reads", path)]

    @property
    def region0(self) -> tuple[str, int, int]:
        contig, span = self.region.split(":")
        start, end = span.replace(",", "").split("-")
        return contig, int(start) - 1, int(end)


def real_datasets(shared: str) -> list[Dataset]:
    """The real development sets of the shared data folder (their held-out halves are never called here)."""
    real, dev, sim = (os.path.join(shared, d) for d in ("real", "real_dev", "sim_sources"))
    b37 = os.path.join(real, "hs37d5.chr20.fa.gz")
    sets = [
        Dataset("real NA12878 HiSeq2000 10.00-10.05", os.path.join(real, "ucsc.hg19.chr20.unittest.fasta.gz"),
                os.path.join(real, "NA12878_S1.chr20.10_10p1mb.bam"),
                os.path.join(real, "HG001_GIAB_v3.3.2.chr20_9.995-11.095Mb.minus_10.05-10.10Mb.vcf.gz"),
                "chr20:10000000-10049999"),
        Dataset("real HG002 Illumina 10.00-10.05 BED", b37, os.path.join(real, "HG002_NIST_150bp_downsampled_30x.chr20.10_10p1mb.bam"),
                os.path.join(dev, "HG002_v4.2.1_truth.b37.20_10.00-10.05Mb.vcf.gz"), "20:10000001-10050000",
                bed=os.path.join(dev, "HG002_v4.2.1_confident.b37.20_10.00-10.05Mb.bed")),
        Dataset("real HG001 HiSeqX 10.00-10.01 BED", b37, os.path.join(dev, "HG001_HiSeqX_2x151.b37.20_10.00-10.01Mb.bam"),
                os.path.join(dev, "HG001_GIAB_v3.3.2.b37.20_10.00-10.01Mb.vcf.gz"), "20:10000001-10010000",
                bed=os.path.join(dev, "HG001_GIAB_v3.3.2_confident.b37.20_10.00-10.01Mb.bed")),
        Dataset("real HG002 Revio HiFi 9.00-9.05 BED", os.path.join(sim, "grch38.chr20_and_21_10M.fa.gz"),
                os.path.join(dev, "HG002_Revio_HiFi.grch38.chr20_9.0-9.1Mb.bam"),
                os.path.join(dev, "HG002_v4.2.1_truth.grch38.chr20_9.00-9.05Mb.vcf.gz"), "chr20:9000001-9050000", "hifi",
                bed=os.path.join(dev, "HG002_v4.2.1_confident.grch38.chr20_9.00-9.05Mb.bed")),
    ]
    present = [d for d in sets if all(os.path.exists(p) for p in (d.ref, d.reads, d.truth) + ((d.bed,) if d.bed else ()))]
    for d in sets:
        if d not in present:
            print(f"note: {d.name}: files missing under {shared}", file=sys.stderr)
    return present


# Transformed copies of each simulated Illumina sample: (row label, script in scripts/, its flags).
ROBUSTNESS = [("novaseq_bins", "transform_qualities.py", ["--novaseq-bins"]),
              ("qual_minus8", "transform_qualities.py", ["--shift", "-8"])]
# Long reads' qualities differ by basecaller and version (ONT HAC against SUP, older HiFi chemistries): shifted both ways
ROBUSTNESS_LONG = [("qual_minus6", "transform_qualities.py", ["--shift", "-6", "--max-quality", "93"]),
                   ("qual_plus10", "transform_qualities.py", ["--shift", "10", "--max-quality", "93"])]
DAMAGE = [("ffpe", "inject_read_errors.py", ["--ffpe", "0.02"]),
          ("err1", "inject_read_errors.py", ["--substitutions", "0.01"]),
          ("bad_cycles", "inject_read_errors.py", ["--bad-cycles", "60-70:0.1"])]


DEFAULT_SIM_SAMPLE = "work_sim/samples/test_hg001_30x"


def datasets(sim_samples: list[str], *, shared: str | None = None, real_platform: str | None = None,
             robustness: bool = False, damage: bool = False, hybrid_pairs: list[str] = ()) -> list[Dataset]:
    """The rows to call: the real dev sets under `shared` (None: none) of `real_platform` (None: every one), each
    simulated sample folder (plus their --robustness copies, and for Illumina ones their --damage copies, made on
    first use)
    and each hybrid pair. Keyword-only, so that the scripts sharing it (calibration.py, fit_gq_calibration.py,
    pick_epoch.py) name what they ask for and take the defaults for the rest."""
    out = [] if shared is None else [d for d in real_datasets(shared) if real_platform in (None, d.platform)]
    for sample in sim_samples:
        sample_json = os.path.join(sample, "sample.json")
        if not os.path.exists(sample_json):
            print(f"note: no simulated sample at {sample} (make one with scripts/make_training_data.sh)", file=sys.stderr)
            continue
        meta = json.load(open(sample_json))
        params = meta["parameters"]
        platform = params.get("platform", "illumina")
        platform = "ont" if platform.startswith("ont") else platform  # ont (R10-like) and ont-r9 reads: one model
        region = params["region"]
        if platform != "illumina":  # score where the depth is full
            contig, lo, hi = meta["confident_bed"]["span"]
            region = f"{contig}:{lo + 1}-{hi}"
        name = f"simulated {os.path.basename(sample.rstrip('/'))}"
        # captured (exome- or panel-like) reads, scripts/capture_reads.py: scored inside the targets only
        bed = os.path.join(sample, "confident.bed") if "capture" in meta else None
        out.append(Dataset(name, params["ref"], os.path.join(sample, "reads.bam"), os.path.join(sample, "truth.vcf.gz"),
                           region, platform, bed))
        variants = (ROBUSTNESS if robustness else []) + (DAMAGE if damage else []) if platform == "illumina" else \
            ROBUSTNESS_LONG if robustness and platform in ("hifi", "ont") else []
        for label, script, flags in variants:
            reads = os.path.join(sample, f"reads.{label}.bam")
            if not os.path.exists(reads + ".bai"):
                try:
                    run([sys.executable, os.path.join(SCRIPTS, script), os.path.join(sample, "reads.bam"), reads, *flags])
                except subprocess.CalledProcessError as exc:
                    sys.exit(f"{os.path.basename(sys.argv[0])}: error: {script} failed on {sample} "
                             f"(exit {exc.returncode}; its message is above)")
            out.append(Dataset(f"{name} {label}", params["ref"], reads, os.path.join(sample, "truth.vcf.gz"), region,
                               platform, bed))
    for prefix in hybrid_pairs:
        out += hybrid_datasets(prefix)
    return out


def hybrid_datasets(prefix: str) -> list[Dataset]:
    """A HiFi + Illumina pair of scripts/make_hybrid_data.sh (PREFIX_hifi, PREFIX_illumina: the same haplotypes):
    each technology alone, and both together (--model-type hybrid), scored over the same confident span."""
    hifi, illumina = f"{prefix}_hifi", f"{prefix}_illumina"
    if not all(os.path.exists(os.path.join(d, "sample.json")) for d in (hifi, illumina)):
        print(f"note: no hybrid pair at {prefix}_hifi / _illumina (make one with scripts/make_hybrid_data.sh)", file=sys.stderr)
        return []
    meta = json.load(open(os.path.join(hifi, "sample.json")))
    contig, lo, hi = meta["confident_bed"]["span"]
    region, ref, truth = f"{contig}:{lo + 1}-{hi}", meta["parameters"]["ref"], os.path.join(hifi, "truth.vcf.gz")
    name = os.path.basename(prefix.rstrip("/"))
    hifi_bam, illumina_bam = os.path.join(hifi, "reads.bam"), os.path.join(illumina, "reads.bam")
    return [Dataset(f"simulated {name} HiFi alone", ref, hifi_bam, truth, region, "hifi"),
            Dataset(f"simulated {name} Illumina alone", ref, illumina_bam, truth, region, "illumina"),
            Dataset(f"simulated {name} HiFi + Illumina", ref, (hifi_bam, illumina_bam), truth, region, "hybrid")]


SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts")


def run(cmd: list[str] | str, **kw) -> None:
    subprocess.run(cmd, check=True, shell=isinstance(cmd, str), **kw)


def call_dvcall(ds: Dataset, out: str, model: str | None, flags: tuple[str, ...] = ()) -> None:
    """dvcall run; `model` None = the sample's --model-type's shipped model."""
    run([sys.executable, "-m", "deepvariant_py.cli", "run", "--ref", ds.ref, *ds.reads_flags, "--output-vcf", out,
         "--regions", ds.region, "--model-type", ds.model_type, *(["--model", model] if model else []), "--quiet", *flags])


MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models")
# Ablation: each step adds one feature on top of the previous row; a step that changes the examples
# uses the shipped model trained on such examples (see each model card).
ABLATION = [
    ("baseline", os.path.join(MODELS, "illumina-wgs-baseline"), ("--no-realign", "--multiallelic-merge", "min")),
    ("+realignment", os.path.join(MODELS, "illumina-wgs-realign"), ("--multiallelic-merge", "min")),
    ("+ALT-aligned", os.path.join(MODELS, "illumina-wgs"), ("--multiallelic-merge", "min")),
    ("+merger net", os.path.join(MODELS, "illumina-wgs"), ("--multiallelic-merge", "network")),
]


def plain_ref(ds: Dataset, tmp: str) -> str:
    """freebayes needs an uncompressed FASTA."""
    path = os.path.join(tmp, os.path.basename(ds.ref).replace(".gz", "") + ".plain.fa")
    if not os.path.exists(path):
        run(f"gzip -dc {ds.ref} > {path} && samtools faidx {path}" if ds.ref.endswith(".gz") else f"ln -s {ds.ref} {path} && samtools faidx {path}")
    return path


BCFTOOLS_PLATFORM = {"illumina": "", "hifi": "-X pacbio-ccs", "ont": "-X ont"}
# freebayes has no long-read preset; these are the usual settings for noisy long reads (no haplotype
# assembly across error-dense windows, alleles need 3 reads and 15%).
FREEBAYES_PLATFORM = {"illumina": "", "hifi": "--haplotype-length 0 --min-alternate-count 3 --min-alternate-fraction 0.15",
                      "ont": "--haplotype-length 0 --min-alternate-count 3 --min-alternate-fraction 0.2 --min-base-quality 5"}


def call_bcftools(ds: Dataset, out: str, tmp: str) -> None:
    run(f"bcftools mpileup {BCFTOOLS_PLATFORM[ds.platform]} -f {ds.ref} -r {ds.region} {ds.reads} 2>/dev/null | "
        f"bcftools call -mv 2>/dev/null | bcftools view -i 'QUAL>=20' -Oz -o {out} && bcftools index -t {out}")


def call_freebayes(ds: Dataset, out: str, tmp: str) -> None:
    run(f"freebayes {FREEBAYES_PLATFORM[ds.platform]} -f {plain_ref(ds, tmp)} -r {ds.region} {ds.reads} | "
        f"bcftools view -i 'QUAL>=20' -Oz -o {out} && bcftools index -t {out}")


def print_contexts(rows: list[dict], dw: int, width: int) -> None:
    """TP/FP/FN by sequence context (evaluate.sequence_context): where the remaining errors are."""
    print()
    cells = [f"{t} {c.replace('tandem_repeat', 'TR').replace('homopolymer', 'HP>=6')}" for t in ("SNP", "INDEL") for c in CONTEXTS]
    header = f"| {'dataset':{dw}} | {'caller':{width}} | " + " | ".join(f"{c:14}" for c in cells) + " |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        vals = [r["contexts"][c][t] for t in ("snp", "indel") for c in CONTEXTS]
        print(f"| {r['dataset']:{dw}} | {r['caller']:{width}} | " +
              " | ".join(f"{v['tp']}/{v['fp']}/{v['fn']:<8}"[:14].ljust(14) for v in vals) + " |")


def usage_error(prog: str, message: str):
    """A bad flag or input, found before any work: one line on stderr, exit 2 (as argparse and dvcall do)."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    sys.exit(2)


CALLER_INSTALL = {"dvcall": None, "bcftools": "apt-get install bcftools", "freebayes": "apt-get install freebayes"}


def caller_names(spec: str, prog: str) -> list[str]:
    """--callers' names in order: an unknown name ends the run; bcftools or freebayes when not installed is left
    out with a note (the other rows are still worth having)."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = [n for n in names if n not in CALLER_INSTALL]
    if unknown or not names:
        usage_error(prog, f"unknown caller {unknown[0]!r} in --callers: name any of {', '.join(CALLER_INSTALL)}" if unknown
                    else f"--callers is empty: name any of {', '.join(CALLER_INSTALL)}")
    present = []
    for name in names:
        if CALLER_INSTALL[name] and shutil.which(name) is None:
            print(f"note: {name} is not installed ({CALLER_INSTALL[name]}): no {name} rows", file=sys.stderr)
        else:
            present.append(name)
    return present


def check_run(args, prog: str, outputs: dict[str, str | None], wants_shared: bool,
              directories: dict[str, str | None] | None = None) -> None:
    """Before any calling: the shared folder (when its real rows are wanted), every model directory flag, and the
    files the run will write (their folders exist and are writable, none is an existing folder). One line and
    exit 2 otherwise."""
    if wants_shared and not os.path.isdir(args.shared):
        usage_error(prog, f"no shared data folder at {args.shared}: pass --shared PATH (the folder holding real/, "
                    "real_dev/ and sim_sources/)")
    models = [("--model", args.model), ("--hybrid-model", getattr(args, "hybrid_model", None))]
    models += [("--also-model", m) for m in getattr(args, "also_model", None) or []]
    for flag, model in models:
        if model and not os.path.isfile(os.path.join(model, "model_info.json")):
            usage_error(prog, f"{flag} {model} is not a dvcall model directory (no model_info.json): pass one such as "
                        "models/illumina-wgs")
    try:
        check_outputs(outputs, directories=directories or {})
    except DvcallError as exc:
        usage_error(prog, str(exc))


def callers_for(platform: str, ablation: list, callers: list) -> list:
    """The (label, call) pairs run on a dataset of this platform: the ablation models are Illumina's, so only Illumina
    rows get them; every other caller, --also-model models included, runs on every row."""
    return (ablation if platform == "illumina" else []) + callers


def run_or_exit(fn, ds: Dataset, caller: str, prog: str, *fn_args) -> None:
    """One caller on one dataset; a failed tool (its own messages are printed above) ends the run in one line."""
    try:
        fn(ds, *fn_args)
    except subprocess.CalledProcessError as exc:
        sys.exit(f"{prog}: error: {caller} failed on {ds.name} (exit {exc.returncode}; its messages are above)")


def main() -> None:
    prog = "accuracy.py"
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"), help="the shared data folder")
    ap.add_argument("--sim-sample", action="append", help="simulated held-out sample folder (repeatable; default work_sim/samples/test_hg001_30x)")
    ap.add_argument("--no-real", action="store_true", help="skip the real NA12878 region (e.g. for long-read samples only)")
    ap.add_argument("--real-platform", choices=("illumina", "hifi"), default=None,
                    help="only the real rows of this platform (default: all of them)")
    ap.add_argument("--keep-vcfs", default=None, help="copy every call set here (NAME__CALLER.vcf.gz) to inspect errors")
    ap.add_argument("--unphased", action="store_true", help="long-read samples: also run dvcall with --no-phase-reads")
    ap.add_argument("--whatshap", action="store_true", help="long-read samples: also run dvcall with --phaser whatshap")
    ap.add_argument("--sort-ablation", action="store_true", help="long-read samples: also run dvcall with --sort-by-haplotypes")
    ap.add_argument("--model", default=None, help="dvcall model directory (default: the shipped model of each sample's --model-type)")
    ap.add_argument("--also-model", action="append", help="another model directory to run side by side (repeatable; "
                    "Illumina samples only unless it is of their type)")
    ap.add_argument("--hybrid-pair", action="append", default=[],
                    help="a HiFi + Illumina pair of scripts/make_hybrid_data.sh, by prefix (e.g. work_hybrid/test_hybrid_grch38_20x "
                         "for ..._hifi and ..._illumina): rows for each technology alone and for both with --model-type hybrid "
                         "(repeatable)")
    ap.add_argument("--hybrid-model", default=None, help="model directory for the HiFi + Illumina rows (default: the shipped one)")
    ap.add_argument("--callers", default="dvcall,bcftools,freebayes", help="comma-separated callers to run")
    ap.add_argument("--json", default=None, help="also write the rows as JSON here")
    ap.add_argument("--damage", action="store_true",
                    help="simulated Illumina samples: also call them with bases damaged at good quality: FFPE-like C>T on "
                         "2%% of C, 1%% random substitutions, 10%% substitutions in cycles 60-70 (scripts/inject_read_errors.py; "
                         "the damaged BAMs are kept beside the sample)")
    ap.add_argument("--robustness", action="store_true",
                    help="simulated samples: also call Illumina ones with qualities binned to NovaSeq's 4 levels and shifted "
                         "down by 8, and long-read ones with qualities shifted by -6 and +10 (scripts/transform_qualities.py; "
                         "the transformed BAMs are kept beside the sample)")
    ap.add_argument("--no-gate", action="store_true",
                    help="Illumina rows: also run dvcall with --no-recurrent-error-gate (keeps the SNP candidates that the "
                         "sample's measured error rate per base quality explains as coincident errors)")
    ap.add_argument("--ffpe-filter", action="store_true",
                    help="Illumina rows: also run dvcall with --ffpe-filter (drops C>T / G>A candidates whose alt reads all "
                         "come from the read-pair orientation that shows deamination; see --damage for damaged rows)")
    ap.add_argument("--ablation", action="store_true", help="also run dvcall with each feature added in turn (baseline, +realignment, ...)")
    args = ap.parse_args()
    check_run(args, prog, {"--json": args.json}, wants_shared=not args.no_real, directories={"--keep-vcfs": args.keep_vcfs})
    callers: list[tuple[str, object]] = []
    for name in caller_names(args.callers, prog):
        if name == "dvcall":
            callers.append(("dvcall", lambda ds, out, tmp: call_dvcall(ds, out, args.model)))
            for other in args.also_model or []:  # another model side by side in the same run
                label = f"dvcall {os.path.basename(other.rstrip('/'))}"
                callers.append((label, lambda ds, out, tmp, m=other: call_dvcall(ds, out, m)))
        else:
            callers.append((name, {"bcftools": call_bcftools, "freebayes": call_freebayes}[name]))
    ablation: list[tuple[str, object]] = []
    if args.ablation:
        ablation = [(f"dvcall {label}", lambda ds, out, tmp, m=model, f=flags: call_dvcall(ds, out, m, f))
                    for label, model, flags in ABLATION if os.path.isdir(model)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="dvcall-acc-") as tmp:
        rows_to_call = datasets(args.sim_sample or [DEFAULT_SIM_SAMPLE], shared=None if args.no_real else args.shared,
                                real_platform=args.real_platform, robustness=args.robustness, damage=args.damage)
        for ds in rows_to_call:
            runs = callers_for(ds.platform, ablation, callers)
            if ds.platform == "hybrid":  # dvcall only: bcftools and freebayes have no setting for mixed technologies
                runs = [("dvcall", lambda d, out, tmp: call_dvcall(d, out, args.hybrid_model or args.model))]
            extra = [f for f, wanted in ((("--no-phase-reads",), args.unphased), (("--phaser", "whatshap"), args.whatshap),
                                         (("--sort-by-haplotypes",), args.sort_ablation)) if wanted]
            if args.ffpe_filter and ds.platform == "illumina":
                runs = runs + [("dvcall --ffpe-filter", lambda d, out, tmp: call_dvcall(d, out, args.model, ("--ffpe-filter",)))]
            if args.no_gate and ds.platform == "illumina":
                runs = runs + [("dvcall --no-recurrent-error-gate",
                                lambda d, out, tmp: call_dvcall(d, out, args.model, ("--no-recurrent-error-gate",)))]
            if ds.platform not in ("illumina", "hybrid"):
                runs += [(f"dvcall {' '.join(flags)}", lambda d, out, tmp, f=flags: call_dvcall(d, out, args.model, f))
                         for flags in extra]
            for caller, fn in runs:
                out = os.path.join(tmp, f"call-{len(rows)}.vcf.gz")
                t0 = time.time()
                run_or_exit(fn, ds, caller, prog, out, tmp)
                seconds = time.time() - t0
                if args.keep_vcfs:
                    os.makedirs(args.keep_vcfs, exist_ok=True)
                    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{ds.name}__{caller}")
                    for suffix in ("", ".tbi"):
                        if os.path.exists(out + suffix):
                            shutil.copyfile(out + suffix, os.path.join(args.keep_vcfs, stem + ".vcf.gz" + suffix))
                res = evaluate(ds.truth, out, ds.ref, regions=[ds.region0], bed=ds.bed)
                multi = multiallelic_concordance(ds.truth, out, ds.ref, regions=[ds.region0], bed=ds.bed)
                contexts = evaluate_by_context(ds.truth, out, ds.ref, regions=[ds.region0], bed=ds.bed)
                rows.append({"dataset": ds.name, "caller": caller, "seconds": round(seconds, 1),
                             "multiallelic_concordant": multi[0], "multiallelic_sites": multi[1], **res.to_dict(),
                             "contexts": {c: r.to_dict() for c, r in contexts.items()}})
                print(f"  done {ds.name} / {caller} in {seconds:.0f} s", file=sys.stderr)
    if not rows:
        sys.exit(f"{prog}: error: nothing was measured: no dataset found (see the notes above)")
    width = max(len(r["caller"]) for r in rows)
    dw = max([len(r["dataset"]) for r in rows] + [7])
    header = f"| {'dataset':{dw}} | {'caller':{width}} | SNP TP/FP/FN | SNP F1 | INDEL TP/FP/FN | INDEL F1 | multi-allelic GT | seconds |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for r in rows:
        s, i = r["snp"], r["indel"]
        snp, indel = f"{s['tp']}/{s['fp']}/{s['fn']}", f"{i['tp']}/{i['fp']}/{i['fn']}"
        multi = f"{r['multiallelic_concordant']}/{r['multiallelic_sites']}"
        print(f"| {r['dataset']:{dw}} | {r['caller']:{width}} | {snp:12} | {s['f1']:.4f} | {indel:14} | {i['f1']:.4f}   | {multi:16} | {r['seconds']:7.1f} |")
    print_contexts(rows, dw, width)
    if args.json:
        write_json(args.json, rows, indent=2)


if __name__ == "__main__":
    main()
