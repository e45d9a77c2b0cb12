"""Hard negatives: look-alikes that must not be flagged (see ``tests.privacy.corpus``)."""

from __future__ import annotations

import functools
import random
import string
from collections.abc import Callable

from faker import Faker

from tests.privacy.corpus.base import PUBLIC, _Item
from tests.privacy.corpus.checksums import _day, _iban_ok, _luhn_fail, _moment
from tests.privacy.corpus.generators import _digits, _group, _pick

# ---------------------------------------------------------------------------
# Hard negatives


def _neg(category: str, text: str) -> _Item:
    return _Item(category, frozenset(), PUBLIC, text)


def _negatives(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    f = fakers["en_US"]
    d = functools.partial(_digits, rng)
    out: list[_Item] = []

    def add(category: str, n: int, make: Callable[[], str]) -> None:
        out.extend(_neg(category, make()) for _ in range(n))

    add(
        "order_number",
        70,
        lambda: _pick(
            rng,
            [
                f"Order #{d(3)}-{d(3)}-{d(4)} has shipped.",
                f"Your order {d(3)}-{d(7)}-{d(7)} was delivered to the locker.",
                f"Bestellnummer: {d(10)}",
                f"Numéro de commande : {d(3)}-{d(3)}-{d(4)}",
                f"order_id={d(10)}",
                f"Número de pedido {d(9)}, gracias por su compra.",
                f"Ordine n. {d(8)} in lavorazione.",
                f"Bestelnummer {d(10)} is verzonden.",
                f"Can you check order {d(3)} {d(3)} {d(4)}? It never arrived.",
            ],
        ),
    )
    add(
        "invoice_id",
        60,
        lambda: _pick(
            rng,
            [
                f"INV-{rng.randint(2019, 2025)}-{d(6)} is overdue.",
                f"Invoice {rng.randint(2019, 2025)}/{d(5)} attached.",
                f"Rechnungsnummer RE-{rng.randint(2019, 2025)}-{d(5)}",
                f"Facture n° F{rng.randint(2019, 2025)}{d(6)}",
                f"Invoice number 0{d(9)} was paid on time.",
                f"factuurnummer {d(8)}",
                f"Please reconcile invoice {d(4)}-{d(4)}-{d(4)}-{d(4)} against the PO.",
            ],
        ),
    )
    add(
        "tracking_number",
        60,
        lambda: _pick(
            rng,
            [
                f"Tracking number: 1Z{''.join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(6))}{d(10)}",
                f"Your parcel {d(4)} {d(4)} {d(4)} is out for delivery.",
                f"USPS tracking 9400 1{d(3)} {d(4)} {d(4)} {d(4)} {d(4)} {d(2)}",
                f"DHL shipment {d(10)} is held at customs.",
                f"Sendungsnummer {d(20)}",
                f"Numéro de suivi : {d(13)}",
                f"FedEx tracking {d(12)} shows delivered.",
            ],
        ),
    )
    add(
        "uuid",
        50,
        lambda: _pick(
            rng,
            [
                f"request_id={f.uuid4()}",
                f"Trace ID {f.uuid4()} failed at the gateway.",
                f"SELECT * FROM orders WHERE id = '{f.uuid4()}';",
                f'{{"session": "{f.uuid4()}", "ok": true}}',
            ],
        ),
    )
    add(
        "version",
        80,
        lambda: _pick(
            rng,
            [
                f"Upgrade to v{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)} before Friday.",
                f"pip install requests=={rng.randint(1, 3)}.{rng.randint(0, 32)}.{rng.randint(0, 9)}",
                f"Windows version 10.0.{d(5)}.{d(4)}",
                f"User-Agent: Mozilla/5.0 Chrome/{rng.randint(100, 130)}.0.{d(4)}.{d(3)} Safari/537.36",
                f"Build {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 99)} is out.",
                f"firmware {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 20)} fixes the boot loop",
                f"node v{rng.randint(14, 22)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
                f"Bump version from {rng.randint(0, 5)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} to the next minor.",
                f"Version {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} release notes",
                f"go 1.{rng.randint(18, 23)}.{rng.randint(0, 9)}",
                f"The release tag is v{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.",
            ],
        ),
    )
    add(
        "timestamp",
        70,
        lambda: _pick(
            rng,
            [
                f"{_moment(rng).isoformat()}Z request completed",
                f"{_moment(rng):%Y-%m-%d %H:%M:%S},{d(3)} INFO worker started",
                f"Last modified {_moment(rng):%d.%m.%Y %H:%M}",
                f"epoch {rng.randint(1_500_000_000, 1_800_000_000)}",
                f"created_at: {rng.randint(1_500_000_000_000, 1_800_000_000_000)}",
                f"{_moment(rng):%b %d %H:%M:%S} web01 sshd[{d(4)}]: Accepted publickey",
                f"Elapsed: {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{d(3)}",
            ],
        ),
    )
    add(
        "price",
        60,
        lambda: _pick(
            rng,
            [
                f"The laptop costs ${rng.randint(1, 9)},{d(3)}.{d(2)}.",
                f"Gesamtbetrag: € {rng.randint(1, 9)}.{d(3)},{d(2)}",
                f"Revenue was {rng.randint(10, 99)},{d(3)},{d(3)}.{d(2)} USD last quarter.",
                f"Total: ₹{rng.randint(1, 9)},{d(2)},{d(3)}",
                f"£ {rng.randint(5, 99)}.99 per month, cancel anytime.",
                f"price: {d(4)}.00",
                f"Budget line 4: {rng.randint(100, 999)} {d(3)} {d(3)} EUR",
            ],
        ),
    )
    add(
        "isbn",
        50,
        lambda: _pick(
            rng,
            [
                f"ISBN {f.isbn13()}",
                f"ISBN-10: {f.isbn10()}",
                f"Orwell, G. Nineteen Eighty-Four. Penguin, {f.isbn13()}.",
                f"Can you find a review of the book with ISBN {f.isbn13().replace('-', '')}?",
            ],
        ),
    )
    add(
        "product_code",
        60,
        lambda: _pick(
            rng,
            [
                f"SKU {d(3)}-{d(3)}-{d(4)} is out of stock.",
                f"Part No. 0{d(2)}-{d(4)}-{d(4)}",
                f"Model KX-TG{d(4)} cordless handset, black.",
                f"Artikelnummer 0{d(3)}-{d(4)}-{d(4)}",
                f"EAN {f.ean13()}",
                f"UPC {d(12)} scanned at till 3",
                f"Ref. 0{rng.randint(1, 9)} {d(2)} {d(2)} {d(2)} {d(2)} (article code, not a phone number)",
                f"serial number {d(4)}-{d(4)}-{d(4)}",
            ],
        ),
    )
    add(
        "luhn_fail_16",
        70,
        lambda: (
            lambda n: _pick(
                rng,
                [
                    f"Reference {_group(n, [4, 4, 4, 4], ' ')}",
                    f"Test card number {_group(n, [4, 4, 4, 4], ' ')} (invalid on purpose)",
                    f"batch id {n}",
                    f"Card number: {_group(n, [4, 4, 4, 4], '-')}",
                    f"The account token is {n}.",
                ],
            )
        )(_luhn_fail(rng, _pick(rng, ["4", "51", "55", "6011", "37"]), 16)),
    )

    def bad_iban() -> str:
        loc = _pick(rng, ["en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"])
        while True:
            good = fakers[loc].iban()
            if _iban_ok(good):
                break
        pos = rng.randrange(4, len(good))
        while not good[pos].isdigit():
            pos = rng.randrange(4, len(good))
        bad = good[:pos] + str((int(good[pos]) + rng.randint(1, 9)) % 10) + good[pos + 1 :]
        assert not _iban_ok(bad)
        shown = _group(bad, [4] * 8, " ") if rng.random() < 0.5 else bad
        return _pick(
            rng,
            [
                f"IBAN: {shown}",
                f"Is {shown} a valid IBAN? Our validator says no.",
                f"Test fixture iban={shown}",
            ],
        )

    add("iban_bad_checksum", 70, bad_iban)
    add(
        "code",
        80,
        lambda: _pick(rng, _CODE_SNIPPETS).format(
            port=rng.randint(1024, 65000), n=rng.randint(2, 500), big=d(10)
        ),
    )
    add(
        "math",
        50,
        lambda: _pick(
            rng,
            [
                "pi = 3.14159265358979323846",
                "2^64 = 18446744073709551616",
                f"Solve {rng.randint(2, 9)}x + {rng.randint(1, 50)} = {rng.randint(51, 200)} for x.",
                "e ≈ 2.718281828459045",
                f"matrix [[{d(2)}, {d(2)}], [{d(2)}, {d(2)}]] has determinant?",
                "The golden ratio phi = 1.6180339887498948",
                f"{d(3)} \u00d7 {d(3)} = ?",
                "sqrt(2) = 1.4142135623730951",
                f"The {rng.randint(10, 90)}th prime is what?",
                f"Convert {d(10)} from decimal to hex.",
                f"Compute {d(4)} mod 97 and explain the steps.",
            ],
        ),
    )
    add(
        "loopback_semver",
        70,
        lambda: _pick(
            rng,
            [
                "Bind the dev server to 127.0.0.1 and port 8000.",
                "Listen on 0.0.0.0 so the container is reachable.",
                "ping ::1 works but the v6 route does not",
                "netmask 255.255.255.0",
                "The docs use 192.0.2.15 as the example address.",
                "Example: 198.51.100.7 and 203.0.113.9 (RFC 5737).",
                "Use 2001:db8::1 in documentation.",
                "Link-local fe80::1 on eth0",
                "Query the metadata service at 169.254.169.254.",
                f"Release v{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} is tagged.",
                f"It broke in version {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
                f"v{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} fixed it",
                "mDNS uses 224.0.0.251.",
                "Allow the VPC range 10.0.0.0/8 and 172.16.0.0/12.",
                "CIDR 192.168.0.0/16 covers the office LAN.",
            ],
        ),
    )
    add(
        "confidence_words",
        70,
        lambda: _pick(
            rng,
            [
                "What is a 95% confidence interval?",
                "I'm confident the fix works.",
                "Give me a confidentiality agreement template for freelancers.",
                "Draft an NDA for a freelance designer.",
                "What should a mutual NDA include?",
                "This is a non-confidential summary for the press.",
                "Explain confidential computing on Intel SGX.",
                "The internal combustion engine was invented in the 1800s.",
                "Make the helper a private method.",
                "How do I keep API keys secret in CI?",
                "Our confidence in the forecast is low.",
                "Distribute the load evenly across the workers.",
                "The classified ads section moved online.",
                "Write a blog post about the importance of confidentiality in HR.",
            ],
        ),
    )
    add(
        "health_ambiguous",
        80,
        lambda: _pick(
            rng,
            [
                "Please be patient while the build runs.",
                "What are the symptoms of a memory leak in Node?",
                "How do I diagnose a flaky test in CI?",
                "Add a /healthz health check endpoint to the service.",
                "Run brew doctor to find the problem.",
                "Compare the treatment group and the control group conversion rates.",
                "The antivirus flagged our installer as a virus.",
                "Use a condition variable to wake the worker thread.",
                "The operation failed with a timeout.",
                "Avoid side effects inside the render function.",
                "Triage the bug backlog before the sprint.",
                "We need a surgical fix to the parser, nothing more.",
                "A healthy dose of skepticism helps in code review.",
                "Kubernetes liveness probes restart unhealthy pods.",
                "flutter doctor reports a missing Android SDK.",
                "The cluster health is yellow because of unassigned shards.",
                "Be patient with new hires during onboarding.",
                "What's the root cause of this stack overflow?",
                "Diagnose why the Docker container exits immediately.",
                "The patch treats the symptom, not the cause.",
            ],
        ),
    )
    add(
        "date_no_birth",
        60,
        lambda: _pick(
            rng,
            [
                f"The meeting is on {_day(rng, 2020, 2026):%d/%m/%Y}.",
                f"Released on {_day(rng, 2020, 2026):%Y-%m-%d} with two fixes.",
                "bash is the Bourne-again shell.",
                f"Invoice dated {_day(rng, 2020, 2026):%d.%m.%Y}.",
                f"Deadline: {_day(rng, 2020, 2026):%d %B %Y}",
                "The project was born out of frustration with slow builds.",
                f"A stubborn bug has been open since {_day(rng, 2020, 2026):%Y-%m-%d}.",
                f"Der Termin ist am {_day(rng, 2020, 2026):%d.%m.%Y}.",
                f"La réunion a lieu le {_day(rng, 2020, 2026):%d/%m/%Y}.",
                f"Reborn 2.0 launched on {_day(rng, 2020, 2026):%B %d, %Y}.",
            ],
        ),
    )
    add(
        "icd_shaped",
        60,
        lambda: _pick(
            rng,
            [
                "Print it on A4 paper, double-sided.",
                "Take the M25 towards Heathrow.",
                "The F16 has a top speed of Mach 2.",
                "The G20 summit is in November.",
                "Your seat is E12 near the window.",
                "Meet me in room B23 after lunch.",
                "Draw a C4 model diagram for the system.",
                "Stack the Z10 boards on pallet 4.",
                f"Row K{rng.randint(10, 99)}, column J{rng.randint(10, 99)} of the spreadsheet.",
                f"Cell D{rng.randint(10, 99)}.{rng.randint(1, 9)} has the wrong formula.",
            ],
        ),
    )
    add(
        "keyword_no_value",
        50,
        lambda: _pick(
            rng,
            [
                "Use passport.js with the local strategy for login.",
                "The passport photo size is 35x45 mm.",
                "Add an MRN column to the schema, nullable.",
                "How long does a passport renewal take in 2024?",
                "Where do I find the IBAN on my banking app?",
                "What is a social security number used for?",
                "Validate the phone number field with a regex.",
                "Store the date of birth as ISO 8601.",
                "Which ICD version does the billing system use?",
                "The email field is required.",
            ],
        ),
    )
    add(
        "ssn_invalid",
        50,
        lambda: _pick(
            rng,
            [
                f"000-{d(2, '123456789')}-{d(4, '123456789')}",
                f"666-{d(2, '123456789')}-{d(4, '123456789')}",
                f"9{d(2)}-{d(2, '123456789')}-{d(4, '123456789')}",
                f"{d(3, '12345678')}-00-{d(4, '123456789')}",
                f"{d(3, '12345678')}-{d(2, '123456789')}-0000",
            ],
        ).join(
            _pick(
                rng,
                [
                    ("SSN: ", ""),
                    ("Test value ", " is rejected by the form."),
                    ("", " (placeholder)"),
                ],
            )
        ),
    )
    add(
        "hash",
        50,
        lambda: _pick(
            rng,
            [
                f"sha256: {f.sha256()}",
                f"commit {f.sha1()}",
                f"md5 {f.md5()}",
                f"git cherry-pick {f.sha1()[:7]}",
                f'etag "{f.md5()}"',
            ],
        ),
    )
    add(
        "business_text",
        60,
        lambda: _pick(
            rng,
            [
                f"{f.catch_phrase()}. Let's {f.bs()} next quarter.",
                f"Meeting notes: {f.company()} wants to {f.bs()}. Follow up in {rng.randint(2, 6)} weeks.",
                f"Our Q{rng.randint(1, 4)} goal is to grow revenue by {rng.randint(2, 40)}% and hire {rng.randint(2, 30)} engineers.",
                f"Write a product description for a {f.color_name().lower()} {_pick(rng, ['backpack', 'desk lamp', 'kettle'])}.",
                f"The {f.city()} office moves to the new building in {f.month_name()}.",
                "Fasse den folgenden Text in drei Sätzen zusammen.",
                "Peux-tu reformuler ce paragraphe de façon plus concise ?",
                "¿Puedes traducir este correo al inglés?",
                "Puoi riassumere questo documento in cinque punti?",
                "Kun je deze tekst korter maken?",
            ],
        ),
    )
    add(
        "numeric_table",
        50,
        lambda: (
            "date,region,units,revenue\n"
            + "\n".join(
                f"{_day(rng, 2020, 2026):%Y-%m-%d},{_pick(rng, ['EMEA', 'APAC', 'NA'])},{rng.randint(1, 9999)},{rng.randint(1000, 999999)}.{d(2)}"
                for _ in range(rng.randint(3, 8))
            )
        ),
    )
    add(
        "coordinates_dims",
        50,
        lambda: _pick(
            rng,
            [
                f"{rng.uniform(-80, 80):.4f}, {rng.uniform(-170, 170):.4f}",
                f"Resolution {_pick(rng, ['1920x1080', '2560x1440', '3840x2160'])}",
                f"Expose port {rng.randint(1024, 65535)} on the container.",
                f"lat {rng.uniform(-80, 80):.6f} lon {rng.uniform(-170, 170):.6f}",
                f"The box is {rng.randint(10, 99)} x {rng.randint(10, 99)} x {rng.randint(10, 99)} cm.",
            ],
        ),
    )
    add(
        "call_number_words",
        40,
        lambda: _pick(
            rng,
            [
                f"The API call took {d(7)} ns on average.",
                f"Call stack depth reached {rng.randint(1000, 9999)}.",
                f"Number of rows: {d(8)}",
                f"Each call returns {rng.randint(10, 500)} items; we made {d(6)} calls.",
                f"Contact form submissions: {d(5)} this month.",
            ],
        ),
    )
    return out


_CODE_SNIPPETS = [
    "app.run(host='0.0.0.0', port={port})",
    "git clone git@github.com:acme/widgets.git",
    '<img src="logo@2x.png" srcset="logo@3x.png 3x">',
    "std::vector<int> v(n); std::sort(v.begin(), v.end());",
    "evens = numbers[::2]",
    '@app.route("/users/<int:user_id>")\ndef show(user_id): ...',
    "color: #ff5733; margin: 0 {n}px;",
    "mov eax, 0xDEADBEEF",
    'EMAIL_RE = re.compile(r"[^@]+@[^@]+\\.[^@]+")',
    'assert send_mail(to="user@example.com")',
    "DATABASE_URL=postgres://app@localhost:5432/app",
    "for (int i = 0; i < {n}; ++i) {{ total += i * i; }}",
    "SELECT count(*) FROM events WHERE ts > {big};",
    "docker run -p {port}:{port} -e TZ=UTC app:1.4.2",
    "curl -s http://127.0.0.1:{port}/metrics | grep latency",
    "const id = crypto.randomUUID(); // {n} retries max",
    "timeout: {n}s\nreplicas: 3\nimage: registry.local/app:2.3.14",
    "if (x == {big}) {{ return -1; }}",
    "npm install lodash@4.17.21 react@18.2.0",
    "ssh -p {port} deploy@localhost",
    "x = np.linspace(0, 1, {n}); y = np.sin(2 * np.pi * x)",
    "git log --since=2024-01-01 --author=bot",
]
