#!/usr/bin/env python3
"""Regenerates signatures.json: golden webhook signature vectors.

The expected values are computed here, independently of the Go code, exactly
as a partner verifies them:

* x-hub-signature: the partner document's verify_signature,
  hmac.new(secret.encode('utf-8'), payload_body.encode('utf-8'),
  hashlib.sha256).hexdigest()
* webhook-signature: Standard Webhooks, "v1," + base64(HMAC-SHA256(key,
  "<id>.<timestamp>.<body>")), where key is the base64-decoded part after
  "whsec_" of the secret a Standard Webhooks library is configured with,
  "whsec_" + base64(secret) (so the key is the secret's UTF-8 bytes).

Run: python3 gen_signatures.py > signatures.json
"""

import base64
import hashlib
import hmac
import json
import sys


def hub_signature(secret: str, payload_body: str) -> str:
    # Verbatim from the partner document's verification.py.
    return hmac.new(
        secret.encode('utf-8'),
        payload_body.encode('utf-8'),
        hashlib.sha256,
    ).hexdigest()


def whsec(secret: str) -> str:
    return "whsec_" + base64.b64encode(secret.encode('utf-8')).decode('ascii')


def standard_signature(whsec_secret: str, msg_id: str, timestamp: int, body: str) -> str:
    key = base64.b64decode(whsec_secret[len("whsec_"):])
    to_sign = f"{msg_id}.{timestamp}.{body}".encode('utf-8')
    digest = hmac.new(key, to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode('ascii')


def aurix_secret(seed: str) -> str:
    # A deterministic secret in the service's format: "aurix_" + 64 hex.
    return "aurix_" + hashlib.sha256(seed.encode('utf-8')).hexdigest()


CASES = [
    {
        "name": "partner widget.click example",
        "secret": aurix_secret("golden vector 1"),
        "body": '{"event_type":"widget.click","event_id":"evt_01HMZ8K3J5Q9W2X7Y4V6B1N0CD",'
                '"timestamp":"2024-01-23T10:30:00.123Z","data":{"correlation_id":"O-xY123z",'
                '"device_id":"550e8400-e29b-41d4-a716-446655440000",'
                '"click_url":"https://example.com/landing?utm_source=google&gclid=AbCd123",'
                '"parsed_params":{"utm_source":"google","utm_medium":"cpc","gclid":"AbCd123"},'
                '"user_agent":"Mozilla/5.0...","ip_address":"192.168.1.1"}}',
        "id": "evt_01HMZ8K3J5Q9W2X7Y4V6B1N0CD",
        "timestamp": 1706005800,
    },
    {
        "name": "non-ASCII UTF-8 lead.complete",
        "secret": aurix_secret("golden vector 2"),
        "body": '{"event_type":"lead.complete","event_id":"evt_utf8","timestamp":"2024-01-23T10:45:00.789Z",'
                '"data":{"correlation_id":"O-xY123z","conversation_id":105,"lead_status":"complete",'
                '"lead_data":{"name":"José Müller-Šimić","company":"Zürich Café 北京 株式会社",'
                '"intent":"Quiero más información 🎉 — «precios»","phone":"+41445550123"}}}',
        "id": "evt_utf8",
        "timestamp": 1706006700,
    },
    {
        "name": "ampersand, escaped quotes, backslash and HTML characters",
        "secret": aurix_secret("golden vector 3"),
        "body": '{"event_type":"lead.complete","event_id":"evt_quotes","timestamp":"2024-01-23T10:45:00.789Z",'
                '"data":{"correlation_id":null,"conversation_id":7,"lead_status":"complete",'
                '"lead_data":{"intent":"He said \\"call me\\" & left <b>now</b>",'
                '"notes":"C:\\\\temp\\\\a&b.txt","url":"https://x.example/?a=1&b=2"}}}',
        "id": "evt_quotes",
        "timestamp": 1706006700,
    },
    {
        "name": "lead.correlated with null phone_number and bsuid",
        "secret": aurix_secret("golden vector 4"),
        "body": '{"event_type":"lead.correlated","event_id":"0190f3a2-7c4e-7b1a-9d2e-3f4a5b6c7d8e",'
                '"timestamp":"2024-01-23T10:35:00.456Z","data":{"correlation_id":"O-xY123z",'
                '"conversation_id":105,"phone_number":null,"lead_status":"correlated",'
                '"channel_id":"791163770738681","bsuid":"US.13491208655302741918"}}',
        "id": "0190f3a2-7c4e-7b1a-9d2e-3f4a5b6c7d8e",
        "timestamp": 1706006100,
    },
    {
        "name": "non-ASCII secret",
        "secret": "sécret-🔑-秘密",
        "body": '{"event_type":"widget.click","event_id":"evt_k","timestamp":"2024-01-23T10:30:00.000Z","data":{}}',
        "id": "evt_k",
        "timestamp": 1706005800,
    },
    {
        "name": "secret longer than the SHA-256 block size",
        "secret": "aurix_" + "0123456789abcdef" * 8,
        "body": '{"event_type":"widget.click","event_id":"evt_long","timestamp":"2024-01-23T10:30:00.000Z","data":{}}',
        "id": "evt_long",
        "timestamp": 4102444800,
    },
    {
        "name": "empty body",
        "secret": aurix_secret("golden vector 7"),
        "body": "",
        "id": "evt_empty",
        "timestamp": 0,
    },
]


def main() -> None:
    out = []
    for c in CASES:
        w = whsec(c["secret"])
        out.append({
            "name": c["name"],
            "secret": c["secret"],
            "whsec": w,
            "body": c["body"],
            "id": c["id"],
            "timestamp": c["timestamp"],
            "x_hub_signature": hub_signature(c["secret"], c["body"]),
            "webhook_signature": standard_signature(w, c["id"], c["timestamp"], c["body"]),
        })
    doc = {
        "description": "Golden webhook signature vectors, computed by gen_signatures.py with "
                       "Python's hmac/hashlib/base64 as the partner's verify_signature and "
                       "Standard Webhooks verify them. Do not edit by hand.",
        "cases": out,
    }
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
