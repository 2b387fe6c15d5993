use super::*;

fn kinds(text: &str) -> Vec<(EntityType, &str)> {
    find_entities(text)
        .into_iter()
        .filter_map(|e| match e.kind {
            EntityKind::Builtin(t) => Some((t, &text[e.start..e.end])),
            EntityKind::Custom(_) => None,
        })
        .collect()
}

fn found(text: &str, kind: EntityType) -> Vec<&str> {
    kinds(text)
        .into_iter()
        .filter(|(k, _)| *k == kind)
        .map(|(_, s)| s)
        .collect()
}

#[test]
fn every_builtin_compiles() {
    let with_pattern = SPECS.iter().filter(|s| !s.pattern.is_empty()).count();
    assert_eq!(builtins().len(), with_pattern);
}

#[test]
fn finds_the_done_when_entities_and_leaves_look_alikes() {
    let text = "Mail ada@example.com, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, key AKIAIOSFODNN7EXAMPLE.";
    assert_eq!(
        kinds(text),
        vec![
            (EntityType::Email, "ada@example.com"),
            (EntityType::PaymentCard, "4111 1111 1111 1111"),
            (EntityType::Iban, "DE89 3704 0044 0532 0130 00"),
            (EntityType::AwsAccessKey, "AKIAIOSFODNN7EXAMPLE"),
        ]
    );
    assert!(kinds("card 4111 1111 1111 1112 and order 1234-5678-9012").is_empty());
    assert!(kinds("ssn 000-12-3456, version 1.2.3").is_empty());
}

/// Tokens of providers without a type of their own, built here from each format (a
/// random-looking body of the right alphabet and length), and look-alikes left alone.
#[test]
fn finds_other_providers_tokens_and_leaves_placeholders() {
    let body = |alphabet: &str, n: usize| -> String {
        let a: Vec<char> = alphabet.chars().collect();
        let mut state = 0x2545_f491u32 ^ n as u32;
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                a[(state >> 16) as usize % a.len()]
            })
            .collect()
    };
    let alnum = "aB3dE5fG7hJ9kL2mN4pQ6rS8tU1vW0xYz";
    let hex = "0123456789abcdef";
    let tokens = [
        format!("hf_{}", body("aBcDeFgHiJkLmNoPqRsTuVwXyZ", 34)),
        format!("npm_{}", body(alnum, 36)),
        format!("SG.{}.{}", body(alnum, 22), body(alnum, 43)),
        format!("dop_v1_{}", body(hex, 64)),
        format!("lin_api_{}", body(alnum, 40)),
        format!("sq0csp-{}", body(alnum, 43)),
        format!("gsk_{}", body(alnum, 52)),
        format!("pplx-{}", body(alnum, 48)),
        format!("shpat_{}", body(hex, 32)),
        format!("xkeysib-{}-{}", body(hex, 64), body(alnum, 16)),
        format!("123456789:AA{}", body(alnum, 33)),
        format!("sntrys_eyJ{}_{}", body(alnum, 80), body(alnum, 43)),
        format!("2Vq7Q~{}", body(alnum, 31)),
        format!("~Gg8Q~{}", body(alnum, 34)),
        format!("EAAM9G{}", body(alnum, 160)),
        format!("1308742762612587|{}", body(alnum, 27)),
        format!("FlyV1 fm2_{}", body(alnum, 240)),
        format!(
            "A3-{}-{}-{}-{}-{}",
            body("ABCDEFGHJKLMNPQRSTVWXYZ23456789", 6),
            body("ABCDEFGHJKLMNPQRSTVWXYZ23456789", 11),
            body("ABCDEFGHJKLMNPQRSTVWXYZ23456789", 5),
            body("ABCDEFGHJKLMNPQRSTVWXYZ2345678", 5),
            body("ABCDEFGHJKLMNPQRSTVWXYZ234567", 5)
        ),
        format!("s-s4t2ud-{}", body(hex, 64)),
        format!("v1.0-{}-{}", body(hex, 24), body(hex, 146)),
        format!("4b1d{}", body(alnum, 38)),
        format!("{}_{}_mmk", body(alnum, 6), body(alnum, 29)),
        format!("nvapi-{}", body(alnum, 64)),
        format!("csk-{}", body("abcdefghijklmnopqrstuvwxyz0123456789", 48)),
        format!("tvly-{}", body(alnum, 32)),
        format!("tvly-dev-{}", body(alnum, 32)),
        format!(
            "sk-lf-{}-{}-{}-{}-{}",
            body(hex, 8),
            body(hex, 4),
            body(hex, 4),
            body(hex, 4),
            body(hex, 12)
        ),
        "access-sandbox-5cd6e1b1-1b5b-459d-9284-366e2da89755".to_string(),
        "access-development-0f3a9c47-8e21-4b6d-a5f0-27c94e1d83b6".to_string(),
        "access-production-9b2e4d71-3c58-4af6-8e09-d61a7f25c3e4".to_string(),
        format!("rzp_live_{}", body(alnum, 14)),
        format!(
            "https://discord.com/api/webhooks/1187245372341899264/{}",
            body(alnum, 68)
        ),
        // The short-lived Bedrock key is a presigned URL to bedrock.amazonaws.com, in base64.
        format!(
            "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t{}",
            body(alnum, 60)
        ),
    ];
    for token in &tokens {
        let text = format!("config: {token} (rotate it)");
        assert_eq!(
            found(&text, EntityType::ProviderToken),
            vec![token.as_str()],
            "{token}"
        );
    }
    for text in [
        "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "npm_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "the secret_sauce_recipe_is_in_the_wiki_page_today_ok",
        "my_hf_token_goes_here",
        "A3-AAAAAA-AAAAAAAAAAA-AAAAA-AAAAA-AAAAA",
        "EAAxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "a Q~ in prose, and see 2Vq7Q~ alone",
        "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29x",
        "tvly-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "nvapi-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "sk-lf-00000000-0000-0000-0000-000000000000",
        "https://discord.com/api/webhooks/123456789012345678/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "the csk-related-fields-are-documented-in-the-readme-of-the-project-ok",
    ] {
        assert!(found(text, EntityType::ProviderToken).is_empty(), "{text}");
    }
}

