//! The built-in detectors: for each entity type, the pattern that finds candidates, the
//! window features without which it cannot match (so it is not even run), the judge that
//! validates and scores a candidate, and the longest entity it reports.

use super::context::{self, Words};
use super::entity::EntityType;
use super::features::Features;
use super::hit::{in_block, Found, Hit, Judge};
use super::window::seed;
use super::{assign, date, network, phone, secret, userinfo, validate, wallet};

/// One built-in detector.
pub struct Spec {
    pub kind: EntityType,
    /// Compiled with ASCII semantics (`unicode(false)`).
    pub pattern: &'static str,
    /// Whether the pattern can match in a window with these features at all.
    pub gate: fn(&Features) -> bool,
    pub judge: Judge,
    /// The longest entity this detector reports, for stream hold-back sizing.
    pub max_len: usize,
}

/// The detectors, in no particular order: overlaps are resolved after all have run.
pub const SPECS: [Spec; 31] = [
    Spec {
        kind: EntityType::Email,
        pattern: r"(?i)\b[a-z0-9._%+-]{1,64}@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,24}|xn--[a-z0-9-]{1,59})\b",
        gate: |f| f.at > 0,
        judge: email,
        max_len: 320,
    },
    Spec {
        kind: EntityType::UrlCredentials,
        pattern: r"(?i)\b[a-z][a-z0-9+.-]{1,15}://[a-z0-9._~%!$&*+,;=-]{0,128}:[a-z0-9._~%!$&*+,;=@-]{1,128}@[a-z0-9][a-z0-9.-]{0,252}",
        gate: |f| f.at > 0 && f.colons >= 2,
        judge: userinfo::url_credentials,
        max_len: 280,
    },
    Spec {
        kind: EntityType::PaymentCard,
        // Groups joined by one space, dot, dash, slash or underscore, or by " - ".
        pattern: r"\b(?:\d(?:[ ./_-]| - )?){11,18}\d\b",
        gate: |f| f.cluster >= 12 || f.digits >= 12,
        judge: payment_card,
        max_len: 35,
    },
    Spec {
        kind: EntityType::Iban,
        pattern: r"(?i)\b[a-z]{2}\d{2}(?:[ -]?[a-z0-9]){11,30}\b",
        gate: |f| f.cluster >= 8,
        judge: iban,
        max_len: 42,
    },
    Spec {
        kind: EntityType::AbaRouting,
        pattern: r"\b(?:\d{4}-\d{4}-\d|\d{9})\b",
        gate: |f| f.cluster >= 9,
        judge: aba_routing,
        max_len: 11,
    },
    Spec {
        kind: EntityType::BtcAddress,
        pattern: r"\b(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|bc1[02-9ac-hj-np-z]{8,87}|BC1[02-9AC-HJ-NP-Z]{8,87})\b",
        gate: |f| f.alnum_run >= 26,
        judge: wallet::btc,
        max_len: 90,
    },
    Spec {
        kind: EntityType::EthAddress,
        pattern: r"\b0x[0-9a-fA-F]{40}\b",
        gate: |f| f.alnum_run >= 42,
        judge: wallet::eth,
        max_len: 42,
    },
    Spec {
        kind: EntityType::UsSsn,
        pattern: r"\b(?:\d{3}[- .]\d{2}[- .]\d{4}|\d{9}|\d{3}-\d{6}|\d{5}-\d{4})\b",
        gate: |f| f.cluster >= 9,
        judge: us_ssn,
        max_len: 11,
    },
    Spec {
        kind: EntityType::UkNino,
        pattern: r"(?i)\b[a-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[a-d]\b",
        gate: |f| f.cluster >= 6,
        judge: uk_nino,
        max_len: 13,
    },
    Spec {
        kind: EntityType::EsDni,
        pattern: r"(?i)\b(?:[xyz]-?\d{7}|\d{7,8})-?[a-z]\b",
        gate: |f| f.cluster >= 7,
        judge: es_dni,
        max_len: 11,
    },
    Spec {
        kind: EntityType::InAadhaar,
        pattern: r"\b[2-9]\d{3}[ :-]?\d{4}[ :-]?\d{4}\b",
        gate: |f| f.cluster >= 12,
        judge: aadhaar,
        max_len: 14,
    },
    Spec {
        kind: EntityType::DateOfBirth,
        pattern: date::PATTERN,
        gate: |f| f.birth_word,
        judge: date::birth_date,
        max_len: 32,
    },
    Spec {
        kind: EntityType::Phone,
        pattern: r"\+?\(?\d[\d ().\-]{5,24}\d",
        gate: |f| f.cluster >= 7,
        judge: phone::phone,
        // The pattern's 28 bytes and an extension (" ext. 123456").
        max_len: 40,
    },
    Spec {
        kind: EntityType::Ipv4,
        pattern: r"\b(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?\b",
        gate: |f| f.dotted >= 3,
        judge: network::ipv4,
        max_len: 18,
    },
    Spec {
        kind: EntityType::Ipv6,
        pattern: r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,8}(?:\.\d{1,3}){0,3}(?:%[0-9a-z._-]{1,16})?(?:/\d{1,4})?",
        gate: |f| f.hex_colons >= 2,
        judge: network::ipv6,
        max_len: 64,
    },
    Spec {
        kind: EntityType::MacAddress,
        pattern: r"(?i)\b(?:[0-9a-f]{2}(?::[0-9a-f]{2}){5}|[0-9a-f]{2}(?:-[0-9a-f]{2}){5}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4})\b",
        gate: |f| f.hex_colons >= 5 || f.hex_dashes >= 5 || f.hex_dots >= 2,
        judge: network::mac,
        max_len: 17,
    },
    Spec {
        kind: EntityType::AwsAccessKey,
        pattern: r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
        gate: |f| f.seeds & seed::AWS != 0,
        judge: secret::aws_access_key,
        max_len: 20,
    },
    Spec {
        kind: EntityType::AwsSecretKey,
        pattern: r"[A-Za-z0-9/+]{40}",
        gate: |f| f.base64_run >= 40,
        judge: secret::aws_secret_key,
        max_len: 40,
    },
    Spec {
        kind: EntityType::GithubToken,
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
        gate: |f| f.seeds & seed::GITHUB != 0,
        judge: secret::github,
        max_len: 266,
    },
    Spec {
        kind: EntityType::GitlabToken,
        pattern: r"\b(?:gl(?:pat|dt|rt|ptt|soat|ffct|cbt|imt|agent|oas|ft)-[0-9A-Za-z_.-]{20,300}|GR1348941[0-9A-Za-z_-]{20,})",
        gate: |f| f.seeds & seed::GITLAB != 0,
        judge: secret::gitlab,
        max_len: 308,
    },
    Spec {
        kind: EntityType::SlackToken,
        pattern: r"\b(?:xox[abposre](?:\.xox[bp])?-[0-9A-Za-z-]{10,250}|xapp-\d-[A-Z0-9]{8,}-\d{6,}-[a-z0-9]{16,}|(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,160})",
        gate: |f| f.seeds & seed::SLACK != 0,
        judge: secret::slack,
        max_len: 260,
    },
    Spec {
        kind: EntityType::StripeKey,
        pattern: r"\b(?:sk|rk)_(?:live|test|prod)_[0-9A-Za-z]{10,247}\b",
        gate: |f| f.seeds & seed::STRIPE != 0,
        judge: secret::stripe,
        max_len: 255,
    },
    Spec {
        kind: EntityType::GoogleApiKey,
        pattern: r"\bAIza[0-9A-Za-z_-]{35}",
        gate: |f| f.seeds & seed::GOOGLE != 0,
        judge: secret::google,
        max_len: 39,
    },
    Spec {
        kind: EntityType::OpenAiKey,
        pattern: r"\bsk-(?:(?:proj|svcacct|admin)-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}|\bsk-[A-Za-z0-9]{48}\b",
        gate: |f| f.seeds & seed::OPENAI != 0,
        judge: secret::openai,
        max_len: 256,
    },
    Spec {
        kind: EntityType::AnthropicKey,
        pattern: r"\bsk-ant-(?:api|admin|sid|oat|ort)\d{2}-[A-Za-z0-9_-]{80,120}",
        gate: |f| f.seeds & seed::ANTHROPIC != 0,
        judge: secret::anthropic,
        max_len: 136,
    },
    Spec {
        kind: EntityType::ProviderToken,
        pattern: PROVIDER_TOKEN,
        gate: |f| f.seeds & seed::PROVIDER != 0 || f.alnum_run >= 16 || f.q_tilde,
        judge: secret::provider,
        max_len: 320,
    },
    Spec {
        kind: EntityType::Jwt,
        pattern: r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{2,}(?:\.[A-Za-z0-9_-]*)?",
        gate: |f| f.seeds & seed::JWT != 0,
        judge: secret::jwt,
        max_len: 2048,
    },
    Spec {
        kind: EntityType::PrivateKey,
        pattern: r"-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----",
        gate: |f| f.seeds & seed::PEM != 0,
        judge: secret::private_key,
        // The header alone: it already says a key follows, so holding it back suffices.
        max_len: 64,
    },
    Spec {
        kind: EntityType::PasswordAssignment,
        pattern: assign::PATTERN,
        gate: |f| f.seeds & seed::ASSIGN != 0,
        judge: assign::assignment,
        max_len: 260,
    },
    Spec {
        kind: EntityType::PasswordAssignment,
        pattern: userinfo::CURL_USER_PATTERN,
        gate: |f| f.seeds & seed::CURL != 0,
        judge: userinfo::curl_user,
        max_len: 260,
    },
    Spec {
        kind: EntityType::HighEntropyToken,
        // Found by its own pass over the whole text (see `entropy`), when enabled.
        pattern: "",
        gate: |_| false,
        judge: |_| None,
        max_len: 0,
    },
];

