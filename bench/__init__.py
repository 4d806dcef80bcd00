# The workload name of bench/work_floor.py's row, shared by bench/run.py (which runs without
# Django) and bench/seed.py.
WORK_FLOOR = "code exchange's work, no OAuth library†"
