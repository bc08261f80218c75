"""Visitor counts: what counts as a visit, what the file holds, and that no crash can tear it."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pygame
import pytest

from edge.booth.visitors import FILE_NAME, Hour, StatsFileError, VisitorStats, dump, hour_key, load
from edge.booth.visitors_report import hour_range, report, table
from fsfaults import faulty_dir

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
T0 = 1_790_000_000.0  # a fixed wall clock: hour buckets do not depend on when the test runs


def frames(stats: VisitorStats, track_ids: list[int], seconds: float, start: float, expression: str = "happy",
           fps: float = 10.0) -> float:
    """`track_ids` in front of the mirror for `seconds` of frame clock; returns the end time."""
    n = int(round(seconds * fps))
    for i in range(n + 1):
        stats.observe([(t, expression) for t in track_ids], start + i / fps)
    return start + n / fps


def test_a_visit_is_a_track_that_lasted_min_visit_s(tmp_path):
    st = VisitorStats(tmp_path / FILE_NAME, min_visit_s=2.0, wall=lambda: T0)
    t = frames(st, [1], 3.0, 0.0, "happy")  # a visitor
    t = frames(st, [2], 1.0, t + 5, "sad")  # a passer-by
    frames(st, [], 2.0, t + 1)  # nobody: both tracks end
    h = st.hours[hour_key(T0)]
    assert h.people == 1 and h.seconds == pytest.approx(3.0) and h.longest_s == pytest.approx(3.0)
    assert set(h.expressions) == {"happy"} and h.expressions["happy"] == pytest.approx(3.0)


def test_a_missed_frame_does_not_split_a_visit_and_two_people_count_twice(tmp_path):
    st = VisitorStats(tmp_path / FILE_NAME, gone_after_s=1.0, wall=lambda: T0)
    t = frames(st, [1, 2], 1.5, 0.0, "neutral")
    st.observe([], t + 0.5)  # one frame without faces, shorter than the track timeout
    t = frames(st, [1, 2], 1.5, t + 0.6, "surprise")
    st.close()
    h = st.hours[hour_key(T0)]
    assert h.people == 2 and h.longest_s == pytest.approx(3.6)
    # the half-second gap is not expression time; the rest is split as shown
    assert h.expressions["neutral"] == pytest.approx(3.0) and h.expressions["surprise"] == pytest.approx(3.0)


def test_visits_go_to_the_hour_they_started_and_snapshots_are_counted(tmp_path):
    clock = {"t": T0}
    st = VisitorStats(tmp_path / FILE_NAME, wall=lambda: clock["t"])
    t = frames(st, [1], 3.0, 0.0)
    clock["t"] = T0 + 3600
    st.snapshot_taken()
    frames(st, [7], 3.0, t + 5)
    st.close()
    assert [h.people for h in st.hours.values()] == [1, 1]
    assert st.hours[hour_key(T0 + 3600)].snapshots == 1


def test_counts_survive_a_restart_and_the_file_holds_counts_only(tmp_path):
    path = tmp_path / FILE_NAME
    st = VisitorStats(path, wall=lambda: T0)
    frames(st, [41], 2.5, 0.0, "happy")
    st.close()
    st = VisitorStats(path, wall=lambda: T0)
    frames(st, [3], 2.5, 100.0, "sad")
    st.close()
    assert load(path)[hour_key(T0)].people == 2
    text = path.read_text()
    assert "41" not in text  # track ids are never written
    assert set(json.loads(text)["hours"][hour_key(T0)]) == {"people", "seconds", "longest_s", "expressions",
                                                            "snapshots"}
    assert len(text) < 300


def test_writes_are_throttled_to_flush_s(tmp_path):
    path = tmp_path / FILE_NAME
    st = VisitorStats(path, flush_s=60.0, wall=lambda: T0)
    t = frames(st, [1], 3.0, 0.0)
    frames(st, [], 2.0, t)  # the visit ends: first write
    assert load(path)[hour_key(T0)].people == 1
    t = frames(st, [2], 3.0, t + 3)
    frames(st, [], 2.0, t)  # second visit ends 8 s later: not written yet
    assert load(path)[hour_key(T0)].people == 1
    st.observe([], t + 61)
    assert load(path)[hour_key(T0)].people == 2


def test_a_corrupt_file_is_kept_aside_and_counting_goes_on(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_text("{not json")
    st = VisitorStats(path, wall=lambda: T0)
    assert st.hours == {} and (tmp_path / (FILE_NAME + ".bad")).read_text() == "{not json"


@pytest.mark.parametrize("hour", [
    {"people": 1, "expressions": {"happy": "x"}},  # a TypeError in the frame loop, the run's counts lost
    {"people": "3"}, {"people": -1}, {"seconds": None}, {"snapshots": 1.5}, {"expressions": ["happy"]},
])
def test_a_wrong_typed_value_is_kept_aside_and_counting_goes_on(tmp_path, hour):
    path = tmp_path / FILE_NAME
    text = json.dumps({"version": 1, "hours": {"2026-12-07T10": hour}})
    path.write_text(text)
    st = VisitorStats(path, wall=lambda: T0)
    assert st.hours == {} and (tmp_path / (FILE_NAME + ".bad")).read_text() == text
    t = frames(st, [1], 3.0, 0.0)
    frames(st, [], 2.0, t)  # a visit is counted and written as usual
    st.flush()
    assert load(path)[hour_key(T0)].people == 1


def test_a_bad_hour_key_is_kept_aside(tmp_path):
    path = tmp_path / FILE_NAME
    path.write_text(json.dumps({"version": 1, "hours": {"yesterday": {"people": 1}}}))
    with pytest.raises(StatsFileError, match="not an hour"):
        load(path)


@pytest.mark.parametrize("kind", ["readonly", "full"])
def test_a_disk_that_refuses_keeps_counts_in_memory(tmp_path, kind, caplog):
    good = tmp_path / "good"
    good.mkdir()
    with faulty_dir(tmp_path, kind) as bad:
        st = VisitorStats(good / FILE_NAME, wall=lambda: T0)
        st.path = bad / FILE_NAME
        frames(st, [1], 3.0, 0.0)
        st.close()
        assert st.hours[hour_key(T0)].people == 1
        assert "kept in memory" in caplog.text and not list(bad.glob(f".{FILE_NAME}*"))
    st.path = good / FILE_NAME
    assert st.flush() and load(st.path)[hour_key(T0)].people == 1


def _bad_counts_and_a_torn_write(folder):
    (folder / FILE_NAME).write_text('{"version": 1, "hours": {"2026-12-07T14": {"people": "x"}}}')
    (folder / f".{FILE_NAME}.99.tmp").write_text("{")


@pytest.mark.parametrize("where", ["readonly", "readonly-with-files", "not-a-folder"])
def test_a_counts_folder_that_refuses_at_start_keeps_counting_in_memory(tmp_path, where, caplog):
    """The mirror starts and counts when its counts folder cannot be made or written (a read-only
    mount; a file where the folder should be, which even root cannot write through)."""
    if where == "not-a-folder":
        (tmp_path / "stick").write_text("")
        ctx = contextlib.nullcontext(tmp_path / "stick")
    else:
        ctx = faulty_dir(tmp_path, "readonly", _bad_counts_and_a_torn_write if "files" in where else None)
    with ctx as bad:
        folder = bad if "files" in where else bad / "stats"
        st = VisitorStats(folder / FILE_NAME, wall=lambda: T0)
        frames(st, [1], 3.0, 0.0)
        st.close()
        assert st.hours[hour_key(T0)].people == 1 and "kept in memory" in caplog.text
        if "files" in where:  # nothing written over the bad file while it cannot be kept aside
            assert "people\": \"x" in (folder / FILE_NAME).read_text()
            fixed = tmp_path / "fixed"
            shutil.copytree(folder, fixed)
    if "files" in where:  # the disk writable again: the bad file goes aside, then the counts are written
        st.path = fixed / FILE_NAME
        assert st.flush() and load(st.path)[hour_key(T0)].people == 1
        assert "people\": \"x" in (fixed / (FILE_NAME + ".bad")).read_text()


CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {repo!r})
    from pathlib import Path
    from edge.booth import visitors as stats
    path = Path(sys.argv[1])
    st = stats.VisitorStats(path, flush_s=1.0, wall=lambda: {t0!r})
    t = 0.0
    def visit():
        global t
        for i in range(31):
            st.observe([(int(t) + 1, "happy")], t + i / 10)
        t += 5.0
        st.observe([], t)
    if sys.argv[2] == "mid-write":
        visit(); visit()  # two visitors written
        real_fsync = os.fsync
        def die(fd):  # the new file's bytes are in the temp file, the rename has not happened
            os.kill(os.getpid(), signal.SIGKILL)
        os.fsync = die
        visit()
    else:
        while True:
            visit()
            print(st.hours[stats.hour_key({t0!r})].people, flush=True)
""")


