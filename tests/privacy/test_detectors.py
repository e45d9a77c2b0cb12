"""Behaviour of aegis.privacy: classes, every detector kind, every message position."""

from __future__ import annotations

import dataclasses
import json
import random
import sys
from datetime import date
from typing import Any

import pytest

from aegis.errors import ConfigError
from aegis.privacy import (
    CombinedDetector,
    DataClass,
    Detector,
    Finding,
    RegexDetector,
    Scan,
    build_detector,
    combine_findings,
    iter_message_texts,
    scan_messages,
    scan_request,
)
from aegis.privacy import messages as messages_module
from aegis.privacy.checksums import (
    bsn_valid,
    card_number_valid,
    codice_fiscale_valid,
    dni_valid,
    iban_valid,
    luhn_valid,
    nino_valid,
    nir_valid,
    ssn_valid,
    steuer_id_valid,
    verhoeff_valid,
)
from aegis.types import ChatRequest
from tests.privacy import corpus as c

PUBLIC, INTERNAL, CONFIDENTIAL, PII, PHI = (
    DataClass.PUBLIC,
    DataClass.INTERNAL,
    DataClass.CONFIDENTIAL,
    DataClass.PII,
    DataClass.PHI,
)
DETECTOR = RegexDetector()


def kinds(text: str) -> set[str]:
    return {f.kind for f in DETECTOR.scan_text(text)}


def spans(text: str, kind: str) -> list[str]:
    return [text[f.start : f.end] for f in DETECTOR.scan_text(text) if f.kind == kind]


# --- DataClass ----------------------------------------------------------------


def test_data_classes_are_ordered() -> None:
    assert PUBLIC < INTERNAL < CONFIDENTIAL < PII < PHI
    assert max(PII, CONFIDENTIAL) is PII
    assert max([PUBLIC, PHI, PII]) is PHI
    assert sorted([PHI, PUBLIC, PII]) == [PUBLIC, PII, PHI]
    assert PII >= PII and PII <= PII and not PII > PII


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("PII", PII), (" phi ", PHI), ("Public", PUBLIC), ("confidential", CONFIDENTIAL), (PII, PII)],
)
def test_data_class_parse(raw: Any, expected: DataClass) -> None:
    assert DataClass.parse(raw) is expected


def test_data_class_parse_error_lists_allowed_values() -> None:
    with pytest.raises(ValueError) as info:
        DataClass.parse("secret")
    message = str(info.value)
    assert "'secret'" in message
    for value in ("public", "internal", "confidential", "pii", "phi"):
        assert value in message


def test_data_class_does_not_compare_with_ints() -> None:
    with pytest.raises(TypeError):
        _ = PII < 3  # type: ignore[operator]


