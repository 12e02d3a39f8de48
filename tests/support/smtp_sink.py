#!/usr/bin/env python3
"""A real SMTP server on loopback for the mail tests (tests/api/mail.rs), built on aiosmtpd.

Every message received is written to DIR as NNNN.eml (the bytes as received) and NNNN.json: the
envelope, whether the session used TLS and AUTH, and the message as Python's own `email` package
decodes it (an independent MIME decoder): subject, From display name and address, To, body,
content type, charset, transfer encoding, Message-ID, Date and the raw (undecoded) Subject line.

    smtp_sink.py --dir DIR [--port P] [--mode plain|starttls|tls --cert C --key K]
                 [--auth USER:PASS] [--reject CODE]

Prints `READY <port>` when it accepts connections and runs until terminated.
"""
import argparse
import asyncio
import email
import email.policy
import email.utils
from email.header import decode_header, make_header
import json
import os
import signal
import socket
import ssl
import sys
import threading
import warnings

warnings.simplefilter("ignore")

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Sink:
    def __init__(self, out, reject):
        self.out = out
        self.reject = reject
        self.n = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject:
            return f"{self.reject} 5.7.1 refused by the test server"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        with self.lock:
            self.n += 1
            n = self.n
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        old = email.message_from_bytes(raw, policy=email.policy.compat32)
        frm = msg["from"].addresses[0] if msg["from"] else None
        # The display name by RFC 2047 §6.2 (white space between adjacent encoded words is
        # ignored): the legacy decoder follows it; the modern policy's address parser keeps a
        # space there.
        raw_name, _ = email.utils.parseaddr(old["From"] or "")
        from_name = str(make_header(decode_header(raw_name))) if raw_name else None
        info = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "authenticated": bool(session.authenticated),
            "login": (session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None),
            "subject": str(msg["subject"]),
            "raw_subject": old["Subject"],
            "from_name": from_name,
            "from_address": frm.addr_spec if frm else None,
            "to": [a.addr_spec for a in msg["to"].addresses] if msg["to"] else [],
            "body": msg.get_content(),
            "content_type": msg.get_content_type(),
            "charset": msg.get_content_charset(),
            "transfer_encoding": msg["content-transfer-encoding"],
            "message_id": msg["message-id"],
            "date": msg["date"],
            "auto_submitted": msg["auto-submitted"],
            "all_ascii": all(b < 128 for b in raw),
        }
        base = os.path.join(self.out, f"{n:04d}")
        with open(base + ".eml", "wb") as f:
            f.write(raw)
        with open(base + ".json.tmp", "w", encoding="utf-8") as f:
            json.dump(info, f, ensure_ascii=False)
        os.replace(base + ".json.tmp", base + ".json")
        return "250 Message accepted for delivery"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", choices=["plain", "starttls", "tls"], default="plain")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--auth")
    ap.add_argument("--reject")
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    port = a.port or free_port()

    kwargs = {}
    if a.mode != "plain":
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)
        if a.mode == "starttls":
            kwargs["tls_context"] = ctx
            kwargs["require_starttls"] = True
        else:
            kwargs["ssl_context"] = ctx
    if a.auth:
        user, password = a.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        # STARTTLS mode: AUTH only after the upgrade (implicit TLS is encrypted from the start).
        kwargs["auth_require_tls"] = a.mode == "starttls"

    controller = Controller(
        Sink(a.dir, a.reject),
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        ready_timeout=10,
        **kwargs,
    )
    controller.start()
    print(f"READY {port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    sys.exit(main())
