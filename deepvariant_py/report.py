"""A one-page, self-contained HTML report of a VCF: counts by type, Ti/Tv, and the QUAL, GQ, VAF, indel length
and depth distributions, drawn with matplotlib as inline SVG (opens in a browser with no network)."""
from __future__ import annotations

import html
import io
import logging
import math
import os
from array import array
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError
from .filetypes import open_variant_file
from .outputs import atomic_output

log = logging.getLogger("dvcall")

TRANSITIONS = {("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")}


@dataclass
class VcfSummary:
    """What the report shows, gathered in one pass over the PASS records."""

    sample: str = ""
    records: int = 0
    by_filter: Counter = field(default_factory=Counter)
    by_type: Counter = field(default_factory=Counter)
    transitions: int = 0
    transversions: int = 0
    # flat arrays, not lists of Python numbers: a genome's 5 million PASS records would take ~0.6 GB as lists
    qual: array = field(default_factory=lambda: array("d"))
    gq: array = field(default_factory=lambda: array("l"))
    vaf: array = field(default_factory=lambda: array("d"))
    depth: array = field(default_factory=lambda: array("l"))
    indel_lengths: list[int] = field(default_factory=list)  # inserted bases > 0, deleted < 0

    @property
    def ti_tv(self) -> float:
        return self.transitions / self.transversions if self.transversions else float("nan")


def trimmed(ref: str, alt: str) -> tuple[str, str]:
    """REF and ALT less the bases they share at the end, then at the start (one base of each always kept): a
    multi-allelic record pads its alleles to its longest REF (TAG>AAG is the SNP T>A)."""
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt = ref[1:], alt[1:]
    return ref, alt


def variant_type(ref: str, alt: str) -> str:
    ref, alt = trimmed(ref, alt)
    if len(ref) == len(alt) == 1:
        return "SNP"
    if len(ref) == len(alt):
        return "MNP"
    if alt.startswith(ref) or ref.startswith(alt) or ref[0] == alt[0]:
        return "insertion" if len(alt) > len(ref) else "deletion"
    return "complex"


def summarize(vcf_path: str, sample: str | None = None) -> VcfSummary:
    """The counts and distributions of one sample's calls (`sample`; default the first, with a warning when the VCF
    holds others); records are those whose FILTER is PASS and where that sample carries an alt allele."""
    vf = open_variant_file(vcf_path)
    samples = list(vf.header.samples)
    if not samples:
        vf.close()
        raise InputError(f"{vcf_path} has no sample column (a sites-only VCF): the report reads a sample's genotypes; "
                         "pass the VCF that `dvcall run` wrote")
    if sample is not None and sample not in samples:
        vf.close()
        raise InputError(f"--sample {sample!r} is not in {vcf_path}: pick one of {', '.join(map(repr, samples[:10]))}"
                         f"{', ...' if len(samples) > 10 else ''}")
    if sample is None and len(samples) > 1:
        log.warning("%s holds %d samples (%s): the report shows the first, %r; --sample NAME picks another", vcf_path,
                    len(samples), ", ".join(samples[:5]) + (", ..." if len(samples) > 5 else ""), samples[0])
    s = VcfSummary(sample=sample if sample is not None else samples[0])
    column = samples.index(s.sample)
    try:
        with vf:
            for rec in vf:
                s.records += 1
                flt = ",".join(rec.filter.keys()) or "."
                s.by_filter[flt] += 1
                if flt != "PASS":
                    continue
                call = rec.samples[column]
                gt = [a for a in (call.get("GT") or ()) if a]
                for a in sorted(set(gt)):
                    alt = rec.alleles[a]
                    if alt.startswith("<") or alt == "*":  # symbolic, or a deletion's overlap written elsewhere
                        continue
                    kind = variant_type(rec.ref, alt)
                    s.by_type[kind] += 1
                    if kind == "SNP":
                        if trimmed(rec.ref, alt) in TRANSITIONS:
                            s.transitions += 1
                        else:
                            s.transversions += 1
                    elif kind in ("insertion", "deletion"):
                        s.indel_lengths.append(len(alt) - len(rec.ref))
                if rec.qual is not None and math.isfinite(rec.qual):  # htslib reads QUAL `inf` as a number
                    s.qual.append(float(rec.qual))
                for key, out in (("GQ", s.gq), ("DP", s.depth)):
                    if call.get(key) is not None:
                        out.append(int(call[key]))
                vafs = call.get("VAF")
                if vafs:
                    s.vaf.extend(float(v) for v in vafs if v is not None and math.isfinite(v))
    except (OSError, ValueError) as exc:  # htslib's own line above names what it could not parse
        raise InputError(f"cannot read {vcf_path}: {exc}") from None
    return s


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog: the SVG goes inline


def _figures(s: VcfSummary) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.figsize": (5.2, 3.2), "font.size": 9, "svg.fonttype": "none"})
    out = []

    def hist(title, values, bins, xlabel):
        fig, ax = plt.subplots()
        if len(values):
            ax.hist(values, bins=bins, color="#3b6ea8")
        else:
            ax.text(0.5, 0.5, "no PASS records", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("variants")
        ax.set_title(title)
        out.append((title, _svg(fig)))
        plt.close(fig)

    fig, ax = plt.subplots()
    kinds = ["SNP", "insertion", "deletion", "MNP", "complex"]
    ax.bar(kinds, [s.by_type.get(k, 0) for k in kinds], color="#3b6ea8")
    ax.set_ylabel("alleles")
    ax.set_title("Variant types (PASS)")
    out.append(("Variant types", _svg(fig)))
    plt.close(fig)
    hist("QUAL", s.qual, 40, "QUAL")
    hist("Genotype quality (GQ)", s.gq, np.arange(0, 101, 2.5), "GQ")
    hist("Variant allele fraction (VAF)", s.vaf, np.linspace(0, 1, 41), "VAF")
    lengths = np.clip(np.array(s.indel_lengths, int), -30, 30) if s.indel_lengths else []
    hist("Indel length (deletions < 0, clipped at 30)", lengths, np.arange(-30.5, 31.5, 1), "length (bp)")
    hist("Depth (DP)", s.depth, 40, "reads")
    return out


def render(s: VcfSummary, title: str) -> str:
    rows = [("records", s.records), ("PASS", s.by_filter.get("PASS", 0)),
            *((f"PASS {k}", v) for k, v in sorted(s.by_type.items())),
            ("Ti/Tv (PASS SNPs)", f"{s.ti_tv:.2f}" if s.transversions else "n/a"),
            *((f"filter {k}", v) for k, v in sorted(s.by_filter.items()) if k != "PASS")]
    table = "\n".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    figures = "\n".join(f'<figure class="plot" data-title="{html.escape(t)}">{svg}</figure>' for t, svg in _figures(s))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
th,td{{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}}
.plots{{display:flex;flex-wrap:wrap;gap:1em}}figure{{margin:0}}</style></head>
<body><h1>{html.escape(title)}</h1><p>sample {html.escape(s.sample)}</p>
<table>{table}</table>
<div class="plots">{figures}</div>
</body></html>
"""


def write_report(vcf_path: str, report_path: str, title: str | None = None, sample: str | None = None) -> VcfSummary:
    """Write the report of `sample` (default: the first) of the VCF; the file appears only once complete. Returns
    what it summarised."""
    summary = summarize(vcf_path, sample)
    page = render(summary, title or f"dvcall report: {os.path.basename(vcf_path)}")
    with atomic_output(report_path) as tmp, open(tmp, "w") as fh:
        fh.write(page)
    return summary
