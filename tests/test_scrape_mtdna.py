"""scripts/scrape_mtdna.py offline: batch planning, FASTA handling, resuming, commands, CLI."""
import json

import pytest

def fasta(records):
    return "".join(f">{rid} Homo sapiens mitochondrion\n{seq[:5]}\n{seq[5:]}\n"
                   for rid, seq in records)


def fake_entrez(scrape, monkeypatch, records):
    """Replace the two Entrez calls by a local list of records; returns the fetch log."""
    fetched = []

    def search(query, email):
        return {"count": len(records), "webenv": "W", "query_key": "1"}

    def fetch(search_result, start, count, email):
        fetched.append((start, count))
        return fasta(records[start:start + count])

    monkeypatch.setattr(scrape, "entrez_search", search)
    monkeypatch.setattr(scrape, "entrez_fetch", fetch)
    return fetched


RECORDS = [(f"MT{i:04d}.1", "ACGTACGTAC" * (i + 1)) for i in range(7)]


def test_build_query_names_organism_filter_and_length_range(scrape):
    assert scrape.build_query(15400, 16700) == \
        '"Homo sapiens"[Organism] AND mitochondrion[Filter] AND 15400:16700[SLEN]'
    with pytest.raises(ValueError):
        scrape.build_query(16700, 15400)


def test_plan_batches_covers_every_record_once(scrape):
    assert scrape.plan_batches(1203, 500) == [(0, 0, 500), (1, 500, 500), (2, 1000, 203)]
    assert scrape.plan_batches(1000, 500) == [(0, 0, 500), (1, 500, 500)]
    assert scrape.plan_batches(0, 500) == []
    with pytest.raises(ValueError):
        scrape.plan_batches(10, 0)


def test_parse_fasta_joins_wrapped_sequence_lines(scrape):
    assert scrape.parse_fasta(fasta(RECORDS[:2])) == RECORDS[:2]
    assert scrape.count_fasta_records("") == 0


def test_complete_batch_needs_the_expected_record_count(scrape, tmp_path):
    path = tmp_path / "b.fasta"
    assert not scrape.is_complete_batch(path, 2)
    path.write_text(fasta(RECORDS[:2]))
    assert scrape.is_complete_batch(path, 2)
    assert not scrape.is_complete_batch(path, 3)
    path.write_text(">MT0001.1\n")
    assert not scrape.is_complete_batch(path, 1)  # a record without sequence


def test_write_text_atomically_leaves_no_temporary_file(scrape, tmp_path):
    path = tmp_path / "sub" / "b.fasta"
    scrape.write_text_atomically(path, "x\n")
    assert path.read_text() == "x\n"
    assert [p.name for p in path.parent.iterdir()] == ["b.fasta"]


def test_merge_batches_drops_duplicate_accessions(scrape, tmp_path):
    first, second = tmp_path / "1.fasta", tmp_path / "2.fasta"
    first.write_text(fasta(RECORDS[:3]))
    second.write_text(fasta(RECORDS[2:5]))  # RECORDS[2] again, as after a shifted batch
    merged = tmp_path / "all.fasta"
    assert scrape.merge_batches([first, second], merged) == 5
    assert scrape.parse_fasta(merged.read_text()) == RECORDS[:5]


def test_haplogrep_commands_classify_against_both_trees(scrape, tmp_path):
    commands = scrape.haplogrep_commands(tmp_path / "mt.fasta", tmp_path)
    assert [c[c.index("--tree") + 1] for c in commands] == \
        ["phylotree-rsrs@17.0", "phylotree-fu-rcrs@1.2"]
    for command in commands:
        assert command[:2] == ["haplogrep3", "classify"] and command[-1] == "--extend-report"
        assert command[command.index("--in") + 1] == str(tmp_path / "mt.fasta")
    assert len({c[c.index("--out") + 1] for c in commands}) == 2


def test_classify_prints_commands_when_haplogrep3_is_absent(scrape, tmp_path, capsys,
                                                             monkeypatch):
    monkeypatch.setattr(scrape.shutil, "which", lambda name: None)
    scrape.classify(tmp_path / "mt.fasta", tmp_path)
    printed = capsys.readouterr().out
    assert "not on PATH" in printed and printed.count("haplogrep3 classify") == 2


def test_download_fetches_in_batches_and_resumes(scrape, tmp_path, monkeypatch):
    fetched = fake_entrez(scrape, monkeypatch, RECORDS)
    paths = scrape.download(tmp_path, "me@example.org", 3, 15400, 16700)
    assert fetched == [(0, 3), (3, 3), (6, 1)]
    assert [len(scrape.parse_fasta(p.read_text())) for p in paths] == [3, 3, 1]
    # an interrupted run: one batch lost, another half written
    paths[1].unlink()
    paths[2].write_text(fasta(RECORDS[6:7]).split("\n")[0])  # header only
    fetched.clear()
    scrape.download(tmp_path, "me@example.org", 3, 15400, 16700)
    assert fetched == [(3, 3), (6, 1)]
    assert scrape.merge_batches(paths, tmp_path / "all.fasta") == len(RECORDS)
    assert json.loads((tmp_path / "manifest.json").read_text())["count"] == len(RECORDS)


def test_resume_refuses_a_changed_search_result(scrape, tmp_path, monkeypatch):
    fake_entrez(scrape, monkeypatch, RECORDS)
    scrape.download(tmp_path, "me@example.org", 3, 15400, 16700)
    fake_entrez(scrape, monkeypatch, RECORDS + [("MT9999.1", "ACGT")])
    with pytest.raises(RuntimeError, match="new --out"):
        scrape.download(tmp_path, "me@example.org", 3, 15400, 16700)


def test_short_batches_are_retried_then_reported(scrape, tmp_path, monkeypatch):
    fake_entrez(scrape, monkeypatch, RECORDS)
    monkeypatch.setattr(scrape, "entrez_fetch", lambda *args: fasta(RECORDS[:1]))
    monkeypatch.setattr(scrape.time, "sleep", lambda seconds: None)
    with pytest.raises(RuntimeError, match="rerun to resume"):
        scrape.download(tmp_path, "me@example.org", 3, 15400, 16700)
    assert not scrape.batch_path(tmp_path, 0).exists()


def test_missing_email_is_a_clear_error(scrape, capsys):
    with pytest.raises(SystemExit) as exit_info:
        scrape.parse_args(["--out", "x"])
    assert exit_info.value.code == 2
    assert "--email is required" in capsys.readouterr().err
    args = scrape.parse_args(["--email", "me@example.org"])
    assert (args.batch_size, args.min_length, args.max_length) == (500, 15400, 16700)


def test_main_runs_end_to_end_offline(scrape, tmp_path, monkeypatch, capsys):
    fake_entrez(scrape, monkeypatch, RECORDS)
    monkeypatch.setattr(scrape.shutil, "which", lambda name: None)
    scrape.main(["--email", "me@example.org", "--out", str(tmp_path), "--batch-size", "4"])
    assert scrape.parse_fasta((tmp_path / "mtdna.fasta").read_text()) == RECORDS
    assert "haplogrep3 classify" in capsys.readouterr().out
