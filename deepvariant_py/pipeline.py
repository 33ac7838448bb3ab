"""run: make_examples over shards in parallel processes, then call_variants, then postprocess."""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace

from . import __version__
from .call_variants import CallStats, call_variants
from .errors import InputError, OutputError
from .make_examples import MakeExamplesOptions, MakeExamplesStats, make_examples
from .merger import load_merger
from .phasing import auto_phase, haplotag, require_whatshap
from .postprocess import postprocess
from .presets import make_examples_options, resolve_model, resolve_settings
from .progress import Progress
from .reads import open_alignments, sample_name
from .report import write_report
from .reference import Reference
from .regions import Region, parse_regions
from .resume import clear, completed, file_identity, file_sha256, fingerprint, mark_done

log = logging.getLogger("dvcall")


@dataclass
class RunOptions:
    ref: str
    reads: str
    output_vcf: str
    output_gvcf: str | None = None
    report: str | None = None
    regions: list[str] = field(default_factory=list)
    model_dir: str | None = None  # None: the model type's shipped model
    model_type: str = "illumina"
    intermediate_dir: str | None = None
    sample_name: str | None = None
    num_shards: int = 1
    command: str | None = None
    settings: dict = field(default_factory=dict)  # make_examples settings the user gave (presets.SETTING_KEYS)
    multiallelic_merge: str = "auto"
    haplotype_resolution: bool = True
    phase_reads: bool | None = None  # two passes: call, tag reads with whatshap, call again; None: when it helps (_should_phase)
    make_examples: MakeExamplesOptions = field(default_factory=MakeExamplesOptions)


def _shard_job(args) -> MakeExamplesStats:
    ref, reads, out, gvcf_out, regions, opts, index, count, quiet, inputs = args
    if not quiet:
        logging.basicConfig(level=logging.INFO, format="dvcall: %(message)s")
    label = f"make_examples shard {index + 1}/{count}" if count > 1 else "make_examples"
    if inputs:
        clear(out)
    stats = make_examples(ref, reads, out, regions, opts, index, count, progress=None if quiet else Progress(label),
                          gvcf_output=gvcf_out)
    if inputs:  # each shard marks itself done as soon as it is, so a kill later keeps it
        mark_done(out, inputs, [out, out + ".example_info.json"] + ([gvcf_out] if gvcf_out else []), asdict(stats))
    return stats


def _model_identity(model_dir: str) -> list[dict]:
    return [file_identity(os.path.join(model_dir, f)) for f in sorted(os.listdir(model_dir))
            if os.path.isfile(os.path.join(model_dir, f))]


def _check_writable(path: str) -> None:
    out_dir = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(out_dir) or not os.access(out_dir, os.W_OK):
        raise OutputError(f"cannot write {path}: directory {out_dir} does not exist or is not writable")


def run_pipeline(opts: RunOptions) -> dict:
    """The whole caller; returns a summary (seconds per stage, candidates, examples, variants).

    With num_shards > 1 shards run in spawned processes, so a script calling this needs the usual
    `if __name__ == "__main__":` guard.
    """
    for flag, path in (("--output-vcf", opts.output_vcf), ("--output-gvcf", opts.output_gvcf)):
        if path is not None and not path.endswith(".vcf.gz"):
            raise OutputError(f"{flag} {path} must end in .vcf.gz (the output is bgzipped and indexed)")
    for path in (opts.output_vcf, opts.output_gvcf, opts.report):
        if path is not None:
            _check_writable(path)
    # Check every input before the long part starts.
    reference = Reference(opts.ref)
    handle = open_alignments(opts.reads, reference)
    sample = opts.sample_name or sample_name(handle)
    handle.close()
    model_dir, info = resolve_model(opts.model_type, opts.model_dir)
    opts = replace(opts, model_dir=model_dir)
    merger = load_merger(opts.multiallelic_merge, opts.model_dir)
    me_opts = make_examples_options(resolve_settings(opts.model_type, info, **opts.settings), opts.make_examples)
    regions = parse_regions(opts.regions, {c.name: c.length for c in reference.contigs})

    phase = _should_phase(opts, info, me_opts, reference, regions)

    tmp_root = None
    work = opts.intermediate_dir
    if not work:
        tmp_root = work = tempfile.mkdtemp(prefix="dvcall-")
    os.makedirs(work, exist_ok=True)
    try:
        if not phase:
            return _one_pass(opts, me_opts, merger, sample, work, warn_untagged=True)
        return _phased_passes(opts, me_opts, merger, sample, work, regions)
    finally:
        if tmp_root:
            shutil.rmtree(tmp_root, ignore_errors=True)


