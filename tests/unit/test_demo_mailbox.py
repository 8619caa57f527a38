"""`dankjewel demo --mailpit URL` reads what arrived through Mailpit's REST API (as
docker compose runs it); here against a stand-in serving the API's documented shape."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.demo import ArrivedMail, mails_in_mailpit

MESSAGES = {"total": 2, "messages": [
    {"ID": "aB3", "MessageID": "x@dankjewel", "From": {"Name": "dankjewel", "Address": "dankjewel@example.org"},
     "To": [{"Name": "", "Address": "samira@example.org"}], "Subject": "Bedankt voor je eerste dienst!"},
    {"ID": "cD4", "To": [{"Name": "", "Address": "coordinator@example.org"}], "Subject": "Gerard wacht op een reactie"},
]}
HEADERS = {"aB3": {"X-Dankjewel-Notification": ["first-shift-thanks"], "Subject": ["…"]},
           "cD4": {"X-Dankjewel-Notification": ["coordinator-alert"]}}


@pytest.fixture
def mailpit():
    asked = []

    class Api(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            asked.append(self.path)
            if self.path.startswith("/api/v1/messages"):
                body = MESSAGES
            elif self.path.startswith("/api/v1/message/") and self.path.endswith("/headers"):
                body = HEADERS[self.path.split("/")[4]]
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/", asked
    server.shutdown()


def test_the_demo_lists_mailpits_mails_with_their_notification(mailpit):
    url, asked = mailpit
    found = mails_in_mailpit(url)
    assert found == {
        "aB3": ArrivedMail("first-shift-thanks", "samira@example.org", "Bedankt voor je eerste dienst!",
                           f"{url.rstrip('/')}/view/aB3"),
        "cD4": ArrivedMail("coordinator-alert", "coordinator@example.org", "Gerard wacht op een reactie",
                           f"{url.rstrip('/')}/view/cD4"),
    }
    assert asked[0].startswith("/api/v1/messages?limit=")


def test_the_demo_refuses_a_mailpit_address_that_is_no_http_url():
    from typer.testing import CliRunner

    from services.cli import app

    result = CliRunner().invoke(app, ["demo", "--mailpit", "file:///etc/passwd"])
    assert result.exit_code == 2 and "http(s) URL" in result.output
