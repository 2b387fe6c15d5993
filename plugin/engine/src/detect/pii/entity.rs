//! What the scanner reports: entity types, the classes policies act on, how sensitive each
//! class is, and the found entities themselves. Names are the ones policies and records use.

/// A family of entity types that a policy can act on as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityClass {
    Contact,
    Financial,
    GovernmentId,
    Credential,
    Network,
    Custom,
}

impl EntityClass {
    pub const ALL: [EntityClass; 6] = [
        EntityClass::Contact,
        EntityClass::Financial,
        EntityClass::GovernmentId,
        EntityClass::Credential,
        EntityClass::Network,
        EntityClass::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityClass::Contact => "contact",
            EntityClass::Financial => "financial",
            EntityClass::GovernmentId => "government_id",
            EntityClass::Credential => "credential",
            EntityClass::Network => "network",
            EntityClass::Custom => "custom",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// How much harm a leak does: a credential opens systems, an IP address rarely names a
    /// person on its own. Custom entities are unknown, so they sit in the middle.
    pub fn sensitivity(self) -> Sensitivity {
        match self {
            EntityClass::Network => Sensitivity::Low,
            EntityClass::Contact | EntityClass::Custom => Sensitivity::Medium,
            EntityClass::Financial | EntityClass::GovernmentId => Sensitivity::High,
            EntityClass::Credential => Sensitivity::Critical,
        }
    }
}

/// How much harm leaking an entity of a class does, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sensitivity {
    Low,
    Medium,
    High,
    Critical,
}

impl Sensitivity {
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Low => "low",
            Sensitivity::Medium => "medium",
            Sensitivity::High => "high",
            Sensitivity::Critical => "critical",
        }
    }
}

/// The built-in entity types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityType {
    Email,
    Phone,
    PaymentCard,
    Iban,
    AbaRouting,
    BtcAddress,
    EthAddress,
    UsSsn,
    UkNino,
    EsDni,
    InAadhaar,
    DateOfBirth,
    Ipv4,
    Ipv6,
    MacAddress,
    UrlCredentials,
    AwsAccessKey,
    AwsSecretKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    StripeKey,
    GoogleApiKey,
    OpenAiKey,
    AnthropicKey,
    /// A token of another provider with a published prefix (cloud, hosting, payments,
    /// messaging, AI APIs, package registries): see `specs::PROVIDER_TOKEN`.
    ProviderToken,
    Jwt,
    PrivateKey,
    PasswordAssignment,
    HighEntropyToken,
}

impl EntityType {
    pub const ALL: [EntityType; 30] = [
        EntityType::Email,
        EntityType::Phone,
        EntityType::PaymentCard,
        EntityType::Iban,
        EntityType::AbaRouting,
        EntityType::BtcAddress,
        EntityType::EthAddress,
        EntityType::UsSsn,
        EntityType::UkNino,
        EntityType::EsDni,
        EntityType::InAadhaar,
        EntityType::DateOfBirth,
        EntityType::Ipv4,
        EntityType::Ipv6,
        EntityType::MacAddress,
        EntityType::UrlCredentials,
        EntityType::AwsAccessKey,
        EntityType::AwsSecretKey,
        EntityType::GithubToken,
        EntityType::GitlabToken,
        EntityType::SlackToken,
        EntityType::StripeKey,
        EntityType::GoogleApiKey,
        EntityType::OpenAiKey,
        EntityType::AnthropicKey,
        EntityType::ProviderToken,
        EntityType::Jwt,
        EntityType::PrivateKey,
        EntityType::PasswordAssignment,
        EntityType::HighEntropyToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Email => "email",
            EntityType::Phone => "phone",
            EntityType::PaymentCard => "payment_card",
            EntityType::Iban => "iban",
            EntityType::AbaRouting => "aba_routing",
            EntityType::BtcAddress => "btc_address",
            EntityType::EthAddress => "eth_address",
            EntityType::UsSsn => "us_ssn",
            EntityType::UkNino => "uk_nino",
            EntityType::EsDni => "es_dni",
            EntityType::InAadhaar => "in_aadhaar",
            EntityType::DateOfBirth => "date_of_birth",
            EntityType::Ipv4 => "ipv4",
            EntityType::Ipv6 => "ipv6",
            EntityType::MacAddress => "mac_address",
            EntityType::UrlCredentials => "url_credentials",
            EntityType::AwsAccessKey => "aws_access_key",
            EntityType::AwsSecretKey => "aws_secret_key",
            EntityType::GithubToken => "github_token",
            EntityType::GitlabToken => "gitlab_token",
            EntityType::SlackToken => "slack_token",
            EntityType::StripeKey => "stripe_key",
            EntityType::GoogleApiKey => "google_api_key",
            EntityType::OpenAiKey => "openai_key",
            EntityType::AnthropicKey => "anthropic_key",
            EntityType::ProviderToken => "provider_token",
            EntityType::Jwt => "jwt",
            EntityType::PrivateKey => "private_key",
            EntityType::PasswordAssignment => "password_assignment",
            EntityType::HighEntropyToken => "high_entropy_token",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// The class a policy acts on. A date of birth is an identity attribute, so it sits with
    /// the government ids.
    pub fn class(self) -> EntityClass {
        use EntityType::*;
        match self {
            Email | Phone => EntityClass::Contact,
            PaymentCard | Iban | AbaRouting | BtcAddress | EthAddress => EntityClass::Financial,
            UsSsn | UkNino | EsDni | InAadhaar | DateOfBirth => EntityClass::GovernmentId,
            Ipv4 | Ipv6 | MacAddress => EntityClass::Network,
            UrlCredentials | AwsAccessKey | AwsSecretKey | GithubToken | GitlabToken
            | SlackToken | StripeKey | GoogleApiKey | OpenAiKey | AnthropicKey | ProviderToken
            | Jwt | PrivateKey | PasswordAssignment | HighEntropyToken => EntityClass::Credential,
        }
    }
}

/// What an entity is: a built-in type, or the custom entity at this index of the scanner's
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    Builtin(EntityType),
    Custom(u16),
}

/// One entity found in a text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entity {
    pub kind: EntityKind,
    /// Byte range in the text, on character boundaries.
    pub start: usize,
    pub end: usize,
    /// Confidence in 0..=1: validated structure scores high, format alone lower, and
    /// nearby context words add.
    pub score: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for t in EntityType::ALL {
            assert_eq!(EntityType::from_name(t.as_str()), Some(t));
        }
        for c in EntityClass::ALL {
            assert_eq!(EntityClass::from_name(c.as_str()), Some(c));
        }
        let mut names: Vec<&str> = EntityType::ALL.iter().map(|t| t.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EntityType::ALL.len());
        assert_eq!(EntityType::from_name("nope"), None);
    }

    #[test]
    fn classes_carry_the_documented_sensitivity() {
        assert_eq!(EntityType::Ipv6.class().sensitivity(), Sensitivity::Low);
        assert_eq!(EntityType::Phone.class().sensitivity(), Sensitivity::Medium);
        assert_eq!(EntityType::Iban.class().sensitivity(), Sensitivity::High);
        assert_eq!(EntityType::DateOfBirth.class(), EntityClass::GovernmentId);
        assert_eq!(EntityType::Jwt.class().sensitivity(), Sensitivity::Critical);
        assert_eq!(EntityClass::Custom.sensitivity().as_str(), "medium");
    }
}