def _should_phase(opts: RunOptions, info: dict, me_opts: MakeExamplesOptions, reference: Reference,
                  regions: list[Region]) -> bool:
    """--phase-reads given: yes (or a one-line error); --no-phase-reads: no; neither: yes for a model that pools
    reads by haplotype when the reads are mostly untagged and whatshap is installed."""
    if opts.phase_reads:
        if not me_opts.pileup.hp_channel:
            raise InputError("--phase-reads tags reads for models that read HP tags; this model has no HP channel: use "
                             "--model-type pacbio or ont, or drop --phase-reads")
        require_whatshap()
        return True
    if opts.phase_reads is False or not auto_phase(info, opts.reads, reference, regions):
        return False
    log.info("phase-reads: the reads carry no HP tags: calling, tagging them with whatshap, calling again "
             "(--no-phase-reads to skip)")
    return True


def _phased_passes(opts: RunOptions, me_opts: MakeExamplesOptions, merger, sample: str, work: str, regions: list[Region]) -> dict:
    """--phase-reads: call the untagged reads, tag them with whatshap from those calls, call the tagged reads."""
    resumable = bool(opts.intermediate_dir)
    first_vcf = os.path.join(work, "firstpass.vcf.gz")
    first = _one_pass(replace(opts, output_vcf=first_vcf, output_gvcf=None, report=None), me_opts, merger, sample,
                      os.path.join(work, "pass1"), warn_untagged=False)
    t0 = time.time()
    tagged_bam = os.path.join(work, "haplotagged.bam")
    inputs = fingerprint(step="phase_reads", version=__version__, ref=file_identity(opts.ref), reads=file_identity(opts.reads),
                         calls=file_sha256(first_vcf), regions=list(opts.regions)) if resumable else ""
    done = completed(tagged_bam, inputs) if resumable else None
    if done is None:
        if resumable:
            clear(tagged_bam)
        tagged, total = haplotag(opts.ref, opts.reads, first_vcf, tagged_bam, regions)
        done = {"tagged": tagged, "reads": total}
        if resumable:
            mark_done(tagged_bam, inputs, [tagged_bam, tagged_bam + ".bai"], done)
    else:
        log.info("phase-reads: reads tagged in an earlier run, reused")
    log.info("phase-reads: whatshap tagged %d of %d reads from the first pass's calls", done["tagged"], done["reads"])
    phasing_seconds = round(time.time() - t0, 2)
    summary = _one_pass(replace(opts, reads=tagged_bam), me_opts, merger, sample, os.path.join(work, "pass2"), warn_untagged=True)
    for stage in ("make_examples", "call_variants", "postprocess"):
        summary[f"{stage}_seconds"] = round(summary[f"{stage}_seconds"] + first[f"{stage}_seconds"], 2)
    summary["phase_reads_seconds"] = phasing_seconds
    summary["tagged_reads"], summary["first_pass"] = done["tagged"], first
    return summary