/// Cards with spaces, dashes, dots, slashes, underscores, " - " or nothing between digit
/// groups; mixed separators are not one number.
#[test]
fn finds_cards_with_any_separator() {
    for card in [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111.1111.1111.1111",
        "4111111111111111",
        "3782 822463 10005",
        "4111/1111/1111/1111",
        "4111_1111_1111_1111",
        "4111 - 1111 - 1111 - 1111",
        "5500 - 0000 - 0000 - 0004",
    ] {
        let text = format!("pay with {card} today");
        assert_eq!(found(&text, EntityType::PaymentCard), vec![card], "{card}");
    }
    assert!(found(
        "pay with 4111.1111-1111 1111 today",
        EntityType::PaymentCard
    )
    .is_empty());
    assert!(found("version 4111.1111.1111.1112", EntityType::PaymentCard).is_empty());
    assert!(found("path 4111/1111-1111_1111 here", EntityType::PaymentCard).is_empty());
}

#[test]
fn finds_secrets_by_their_prefixes() {
    let github = format!("ghp_{}", "a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuVwXyZ");
    let text = format!("token {github} and -----BEGIN RSA PRIVATE KEY----- here");
    let found = kinds(&text);
    assert_eq!(found[0], (EntityType::GithubToken, github.as_str()));
    assert_eq!(found[1].0, EntityType::PrivateKey);
}

#[test]
fn contact_and_identity_entities() {
    assert_eq!(
        found("Call (415) 555-0132 today", EntityType::Phone),
        ["(415) 555-0132"]
    );
    assert_eq!(
        found("Tel: 020 7946 0018", EntityType::Phone),
        ["020 7946 0018"]
    );
    assert!(found("order 4155550132 shipped", EntityType::Phone).is_empty());
    assert_eq!(
        found("SSN 078-05-1121.", EntityType::UsSsn),
        ["078-05-1121"]
    );
    assert_eq!(
        found("my NINO is AB 12 34 56 C", EntityType::UkNino),
        ["AB 12 34 56 C"]
    );
    assert_eq!(found("DNI 12345678Z", EntityType::EsDni), ["12345678Z"]);
    assert_eq!(
        found("Aadhaar 2345 6789 0124", EntityType::InAadhaar),
        ["2345 6789 0124"]
    );
    assert_eq!(
        found("born on 12 March 1990", EntityType::DateOfBirth),
        ["12 March 1990"]
    );
    assert!(found("met on 12 March 1990", EntityType::DateOfBirth).is_empty());
    assert_eq!(
        found("ABA routing 121000358", EntityType::AbaRouting),
        ["121000358"]
    );
    assert!(found("invoice 121000358", EntityType::AbaRouting).is_empty());
}