# --- kinds: positives and the look-alikes next to them --------------------------


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("write to jane.doe+news@gmail.com today", "email", "jane.doe+news@gmail.com"),
        ("From: ALICE@EXAMPLE.CO.UK", "email", "ALICE@EXAMPLE.CO.UK"),
        ("Call me at +44 20 7946 0958.", "phone", "+44 20 7946 0958"),
        ("ring (415) 555-2671 x204", "phone", "(415) 555-2671 x204"),
        ("Telefon: 030 12345678", "phone", "030 12345678"),
        ("Portable : 06 12 34 56 78", "phone", "06 12 34 56 78"),
        ("WhatsApp +91 98765 43210", "phone", "+91 98765 43210"),
        ("my number is 9876543210", "phone", "9876543210"),
        ("SSN 123-45-6789", "ssn", "123-45-6789"),
        ("social security number 123456789", "ssn", "123456789"),
        ("card 4111 1111 1111 1111 exp 04/27", "credit_card", "4111 1111 1111 1111"),
        ("amex 3782-822463-10005", "credit_card", "3782-822463-10005"),
        ("pay with 5555555555554444", "credit_card", "5555555555554444"),
        ("IBAN GB82 WEST 1234 5698 7654 32 please", "iban", "GB82 WEST 1234 5698 7654 32"),
        ("to DE89370400440532013000.", "iban", "DE89370400440532013000"),
        ("from 8.8.8.8 and 192.168.1.20", "ip_address", "8.8.8.8"),
        ("host 2a00:1450:4001:82a::200e is up", "ip_address", "2a00:1450:4001:82a::200e"),
        ("DOB: 03/11/1939", "date_of_birth", "03/11/1939"),
        ("born on March 3, 1980 in Ohio", "date_of_birth", "March 3, 1980"),
        ("Ich bin am 20.10.1965 geboren.", "date_of_birth", "20.10.1965"),
        ("né le 5 mars 1980", "date_of_birth", "5 mars 1980"),
        ("Passport No.: C84011070", "passport", "C84011070"),
        ("MRN: 00123456", "medical_record", "00123456"),
        ("NHS number 943 476 5919", "medical_record", "943 476 5919"),
        ("ICD-10: E11.9", "icd10", "E11.9"),
        ("Dx: J45.909, I10", "icd10", "J45.909"),
        ("Codice fiscale: RSSMRA85T10A562S", "national_id", "RSSMRA85T10A562S"),
        ("DNI 12345678Z", "national_id", "12345678Z"),
        ("BSN: 111222333", "national_id", "111222333"),
        ("Dear Maria,\nthanks", "person_name", "Maria"),
        ("My name is Jan de Vries.", "person_name", "Jan de Vries"),
        ("Kind regards,\nSam Carter", "person_name", "Sam Carter"),
        ("CONFIDENTIAL: board deck", "confidential", "CONFIDENTIAL"),
        ("This stays internal only.", "confidential", "internal only"),
        ("We are under NDA here.", "confidential", "under NDA"),
        ("Streng vertraulich!", "confidential", "Streng vertraulich"),
    ],
)
def test_detects(text: str, kind: str, value: str) -> None:
    assert value in spans(text, kind)


@pytest.mark.parametrize(
    "text",
    [
        "Order #123-456-7890 has shipped.",
        "Invoice number 0123456789 was paid.",
        "Tracking: 1Z999AA10123456784",
        "ISBN 978-3-16-148410-0",
        "Card number: 4111 1111 1111 1112",  # Luhn fails
        "IBAN: GB82 WEST 1234 5698 7654 33",  # mod-97 fails
        "SSN: 000-12-3456",
        "SSN: 666-12-3456",
        "SSN: 912-12-3456",
        "SSN: 123-00-4567",
        "SSN: 123-45-0000",
        "Upgrade to v2.3.14 and 1.2.3",
        "it broke in version 1.2.3.4",
        "bind 127.0.0.1, 0.0.0.0, ::1 and 255.255.255.0",
        "docs use 192.0.2.15 and 2001:db8::1",
        "allow 10.0.0.0/8",
        "std::vector<int> v; auto x = a[::2];",
        "git clone git@github.com:acme/widgets.git",
        '<img src="logo@2x.png">',
        'send_mail(to="user@example.com")',
        "2024-03-15T10:30:00Z request done in 1234567 ns",
        "The laptop costs $1,299.99, or 1 234 567,89 EUR in bulk.",
        "Print it on A4 paper and take the M25.",
        "Use passport.js for login.",
        "What is a 95% confidence interval?",
        "Give me a confidentiality agreement template.",
        "Draft an NDA for a freelancer.",
        "This is a non-confidential summary.",
        "Explain confidential computing.",
        "Please be patient while the build runs.",
        "Add a /healthz health check endpoint.",
        "Run brew doctor to find the problem.",
        "Compare the treatment group and the control group.",
        "The golden ratio phi = 1.618",
        "Dear Sir or Madam,\nplease find attached.",
        "Mix 2 tablespoons of sugar with 300 ml of water.",
    ],
)
def test_look_alikes_are_not_flagged(text: str) -> None:
    assert kinds(text) == set()


def test_health_context() -> None:
    assert "health" in kinds("Explain what a diagnosis of diabetes means.")
    assert "health" in kinds("My doctor prescribed 20 mg of fluoxetine.")
    assert "health" in kinds("Der Patient wurde ins Krankenhaus eingeliefert.")
    assert "health" in kinds("This export contains PHI.")
    # one weak word alone is not health context, two different ones are
    assert "health" not in kinds("What are the symptoms of a memory leak?")
    assert "health" in kinds("Which symptoms made the doctor order an x-ray?")


