"""schemathesis against the running exporter's own OpenAPI description: no 5xx, ever."""

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from testbed.exporter import Exporter
from testbed.waiting import closed_port

TOKEN = "fuzz-token-0123456789"


def schemathesis_cli() -> str:
    found = Path(sys.executable).parent / "schemathesis"
    if found.exists():
        return str(found)
    return shutil.which("schemathesis") or pytest.skip("schemathesis is not installed")


# The run gets 300 s on a slow machine; pytest-timeout (120 s for the suite) must not
# cut it short first and hide schemathesis's own report.
@pytest.mark.timeout(330)
@pytest.mark.parametrize("token", [None, TOKEN], ids=["open", "with-token"])
def test_no_server_errors_and_responses_match_the_schema(
    start_exporter: Callable[..., Exporter], tmp_path: Path, token: str | None
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    exporter = start_exporter(
        {
            "node": "fuzz",
            "data_dir": str(data),
            "backend_url": f"http://127.0.0.1:{closed_port()}",
            "public_url": f"http://127.0.0.1:{closed_port()}",
            "cert_file": None,
            "state_dir": str(tmp_path / "state"),
            "api_token": token,
        },
        wait_for=("disk",),
    )
    auth = ["-H", f"Authorization: Bearer {token}"] if token else []
    done = subprocess.run(
        [
            schemathesis_cli(),
            "run",
            f"{exporter.url}/openapi.json",
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--max-examples",
            "30",
            "--workers",
            "1",
            "--seed",
            "1",
            *auth,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
