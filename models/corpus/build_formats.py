"""Builds format test fixtures for the PII and secret detectors under models/corpus/formats/ and
writes models/corpus/manifest.formats.json.

    python3 models/corpus/build_formats.py

Rows: {"text", "label": "pii" | "secret" | "benign", "entities": [{"type", "value", "start", "end"}]}
with character offsets into text (empty for benign near misses). Deterministic: pinned mirrors plus
generators seeded with random.Random(SEED). Stdlib only.
"""

import os
import random
import re
import xml.etree.ElementTree as ET

from common import HERE, clean, files, show_text, write_manifest, write_source

SEED = 20240611
LIBPHONE = ("google/libphonenumber", "f7e3e88c92b905c8d6edb81f336dbe25edc05b52")
NOSEY = ("praetorian-inc/noseyparker", "2e6e7f36ce36619852532bbe698d8cb7a26d2da7")
NOSEY_RULES = "crates/noseyparker/data/default/builtin/rules"
MAX_CHARS = 2000


def place(entry):
    """write_source files rows under <task>/; the fixtures live together in formats/, rows keep
    their task ("pii" or "secret")."""
    old = os.path.join(HERE, entry["file"])
    os.makedirs(os.path.join(HERE, "formats"), exist_ok=True)
    new = os.path.join(HERE, "formats", os.path.basename(old))
    os.replace(old, new)
    try:
        os.rmdir(os.path.dirname(old))
    except OSError:
        pass
    entry["file"] = os.path.relpath(new, HERE)
    return entry


def src(pin, paths, licence, note, **extra):
    return {"repo": pin[0], "commit": pin[1], "paths": paths, "licence": licence, "note": note, **extra}


def generated(note, **extra):
    return {"repo": "generated", "commit": "n/a", "paths": ["models/corpus/build_formats.py"],
            "licence": "CC0-1.0", "note": note, "generator_seed": SEED, **extra}


def pos_row(template, value, etype, label, **meta):
    """A row whose text is `template` with {v} replaced by `value`; offsets are exact."""
    start = template.index("{v}")
    text = template[:start] + value + template[start + 3:]
    out = {"text": text, "label": label,
           "entities": [{"type": etype, "value": value, "start": start, "end": start + len(value)}]}
    if meta:
        out["meta"] = meta
    return out


def neg_row(template, value, **meta):
    out = {"text": template.replace("{v}", value), "label": "benign", "entities": []}
    if meta:
        out["meta"] = meta
    return out


PHONE_TEMPLATES = ["Call me at {v} tomorrow.", "My mobile number is {v}.", "You can reach the office on {v}.",
                   "Contact: {v}", "Please ring {v} after 5pm.", "Tel. {v}", "Phone: {v} (ask for Maria)",
                   "If the line is busy, try {v} instead.", "Text me on {v} when you land.",
                   "Support hotline {v}, open weekdays."]
NEAR_TEMPLATES = ["Your order number is {v}.", "Invoice {v} was paid on time.", "Tracking ID: {v}",
                  "Upgrade to version {v} before Friday.", "The meeting is on {v}.", "Reference {v} in the subject line.",
                  "Build {v} passed all checks.", "Room {v}, second floor.", "Serial no. {v}", "PIN hint: {v}"]


# ------------------------------------------------------------------ phones (libphonenumber)
def _fmt_groups(nsn, territory, formats):
    """Splits a national significant number into its national groups using the metadata's
    numberFormat whose leadingDigits and pattern fit; None when no format fits."""
    for nf in formats:
        lds = nf.findall("leadingDigits")
        if lds and not re.match("".join(lds[-1].text.split()), nsn):
            continue
        pattern = "".join(nf.get("pattern").split())
        m = re.fullmatch(pattern, nsn)
        if not m:
            continue
        fmt = (nf.findtext("intlFormat") or nf.findtext("format") or "").strip()
        if fmt == "NA":
            fmt = nf.findtext("format").strip()
        national = m.expand(re.sub(r"\$(\d)", r"\\\1", fmt))
        return [g for g in re.split(r"[ \-./]", national) if g], nf.get("nationalPrefixFormattingRule")
    return None


