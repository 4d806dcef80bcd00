"""bench/cpu.py: a process tree's CPU time from /proc/<pid>/stat."""

from __future__ import annotations

from bench.cpu import CLOCK_TICKS_PER_SECOND, ProcessStat, parse_stat, process_tree, tree_cpu


def stat_line(pid: int, command: str, parent: int, utime: int, stime: int, started: int) -> str:
    # proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority nice num_threads itrealvalue starttime ...
    return (
        f"{pid} ({command}) S {parent} {pid} {pid} 0 -1 4194560 100 0 0 0 "
        f"{utime} {stime} 7 9 20 0 1 0 {started} 123456 789 18446744073709551615\n"
    )


def fake_proc(tmp_path, *processes: tuple[int, str, int, int, int, int]):
    for pid, *fields in processes:
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(stat_line(pid, *fields))
    (tmp_path / "self").mkdir()
    return tmp_path


def test_a_command_name_with_spaces_and_parentheses():
    assert parse_stat(stat_line(7, "gunicorn: worker (a) [x]", 1, 120, 30, 5000)) == ProcessStat(
        parent=1, started=5000, ticks=150
    )


def test_the_tree_is_the_root_and_all_its_descendants(tmp_path):
    proc = fake_proc(
        tmp_path,
        (10, "gunicorn", 1, 5, 1, 100),
        (11, "gunicorn", 10, 50, 10, 110),
        (12, "gunicorn", 10, 40, 20, 111),
        (13, "helper", 12, 3, 0, 120),
        (20, "postgres", 1, 900, 90, 50),
    )

    assert sorted(process_tree(10, proc)) == [10, 11, 12, 13]
    assert process_tree(99, proc) == {}


def test_cpu_between_two_readings():
    before = {
        10: ProcessStat(parent=1, started=100, ticks=6),
        11: ProcessStat(parent=10, started=110, ticks=60),
        12: ProcessStat(parent=10, started=111, ticks=60),
    }
    after = {
        10: ProcessStat(parent=1, started=100, ticks=8),
        11: ProcessStat(parent=10, started=110, ticks=160),
        # Worker 12 ended; its pid went to a new process, whose whole CPU is in the period.
        12: ProcessStat(parent=10, started=500, ticks=25),
        13: ProcessStat(parent=10, started=501, ticks=15),
    }

    cpu = tree_cpu(before, after)

    assert cpu.seconds == (2 + 100 + 25 + 15) / CLOCK_TICKS_PER_SECOND
    assert cpu.vanished == 1