def _one_pass(opts: RunOptions, me_opts: MakeExamplesOptions, merger, sample: str, work: str, warn_untagged: bool) -> dict:
    """make_examples -> call_variants -> postprocess over opts.reads, intermediate files in `work` (resumable
    when the user keeps them: --intermediate-dir)."""
    os.makedirs(work, exist_ok=True)
    resumable = bool(opts.intermediate_dir)
    summary: dict = {}
    n = max(1, opts.num_shards)
    shard_paths = [os.path.join(work, f"examples-{i:05d}-of-{n:05d}.tfrecord.gz") for i in range(n)]
    block_paths = [os.path.join(work, f"gvcf-{i:05d}-of-{n:05d}.tsv.gz") if opts.output_gvcf else None for i in range(n)]
    t0 = time.time()
    quiet = not log.isEnabledFor(logging.INFO)
    inputs = [fingerprint(step="make_examples", version=__version__, ref=file_identity(opts.ref),
                          reads=file_identity(opts.reads), regions=list(opts.regions), options=me_opts, shard=[i, n],
                          gvcf=bool(opts.output_gvcf))
              if resumable else "" for i in range(n)]
    stats: list[MakeExamplesStats | None] = [None] * n
    for i, p in enumerate(shard_paths):
        done = completed(p, inputs[i]) if resumable else None
        if done is not None:
            stats[i] = MakeExamplesStats(**done)
            log.info("make_examples shard %d/%d: finished in an earlier run, reused", i + 1, n)
    todo = [i for i in range(n) if stats[i] is None]
    jobs = [(opts.ref, opts.reads, shard_paths[i], block_paths[i], opts.regions, me_opts, i, n, quiet, inputs[i])
            for i in todo]
    results = []  # every shard reused
    if len(jobs) == 1:
        results = [_shard_job(jobs[0])]
    elif jobs:
        with mp.get_context("spawn").Pool(len(jobs)) as pool:
            results = pool.map(_shard_job, jobs)
    for i, result in zip(todo, results):
        stats[i] = result
    summary["make_examples_seconds"] = round(time.time() - t0, 2)
    summary["candidates"] = sum(s.candidates for s in stats)
    summary["examples"] = sum(s.examples for s in stats)
    log.info("make_examples: %d candidates, %d examples in %.1f s", summary["candidates"], summary["examples"], summary["make_examples_seconds"])
    reads, tagged = sum(s.reads for s in stats), sum(s.hp_tagged_reads for s in stats)
    if warn_untagged and me_opts.pileup.hp_channel and reads and tagged < 0.5 * reads:
        log.warning("only %d of %d reads carry an HP tag, but this model reads each read's HP tag: it is most accurate on "
                    "reads tagged by haplotype: add --phase-reads (or tag them with `dvcall haplotag`)", tagged, reads)
    calls_path = os.path.join(work, "calls.jsonl.gz")
    calls_inputs = fingerprint(step="call_variants", version=__version__, shards=[file_sha256(p) for p in shard_paths],
                               model=_model_identity(opts.model_dir)) if resumable else ""
    done = completed(calls_path, calls_inputs) if resumable else None
    if done is not None:
        cv = CallStats(**done)
        log.info("call_variants: finished in an earlier run, reused")
    else:
        if resumable:
            clear(calls_path)
        cv = call_variants(",".join(shard_paths), opts.model_dir, calls_path)
        if resumable:
            mark_done(calls_path, calls_inputs, [calls_path], asdict(cv))
        log.info("call_variants: %d examples in %.1f s (%.0f/s)", cv.examples, cv.seconds, cv.per_second)
    summary["call_variants_seconds"] = round(cv.seconds, 2)
    pp = postprocess(calls_path, opts.ref, opts.output_vcf, sample, opts.command, merger=merger,
                     gvcf_blocks=",".join(block_paths) if opts.output_gvcf else None, output_gvcf=opts.output_gvcf,
                     resolve_haplotypes=opts.haplotype_resolution)
    summary["postprocess_seconds"] = round(pp.seconds, 2)
    summary["sites"], summary["pass_snps"], summary["pass_indels"] = pp.sites, pp.pass_snps, pp.pass_indels
    if opts.report:
        write_report(opts.output_vcf, opts.report)
        log.info("report -> %s", opts.report)
    log.info("postprocess: %d sites, %d PASS SNPs, %d PASS indels -> %s", pp.sites, pp.pass_snps, pp.pass_indels, opts.output_vcf)
    return summary