def test_icd_codes_need_context() -> None:
    assert spans("Your seat is E12, row B23.", "icd10") == []
    assert spans("diagnosis E11.9 confirmed", "icd10") == ["E11.9"]


def test_identifiers_in_one_text_each_reported() -> None:
    text = "Reach jane@acme.io or +1 (415) 555-2671; card 4111111111111111."
    assert kinds(text) == {"email", "phone", "credit_card"}


# --- class rules ------------------------------------------------------------------


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def test_class_per_kind() -> None:
    assert scan_messages(user("mail me: bob@mailbox.org")).data_class is PII
    assert scan_messages(user("MRN: 00123456")).data_class is PHI
    assert scan_messages(user("Internal only: roadmap")).data_class is CONFIDENTIAL
    assert scan_messages(user("Explain what diabetes is.")).data_class is PHI
    assert scan_messages(user("Summarise this paragraph.")).data_class is PUBLIC


def test_health_plus_identifier_anywhere_in_request_is_phi() -> None:
    lenient = RegexDetector(health_class=PUBLIC)
    only_health = scan_messages(user("Explain what diabetes is."), detector=lenient)
    assert only_health.data_class is PUBLIC
    assert only_health.kinds == {"health"}
    messages = [
        {"role": "system", "content": "Customer: bob@mailbox.org"},
        {"role": "user", "content": "He asks about his diabetes medication."},
    ]
    assert scan_messages(messages, detector=lenient).data_class is PHI


def test_combine_findings() -> None:
    email = Finding("email", PII)
    health = Finding("health", PUBLIC)
    assert combine_findings([]) is PUBLIC
    assert combine_findings([email]) is PII
    assert combine_findings([health]) is PUBLIC
    assert combine_findings([email, health]) is PHI
    assert combine_findings([Finding("confidential", CONFIDENTIAL), health]) is CONFIDENTIAL


@pytest.mark.parametrize("declared", list(DataClass))
def test_never_lower_a_declared_class(declared: DataClass) -> None:
    public = scan_messages(user("Summarise this paragraph."), declared=declared)
    assert public.data_class is declared
    assert public.declared is declared
    pii = scan_messages(user("mail me: bob@mailbox.org"), declared=declared)
    assert pii.data_class is max(declared, PII)
    assert pii.detected is PII


def test_scan_summary_is_log_safe() -> None:
    scan = scan_messages(user("mail bob@mailbox.org or alice@mailbox.org"))
    summary = scan.summary()
    assert summary == {"data_class": "pii", "declared": "public", "findings": {"email": 2}}
    assert "mailbox" not in json.dumps(summary)


# --- every position a request carries text in ---------------------------------------

SECRET = "bob.secret@mailbox.org"


def _findings_at(messages: list[dict[str, Any]], **kw: Any) -> list[tuple[int, str]]:
    scan = scan_messages(messages, **kw)
    assert scan.data_class is PII
    return [(f.message_index, f.location) for f in scan.findings if f.kind == "email"]


def test_position_system_and_developer() -> None:
    msgs = [{"role": "system", "content": f"ctx {SECRET}"}, {"role": "user", "content": "hi"}]
    assert _findings_at(msgs) == [(0, "content")]
    msgs = [{"role": "developer", "content": SECRET}]
    assert _findings_at(msgs) == [(0, "content")]


def test_position_assistant_history() -> None:
    msgs = [
        {"role": "user", "content": "who?"},
        {"role": "assistant", "content": f"It was {SECRET}."},
        {"role": "user", "content": "thanks"},
    ]
    assert _findings_at(msgs) == [(1, "content")]


def test_position_tool_call_arguments() -> None:
    args = json.dumps({"to": SECRET, "body": "hello"})
    msgs = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "send", "arguments": args}}
            ],
        }
    ]
    assert _findings_at(msgs) == [(0, "tool_calls[0].function.arguments")]


def test_tool_call_arguments_json_gives_values_their_key_context() -> None:
    # "0961073668" alone is ambiguous; under a "phone" key it is a phone number
    args = json.dumps({"phone": "0961073668", "dob": "1980-01-02", "patient_id": "A1234567"})
    msgs = [
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}
            ],
        }
    ]
    scan = scan_messages(msgs)
    assert {"phone", "date_of_birth", "medical_record"} <= scan.kinds
    assert all(f.start == -1 for f in scan.findings)  # normalised JSON: no spans