/// Tokens of other providers, by their published formats: a fixed prefix, then a body of
/// a fixed alphabet and length. Each alternative is specific enough on its own; the judge
/// still wants the body random and the token alone.
pub const PROVIDER_TOKEN: &str = concat!(
    r"\b(?:",
    // AI APIs and the tools around them: Hugging Face, Replicate, Groq, Perplexity, xAI,
    // OpenRouter, DeepSeek, LangSmith, Pinecone, NVIDIA, Cerebras, Langfuse, Tavily.
    r"hf_[A-Za-z]{34}|api_org_[A-Za-z]{34}|r8_[A-Za-z0-9]{37}|gsk_[A-Za-z0-9]{52}",
    r"|pplx-[A-Za-z0-9]{48}|xai-[A-Za-z0-9]{80}|sk-or-v1-[a-f0-9]{64}|sk-[a-f0-9]{32}",
    r"|lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}|pcsk_[A-Za-z0-9]{4,8}_[A-Za-z0-9]{40,80}",
    r"|nvapi-[A-Za-z0-9_-]{64}|csk-[a-z0-9]{48}|tvly-(?:dev-|prod-)?[A-Za-z0-9]{32}",
    r"|sk-lf-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}",
    // Package registries: npm, PyPI, RubyGems, Clojars, NuGet.
    r"|npm_[A-Za-z0-9]{36}|pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{50,}|rubygems_[a-f0-9]{48}",
    r"|CLOJARS_[a-z0-9]{60}|oy2[a-z0-9]{43}",
    // Messaging and mail: SendGrid, Twilio, Telegram, Discord, Mailgun, Mailchimp, Brevo,
    // Firebase Cloud Messaging.
    r"|SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}|SK[0-9a-f]{32}|\d{8,10}:AA[A-Za-z0-9_-]{33}",
    r"|[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,38}",
    r"|key-[0-9a-z]{32}|[0-9a-f]{32}-us\d{1,2}|xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}",
    // Social: Facebook user, page and app tokens; Discord webhooks.
    r"|EAA[A-Za-z0-9]{90,}|\d{15,16}\|[A-Za-z0-9_-]{27}",
    r"|(?:https?://)?(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/[A-Za-z0-9_-]{60,68}",
    r"|AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{134}",
    // Payments and commerce: Square, Shopify, Stripe webhooks, Shippo, Plaid, Razorpay,
    // Braintree.
    r"|sq0atp-[A-Za-z0-9_-]{22}|sq0csp-[A-Za-z0-9_-]{43}|EAAA[A-Za-z0-9_-]{60}",
    r"|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}|whsec_[A-Za-z0-9]{32,}|shippo_(?:live|test)_[a-f0-9]{40}",
    r"|access-(?:sandbox|development|production)-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}",
    r"|rzp_(?:live|test)_[A-Za-z0-9]{14}",
    r"|access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32}",
    // Cloud: DigitalOcean, Alibaba, Tencent, Azure AD secrets, Google OAuth, Bedrock, Fly.io,
    // Heroku, Supabase, Databricks, Doppler, Dynatrace, HashiCorp Vault and Terraform Cloud.
    r"|do[opr]_v1_[a-f0-9]{64}|LTAI[A-Za-z0-9]{20}|AKID[A-Za-z0-9]{32}",
    r"|GOCSPX-[A-Za-z0-9_-]{28}|ya29\.[A-Za-z0-9_-]{30,}",
    r"|ABSK[A-Za-z0-9+/]{109,269}={0,2}|bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/]*={0,2}",
    r"|fo1_[A-Za-z0-9_-]{43}|FlyV1 fm\d[a-z]?_[A-Za-z0-9+/=_-]{100,}|HRKU-AA[A-Za-z0-9_-]{58}",
    r"|v1\.0-[a-f0-9]{24}-[a-f0-9]{146}|4b1d[A-Za-z0-9]{38}",
    r"|sbp_[a-f0-9]{40}|dapi[a-f0-9]{32}(?:-\d)?|dp\.(?:pt|st|sa|ct|scim|audit)\.(?:[a-z0-9_-]{2,35}\.)?[A-Za-z0-9]{40,44}",
    r"|dt0c01\.[A-Z0-9]{24}\.[A-Z0-9]{64}|hv[sbr]\.[A-Za-z0-9_-]{24,}",
    r"|[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}",
    // Developer tools: Atlassian, Bitbucket, Linear, Notion, Postman, Figma, Grafana,
    // Pulumi, Sentry, Sourcegraph, 1Password, PlanetScale, New Relic, Sonar, Contentful,
    // Typeform, Prefect, Infracost, Scalingo, OpenShift, JFrog, Airtable, age, 42 intra,
    // MaxMind.
    r"|ATATT3[A-Za-z0-9_=-]{100,300}|ATBB[A-Za-z0-9]{32}|lin_api_[A-Za-z0-9]{40}",
    r"|secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{46}|PMAK-[a-f0-9]{24}-[a-f0-9]{34}|figd_[A-Za-z0-9_-]{40}",
    r"|glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|pul-[a-f0-9]{40}",
    r"|sntry[su]_[A-Za-z0-9_=+/.-]{40,}|sgp_(?:(?:[a-fA-F0-9]{16}|local)_)?[a-fA-F0-9]{40}",
    r"|ops_eyJ[A-Za-z0-9+/]{250,}={0,3}|pscale_tkn_[A-Za-z0-9_.=-]{32,64}|NRAK-[A-Z0-9]{27}",
    r"|sq[pua]_[a-f0-9]{40}|CFPAT-[A-Za-z0-9_-]{43}|tfp_[A-Za-z0-9_.=-]{59}|pnu_[A-Za-z0-9]{36}",
    r"|ico-[A-Za-z0-9]{32}|tk-us-[A-Za-z0-9_-]{48}|sha256~[A-Za-z0-9_-]{43}|AKCp[A-Za-z0-9]{69}",
    r"|pat[A-Za-z0-9]{14}\.[a-f0-9]{64}|AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
    r"|A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}",
    r"|s-s4t2(?:ud|af)-[a-f0-9]{64}|[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk",
    r")(?:\b|$)",
    // Azure AD client secrets may open with `~` or `.`, where `\b` cannot hold; the judge
    // still wants them alone.
    r"|[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?:\b|$)",
);

