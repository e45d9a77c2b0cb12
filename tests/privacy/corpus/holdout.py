"""The hand-written holdout, never used to tune the detector (see ``tests.privacy.corpus``)."""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Sequence
from typing import Any

from faker import Faker

from aegis.privacy.classes import DataClass
from tests.privacy.corpus.base import CONF, PHI, PII, PUBLIC, SEED, Sample
from tests.privacy.corpus.carriers import _TINY_PNG
from tests.privacy.corpus.checksums import _aadhaar, _cf_ok, _nino

# ---------------------------------------------------------------------------
# Hand-written holdout: realistic prompts written after the detector, never
# used to tune it. Reported separately; its floors are looser.


def _msg(text: str) -> tuple[dict[str, Any], ...]:
    return ({"role": "user", "content": text},)


def _tool_result(payload: Any) -> tuple[dict[str, Any], ...]:
    return (
        {"role": "user", "content": "Look up the customer and draft a reply."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "crm_lookup", "arguments": '{"id": 1042}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": json.dumps(payload)},
    )


def _tool_call(args: Any) -> tuple[dict[str, Any], ...]:
    return (
        {"role": "user", "content": "Send the confirmation."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "send_sms", "arguments": json.dumps(args)},
                }
            ],
        },
    )


@functools.cache
def holdout() -> tuple[Sample, ...]:
    rng = random.Random(SEED + 99)
    it = Faker("it_IT")
    it.seed_instance(SEED + 99)
    cf = next(v for v in (it.ssn() for _ in range(50)) if _cf_ok(v))
    aadhaar = _aadhaar(rng)
    nino = _nino(rng)
    nino = f"{nino[:2]} {nino[2:4]} {nino[4:6]} {nino[6:8]} {nino[8]}"

    def pos(
        text: str | tuple[dict[str, Any], ...],
        kinds: Sequence[str],
        cls: DataClass = PII,
        optional: Sequence[str] = (),
    ) -> Sample:
        messages = _msg(text) if isinstance(text, str) else text
        return Sample(
            "holdout",
            frozenset(kinds),
            cls,
            messages,
            optional=frozenset(optional),
            text=str(text),
        )

    def neg(text: str | tuple[dict[str, Any], ...]) -> Sample:
        messages = _msg(text) if isinstance(text, str) else text
        return Sample("holdout_negative", frozenset(), PUBLIC, messages, text=str(text))

    positives = [
        pos(
            "Hi, I'm moving house next week. New address is 221B Baker Street, London NW1 6XE,"
            " and my new mobile is 07700 900461. Could you update my account?",
            ["phone"],
        ),
        pos(
            "Can you draft a reply to Jürgen Weiß <j.weiss@posteo.de> saying we ship on Monday?",
            ["email"],
        ),
        pos(
            "Refund the customer to IBAN NL91 ABNA 0417 1643 00 and send a confirmation.", ["iban"]
        ),
        pos(
            "The server logs show repeated 401s from 185.220.101.45 - is that a Tor exit node?",
            ["ip_address"],
        ),
        pos("My card 5555 5555 5555 4444 was charged twice for order 4471.", ["credit_card"]),
        pos(
            "Patient: 54-year-old male with a history of type 2 diabetes, presenting with chest"
            " pain radiating to the left arm.",
            ["health"],
            PHI,
        ),
        pos(
            "I've been feeling really low for weeks and my GP suggested I try sertraline."
            " Should I be worried about side effects?",
            ["health"],
            PHI,
        ),
        pos(
            "Please summarise: 'CONFIDENTIAL - Draft Q4 forecast, not for circulation'",
            ["confidential"],
            CONF,
        ),
        pos(
            "Je suis née le 14 juillet 1989 à Lyon, pouvez-vous corriger mon dossier ?",
            ["date_of_birth"],
        ),
        pos("Sehr geehrter Herr Dr. Schneider, anbei die Unterlagen.", ["person_name"]),
        pos(
            f"Our employee's Aadhaar is {aadhaar[:4]} {aadhaar[4:8]} {aadhaar[8:]}.",
            ["national_id"],
        ),
        pos("SSN: 219-09-9999, please keep it on file.", ["ssn"]),
        pos(
            "Call the pharmacy at (415) 555-2671 to renew my lisinopril prescription.",
            ["phone", "health"],
            PHI,
        ),
        pos("Dx E11.65 and I10; please code the encounter.", ["icd10"], PHI, ["health"]),
        pos(
            "The attached spreadsheet lists MRN, name and diagnosis for all 40 patients admitted"
            " last month.",
            ["health"],
            PHI,
        ),
        pos("Tell me about the HIPAA minimum necessary standard.", ["health"], PHI),
        pos("what's the best treatment for a sprained ankle", ["health"], PHI),
        pos("My daughter has a fever of 39.5 and a rash, should we go to A&E?", ["health"], PHI),
        pos("ssh deploy@185.199.108.153 and restart nginx", ["ip_address"]),
        pos("Email from Li Wei (wei.li@tsinghua.edu.cn): the contract is attached.", ["email"]),
        pos("Bank: IBAN DE89 3704 0044 0532 0130 00 (Commerzbank)", ["iban"]),
        pos("Mobile +49 171 2345678 (nur WhatsApp)", ["phone"]),
        pos(
            "the user's IPv6 is 2a02:810d:4c40:3e00:9c1b:2a6f:7d11:5b0e according to the logs",
            ["ip_address"],
        ),
        pos("Geburtsdatum 03.04.1975, bitte im Formular eintragen.", ["date_of_birth"]),
        pos(
            "Confidential and proprietary - do not forward. Our Series B term sheet is below.",
            ["confidential"],
            CONF,
        ),
        pos(
            "[Internal use only] Incident postmortem for the payments outage",
            ["confidential"],
            CONF,
        ),
        pos("Riservato - bozza del contratto con il fornitore", ["confidential"], CONF),
        pos("Nota: mi número de teléfono nuevo es 612 34 56 78", ["phone"]),
        pos("Per favore chiamami al 347 123 4567 dopo le 18", ["phone"]),
        pos("tel. 020 7946 0018 (reception)", ["phone"]),
        pos(f"Her NI number is {nino}.", ["national_id"]),
        pos(f"Codice fiscale del cliente: {cf}", ["national_id"]),
        pos("BSN 111222333 staat op het formulier.", ["national_id"]),
        pos(
            _tool_result(
                {
                    "customer": {
                        "name": "Ana López",
                        "email": "ana.lopez@gmail.com",
                        "phone": "+34 655 123 456",
                    }
                }
            ),
            ["email", "phone", "person_name"],
        ),
        pos(
            _tool_call(
                {"to": "+14155552671", "body": "Your appointment with Dr. Patel is confirmed."}
            ),
            ["phone", "person_name"],
        ),
        pos(
            "I was diagnosed with ADHD as an adult; how do I explain it to my manager?",
            ["health"],
            PHI,
        ),
        pos(
            "Please anonymise this: John Smith, DOB 12/05/1961, NHS number 485 777 3456",
            ["date_of_birth", "medical_record"],
            PHI,
        ),
        pos(
            "Write a cover letter. My name is Priya Natarajan, phone 98450 12345,"
            " email priya.n@outlook.com.",
            ["person_name", "phone", "email"],
        ),
        pos(
            (
                {"role": "system", "content": "You are a billing assistant."},
                {"role": "user", "content": "What's my balance?"},
                {
                    "role": "assistant",
                    "content": "The card on file is 3782 822463 10005 (Amex). Balance: $12.40.",
                },
                {"role": "user", "content": "Thanks, pay it off."},
            ),
            ["credit_card"],
        ),
        pos(
            (
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Transcribe the form in the photo."},
                        {"type": "image_url", "image_url": {"url": _TINY_PNG}},
                        {
                            "type": "text",
                            "text": "Typed part: date of birth 1990-02-28, passport number"
                            " K4512398",
                        },
                    ],
                },
            ),
            ["date_of_birth", "passport"],
        ),
        pos(
            "Lab results for Mr Okafor: HbA1c 8.1%, LDL 3.9 mmol/L.",
            ["health", "person_name"],
            PHI,
        ),
        pos(
            "Ich nehme seit März Ibuprofen 600 gegen die Rückenschmerzen, ist das zu viel?",
            ["health"],
            PHI,
        ),
        pos(
            "Mi médico dice que tengo la tensión alta y me ha recetado enalapril.",
            ["health"],
            PHI,
        ),
        pos("Strictly private: notes from my performance review.", ["confidential"], CONF),
        pos("Visa 4012 8888 8888 1881 exp 09/27, name on card: A. Kowalski", ["credit_card"]),
        pos("Server 10.42.7.19 keeps dropping connections from the VPN pool.", ["ip_address"]),
    ]
    negatives = [
        neg("Bump lodash from 4.17.20 to 4.17.21 in package.json."),
        neg("The build failed: error TS2345 at src/app.ts:120:15."),
        neg("Set MAX_CONNECTIONS=10000 and TIMEOUT_MS=30000 in the config."),
        neg("Order 112-4587723-1298355 hasn't arrived yet, can you check with the carrier?"),
        neg("Our support hours are 9:00-17:30 CET, Monday to Friday."),
        neg("The Fibonacci sequence starts 0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144."),
        neg("curl -X POST http://localhost:8080/api/v1/items -d '{\"qty\": 3}'"),
        neg("The 2024 revenue was 12.4M EUR, up 18% year over year."),
        neg("Use Python 3.11.7 and pip 23.3.1 for the build."),
        neg("Windows 10 build 19045.3803 has the fix."),
        neg("The pod network uses the 10.244.0.0/16 CIDR range."),
        neg("nginx: listen 0.0.0.0:443 ssl;"),
        neg("Our VAT number is DE123456789, please add it to the invoice."),
        neg("Reference: INV-2024-00931, due 30 days net."),
        neg("The patient zero of this bug was a null pointer in the parser."),
        neg("How do I treat warnings as errors in GCC?"),
        neg("Run a health check on the cluster and report node status."),
        neg("What is the Luhn algorithm and how do credit card checksums work?"),
        neg("My confidence interval is 95%, is that enough samples?"),
        neg("Please be patient, the migration will take about 45 minutes."),
        neg("Born to Run came out in 1975 and is still my favourite album."),
        neg("The phone model Galaxy S23 has a 6.1 inch screen."),
        neg("Table 4.2.1.3 shows the results of the second run."),
        neg("ISO 8601 timestamp 2024-05-17T08:45:12+02:00 in the logs."),
        neg("The invoice total is 1 234 567,89 EUR including tax."),
        neg("Ticket JIRA-4412: NPE in PaymentService when the cart is empty."),
        neg("Coordinates: 52.5200 N, 13.4050 E"),
        neg("The movie runs 1:52:07 including credits."),
        neg("Use a UUID like 550e8400-e29b-41d4-a716-446655440000 for the key."),
        neg("Support 16:9 and 4:3 aspect ratios in the player."),
        neg("Chapter 3.1.4.1 covers IPv4 addressing."),
        neg("Mix 2 tablespoons of sugar with 300 ml of water and simmer."),
        neg("This is a template for a non-disclosure agreement (NDA) between two companies."),
        neg("The virus in this sci-fi novel spreads through the ship's air vents."),
        neg("Convert 0x7FFFFFFF to decimal and explain two's complement."),
        neg("The stock closed at 187.44 after hitting 192.10 intraday."),
        neg("EAN 4006381333931 is the barcode on the box."),
        neg("Set the date format to DD/MM/YYYY, e.g. 05/11/2024."),
        neg("Our SLA is 99.95% uptime, measured over 30 days."),
        neg("Rotate the JWT signing key every 90 days."),
        neg("The Dockerfile uses FROM python:3.12-slim and EXPOSE 8000."),
        neg("git log --oneline shows 4f2a9c1 as the merge commit."),
        neg("Sprint 24 velocity: 42 points, carryover 7."),
        neg("Please translate 'Ich hätte gern zwei Kaffee' into English."),
        neg("The train leaves at 14:05 from platform 9 and arrives at 16:48."),
    ]
    return tuple(positives + negatives)
