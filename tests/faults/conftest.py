"""Fixtures of the fault matrix: a proxy per simulator, an untrusted TLS cert."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
import contextlib
from datetime import UTC, datetime, timedelta
import ipaddress
from pathlib import Path
import socket
import ssl
import threading
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import pytest

from ..conftest import Serve
from .proxy import FaultProxy
from .rows import Row

type MakeProxy = Callable[..., Awaitable[FaultProxy]]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1; return (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture(scope="session")
def untrusted_tls(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """Return a server TLS context with a self-signed cert nobody trusts."""
    cert, key = _self_signed(tmp_path_factory.mktemp("tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
async def make_proxy(serve: Serve) -> AsyncIterator[MakeProxy]:
    """Serve a row's simulator behind a fault proxy; return the proxy."""
    proxies: list[FaultProxy] = []

    async def _make(
        row: Row, sim: Any, *, cache: bool = False, **start: Any
    ) -> FaultProxy:
        upstream = await serve(row.app(sim))
        proxy = FaultProxy(upstream)
        if cache:
            proxy.cache = {}
        await proxy.start(**start)
        proxies.append(proxy)
        return proxy

    yield _make
    for proxy in proxies:
        await proxy.close()


@pytest.fixture
def untrusted_tls_origin(
    untrusted_tls: ssl.SSLContext, socket_enabled: None
) -> Iterator[str]:
    """Serve TLS with the untrusted cert from a thread; return its origin.

    Home Assistant's test loop fails a test on any exception its event loop
    reports, and an asyncio TLS server reports the client's refused
    handshake: a thread keeps that out of the loop.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with contextlib.suppress(OSError), conn:
                conn.settimeout(2)
                with untrusted_tls.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{port}"
    stop.set()
    thread.join()
    listener.close()