def phones():
    path = "resources/PhoneNumberMetadata.xml"
    root = ET.fromstring(show_text(*LIBPHONE, path).encode("utf-8"))
    territories = root.find("territories")
    main_formats = {}
    for t in territories:
        if t.get("mainCountryForCode") == "true" or t.get("countryCode") not in main_formats:
            af = t.find("availableFormats")
            if af is not None and (t.get("mainCountryForCode") == "true" or t.get("countryCode") not in main_formats):
                main_formats[t.get("countryCode")] = list(af)
    rng = random.Random(SEED)
    rows = []
    for t in territories:
        region, cc, np_ = t.get("id"), t.get("countryCode"), t.get("nationalPrefix")
        if region == "001":
            continue
        af = t.find("availableFormats")
        formats = list(af) if af is not None else main_formats.get(cc, [])
        for kind in ("mobile", "fixedLine"):
            el = t.find(kind)
            nsn = el.findtext("exampleNumber") if el is not None else None
            if not nsn:
                continue
            got = _fmt_groups(nsn, t, formats)
            if got is None:
                groups, np_rule = [nsn[i:i + 3] for i in range(0, len(nsn), 3)], None
            else:
                groups, np_rule = got
            variants = {
                "intl_spaces": f"+{cc} " + " ".join(groups),
                "intl_dashes": f"+{cc}-" + "-".join(groups),
                "intl_dots": f"+{cc}." + ".".join(groups),
                "e164": f"+{cc}{nsn}",
                "idd_00": f"00{cc} " + " ".join(groups),
            }
            if np_ and np_rule and "$NP" in np_rule:
                first = np_rule.replace("$NP", np_).replace("$FG", groups[0])
                variants["national"] = " ".join([first] + groups[1:])
            elif not np_:
                variants["national"] = " ".join(groups)
            if len(groups) >= 2 and not np_rule:
                variants["parens"] = f"+{cc} ({groups[0]}) " + "-".join(groups[1:])
            elif len(groups) >= 2 and np_:
                variants["parens"] = f"({np_}{groups[0]}) " + " ".join(groups[1:])
            names = sorted(variants)
            picked = ["intl_spaces"] + rng.sample([n for n in names if n != "intl_spaces"], 1)
            for name in picked:
                rows.append(pos_row(rng.choice(PHONE_TEMPLATES), variants[name], "phone", "pii",
                                    region=region, kind=kind, style=name))
    # near misses: order numbers, dates, versions, short digit runs, long ids
    for i in range(420):
        style = i % 6
        if style == 0:
            v = f"#{rng.randint(100000, 999999)}-{rng.randint(10, 99)}"
        elif style == 1:
            v = f"{rng.randint(2000, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        elif style == 2:
            v = f"{rng.randint(0, 12)}.{rng.randint(0, 40)}.{rng.randint(0, 300)}"
        elif style == 3:
            v = str(rng.randint(100, 99999))
        elif style == 4:
            v = f"{rng.randint(1, 28):02d}.{rng.randint(1, 12):02d}.{rng.randint(1990, 2030)}"
        else:
            v = f"ORD-{rng.randint(10**7, 10**8 - 1)}"
        rows.append(neg_row(rng.choice(NEAR_TEMPLATES), v, near_miss="phone", style=style))
    return write_source("pii", "phones_libphonenumber", src(
        LIBPHONE, [path], "Apache-2.0",
        "exampleNumber of every region's mobile and fixedLine entry, grouped by the region's numberFormat, written as "
        "+CC with spaces and 1 further seeded pick of dashes/dots/E.164/00-prefix/national/parentheses = pii (phone); "
        "generated order numbers, dates, versions and short digit runs = benign.", generator_seed=SEED), rows)


