"""Debian's nginx with conf/nginx/gateway.conf in front of `gateway serve` on loopback.

The site file is the one an operator installs, with only its ports, certificate and upstream
address replaced: TLS ends in nginx, bodies (chunked too) are buffered there, X-Forwarded-For
carries the client's address to gateway, which trusts 127.0.0.1 as its proxy.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import BACKENDS, REST, ROOT, SOAP, TICKET_NS, copy_database, serving

SITE = Path(__file__).resolve().parent.parent / "conf" / "nginx" / "gateway.conf"
SESSION_CREATE = (
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>'
    f'<SessionCreate xmlns="{TICKET_NS}"><UserLogin>root@localhost</UserLogin>'
    "<Password>root</Password></SessionCreate></soapenv:Body></soapenv:Envelope>"
)


def outside_ephemeral_port() -> int:
    """A free port below the kernel's ephemeral range: free_port() (port 0) hands out only ephemeral ones, so
    the gunicorn started between choosing this port and nginx binding it cannot be given the same one."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for port in random.sample(range(max(1024, low - 12000), low), 200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "site.pem", directory / "site.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@contextlib.contextmanager
def nginx(directory: Path, upstream: str, http_port: int, https_port: int) -> Iterator[Path]:
    """nginx running the site file; yields the certificate clients verify against."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.fail("nginx is missing: `make test` installs Debian's nginx")
    cert, key = certificate(directory)
    site = (
        SITE.read_text()
        .replace("server 127.0.0.1:8080;", f"server {upstream};")
        .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        .replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
        .replace("/etc/ssl/certs/helpdesk.example.com.pem", str(cert))
        .replace("/etc/ssl/private/helpdesk.example.com.key", str(key))
    )
    assert f"server {upstream};" in site and str(cert) in site and f":{https_port} ssl" in site
    (directory / "site.conf").write_text(site)
    (directory / "nginx.conf").write_text(
        f"user root; worker_processes 1; pid {directory}/nginx.pid; error_log {directory}/error.log;\n"
        "events { worker_connections 512; }\n"
        f"http {{ access_log {directory}/access.log; client_body_temp_path {directory}/body;"
        f" proxy_temp_path {directory}/proxy; include {directory}/site.conf; }}\n"
    )
    process = subprocess.Popen(
        [binary, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", https_port), timeout=1):
                break
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.1)
        yield cert
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture(scope="module", params=BACKENDS)
def proxied(request, templates, tmp_path_factory) -> Iterator[tuple[str, Path, Path]]:
    directory = tmp_path_factory.mktemp("nginx")
    url, drop = copy_database(request.param, templates, directory)
    http_port, https_port = outside_ephemeral_port(), outside_ephemeral_port()
    public = f"https://127.0.0.1:{https_port}"
    access_log = directory / "requests.log"
    try:
        with (
            serving(
                url,
                GATEWAY_PUBLIC_URL=public,
                GATEWAY_TRUSTED_PROXIES="127.0.0.1",
                GATEWAY_ACCESS_LOG=str(access_log),
                GATEWAY_LOG_FORMAT="json",
            ) as server,
            nginx(directory, urlsplit(server.url).netloc, http_port, https_port) as cert,
        ):
            yield public, cert, access_log
    finally:
        drop()


def test_rest_soap_and_the_wsdl_through_tls(proxied):
    public, cert, _ = proxied
    created = requests.post(f"{public}{REST}/Session", json=ROOT, verify=cert, timeout=10)
    assert created.status_code == 200 and created.json()["SessionID"]
    soap = requests.post(
        f"{public}{SOAP}", data=SESSION_CREATE, headers={"Content-Type": "text/xml"}, verify=cert, timeout=10
    )
    assert soap.status_code == 200 and b"<SessionID>" in soap.content.replace(b"tns:", b"")
    wsdl = requests.get(f"{public}{SOAP}?wsdl", verify=cert, timeout=10)
    assert f'location="{public}{SOAP}"'.encode() in wsdl.content  # clients built from it call the proxy
    assert wsdl.headers["X-Request-ID"]


def test_a_chunked_body_reaches_gateway_whole(proxied):
    public, cert, _ = proxied
    body = json.dumps(ROOT).encode()

    def chunks() -> Iterator[bytes]:  # requests sends a generator as Transfer-Encoding: chunked
        for i in range(0, len(body), 7):
            yield body[i : i + 7]

    answer = requests.post(
        f"{public}{REST}/Session", data=chunks(), headers={"Content-Type": "application/json"}, verify=cert, timeout=10
    )
    assert answer.status_code == 200 and answer.json()["SessionID"], answer.text


def test_the_client_address_is_the_one_nginx_forwards(proxied):
    public, cert, access_log = proxied
    direct = requests.get(f"{public}/metrics", verify=cert, timeout=10)
    assert direct.status_code == 200  # from 127.0.0.1 through the trusted proxy: loopback may read metrics
    forwarded = requests.get(f"{public}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}, verify=cert, timeout=10)
    assert forwarded.status_code == 403  # the address nginx handed on is not loopback
    mine = requests.post(
        f"{public}{REST}/Session", json=ROOT, headers={"X-Request-ID": "via-nginx-1"}, verify=cert, timeout=10
    )
    assert mine.headers["X-Request-ID"] == "via-nginx-1"
    deadline = time.monotonic() + 5
    while '"via-nginx-1"' not in access_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    (line,) = [json.loads(line) for line in access_log.read_text().splitlines() if '"via-nginx-1"' in line]
    assert line["client"] == "127.0.0.1" and line["operation"] == "SessionCreate"


def test_fifty_slow_clients_do_not_hold_up_a_quick_one(proxied):
    public, cert, _ = proxied
    port = urlsplit(public).port
    context = ssl.create_default_context(cafile=str(cert))
    body = json.dumps(ROOT).encode()
    head = (
        f"POST {REST}/Session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    answers: list[bytes] = []
    lock = threading.Lock()

    def slow() -> None:
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(head)
            for i in range(0, len(body), 4):  # the body trickles in over about 3 s
                tls.sendall(body[i : i + 4])
                time.sleep(3 / (len(body) / 4))
            answer = b""
            while chunk := tls.recv(65536):
                answer += chunk
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=slow) for _ in range(50)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # all 50 are sending
    started = time.monotonic()
    quick = requests.post(f"{public}{REST}/Session", json=ROOT, verify=cert, timeout=10)
    took = time.monotonic() - started
    for thread in threads:
        thread.join(timeout=60)
    assert quick.status_code == 200
    assert took < 5, took  # the 50 hold nginx buffers, not what the quick one needs
    assert len(answers) == 50 and all(answer.startswith(b"HTTP/1.1 200") for answer in answers), [
        answer[:40] for answer in answers if not answer.startswith(b"HTTP/1.1 200")
    ]