def test_tool_call_arguments_unicode_escapes_are_decoded() -> None:
    args = json.dumps({"note": "née le 5 mars 1980"}, ensure_ascii=True)
    assert "\\u00e9" in args
    msgs = [
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}
            ],
        }
    ]
    assert "date_of_birth" in scan_messages(msgs).kinds


def test_truncated_tool_arguments_are_scanned_raw() -> None:
    args = '{"to": "' + SECRET + '", "body": "hel'  # a stream cut mid-way
    msgs = [
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c", "type": "function", "function": {"name": "f", "arguments": args}}
            ],
        }
    ]
    assert _findings_at(msgs) == [(0, "tool_calls[0].function.arguments")]


def test_position_tool_result_text_and_json() -> None:
    msgs = [{"role": "tool", "tool_call_id": "c1", "content": f"found {SECRET}"}]
    assert _findings_at(msgs) == [(0, "content")]
    msgs = [{"role": "tool", "tool_call_id": "c1", "content": json.dumps({"rows": [SECRET]})}]
    assert _findings_at(msgs) == [(0, "content")]


def test_position_content_parts_and_images() -> None:
    msgs = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look at this"},
                {"type": "image_url", "image_url": {"url": c._TINY_PNG, "detail": "low"}},
                {"type": "text", "text": f"and write to {SECRET}"},
            ],
        }
    ]
    assert _findings_at(msgs) == [(0, "content[2]")]


def test_image_payloads_are_skipped_but_remote_urls_scanned() -> None:
    blob = "data:image/png;base64," + "QUJD" * 50_000  # large binary payload: skipped
    msgs = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": blob}}]}]
    assert scan_messages(msgs).data_class is PUBLIC
    url = f"https://cdn.example.net/u/{SECRET}/avatar.png"
    msgs = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
    assert _findings_at(msgs) == [(0, "content[0].image_url")]


def test_position_name_field() -> None:
    msgs = [{"role": "user", "name": "Dr. Gregory House", "content": "hi"}]
    scan = scan_messages(msgs)
    assert [(f.kind, f.location) for f in scan.findings] == [("person_name", "name")]


def test_position_tool_definitions() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "escalate",
                "description": f"Escalates to {SECRET}",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    assert _findings_at(user("hi"), tools=tools) == [(-1, "tools[0].function.description")]


def test_legacy_function_call_and_refusal() -> None:
    msgs = [
        {
            "role": "assistant",
            "function_call": {"name": "send", "arguments": json.dumps({"to": SECRET})},
        },
        {"role": "assistant", "content": None, "refusal": f"I won't email {SECRET}"},
    ]
    assert _findings_at(msgs) == [(0, "function_call.arguments"), (1, "refusal")]


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": None},
        {"role": "user"},
        {"role": "user", "content": []},
        {"role": "user", "content": [None, 7, "plain string part", {"type": "input_audio"}]},
        {"role": "user", "content": [{"type": "image_url", "image_url": None}]},
        {"role": "user", "content": [{"type": "image_url"}]},
        {"role": "assistant", "tool_calls": [{"function": None}, None, {"id": "x"}]},
        {"role": "assistant", "tool_calls": [{"function": {"arguments": None}}]},
        {"role": "tool", "content": "[1, 2"},
        {"role": "tool", "content": "[" * 5000 + "]" * 5000},
        {"role": "user", "content": {"unexpected": "shape"}},
    ],
)
def test_odd_shapes_do_not_crash(message: Any) -> None:
    assert isinstance(scan_messages([message]), Scan)


@pytest.mark.parametrize(
    "content",
    ["Call 415-555-0132", "", " ", '{"phone": "4155550132"}', ' \n[{"ssn": "123-45-6789"}]',
     "\u00a0{\"phone\": \"4155550132\"}", "[not json", "{} and text", None, 7,
     [{"type": "text", "text": "SSN 123-45-6789"}]],
)
def test_plain_messages_scan_like_the_general_walk(content: Any) -> None:
    """Plain ``{role, content}`` messages take a short path; it must find the same."""
    messages = [{"role": "user", "content": content},
                {"content": content, "role": "assistant"},
                {"role": "user", "content": content, "name": "Dr Jane Roe"}]
    walked = [(i, seg) for i, m in enumerate(messages) for seg in iter_message_texts(m)]
    assert messages_module._message_segments(messages) == walked
    detector = RegexDetector()
    expected = [f for i, (loc, text, exact) in walked
                for f in messages_module._located(detector, text, i, loc, exact)]
    assert scan_messages(messages).findings == tuple(expected)