# ------------------------------------------------------------------ cards (generated)
def luhn_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


BRANDS = [  # brand, prefixes, lengths
    ("visa", ["4"], [16]),
    ("mastercard", [str(p) for p in range(51, 56)] + ["2221", "2720", "2300"], [16]),
    ("amex", ["34", "37"], [15]),
    ("discover", ["6011", "65", "644"], [16]),
    ("jcb", ["3528", "3589", "3540"], [16]),
    ("diners", ["36", "38", "300"], [14]),
    ("unionpay", ["62"], [16, 17, 18, 19]),
]
CARD_TEMPLATES = ["Card number: {v}", "Please charge {v} for the deposit.", "I paid with {v}, exp 09/27.",
                  "Use the test card {v} in the sandbox.", "cc={v}", "My {b} is {v} if you need it.",
                  "Billing: {v} (CVV on request)"]


def group_card(num, brand, style, rng):
    if brand == "amex" or (brand == "diners" and len(num) == 14):
        parts = [num[:4], num[4:10], num[10:]]
    else:
        parts = [num[i:i + 4] for i in range(0, len(num), 4)]
    if style == "spaces":
        return " ".join(parts)
    if style == "dashes":
        return "-".join(parts)
    if style == "dots":
        return ".".join(parts)
    if style == "none":
        return num
    seps = [rng.choice([" ", "-", ""]) for _ in parts[1:]]  # mixed
    return parts[0] + "".join(s + p for s, p in zip(seps, parts[1:]))


def cards():
    rng = random.Random(SEED + 1)
    rows = []
    for brand, prefixes, lengths in BRANDS:
        for k in range(40):
            prefix, length = rng.choice(prefixes), rng.choice(lengths)
            body = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
            num = body + luhn_digit(body)
            style = ("spaces", "dashes", "dots", "none", "mixed")[k % 5]
            tpl = rng.choice(CARD_TEMPLATES).replace("{b}", brand.capitalize())
            if k % 2 == 0:
                rows.append(pos_row(tpl, group_card(num, brand, style, rng), "credit_card", "pii", brand=brand, style=style))
            else:
                bad = body + str((int(luhn_digit(body)) + rng.randint(1, 9)) % 10)  # Luhn broken
                rows.append(pos_row(tpl, group_card(num, brand, style, rng), "credit_card", "pii", brand=brand, style=style))
                rows.append(neg_row(tpl, group_card(bad, brand, style, rng), near_miss="luhn_broken", brand=brand))
    for k in range(60):
        twelve = "".join(str(rng.randint(0, 9)) for _ in range(12))
        rows.append(neg_row(rng.choice(NEAR_TEMPLATES), " ".join(twelve[i:i + 4] for i in range(0, 12, 4))
                            if k % 2 else twelve, near_miss="12_digits"))
    return write_source("pii", "cards_generated", generated(
        "Generated Luhn-valid card numbers (Visa, Mastercard incl. 2-series, Amex, Discover, JCB, Diners, UnionPay "
        "16-19) grouped with spaces/dashes/dots/none/mixed = pii (credit_card); the same bodies with a broken Luhn "
        "digit and 12-digit runs = benign."), rows)


