"""The follower on plain files: every rotation case, restarts, partial and over-long lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from registry_monitor.accesslog.follow import Follower


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "access.log"


def follower(log: Path, max_line: int = 100, **kw: int) -> Follower:
    return Follower(log, log.parent / "state" / "position.json", max_line=max_line, **kw)


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="latin-1") as f:
        f.write(text)


def test_first_start_begins_at_the_end_and_skips_the_line_it_lands_in(log: Path) -> None:
    log.write_text("history 1\nhistory 2\nhalf a li")
    f = follower(log)
    assert f.read().lines == []
    append(log, "ne\nnew 1\n")
    assert f.read().lines == ["new 1"]


def test_first_start_at_a_line_end_loses_nothing(log: Path) -> None:
    log.write_text("history\n")
    f = follower(log)
    assert f.read().lines == []
    append(log, "new\n")
    assert f.read().lines == ["new"]


def test_a_partial_last_line_waits_for_its_newline(log: Path) -> None:
    log.write_text("")
    f = follower(log)
    f.read()
    append(log, "one\ntw")
    assert f.read().lines == ["one"]
    assert f.read().lines == []
    append(log, "o\n")
    assert f.read().lines == ["two"]


def test_a_restart_resumes_at_the_saved_offset_partial_line_included(log: Path) -> None:
    log.write_text("")
    first = follower(log)
    first.read()
    append(log, "a\nb\npart")
    assert first.read().lines == ["a", "b"]
    first.close()
    append(log, "ial\nc\n")
    again = follower(log)
    assert again.read().lines == ["partial", "c"]


def test_a_restart_after_a_rename_reads_the_rest_of_the_rotated_file_then_the_new(
    log: Path,
) -> None:
    log.write_text("")
    first = follower(log)
    first.read()
    append(log, "a\n")
    assert first.read().lines == ["a"]
    first.close()
    append(log, "written while down\n")
    log.rename(log.with_name("access.log.1"))
    log.write_text("new file\n")
    again = follower(log)
    assert again.read().lines == ["written while down", "new file"]


def test_rename_then_reopen_reads_the_old_file_to_its_end_first(log: Path) -> None:
    log.write_text("")
    f = follower(log)
    f.read()
    append(log, "1\n")
    old = log.with_name("access.log.1")
    log.rename(old)
    append(old, "2\n")  # nginx still writes the renamed file
    assert f.read().lines == ["1", "2"]
    log.write_text("")  # logrotate's create; nginx has not reopened yet
    append(old, "3\n")
    batch = f.read()
    assert (batch.lines, batch.rotations) == (["3"], 0)
    append(old, "4\n")
    append(log, "5\n")  # reopened: the old file's last line is read before the new file
    batch = f.read()
    assert (batch.lines, batch.rotations) == (["4", "5"], 1)
    append(log, "6\n")
    assert f.read().lines == ["6"]


def test_copytruncate_starts_again_at_the_start(log: Path) -> None:
    log.write_text("")
    f = follower(log)
    f.read()
    append(log, "before 1\nbefore 2\n")
    assert f.read().lines == ["before 1", "before 2"]
    log.write_text("")  # truncate (opened with O_TRUNC)
    append(log, "after\n")
    batch = f.read()
    assert (batch.lines, batch.rotations) == (["after"], 1)


def test_truncated_and_refilled_past_the_offset_is_seen_by_its_first_bytes(log: Path) -> None:
    log.write_text("")
    f = follower(log)
    f.read()
    append(log, "[01/Dec/2026:10:00:00] short\n")
    assert f.read().lines == ["[01/Dec/2026:10:00:00] short"]
    with log.open("r+") as w:
        w.truncate(0)
    append(log, "[01/Dec/2026:10:05:00] longer than the old file\nnext\n")
    batch = f.read()
    assert batch.lines == ["[01/Dec/2026:10:05:00] longer than the old file", "next"]
    assert batch.rotations == 1


def test_a_file_that_disappears_is_waited_for_and_read_from_its_start(log: Path) -> None:
    log.write_text("")
    f = follower(log)
    f.read()
    append(log, "a\n")
    assert f.read().lines == ["a"]
    log.unlink()
    batch = f.read()
    assert (batch.lines, batch.note) == ([], None)  # still reading the unlinked file
    log.write_text("b\n")
    assert f.read().lines == ["b"]


def test_a_missing_file_at_start_is_a_note_and_is_read_from_its_start_when_it_comes(
    log: Path,
) -> None:
    f = follower(log)
    batch = f.read()
    assert batch.note == f"access log {log} does not exist (yet)"
    assert f.position is None
    log.write_text("first\n")
    assert f.read().lines == ["first"]
    append(log, "second\n")
    assert f.read().lines == ["second"]


def test_over_long_lines_are_skipped_whole_and_counted(log: Path) -> None:
    log.write_text("")
    f = follower(log, max_line=10)
    f.read()
    append(log, "short\n" + "x" * 25)
    batch = f.read()
    assert (batch.lines, batch.overlong) == (["short"], 1)
    append(log, "y" * 30 + "\nafter\n" + "z" * 11 + "\nok\n")
    batch = f.read()
    assert (batch.lines, batch.overlong) == (["after", "ok"], 1)


def test_the_position_is_saved_before_lines_are_handed_out(log: Path) -> None:
    log.write_text("")
    f = follower(log)
    f.read()
    append(log, "a\nb\nc")
    f.read()
    saved = json.loads((log.parent / "state" / "position.json").read_text())
    st = log.stat()
    assert (saved["device"], saved["inode"], saved["offset"]) == (st.st_dev, st.st_ino, 4)
    assert saved["head"] == "a\nb\nc"


def test_an_unusable_state_file_is_a_note_and_a_fresh_start(log: Path) -> None:
    state = log.parent / "state" / "position.json"
    state.parent.mkdir()
    state.write_text("{not json")
    log.write_text("old\n")
    f = follower(log)
    batch = f.read()
    assert batch.lines == []
    assert batch.note is None  # the good save replaced the bad file
    assert json.loads(state.read_text())["offset"] == 4


def test_another_path_in_the_state_file_starts_at_the_end(log: Path) -> None:
    other = log.with_name("other.log")
    other.write_text("")
    first = follower(other)
    first.read()
    append(other, "x\n")
    first.read()
    first.close()
    log.write_text("history\n")  # the config now names another file, found with history
    assert follower(log).read().lines == []


def test_one_read_takes_at_most_its_byte_budget(log: Path) -> None:
    log.write_text("")
    f = follower(log, max_bytes_per_read=1 << 20)
    f.read()
    line = "l" * 99 + "\n"
    append(log, line * 30_000)  # 3 MB
    sizes = [len(f.read().lines) for _ in range(4)]
    assert sum(sizes) == 30_000
    assert sizes[0] < 30_000 and sizes[-1] == 0


def test_unreadable_after_start_keeps_counting_nothing_twice(log: Path) -> None:
    log.write_text("")
    f = follower(log)
    f.read()
    append(log, "a\n")
    assert f.read().lines == ["a"]
    os.truncate(log, 2)  # same size: nothing new, nothing again
    assert f.read().lines == []


def test_an_expired_deadline_stops_after_one_chunk_and_the_rest_comes_next_time(
    log: Path,
) -> None:
    from registry_monitor.base import Deadline

    log.write_text("")
    f = follower(log)
    f.read()
    append(log, ("m" * 99 + "\n") * 30_000)  # 3 MB: a dozen chunks
    first = f.read(Deadline(0.0))
    assert 0 < len(first.lines) < 30_000
    assert len(first.lines) + len(f.read().lines) == 30_000
