//! Maps the entity labels of public corpora (Presidio's recognizer tests, gitleaks rule
//! examples, detect-secrets plugin tests) to our entity types, for evaluation. Labels with
//! no counterpart map to nothing: Presidio's `DATE_TIME` is any date (ours is a date of
//! birth only), its `URL` any URL (ours only one carrying credentials).

use super::entity::EntityType;

/// Our types for a corpus label, most specific first; empty when we have no counterpart.
/// `IP_ADDRESS` covers both IP versions and `CRYPTO` both wallet kinds.
pub fn our_types(dataset_type: &str) -> &'static [EntityType] {
    use EntityType::*;
    match dataset_type {
        "EMAIL_ADDRESS" => &[Email],
        "PHONE_NUMBER" | "PH_MOBILE_NUMBER" | "TR_PHONE_NUMBER" => &[Phone],
        "CREDIT_CARD" => &[PaymentCard],
        "IBAN_CODE" => &[Iban],
        "ABA_ROUTING_NUMBER" => &[AbaRouting],
        "CRYPTO" => &[BtcAddress, EthAddress],
        "US_SSN" => &[UsSsn],
        "UK_NINO" => &[UkNino],
        "ES_NIF" | "ES_NIE" => &[EsDni],
        "IN_AADHAAR" => &[InAadhaar],
        "IP_ADDRESS" | "ip_public" => &[Ipv4, Ipv6],
        "MAC_ADDRESS" => &[MacAddress],
        "sidekiq-sensitive-url" | "basic_auth" => &[UrlCredentials],
        "aws-access-token" => &[AwsAccessKey],
        // detect-secrets' AWS detector finds key ids and secret keys alike.
        "aws_key" => &[AwsAccessKey, AwsSecretKey],
        "github-pat"
        | "github-fine-grained-pat"
        | "github-oauth"
        | "github-app-token"
        | "github-refresh-token"
        | "github_token" => &[GithubToken],
        "gitlab-pat"
        | "gitlab-pat-routable"
        | "gitlab-ptt"
        | "gitlab-rrt"
        | "gitlab-deploy-token"
        | "gitlab-runner-authentication-token"
        | "gitlab-runner-authentication-token-routable"
        | "gitlab-feed-token"
        | "gitlab-incoming-mail-token"
        | "gitlab-kubernetes-agent-token"
        | "gitlab-oauth-app-secret"
        | "gitlab-scim-token"
        | "gitlab-cicd-job-token"
        | "gitlab-feature-flag-client-token"
        | "gitlab_token" => &[GitlabToken],
        "slack-bot-token"
        | "slack-user-token"
        | "slack-app-token"
        | "slack-legacy-token"
        | "slack-legacy-bot-token"
        | "slack-legacy-workspace-token"
        | "slack-config-access-token"
        | "slack-config-refresh-token"
        | "slack-webhook-url"
        | "slack" => &[SlackToken],
        "stripe-access-token" | "stripe_key" => &[StripeKey],
        "gcp-api-key" => &[GoogleApiKey],
        "openai-api-key" | "openai" => &[OpenAiKey],
        "anthropic-api-key" | "anthropic-admin-api-key" => &[AnthropicKey],
        "jwt" => &[Jwt],
        "private-key" | "private_key" => &[PrivateKey],
        "generic-api-key" | "keyword" | "curl-auth-header" | "curl-auth-user" => {
            &[PasswordAssignment]
        }
        other if names_a_credential(other) => CREDENTIALS,
        _ => &[],
    }
}

/// Every credential type: what a label of a provider without a type of its own (a
/// `sendgrid-api-token`, a `twilio-api-key`) is found as.
const CREDENTIALS: &[EntityType] = &[
    EntityType::ProviderToken,
    EntityType::PasswordAssignment,
    EntityType::HighEntropyToken,
    EntityType::Jwt,
    EntityType::UrlCredentials,
    EntityType::PrivateKey,
];

/// Whether a corpus label names some provider's credential.
fn names_a_credential(label: &str) -> bool {
    let label = label.to_ascii_lowercase();
    [
        "token",
        "key",
        "secret",
        "password",
        "credential",
        "pat",
        "webhook",
    ]
    .iter()
    .any(|word| label.split(['-', '_', ' ']).any(|part| part == *word))
}

/// Our type for a corpus label (the first of [`our_types`]), if we have one.
pub fn our_type(dataset_type: &str) -> Option<EntityType> {
    our_types(dataset_type).first().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_map_to_our_types() {
        assert_eq!(our_type("CREDIT_CARD"), Some(EntityType::PaymentCard));
        assert_eq!(our_type("slack-webhook-url"), Some(EntityType::SlackToken));
        assert_eq!(
            our_types("IP_ADDRESS"),
            [EntityType::Ipv4, EntityType::Ipv6]
        );
        assert_eq!(
            our_type("sendgrid-api-token"),
            Some(EntityType::ProviderToken)
        );
        assert_eq!(our_type("DATE_TIME"), None);
        assert_eq!(our_type("URL"), None);
    }
}