# ------------------------------------------------------------------ IBAN (generated)
# ISO 13616 IBAN structure per country (SWIFT IBAN registry): BBAN as (count, class) runs,
# n = digits, a = upper-case letters, c = alphanumerics.
IBAN_BBAN = {
    "AD": "4n4n12c", "AT": "16n", "BE": "12n", "BG": "4a6n8c", "CH": "5n12c", "CY": "8n16c", "CZ": "20n",
    "DE": "18n", "DK": "14n", "EE": "16n", "ES": "20n", "FI": "14n", "FR": "10n11c2n", "GB": "4a14n",
    "GR": "7n16c", "HR": "17n", "HU": "24n", "IE": "4a14n", "IS": "22n", "IT": "1a10n12c", "LT": "16n",
    "LU": "3n13c", "LV": "4a13c", "MT": "4a5n18c", "NL": "4a10n", "NO": "11n", "PL": "24n", "PT": "21n",
    "RO": "4a16c", "SE": "20n", "SI": "15n", "SK": "20n", "TR": "5n1n16c", "SA": "2n18c", "AE": "3n16n",
    "IL": "3n3n13n", "BR": "8n5n10n1a1c", "MC": "10n11c2n", "SM": "1a10n12c", "LI": "5n12c",
}
IBAN_TEMPLATES = ["Please wire the refund to IBAN {v}.", "Bank details: {v} (BIC on request)", "IBAN: {v}",
                  "Rent goes to {v} by the 3rd.", "Send it to my account {v}, thanks!"]


def iban_check(country, bban):
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{98 - int(digits) % 97:02d}"


def ibans():
    rng = random.Random(SEED + 2)
    alpha, alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    rows = []
    for country in sorted(IBAN_BBAN):
        for k in range(4):
            bban = ""
            for count, cls in re.findall(r"(\d+)([nac])", IBAN_BBAN[country]):
                pool = "0123456789" if cls == "n" else alpha if cls == "a" else alnum
                bban += "".join(rng.choice(pool) for _ in range(int(count)))
            check = iban_check(country, bban)
            iban = country + check + bban
            spaced = " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
            value = spaced if k % 2 == 0 else iban
            tpl = rng.choice(IBAN_TEMPLATES)
            rows.append(pos_row(tpl, value, "iban", "pii", country=country, grouped=k % 2 == 0))
            if k < 2:
                wrong = f"{(int(check) + rng.randint(1, 40)) % 97 + 2:02d}"
                if wrong == check:
                    wrong = f"{(int(check) + 1) % 97 + 2:02d}"
                bad = country + wrong + bban
                rows.append(neg_row(tpl, " ".join(bad[i:i + 4] for i in range(0, len(bad), 4)) if k == 0 else bad,
                                    near_miss="iban_check_digits", country=country))
    return write_source("pii", "iban_generated", generated(
        "Generated mod-97-valid IBANs for 40 countries (BBAN structure per the ISO 13616 registry), grouped in 4s and "
        "unspaced = pii (iban); the same with wrong check digits = benign."), rows)