/// Words that name a US Social Security number.
const SSN_WORDS: Words = Words::new(&[
    "ssn",
    "ssns",
    "social security",
    "social security number",
    "ss#",
    "ss no",
    "soc sec",
    "taxpayer",
]);
const ABA_WORDS: Words = Words::new(&[
    "routing",
    "aba",
    "rtn",
    "routing number",
    "routing no",
    "transit number",
    "bank routing",
]);
const NINO_WORDS: Words = Words::new(&[
    "nino",
    "national insurance",
    "ni number",
    "ni no",
    "insurance number",
]);
const DNI_WORDS: Words = Words::new(&[
    "dni",
    "nie",
    "nif",
    "documento",
    "identidad",
    "identificación",
    "identificacion",
    "extranjero",
    "cif",
]);
const AADHAAR_WORDS: Words = Words::new(&["aadhaar", "aadhar", "uid", "uidai", "आधार"]);

/// Adds the context boost when one of `words` is near the hit.
fn with_context(hit: &Hit<'_>, base: f32, words: &Words) -> f32 {
    let near = context::around(hit.text, hit.start, hit.end, words);
    (base + if near { 0.35 } else { 0.0 }).min(1.0)
}

/// The separators of a digit string, if they are all the same (`Some(None)` if none).
fn one_separator(text: &str) -> Option<Option<u8>> {
    let mut seps = text.bytes().filter(|b| !b.is_ascii_alphanumeric());
    let first = seps.next();
    seps.all(|b| Some(b) == first).then_some(first)
}