#[test]
fn network_and_wallet_entities() {
    assert_eq!(
        found("from 192.168.0.1, ok", EntityType::Ipv4),
        ["192.168.0.1"]
    );
    assert_eq!(
        found("via [2001:db8::1]:80", EntityType::Ipv6),
        ["2001:db8::1"]
    );
    assert_eq!(
        found("MAC aa:bb:cc:dd:ee:01", EntityType::MacAddress),
        ["aa:bb:cc:dd:ee:01"]
    );
    assert_eq!(
        found("Cisco 0012.3456.789a port", EntityType::MacAddress),
        ["0012.3456.789a"]
    );
    assert!(kinds("Version 1.2.3.4 and std::cout and 12:34:56").is_empty());
    assert_eq!(
        found(
            "pay 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy now",
            EntityType::BtcAddress
        ),
        ["3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"]
    );
    assert_eq!(
        found(
            "to 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            EntityType::EthAddress
        ),
        ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"]
    );
}

#[test]
fn credentials_by_name_and_in_urls() {
    assert_eq!(
        found("db_password=Zx8!pQ2wLm", EntityType::PasswordAssignment),
        ["Zx8!pQ2wLm"]
    );
    assert_eq!(
        found(
            "see https://admin:s3cret@db.example.com/x",
            EntityType::UrlCredentials
        ),
        ["admin:s3cret"]
    );
    let key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let text = format!("aws_secret_access_key = \"{key}\"");
    assert_eq!(
        kinds(&text),
        [(EntityType::AwsSecretKey, key)],
        "specific beats generic"
    );
    let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    let text = format!("Authorization: Bearer {jwt}");
    assert_eq!(kinds(&text), [(EntityType::Jwt, jwt)]);
}

#[test]
fn custom_entities_and_entropy_are_configurable() {
    let config = ScannerConfig {
        custom: vec![CustomEntity {
            name: "employee_id".into(),
            pattern: r"EMP-\d{6}".into(),
            validator: CustomValidator::None,
            context: vec!["employee".into()],
            score: 0.3,
        }],
        entropy: Some(EntropySettings {
            min_length: 20,
            min_bits_per_char: 4.0,
        }),
        min_score: 0.5,
    };
    let scanner = Scanner::new(&config).unwrap();
    let text =
        "employee EMP-123456; blob Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB and much later EMP-654321";
    let entities = scanner.find(text);
    assert_eq!(entities.len(), 2);
    assert_eq!(scanner.name(entities[0].kind), "employee_id");
    assert_eq!(scanner.class(entities[0].kind), EntityClass::Custom);
    assert_eq!(scanner.name(entities[1].kind), "high_entropy_token");
    assert!(scanner.max_entity_len() >= 2048);
    let bad = ScannerConfig {
        custom: vec![CustomEntity {
            pattern: "a*".into(),
            ..config.custom[0].clone()
        }],
        ..ScannerConfig::default()
    };
    assert!(matches!(Scanner::new(&bad), Err((0, reason)) if reason.contains("empty")));
    assert!(!format!("{scanner:?}").is_empty());
}

#[test]
fn offsets_stay_on_character_boundaries_in_multibyte_text() {
    let text = "Grüße 🦀 an jörg@exämple.de und ada@example.com, Tél 01 42 68 53 00 née le 1er mars 1990 💳 4111111111111111";
    for entity in find_entities(text) {
        assert!(text.is_char_boundary(entity.start) && text.is_char_boundary(entity.end));
    }
    let found = kinds(text);
    assert!(found.contains(&(EntityType::Email, "ada@example.com")));
    assert!(found.contains(&(EntityType::Phone, "01 42 68 53 00")));
    assert!(found.contains(&(EntityType::DateOfBirth, "1er mars 1990")));
    assert!(found.contains(&(EntityType::PaymentCard, "4111111111111111")));
}