# ------------------------------------------------------------------ email / SSN / IP (generated)
def misc_pii():
    rng = random.Random(SEED + 3)
    names = ["jane.doe", "m.rossi", "li.wei", "o.okafor", "anna-maria", "j_smith42", "support+billing", "k.tanaka"]
    domains = ["example.com", "example.org", "mail.example.net", "uni-example.de", "example.co.uk"]
    rows = []
    for k in range(60):
        v = f"{rng.choice(names)}@{rng.choice(domains)}"
        rows.append(pos_row(rng.choice(["Email me at {v}.", "Contact: {v}", "cc {v} on the thread please",
                                        "Her address is {v} if you need it."]), v, "email", "pii"))
    for k in range(30):
        v = rng.choice(["name at example dot com", "@example.com", "user@", "first.last@localhost", "v2.1@beta"])
        rows.append(neg_row(rng.choice(["Don't write {v} literally.", "The handle {v} is not an address.",
                                        "Tag: {v}"]), v, near_miss="email"))
    for k in range(50):
        area = rng.choice([a for a in range(1, 900) if a != 666])
        v = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        rows.append(pos_row(rng.choice(["SSN: {v}", "My social security number is {v}.", "ssn={v}"]), v, "ssn", "pii"))
    for k in range(25):
        v = rng.choice([f"000-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}", f"666-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
                        f"{rng.randint(100, 899)}-00-{rng.randint(1000, 9999)}", f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-0000",
                        f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(100, 999)}"])
        rows.append(neg_row(rng.choice(["Part number {v}", "Call ext {v}", "Ticket {v} closed."]), v, near_miss="ssn"))
    for k in range(60):
        if k % 3 == 2:
            v = ":".join(f"{rng.randint(0, 65535):x}" for _ in range(8))
        else:
            v = ".".join(str(rng.randint(1, 254)) for _ in range(4))
        rows.append(pos_row(rng.choice(["Login from {v} was blocked.", "The server is at {v}.", "client_ip={v}",
                                        "My home IP is {v}."]), v, "ip_address", "pii"))
    for k in range(30):
        v = rng.choice([f"{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 99)}",
                        f"{rng.randint(256, 999)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}",
                        f"{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}"])
        rows.append(neg_row(rng.choice(["Release {v} is out.", "Section {v} of the spec.", "Bump to {v}."]), v, near_miss="ip"))
    return write_source("pii", "misc_pii_generated", generated(
        "Generated emails (example domains), SSN-shaped numbers (valid area/group/serial ranges) and IPv4/IPv6 "
        "addresses = pii; obfuscated/partial emails, invalid SSNs (000/666/00/0000), version and section numbers = benign."),
        rows)


# ------------------------------------------------------------------ secrets (Nosey Parker rules)
def _scalar(v):
    v = v.strip()
    if v.startswith("'") and v.endswith("'") and len(v) >= 2:
        return v[1:-1].replace("''", "'")
    if v.startswith('"') and v.endswith('"') and len(v) >= 2:
        return re.sub(r'\\(["\\/ntr])', lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), v[1:-1])
    return re.sub(r"\s+#.*$", "", v)


def _block(lines, i, parent, style):
    body, indent = [], None
    while i < len(lines):
        line = lines[i]
        if line.strip():
            ind = len(line) - len(line.lstrip(" "))
            if ind <= parent:
                break
            indent = ind if indent is None else indent
            body.append(line[indent:] if len(line) >= indent else line.strip())
        else:
            body.append("")
        i += 1
    while body and not body[-1]:
        body.pop()
    text = " ".join(b.strip() for b in body) if style.startswith(">") else "\n".join(body)
    return text, i


def parse_rules(text):
    """The `rules:` list of one Nosey Parker rule file (a small subset of YAML: mappings, lists,
    quoted/plain scalars and | / > block scalars)."""
    lines, rules, cur, curkey, i = text.split("\n"), [], None, None, 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 0 and stripped.startswith("- "):
            cur = {}
            rules.append(cur)
            line, indent = "  " + line[2:], 2
            stripped = line.strip()
        elif indent == 0:
            i += 1
            continue
        if cur is None:
            i += 1
            continue
        if indent == 2 and (stripped.startswith("- ") or stripped == "-") and isinstance(cur.get(curkey), list):
            v = stripped[1:].strip()
            if v in ("|", "|-", "|+", ">", ">-"):
                val, i = _block(lines, i + 1, indent, v)
                cur[curkey].append(val)
                continue
            if v.startswith("'") and not (len(v) > 1 and v.endswith("'")):
                while i + 1 < len(lines) and not v.endswith("'"):
                    i += 1
                    v += " " + lines[i].strip()
            cur[curkey].append(_scalar(v))
            i += 1
            continue
        m = re.match(r"^([A-Za-z_]+):\s*(.*)$", stripped)
        if indent == 2 and m:
            k, v = m.groups()
            curkey = k
            if v in ("|", "|-", "|+", ">", ">-"):
                cur[k], i = _block(lines, i + 1, indent, v)
                continue
            cur[k] = [] if v == "" else _scalar(v)
        i += 1
    return rules


def compile_rust(pattern):
    flags = 0
    for f in re.findall(r"\(\?([imsx]+)\)", pattern):
        for ch in f:
            flags |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[ch]
    pattern = re.sub(r"\(\?[imsx]+\)", "", pattern).replace(r"\z", r"\Z")
    return re.compile(pattern, flags)