fn email(hit: Hit<'_>) -> Option<Found> {
    let local = hit.as_str().split('@').next().unwrap_or_default();
    let bad_local = local.starts_with('.') || local.ends_with('.') || local.contains("..");
    (!bad_local).then(|| hit.found(0.9)).flatten()
}

/// A card number whose groups are all joined the same way.
fn payment_card(hit: Hit<'_>) -> Option<Found> {
    let text = hit.as_str();
    let joined: std::borrow::Cow<'_, str> = if text.contains(" - ") {
        text.replace(" - ", "-").into()
    } else {
        text.into()
    };
    (validate::payment_card(&joined) && one_separator(&joined).is_some())
        .then(|| hit.found(0.95))
        .flatten()
}

/// An IBAN, cut to its country's length: the pattern may run on into the next word.
fn iban(hit: Hit<'_>) -> Option<Found> {
    let text = hit.as_str();
    let length = validate::iban_length(text.get(..2)?)?;
    let mut taken = 0;
    let mut end = 0;
    for (i, b) in text.bytes().enumerate() {
        if b.is_ascii_alphanumeric() {
            taken += 1;
            if taken == length {
                end = i + 1;
                break;
            }
        }
    }
    let candidate = text.get(..end)?;
    let next = text.as_bytes().get(end).copied().or(hit.after(0));
    if end == 0 || next.is_some_and(|b| b.is_ascii_alphanumeric()) || !validate::iban(candidate) {
        return None;
    }
    Some(Found {
        start: hit.start,
        end: hit.start + end,
        score: 0.95,
    })
}

