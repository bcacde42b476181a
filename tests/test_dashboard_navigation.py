"""Navigation from a callback: each page writes its own location from ONE callback
(``dashboards.ui.navigation``), so a click pushes one history entry and Back undoes it. A shared output
(``allow_duplicate``) fires when its page is shown even with ``prevent_initial_call``; no callback may
write one. The browser side (one Back per click) is ``test_dashboard_ux_browser``'s."""

from __future__ import annotations

from dashboards.app import create_app


def test_no_callback_output_is_shared_with_another_callback(tmp_path):
    app = create_app(tmp_path / "not-yet-published.duckdb")
    shared = [output for output in app.callback_map if "@" in output]  # Dash names a duplicate output id@hash
    assert shared == []


def test_the_pages_that_open_a_day_from_a_grid_each_write_their_own_location(tmp_path):
    app = create_app(tmp_path / "not-yet-published.duckdb")
    outputs = [output.split("@")[0] for output in app.callback_map]
    writers = [output for output in outputs if output.endswith(".href")]
    assert "pv-go.href" in writers and "td-go.href" in writers  # provider (findings, why flagged), therapist-day
    assert len(writers) == len(set(writers)), "a location written by two callbacks"
