"""Download human mitochondrial genomes from NCBI and classify them with haplogrep3.

The paper's data recipe:

1. Entrez ``esearch`` (with history) for human mitochondrial sequences of complete-genome length;
2. ``efetch`` of FASTA in batches, one file per batch, written atomically so that an interrupted
   download resumes where it stopped (complete batch files are skipped);
3. the batches merged into one FASTA (duplicate accessions dropped);
4. ``haplogrep3 classify --extend-report`` against PhyloTree 17 RSRS and FU 1.2 rCRS, run when
   ``haplogrep3`` is on PATH, printed otherwise. ``hmtdna.load_haplogrep_report`` reads the result.

Usage: python scripts/scrape_mtdna.py --email you@example.org --out data/hmtdna_scrape
"""
from __future__ import annotations

import argparse
import io
import json
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

from Bio import SeqIO
from tqdm import tqdm

from rgdkit.files.atomic import write_atomically

HAPLOGREP_TREES = {"rsrs": "phylotree-rsrs@17.0", "rcrs": "phylotree-fu-rcrs@1.2"}
MERGED_FASTA = "mtdna.fasta"
MANIFEST = "manifest.json"
MAX_BATCH_SIZE = 10000  # NCBI efetch returns at most 10,000 records per request
# Biopython waits 15 s between its 3 tries, so an offline run took 30 s to say so; efetch
# batches have their own retries with back-off on top (_fetch_checked)
ENTREZ_RETRY_SLEEP_S = 2


# --------------------------------------------------------------------------------------------
# Pure helpers (tested offline)
# --------------------------------------------------------------------------------------------
def build_query(min_length: int, max_length: int) -> str:
    """Entrez query for human mitochondrial sequences with length in [min_length, max_length]."""
    if not 0 < min_length <= max_length:
        raise ValueError(f"need 0 < min_length <= max_length, got {min_length}, {max_length}")
    return (f'"Homo sapiens"[Organism] AND mitochondrion[Filter] AND '
            f"{min_length}:{max_length}[SLEN]")


def plan_batches(total: int, batch_size: int) -> list[tuple[int, int, int]]:
    """``(index, start, count)`` for each batch covering records ``0 .. total-1``."""
    if batch_size <= 0:
        raise ValueError(f"batch size must be positive, got {batch_size}")
    return [(index, start, min(batch_size, total - start))
            for index, start in enumerate(range(0, total, batch_size))]


def batch_path(out: Path, index: int) -> Path:
    """File of batch ``index`` under ``out/batches``."""
    return Path(out) / "batches" / f"batch_{index:05d}.fasta"


def parse_fasta(text: str) -> list[tuple[str, str]]:
    """``(record id, sequence)`` pairs of a FASTA text."""
    return [(record.id, str(record.seq)) for record in SeqIO.parse(io.StringIO(text), "fasta")]


def count_fasta_records(text: str) -> int:
    """Number of FASTA records in ``text``."""
    return len(parse_fasta(text))


def is_complete_batch(path: Path, expected_count: int) -> bool:
    """Whether ``path`` holds exactly ``expected_count`` FASTA records, none of them empty."""
    path = Path(path)
    if not path.is_file():
        return False
    records = parse_fasta(path.read_text())
    return len(records) == expected_count and all(sequence for _, sequence in records)


def write_text_atomically(path: Path, text: str):
    """Write ``text`` to ``path`` so that ``path`` is never half written (resumable batches)."""
    write_atomically(path, lambda temporary: Path(temporary).write_text(text),
                     allow_empty=not text)


def merge_batches(paths, out_path: Path) -> int:
    """Concatenate batch FASTA files into ``out_path``, first copy of each accession kept.

    Returns the number of records written.
    """
    seen, lines = set(), []
    for path in paths:
        for record_id, sequence in parse_fasta(Path(path).read_text()):
            if record_id not in seen:
                seen.add(record_id)
                lines += [f">{record_id}", sequence]
    write_text_atomically(out_path, "\n".join(lines) + "\n" if lines else "")
    return len(seen)


def haplogrep_commands(fasta: Path, out: Path) -> list[list[str]]:
    """haplogrep3 classification commands, one per reference tree."""
    return [["haplogrep3", "classify", "--tree", tree, "--in", str(fasta),
             "--out", str(Path(out) / f"{reference}_haplogrep.txt"), "--extend-report"]
            for reference, tree in HAPLOGREP_TREES.items()]


def check_manifest(out: Path, query: str, count: int):
    """Record the search in ``out/manifest.json``, or check a resumed download matches it.

    Batches are slices of the search result, so resuming is only sound if the result is the
    same size as when the download began.
    """
    manifest = Path(out) / MANIFEST
    if manifest.is_file():
        saved = json.loads(manifest.read_text())
        if (saved["query"], saved["count"]) != (query, count):
            raise RuntimeError(
                f"{out} holds a download of {saved['count']} records for {saved['query']!r}, but "
                f"the search now gives {count} for {query!r}; batch boundaries would shift. "
                "Use a new --out folder.")
    else:
        write_text_atomically(manifest, json.dumps({"query": query, "count": count}, indent=1))


