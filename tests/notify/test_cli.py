"""``aiops notify check-routes``: a clear verdict on a routing file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from streams.cli import app

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy/notify/routes.example.yaml"


def test_check_routes_accepts_the_example_and_explains_a_bad_file(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["notify", "check-routes", str(EXAMPLE)])
    assert ok.exit_code == 0 and "4 endpoints, 4 routes" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("endpoints: []\nroutes: [{name: r, endpoints: [ghost]}]\n")
    result = runner.invoke(app, ["notify", "check-routes", str(bad)])
    assert result.exit_code == 1 and "unknown endpoints ['ghost']" in result.output