def test_kill_9_in_the_middle_of_a_write_leaves_the_previous_counts(tmp_path):
    path = tmp_path / FILE_NAME
    child = CHILD.format(repo=REPO, t0=T0)
    proc = subprocess.run([sys.executable, "-c", child, str(path), "mid-write"], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert list(tmp_path.glob(f".{FILE_NAME}.*.tmp"))  # the torn write is there...
    assert load(path)[hour_key(T0)].people == 2  # ...and the file is the last complete one
    st = VisitorStats(path, wall=lambda: T0)
    assert not list(tmp_path.glob(f".{FILE_NAME}.*.tmp")) and st.hours[hour_key(T0)].people == 2


def test_kill_9_at_any_moment_leaves_a_readable_file(tmp_path):
    path = tmp_path / FILE_NAME
    child = CHILD.format(repo=REPO, t0=T0)
    proc = subprocess.Popen([sys.executable, "-c", child, str(path), "loop"], stdout=subprocess.PIPE)
    try:
        seen = [int(proc.stdout.readline()) for _ in range(40)]  # 40 visits counted
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    people = load(path)[hour_key(T0)].people
    assert seen[-1] - 1 <= people <= seen[-1] + 1  # at most the write in flight is missing


def test_table_and_chart(tmp_path):
    hours = {hour_key(T0): Hour(2, 10.0, 6.0, {"happy": 6.0, "sad": 4.0}, 1),
             hour_key(T0 + 3 * 3600): Hour(5, 20.0, 9.0, {"neutral": 20.0}, 0)}
    path = tmp_path / FILE_NAME
    path.write_bytes(dump(hours))
    rows = hour_range(load(path), 72)
    assert len(rows) == 4 and rows[1][1].people == 0
    out = table(rows)
    assert "happy 60%, sad 40%" in out and out.splitlines()[-1].split()[:2] == ["total", "7"]
    chart = tmp_path / "chart.png"
    report(path, chart)
    img = pygame.surfarray.array3d(pygame.image.load(str(chart))).transpose(1, 0, 2)
    assert img.shape == (600, 1200, 3)
    from edge.booth.chart import EXPRESSION_COLOURS

    for name in ("happy", "sad", "neutral"):  # each expression's colour is in a bar (and the legend)
        assert np.all(img == EXPRESSION_COLOURS[name], axis=2).sum() > 500, name
    assert np.all(img == EXPRESSION_COLOURS["fear"], axis=2).sum() < 400  # legend swatch only


def test_two_mirrors_on_one_counts_folder_the_second_says_so(tmp_path):
    """Two mirrors sharing a stats folder wrote their counts over each other; the second now stops at
    start in one line naming the key, and may start once the first has ended."""
    from edge.booth.folder_lock import FolderInUse

    first = VisitorStats(tmp_path / FILE_NAME, wall=lambda: T0)
    with pytest.raises(FolderInUse, match="stats.dir .* in use by another mirror"):
        VisitorStats(tmp_path / FILE_NAME, wall=lambda: T0)
    first.close()
    VisitorStats(tmp_path / FILE_NAME, wall=lambda: T0).close()
