//! What the filter does with the text of a request once its shape and limits are checked:
//! the system-prompt boundary (IG-5), hidden characters (IG-1) and injection detection (IG-1),
//! then any body edits those call for.

use crate::code::ErrorCode;
use crate::injection::{detect, Detection, InjectionAction, RuleSet, RULESET_VERSION};
use crate::llm::{LlmRequest, Origin, Role};
use crate::policy::{ClientSystem, HiddenCharacters, Route};
use crate::record::{Finding, FindingAction};
use crate::rejection::Rejection;
use crate::rewrite::{rewrite, Edits};
use crate::text::find_hidden;

/// What to do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Forward it, replacing the body when given one.
    Forward(Option<Vec<u8>>),
    Reject(Rejection),
}

/// The verdict with what was found on the way.
#[derive(Debug)]
pub struct Inspection {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    /// Codes for the `x-psf-flags` header of flagged requests.
    pub flags: Vec<&'static str>,
    /// The rule-set version, when detection ran.
    pub ruleset: Option<&'static str>,
    pub detection: Option<Detection>,
}

/// Inspects a request that passed its schema checks. `body` is the body to forward (already
/// clamped, if it was), `changed` says whether it differs from what the client sent. In
/// monitor mode (`enforce` false) nothing is blocked or changed, only recorded.
pub fn inspect_text(
    route: &Route,
    mut request: LlmRequest,
    body: &[u8],
    changed: bool,
    enforce: bool,
) -> Inspection {
    let mut out = Inspection {
        verdict: Verdict::Forward(None),
        findings: Vec::new(),
        flags: Vec::new(),
        ruleset: None,
        detection: None,
    };
    let mut edits = Edits::default();
    // Flags and logs never change the request; everything else does, unless in monitor mode.
    let finding = |rule: String, code, action: FindingAction| Finding {
        rule,
        code,
        action,
        enforced: enforce && !matches!(action, FindingAction::Flag | FindingAction::Log),
    };

    if let Some(system) = &route.system_prompt {
        let client = request.segments.iter().find(|s| {
            s.origin == Origin::Typed && matches!(s.role, Role::System | Role::Developer)
        });
        let rule = format!("{}.system_prompt", route.id);
        match (client, system.client) {
            (Some(segment), ClientSystem::Reject) => {
                let rejection = Rejection {
                    code: ErrorCode::SystemPromptOverride,
                    message:
                        "this route sets its own system prompt; send your text as a user message"
                            .into(),
                    rule: rule.clone(),
                    param: Some(segment.pointer.clone()),
                };
                out.findings.push(finding(
                    rule,
                    ErrorCode::SystemPromptOverride,
                    FindingAction::Block,
                ));
                if enforce {
                    out.verdict = Verdict::Reject(rejection);
                    return out;
                }
            }
            (Some(_), ClientSystem::Demote) => {
                out.findings.push(finding(
                    rule,
                    ErrorCode::SystemPromptOverride,
                    FindingAction::Demote,
                ));
                edits.demote = true;
                // Demoted text is the user's text from here on, and is scanned as such.
                for segment in &mut request.segments {
                    if segment.origin == Origin::Typed
                        && matches!(segment.role, Role::System | Role::Developer)
                    {
                        segment.role = Role::User;
                    }
                }
            }
            _ => {}
        }
        edits.pin = system.pinned_text();
    }

    if route.hidden_characters != HiddenCharacters::Allow {
        let hidden: Vec<&str> = request
            .segments
            .iter()
            .filter(|s| find_hidden(&s.text).total() > 0)
            .map(|s| s.pointer.as_str())
            .collect();
        if let Some(first) = hidden.first() {
            let rule = format!("{}.sanitize.hidden_characters", route.id);
            let code = ErrorCode::HiddenCharacters;
            match route.hidden_characters {
                HiddenCharacters::Block => {
                    out.findings
                        .push(finding(rule.clone(), code, FindingAction::Block));
                    if enforce {
                        out.verdict = Verdict::Reject(Rejection {
                            code,
                            message: "the prompt contains invisible characters (zero-width, bidi controls, Unicode tags or control characters)".into(),
                            rule,
                            param: Some(first.to_string()),
                        });
                        return out;
                    }
                }
                HiddenCharacters::Strip => {
                    out.findings.push(finding(rule, code, FindingAction::Strip));
                    edits.strip = hidden.iter().map(|p| p.to_string()).collect();
                }
                _ => {
                    out.findings.push(finding(rule, code, FindingAction::Flag));
                    out.flags.push(code.as_str());
                }
            }
        }
    }

    if let (Some(settings), Ok(rules)) = (&route.injection, RuleSet::get()) {
        out.ruleset = Some(RULESET_VERSION);
        if let Some(detection) = detect(rules, settings, &request.segments) {
            let code = ErrorCode::PromptInjection;
            let action = match settings.action {
                InjectionAction::Block => FindingAction::Block,
                InjectionAction::Flag => FindingAction::Flag,
                InjectionAction::Log => FindingAction::Log,
            };
            for id in &detection.rules {
                out.findings.push(finding(id.to_string(), code, action));
            }
            if action == FindingAction::Flag {
                out.flags.push(code.as_str());
            }
            let blocked = enforce && action == FindingAction::Block;
            let message = format!(
                "the {} looks like a prompt injection (anomaly score {} at threshold {}; rules {})",
                match detection.scope {
                    crate::injection::Scope::Direct => "prompt",
                    crate::injection::Scope::Tool => "tool or retrieved content",
                },
                detection.score,
                detection.threshold,
                detection.rules.join(", ")
            );
            out.detection = Some(detection);
            if blocked {
                out.verdict = Verdict::Reject(Rejection {
                    code,
                    message,
                    rule: format!("{}.injection", route.id),
                    param: None,
                });
                return out;
            }
        }
    }

    if !enforce {
        return out;
    }
    out.verdict = if edits.is_empty() {
        Verdict::Forward(changed.then(|| body.to_vec()))
    } else {
        match rewrite(route.api_format(), body, &edits) {
            Ok(rewritten) => Verdict::Forward(Some(rewritten)),
            Err(reason) => Verdict::Reject(Rejection {
                code: ErrorCode::InvalidRequest,
                message: format!("the request body could not be rewritten: {reason}"),
                rule: format!("{}.format", route.id),
                param: None,
            }),
        }
    };
    out
}
