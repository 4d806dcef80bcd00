"""bench/profiling.py's summary of py-spy's collapsed stacks."""

from __future__ import annotations

from bench.profiling import PROJECT, STANDARD_LIBRARY, slug, summarise

PACKAGES = "/venv/lib/python3.11/site-packages/"
PROCESS = 'process 41:"gunicorn config.wsgi"'
GUNICORN = f"SyncWorker.handle_request ({PACKAGES}gunicorn/workers/sync.py:168)"
HANDLER = f"BaseHandler._get_response ({PACKAGES}django/core/handlers/base.py:174)"
TOKEN_VIEW = f"OAuthEndpointView.post ({PROJECT}/oauth_apps/views/token.py:53)"
SIGN = f"RSAAlgorithm.sign ({PACKAGES}jwt/algorithms.py:682)"
EXECUTE = f"Cursor.execute ({PACKAGES}psycopg/cursor.py:100)"
SEND = f"socket.sendall ({STANDARD_LIBRARY}socket.py:500)"
WALK = f"walk ({PROJECT}/core/tree.py:10)"


def stacks(*lines: tuple[list[str], int]) -> str:
    return "".join(f"{';'.join([PROCESS, *frames])} {count}\n" for frames, count in lines)


def section(summary: str, heading: str) -> list[str]:
    """The indented rows under the line that starts with `heading`."""
    lines = summary.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(heading)) + 1
    rows = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        rows.append(line.strip())
    return rows


def test_each_function_counts_once_per_stack_and_only_under_djangos_handler():
    summary = summarise(
        stacks(
            ([GUNICORN, HANDLER, TOKEN_VIEW, WALK, WALK, WALK], 30),
            ([GUNICORN, HANDLER, TOKEN_VIEW, SIGN], 10),
            ([GUNICORN], 60),
        ),
        "client credentials",
        cpu_seconds=0.4,
        unreadable=3,
    )

    assert summary.splitlines()[0] == (
        "client credentials: 100 samples of gunicorn's processes at 250/s, on CPU only; "
        "3 more py-spy could not read; by /proc they used 0.40 CPU s (100 samples' worth)"
    )
    # The recursion's three frames on 30 samples: 30 samples inside it, not 90. gunicorn's loop
    # and Django's handler, on every request's stack, are left out of the ranking.
    assert section(summary, "Inclusive, from URL resolution into the view (40.0% of the samples") == [
        "40.0%  OAuthEndpointView.post (oauth_apps/views/token.py:53)",
        "30.0%  walk (core/tree.py:10)",
        "10.0%  RSAAlgorithm.sign (jwt/algorithms.py:682)",
    ]
    assert section(summary, "Self") == [
        "60.0%  SyncWorker.handle_request (gunicorn/workers/sync.py:168)",
        "30.0%  walk (core/tree.py:10)",
        "10.0%  RSAAlgorithm.sign (jwt/algorithms.py:682)",
    ]


def test_each_sample_is_charged_to_the_innermost_library_the_standard_library_to_its_caller():
    summary = summarise(
        stacks(
            ([GUNICORN, HANDLER, TOKEN_VIEW, EXECUTE, SEND], 50),
            ([GUNICORN, HANDLER, TOKEN_VIEW, SIGN], 20),
            ([GUNICORN, HANDLER, TOKEN_VIEW], 20),
            ([SEND], 10),
        ),
        "code exchange",
        cpu_seconds=0.5,
        unreadable=None,
    )

    assert "could not read" not in summary.splitlines()[0]
    assert section(summary, "By the innermost library") == [
        "psycopg 50.0% · jwt/cryptography 20.0% · our code 20.0% · other 10.0%"
    ]
    assert section(summary, "Self") == [
        "60.0%  socket.sendall (socket.py:500)",
        "20.0%  RSAAlgorithm.sign (jwt/algorithms.py:682)",
        "20.0%  OAuthEndpointView.post (oauth_apps/views/token.py:53)",
    ]


def test_no_samples():
    assert summarise("", "jwks", cpu_seconds=0.0, unreadable=0) == "jwks: no samples\n"


def test_file_names_of_the_workloads():
    assert slug("authorize POST (consent)") == "authorize-post-consent"
    assert slug("code exchange's work, no OAuth library†") == "code-exchange-s-work-no-oauth-library"