def test_scan_request_covers_extras_and_response_format() -> None:
    request = ChatRequest(
        model="m",
        messages=[{"role": "user", "content": "hello"}],
        response_format={"type": "json_schema", "json_schema": {"description": f"for {SECRET}"}},
        extra={"user": "bob@mailbox.org", "seed": 1},
        stop=("STOP",),
    )
    scan = scan_request(request)
    assert scan.data_class is PII
    assert {f.location for f in scan.findings} == {
        "response_format.json_schema.description",
        "user",
    }
    clean = ChatRequest(model="m", messages=[{"role": "user", "content": "hello"}])
    assert scan_request(clean, declared=CONFIDENTIAL).data_class is CONFIDENTIAL


# --- findings never carry the matched text ---------------------------------------


def test_findings_never_contain_the_matched_text() -> None:
    corpus = c.build_corpus()
    rng = random.Random(5)
    checked = 0
    for sample in rng.sample(corpus.positives, 400):
        scan = scan_messages(sample.messages, sample.tools)
        texts = {
            (i, location): text
            for i, message in enumerate(sample.messages)
            for location, text, _ in iter_message_texts(message)
        }
        for f in scan.findings:
            if f.kind in ("confidential", "health") or f.start < 0:
                continue  # markers and vocabulary are words, not identifiers
            matched = texts[(f.message_index, f.location)][f.start : f.end]
            if len(matched) < 5:
                continue  # "Ali" could occur in "location" by coincidence
            blob = " ".join(
                [repr(f), str(f), f.describe(), json.dumps(dataclasses.asdict(f), default=str)]
            )
            assert matched not in blob
            checked += 1
        assert "@" not in json.dumps(scan.summary())
    assert checked > 100
    assert {field.name for field in dataclasses.fields(Finding)} == {
        "kind",
        "data_class",
        "message_index",
        "location",
        "start",
        "end",
        "detector",
    }


# --- detectors: combination, config, Presidio ------------------------------------


def test_regex_detector_satisfies_protocol() -> None:
    assert isinstance(DETECTOR, Detector)
    assert DETECTOR.scan_text("") == []


def test_build_detector() -> None:
    assert isinstance(build_detector("regex"), RegexDetector)
    assert isinstance(build_detector(" Regex "), RegexDetector)
    assert isinstance(build_detector(""), RegexDetector)
    for bad in ("spacy", "regex+regex", "regex+", "regex,presidio"):
        with pytest.raises(ValueError, match="allowed values: regex, presidio, regex\\+presidio"):
            build_detector(bad)


@pytest.fixture
def no_presidio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)  # import now raises


def test_presidio_missing_dependency_is_a_clear_config_error(no_presidio: None) -> None:
    from aegis.privacy.presidio import PresidioDetector, PresidioUnavailable

    with pytest.raises(PresidioUnavailable) as info:
        PresidioDetector()
    assert isinstance(info.value, ConfigError)
    assert "pip install 'aegis-gateway[presidio]'" in str(info.value)
    for name in ("presidio", "regex+presidio"):
        with pytest.raises(PresidioUnavailable):
            build_detector(name)


class _Result:
    def __init__(self, entity_type: str, start: int, end: int, score: float = 0.85) -> None:
        self.entity_type, self.start, self.end, self.score = entity_type, start, end, score


class _FakeAnalyzer:
    """Stands in for presidio_analyzer.AnalyzerEngine: finds 'Maria Rossi'."""

    def analyze(self, *, text: str, language: str, **_: Any) -> list[_Result]:
        assert language == "en"
        out = []
        at = text.find("Maria Rossi")
        if at >= 0:
            out.append(_Result("PERSON", at, at + 11))
            out.append(_Result("DATE_TIME", 0, 4))  # ignored by default
            out.append(_Result("MEDICAL_LICENSE", 0, 4))
            out.append(_Result("CUSTOM_THING", 0, 4))  # unknown: PII
            out.append(_Result("US_SSN", 0, 4, score=0.1))  # below threshold
        return out