#[test]
fn ordinary_technical_text_is_left_alone() {
    let text = "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 on 2024-03-15T14:30:00Z \
        (epoch 1710513000, 1710513000123 ms), id 550e8400-e29b-41d4-a716-446655440000, \
        release 10.0.19041.1, v1.2.3.4, ISBN 978-3-16-148410-0, order #123456789, \
        UPS 1Z999AA10123456784, price $1,234,567.89, colour #ff00aa, std::vector<int>, \
        a :: b, ratio 16:9 at 12:30:45, image iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==, \
        sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.";
    assert_eq!(kinds(text), []);
}

#[test]
fn adversarial_text_is_bounded_and_safe() {
    let start = std::time::Instant::now();
    for text in [
        "9".repeat(1 << 20),
        "@".repeat(1 << 20),
        "4111 ".repeat(200_000),
        "a@b.".repeat(250_000),
        "AKIA".repeat(250_000),
        "1.2.3.4.".repeat(125_000),
        ":".repeat(1 << 20),
        "password=".repeat(100_000),
        "eyJ".repeat(300_000),
        "-----BEGIN PRIVATE KEY-----".repeat(30_000),
        "é1".repeat(300_000),
    ] {
        let entities = find_entities(&text);
        for e in entities {
            assert!(text.is_char_boundary(e.start) && text.is_char_boundary(e.end));
        }
    }
    // Generous, for unoptimised builds on a busy machine: the point is no blow-up.
    assert!(start.elapsed().as_secs() < 120);
}

/// Open-ended token bodies (Fly.io, Facebook, Bedrock) on a body far longer than any window:
/// no run longer than any real token is claimed as one.
#[test]
fn long_open_ended_tokens_stay_bounded() {
    for prefix in [
        "FlyV1 fm2_",
        "EAAM9G",
        "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t",
    ] {
        let text = format!("token: {prefix}{}", "aB3dE5fG7h".repeat(20_000));
        let entities = find_entities(&text);
        let long: Vec<_> = entities
            .iter()
            .filter(|e| e.end - e.start > 4096)
            .map(|e| (e.kind, e.start, e.end))
            .collect();
        assert!(long.is_empty(), "{prefix}: {long:?}");
    }
}

/// Formats of AI, tooling and cloud providers a gateway's traffic carries, and
/// credentials given in connection strings and URLs without a user.
#[test]
fn finds_more_providers_and_connection_secrets() {
    for (text, kind, secret) in [
        (
            "key 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 ok",
            EntityType::ProviderToken,
            "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",
        ),
        (
            "DEEPSEEK=sk-adb59261ff2d3c425c8d99d19bdd0b6c",
            EntityType::ProviderToken,
            "sk-adb59261ff2d3c425c8d99d19bdd0b6c",
        ),
        (
            "LANGSMITH_API_KEY 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",
            EntityType::ProviderToken,
            "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",
        ),
        (
            "token sgp_0D697F54cb24238EefB29af05Abf1b505E90950F",
            EntityType::ProviderToken,
            "sgp_0D697F54cb24238EefB29af05Abf1b505E90950F",
        ),
        (
            "MAILGUN=key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
            EntityType::ProviderToken,
            "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
        ),
        (
            "AccountName=foo;AccountKey=lJzRc1YdHaAA2KCNJJ1tkYwF/+mKK6Ygw0NGe170Xu592euJv2wYUtBlV8z+qnlcNQSnIYVTkLWntUO1F8j8rQ==;EndpointSuffix=core.windows.net",
            EntityType::PasswordAssignment,
            "lJzRc1YdHaAA2KCNJJ1tkYwF/+mKK6Ygw0NGe170Xu592euJv2wYUtBlV8z+qnlcNQSnIYVTkLWntUO1F8j8rQ==",
        ),
        (
            "redis://:V3AyAVHnyrvWdFrK9xiR@cache:6379/0",
            EntityType::UrlCredentials,
            ":V3AyAVHnyrvWdFrK9xiR",
        ),
        (
            "curl --user kevin:'pRf7vG2h1L8nQkW9' -iX PATCH https://api.example.com",
            EntityType::PasswordAssignment,
            "kevin:'pRf7vG2h1L8nQkW9'",
        ),
    ] {
        assert_eq!(found(text, kind), vec![secret], "{text}");
    }
    for text in [
        "minisat-master-keying:x64-uwp=fail",
        "redis://:password@cache:6379/0",
        "key-value store with key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "assets/media/video_box.ico-7a388b69018576d24b59331fd60aab0c.png",
    ] {
        assert!(kinds(text).is_empty(), "{text}: {:?}", kinds(text));
    }
}
