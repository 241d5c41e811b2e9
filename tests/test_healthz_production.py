"""The docker-compose health check against a real gunicorn on production settings (issue 13):
ALLOWED_HOSTS names the public host only, and the check opens http://localhost:8000/healthz."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

from tests.processes import ROOT, clean_env

PUBLIC_HOST = "labels.example.org"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_compose_health_check_passes_on_production_settings(tmp_path):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    check = compose["services"]["web"]["healthcheck"]["test"]
    assert check[0] == "CMD" and "http://localhost:8000/healthz" in check[-1]
    port = free_port()
    env = clean_env(
        DJANGO_SETTINGS_MODULE="fairlabel.settings.production",
        SECRET_KEY="x" * 20 + "-production-secret-for-the-health-check-0123456789",
        ALLOWED_HOSTS=PUBLIC_HOST,
        SECURE_SSL_REDIRECT="true",
        FAIRLABEL_VAR_DIR=str(tmp_path),
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "fairlabel.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        # The health check exactly as docker-compose runs it, on this server's port.
        command = [arg.replace("localhost:8000", f"localhost:{port}") for arg in check[1:]]
        command[0] = sys.executable if command[0] == "python" else command[0]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        # Every other URL still validates the host (and redirects to HTTPS for the public one).
        for path in ("/api/schema/", "/accounts/login/"):
            try:
                urllib.request.urlopen(f"http://localhost:{port}{path}", timeout=10)
                raise AssertionError(f"{path} answered a foreign host")
            except urllib.error.HTTPError as refused:
                assert refused.code == 400
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/accounts/login/", headers={"Host": PUBLIC_HOST}
        )
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            opener.open(request, timeout=10)
            raise AssertionError("the public host was not redirected to HTTPS")
        except urllib.error.HTTPError as redirect:
            assert redirect.code == 301
            assert redirect.headers["Location"].startswith(f"https://{PUBLIC_HOST}/")
    finally:
        server.terminate()
        server.wait(timeout=30)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