def test_presidio_mapping_with_injected_analyzer() -> None:
    from aegis.privacy.presidio import PresidioDetector

    detector = PresidioDetector(analyzer=_FakeAnalyzer())
    found = {(f.kind, f.data_class, f.detector) for f in detector.scan_text("Ask Maria Rossi")}
    assert found == {
        ("person_name", PII, "presidio"),
        ("medical_license", PHI, "presidio"),
        ("custom_thing", PII, "presidio"),
    }
    assert detector.scan_text("") == []


def test_combined_detector_merges_and_dedupes() -> None:
    from aegis.privacy.presidio import PresidioDetector

    combined = CombinedDetector((DETECTOR, PresidioDetector(analyzer=_FakeAnalyzer())))
    assert combined.name == "regex+presidio"
    text = "Forward this to Maria Rossi at maria.rossi@gmail.com"
    scan = scan_messages(user(text), detector=combined)
    assert {"person_name", "email"} <= scan.kinds
    assert scan.data_class is PHI  # a medical licence next to PII
    doubled = CombinedDetector((DETECTOR, DETECTOR))
    assert len(doubled.scan_text(text)) == len(DETECTOR.scan_text(text))
    with pytest.raises(ValueError):
        CombinedDetector(())


def test_real_presidio_when_installed() -> None:
    pytest.importorskip("presidio_analyzer")
    detector = build_detector("regex+presidio")
    scan = scan_messages(
        user("Please forward this to Maria Rossi in accounting."), detector=detector
    )
    assert "person_name" in scan.kinds


# --- validators and pathological input ---------------------------------------------


def test_checksum_validators() -> None:
    rng = random.Random(11)
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert card_number_valid("378282246310005") and not card_number_valid("9111111111111111")
    assert not card_number_valid("411111111111")  # 12 digits: too short
    assert iban_valid("GB82WEST12345698765432") and not iban_valid("GB82WEST12345698765433")
    assert not iban_valid("GB82WEST1234569876543")  # wrong length for GB
    assert not iban_valid("QQ82WEST12345698765432")  # unknown country
    assert ssn_valid("123", "45", "6789")
    invalid_ssns = [
        ("000", "45", "6789"),
        ("666", "45", "6789"),
        ("900", "45", "6789"),
        ("123", "00", "6789"),
        ("123", "45", "0000"),
    ]
    assert not any(ssn_valid(*parts) for parts in invalid_ssns)
    aadhaar = c._aadhaar(rng)
    assert verhoeff_valid(aadhaar) and not verhoeff_valid(
        aadhaar[:-1] + str((int(aadhaar[-1]) + 1) % 10)
    )
    bsn = c._bsn(rng)
    assert bsn_valid(bsn) and bsn_valid("111222333") and not bsn_valid("111222334")
    nir = c._nir(rng, date(1980, 5, 1))
    assert nir_valid(nir) and not nir_valid(nir[:-1] + str((int(nir[-1]) + 1) % 10))
    steuer = c._steuer_id(rng)
    assert steuer_id_valid(steuer) and not steuer_id_valid(
        steuer[:-1] + str((int(steuer[-1]) + 1) % 10)
    )
    assert codice_fiscale_valid("RSSMRA85T10A562S") and not codice_fiscale_valid("RSSMRA85T10A562T")
    assert dni_valid("12345678Z") and dni_valid("X1234567L") and not dni_valid("12345678A")
    assert nino_valid("AB123456C") and not nino_valid("GB123456C") and not nino_valid("AB123456E")


@pytest.mark.parametrize(
    "text",
    [
        "1" * 200_000,
        "1 " * 100_000,
        "1-" * 100_000,
        "a@" * 100_000,
        "a" * 100_000 + "@b.c",
        ("x" * 63 + "@") * 2_000,
        ":" * 100_000,
        "a:" * 100_000,
        "1." * 100_000,
        "patient " * 20_000,
        "(" * 100_000 + "1",
        "DE89 " * 40_000,
    ],
)
def test_pathological_input_is_linear(text: str) -> None:
    """No catastrophic backtracking: each of these would hang a quadratic scanner."""
    DETECTOR.scan_text(text)
