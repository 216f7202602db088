"""rgdkit.files.atomic: the one way files are written."""
import stat

import pytest

from rgdkit.files.atomic import write_atomically


def test_writes_a_readable_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "new" / "table.csv"
    assert write_atomically(path, lambda temporary: open(temporary, "w").write("a,b\n")) == path
    assert path.read_text() == "a,b\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's private 0600
    assert [p.name for p in path.parent.iterdir()] == ["table.csv"]


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("the user's results\n")

    def write_half_then_fail(temporary):
        open(temporary, "w").write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(path, write_half_then_fail)
    assert path.read_text() == "the user's results\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]