SECRET_TYPES = {  # Nosey Parker rule id -> entity type (provider-named); others: slug of the rule name
    "np.aws.1": "aws_access_key", "np.aws.2": "aws_secret_key", "np.aws.3": "aws_account_id",
    "np.aws.4": "aws_session_token", "np.stripe.1": "stripe_key", "np.stripe.2": "stripe_test_key",
    "np.openai.1": "openai_key", "np.anthropic.1": "anthropic_key", "np.google.3": "gcp_api_key",
}


# Filed by Nosey Parker as identifiers, but credentials for a leak detector: the AWS access key id
# (half of a key pair), the MWS auth token and bearer JWTs.
ALWAYS_SECRET = {"np.aws.1", "np.aws.5", "np.jwt.1"}


def secret_type(rule):
    rid = rule.get("id", "")
    if rid in SECRET_TYPES:
        return SECRET_TYPES[rid]
    slug = re.sub(r"[^a-z0-9]+", "_", rule.get("name", rid).lower()).strip("_")
    provider = rid.split(".")[1] if rid.count(".") >= 2 else ""
    if provider and not slug.startswith(provider):
        slug = f"{provider}_{slug}"
    return slug


def secrets():
    paths = sorted(p for p in files(*NOSEY, NOSEY_RULES) if p.endswith(".yml"))
    rows, skipped, not_secret = [], [], []
    for path in paths:
        for rule in parse_rules(show_text(*NOSEY, path)):
            pattern = rule.get("pattern")
            if not isinstance(pattern, str):
                continue
            try:
                regex = compile_rust(pattern)
            except re.error:
                skipped.append(rule.get("id"))
                continue
            etype = secret_type(rule)
            cats = rule.get("categories") or []
            cats = re.findall(r"[a-z_-]+", cats) if isinstance(cats, str) else cats
            # Rules for identifiers (account ids, bucket names, client ids, public keys) are not secrets.
            examples = (rule.get("examples") or []) if "secret" in cats or rule.get("id") in ALWAYS_SECRET else []
            if not examples:
                not_secret.append(rule.get("id"))
            for ex in examples:
                ex = clean(ex)  # normalised and trimmed before offsets are taken
                if ex is None or len(ex) > MAX_CHARS:
                    continue
                m = regex.search(ex)
                if not m:
                    continue
                # One entity per non-empty capture (e.g. user and password of a connection string);
                # the whole match when the rule captures nothing.
                spans = [(m.start(g), m.end(g)) for g in range(1, m.re.groups + 1) if m.group(g)] or [m.span()]
                rows.append({"text": ex, "label": "secret",
                             "entities": [{"type": etype, "value": ex[s:e], "start": s, "end": e} for s, e in spans],
                             "meta": {"rule": rule.get("id"), "name": rule.get("name")}})
            for ex in (rule.get("negative_examples") or []) + (rule.get("non_examples") or []):
                ex = clean(ex)
                if ex and len(ex) <= MAX_CHARS and not regex.search(ex):
                    rows.append({"text": ex, "label": "benign", "entities": [],
                                 "meta": {"rule": rule.get("id"), "near_miss": True}})
    entry = write_source("secret", "secrets_noseyparker", src(
        NOSEY, [NOSEY_RULES + "/"], "Apache-2.0",
        "Nosey Parker rule `examples` = secret (entity = the rule regex's capture, located with Python re; examples "
        "the regex does not match, and rules not in the `secret` category, are skipped) and `negative_examples` the regex rejects = benign near misses.",
        rules_not_compiled=sorted(set(skipped)), rules_without_secret_category=sorted(set(not_secret))), rows)
    return entry


def main():
    entries = [place(e) for e in (phones(), cards(), ibans(), misc_pii(), secrets())]
    write_manifest("formats", entries)
    for e in entries:
        print(f"{e['task']:7} {e['source']:24} {e['rows']}")


if __name__ == "__main__":
    main()