# --------------------------------------------------------------------------------------------
# NCBI Entrez (network; tests replace these two functions)
# --------------------------------------------------------------------------------------------
def _entrez(email: str):
    """Bio.Entrez with the contact address and a short wait between its retries."""
    from Bio import Entrez
    Entrez.email = email
    Entrez.sleep_between_tries = ENTREZ_RETRY_SLEEP_S
    return Entrez


def entrez_search(query: str, email: str) -> dict:
    """esearch with history: ``{"count", "webenv", "query_key"}``."""
    Entrez = _entrez(email)
    with Entrez.esearch(db="nucleotide", term=query, usehistory="y", retmax=0) as handle:
        result = Entrez.read(handle)
    return {"count": int(result["Count"]), "webenv": result["WebEnv"],
            "query_key": result["QueryKey"]}


def entrez_fetch(search: dict, start: int, count: int, email: str) -> str:
    """efetch ``count`` FASTA records from ``start`` of the search history."""
    Entrez = _entrez(email)
    with Entrez.efetch(db="nucleotide", rettype="fasta", retmode="text", retstart=start,
                       retmax=count, webenv=search["webenv"],
                       query_key=search["query_key"]) as handle:
        return handle.read()


# --------------------------------------------------------------------------------------------
# Steps
# --------------------------------------------------------------------------------------------
def download(out: Path, email: str, batch_size: int, min_length: int, max_length: int,
             retries: int = 3) -> list[Path]:
    """Fetch every batch not already complete under ``out``; returns all batch files in order."""
    query = build_query(min_length, max_length)
    search = entrez_search(query, email)
    check_manifest(out, query, search["count"])
    print(f"{search['count']} records for {query}")
    paths = []
    for index, start, count in tqdm(plan_batches(search["count"], batch_size), desc="batches"):
        path = batch_path(out, index)
        paths.append(path)
        if not is_complete_batch(path, count):
            write_text_atomically(path, _fetch_checked(search, start, count, email, retries))
    return paths


def _fetch_checked(search: dict, start: int, count: int, email: str, retries: int) -> str:
    """One batch, retried while NCBI fails or returns fewer records than asked for."""
    for attempt in range(1, retries + 1):
        try:
            text = entrez_fetch(search, start, count, email)
            if count_fasta_records(text) == count:
                return text
            problem = f"got {count_fasta_records(text)} of {count} records"
        except OSError as error:  # urllib's HTTP and network errors
            problem = str(error)
        print(f"records {start}..{start + count - 1}: {problem} (attempt {attempt}/{retries})",
              file=sys.stderr)
        time.sleep(2 ** attempt)
    raise RuntimeError(f"could not fetch records {start}..{start + count - 1}; rerun to resume")


def classify(fasta: Path, out: Path) -> list[list[str]]:
    """Run the haplogrep3 commands if haplogrep3 is installed, else print them."""
    commands = haplogrep_commands(fasta, out)
    if shutil.which("haplogrep3") is None:
        print("haplogrep3 is not on PATH; classify with:")
        for command in commands:
            print("  " + shlex.join(command))
    else:
        for command in commands:
            subprocess.run(command, check=True)
    return commands


def int_in_range(low: int, high: int | None = None):
    """argparse type: an integer in [low, high], rejected before any network request."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise argparse.ArgumentTypeError(f"{value} is out of range; use a number {bounds}")
        return value
    return parse


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--email", help="contact e-mail that NCBI Entrez requires (required)")
    parser.add_argument("--out", type=Path, default=Path("data/hmtdna_scrape"),
                        help="output folder (batches, merged FASTA, haplogrep reports)")
    parser.add_argument("--batch-size", type=int_in_range(1, MAX_BATCH_SIZE), default=500,
                        help=f"records per efetch request (1 to {MAX_BATCH_SIZE})")
    parser.add_argument("--min-length", type=int_in_range(1), default=15400)
    parser.add_argument("--max-length", type=int_in_range(1), default=16700)
    args = parser.parse_args(argv)
    if not args.email or "@" not in args.email:
        parser.error("--email is required: NCBI Entrez asks every user for a contact e-mail "
                     "address, e.g. --email you@example.org")
    if args.min_length > args.max_length:
        parser.error(f"--min-length {args.min_length} is above --max-length {args.max_length}; "
                     "swap them")
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {args.out} is a file; name a folder")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        batches = download(args.out, args.email, args.batch_size, args.min_length,
                           args.max_length)
    except OSError as error:  # urllib's network errors; one line, the traceback buries it
        print(f"scrape_mtdna: cannot reach NCBI Entrez ({_one_line(error)}). Check the network "
              "(eutils.ncbi.nlm.nih.gov must be reachable) and rerun: finished batches are kept",
              file=sys.stderr)
        return 1
    except RuntimeError as error:  # ours: retries spent, or a changed search; says the fix
        print(f"scrape_mtdna: {error}", file=sys.stderr)
        return 1
    fasta = args.out / MERGED_FASTA
    print(f"{merge_batches(batches, fasta)} sequences in {fasta}")
    classify(fasta, args.out)
    return 0


def _one_line(error: BaseException) -> str:
    """``Type: message`` on one line; urllib's URLError keeps the cause in ``reason``."""
    message = str(getattr(error, "reason", "") or error).strip().replace("\n", " ")
    return f"{type(error).__name__}: {message}"[:300]


if __name__ == "__main__":
    sys.exit(main())