/// Nine digits pass the ABA checksum one time in ten, so bare ones need a routing word
/// near; the `dddd-dddd-d` layout is the routing number's own and stands alone.
fn aba_routing(hit: Hit<'_>) -> Option<Found> {
    if !validate::aba_routing(hit.as_str()) || in_block(&hit) {
        return None;
    }
    let base = if hit.as_str().contains('-') { 0.6 } else { 0.3 };
    let score = with_context(&hit, base, &ABA_WORDS);
    (score >= 0.6).then(|| hit.found(score)).flatten()
}

/// `078-05-1120` formats stand alone; bare or oddly grouped digits need an SSN word.
fn us_ssn(hit: Hit<'_>) -> Option<Found> {
    let text = hit.as_str();
    if !validate::us_ssn(text) || in_block(&hit) {
        return None;
    }
    let groups: Vec<usize> = text
        .split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .collect();
    let formatted = groups == [3, 2, 4] && one_separator(text).is_some();
    let base = if formatted { 0.65 } else { 0.3 };
    hit.found(with_context(&hit, base, &SSN_WORDS))
}

fn uk_nino(hit: Hit<'_>) -> Option<Found> {
    validate::uk_nino(hit.as_str())
        .then(|| hit.found(with_context(&hit, 0.6, &NINO_WORDS)))
        .flatten()
}

fn es_dni(hit: Hit<'_>) -> Option<Found> {
    validate::es_dni(hit.as_str())
        .then(|| hit.found(with_context(&hit, 0.6, &DNI_WORDS)))
        .flatten()
}

/// Grouped 4-4-4 Aadhaar numbers stand alone; twelve bare digits need an Aadhaar word.
fn aadhaar(hit: Hit<'_>) -> Option<Found> {
    let text = hit.as_str();
    let separator = one_separator(text)?;
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if !validate::aadhaar(&digits) || in_block(&hit) {
        return None;
    }
    let base = if separator.is_some() { 0.8 } else { 0.4 };
    hit.found(with_context(&hit, base, &AADHAAR_WORDS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::RegexBuilder;

    #[test]
    fn every_pattern_compiles_and_every_type_has_a_spec() {
        for spec in &SPECS {
            if !spec.pattern.is_empty() {
                let built = RegexBuilder::new(spec.pattern).unicode(false).build();
                assert!(built.is_ok(), "{:?}: {:?}", spec.kind, built.err());
            }
        }
        for kind in EntityType::ALL {
            assert!(SPECS.iter().any(|s| s.kind == kind), "{kind:?}");
        }
    }
}
