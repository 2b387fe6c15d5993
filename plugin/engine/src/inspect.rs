//! What the filter does with the text of a request once its shape and limits are checked:
//! the system-prompt boundary (IG-5), hidden characters (IG-1) and injection detection (IG-1),
//! then any body edits those call for.

use crate::code::ErrorCode;
use crate::injection::{detect, Detection, InjectionAction, RuleSet, Scope, RULESET_VERSION};
use crate::llm::{LlmRequest, Origin, Role, Segment};
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
    let mut pass = Pass {
        route,
        enforce,
        edits: Edits::default(),
        out: Inspection {
            verdict: Verdict::Forward(None),
            findings: Vec::new(),
            flags: Vec::new(),
            ruleset: None,
            detection: None,
        },
    };
    // Each step returns true when it refused the request.
    if pass.system_boundary(&mut request)
        || pass.hidden_characters(&request)
        || pass.injection(&request)
    {
        return pass.out;
    }
    pass.forward(body, changed)
}

/// One request going through the steps, with what they found and the edits they ask for.
struct Pass<'r> {
    route: &'r Route,
    enforce: bool,
    edits: Edits,
    out: Inspection,
}

impl Pass<'_> {
    /// Records a finding. Flags and logs never change the request; everything else does,
    /// unless in monitor mode.
    fn record(&mut self, rule: String, code: ErrorCode, action: FindingAction) {
        self.out.findings.push(Finding {
            rule,
            code,
            action,
            enforced: self.enforce && !matches!(action, FindingAction::Flag | FindingAction::Log),
        });
    }

    /// Refuses the request in enforce mode; true if it did.
    fn refuse(&mut self, rejection: Rejection) -> bool {
        if self.enforce {
            self.out.verdict = Verdict::Reject(rejection);
        }
        self.enforce
    }

    /// IG-5: the client's system and developer messages against the route's pinned prompt.
    fn system_boundary(&mut self, request: &mut LlmRequest) -> bool {
        let Some(system) = &self.route.system_prompt else {
            return false;
        };
        self.edits.pin = system.pinned_text();
        let is_client_system = |s: &Segment| {
            s.origin == Origin::Typed && matches!(s.role, Role::System | Role::Developer)
        };
        let Some(pointer) = request
            .segments
            .iter()
            .find(|s| is_client_system(s))
            .map(|s| s.pointer.clone())
        else {
            return false;
        };
        let rule = format!("{}.system_prompt", self.route.id);
        let code = ErrorCode::SystemPromptOverride;
        match system.client {
            ClientSystem::Reject => {
                self.record(rule.clone(), code, FindingAction::Block);
                self.refuse(Rejection {
                    code,
                    message:
                        "this route sets its own system prompt; send your text as a user message"
                            .into(),
                    rule,
                    param: Some(pointer),
                })
            }
            ClientSystem::Demote => {
                self.record(rule, code, FindingAction::Demote);
                self.edits.demote = true;
                // Demoted text is the user's text from here on, and is scanned as such.
                for segment in request.segments.iter_mut().filter(|s| is_client_system(s)) {
                    segment.role = Role::User;
                }
                false
            }
            ClientSystem::Allow => false,
        }
    }

    /// IG-1: invisible characters, flagged, stripped or refused.
    fn hidden_characters(&mut self, request: &LlmRequest) -> bool {
        if self.route.hidden_characters == HiddenCharacters::Allow {
            return false;
        }
        let hidden: Vec<String> = request
            .segments
            .iter()
            .filter(|s| find_hidden(&s.text).total() > 0)
            .map(|s| s.pointer.clone())
            .collect();
        let Some(first) = hidden.first().cloned() else {
            return false;
        };
        let rule = format!("{}.sanitize.hidden_characters", self.route.id);
        let code = ErrorCode::HiddenCharacters;
        match self.route.hidden_characters {
            HiddenCharacters::Block => {
                self.record(rule.clone(), code, FindingAction::Block);
                self.refuse(Rejection {
                    code,
                    message: "the prompt contains invisible characters (zero-width, bidi controls, Unicode tags or control characters)".into(),
                    rule,
                    param: Some(first),
                })
            }
            HiddenCharacters::Strip => {
                self.record(rule, code, FindingAction::Strip);
                self.edits.strip = hidden;
                false
            }
            HiddenCharacters::Flag | HiddenCharacters::Allow => {
                self.record(rule, code, FindingAction::Flag);
                self.out.flags.push(code.as_str());
                false
            }
        }
    }

    /// IG-1: the injection rule set.
    fn injection(&mut self, request: &LlmRequest) -> bool {
        let (Some(settings), Ok(rules)) = (&self.route.injection, RuleSet::get()) else {
            return false;
        };
        self.out.ruleset = Some(RULESET_VERSION);
        let Some(detection) = detect(rules, settings, &request.segments) else {
            return false;
        };
        let code = ErrorCode::PromptInjection;
        let action = match settings.action {
            InjectionAction::Block => FindingAction::Block,
            InjectionAction::Flag => FindingAction::Flag,
            InjectionAction::Log => FindingAction::Log,
        };
        for id in &detection.rules {
            self.record(id.to_string(), code, action);
        }
        if action == FindingAction::Flag {
            self.out.flags.push(code.as_str());
        }
        let message = format!(
            "the {} looks like a prompt injection (anomaly score {} at threshold {}; rules {})",
            match detection.scope {
                Scope::Direct => "prompt",
                Scope::Tool => "tool or retrieved content",
            },
            detection.score,
            detection.threshold,
            detection.rules.join(", ")
        );
        self.out.detection = Some(detection);
        action == FindingAction::Block
            && self.refuse(Rejection {
                code,
                message,
                rule: format!("{}.injection", self.route.id),
                param: None,
            })
    }

    /// The body to forward: as sent, clamped, or with the steps' edits applied.
    fn forward(mut self, body: &[u8], changed: bool) -> Inspection {
        if !self.enforce {
            return self.out;
        }
        self.out.verdict = if self.edits.is_empty() {
            Verdict::Forward(changed.then(|| body.to_vec()))
        } else {
            match rewrite(self.route.api_format(), body, &self.edits) {
                Ok(rewritten) => Verdict::Forward(Some(rewritten)),
                Err(reason) => Verdict::Reject(Rejection {
                    code: ErrorCode::InvalidRequest,
                    message: format!("the request body could not be rewritten: {reason}"),
                    rule: format!("{}.format", self.route.id),
                    param: None,
                }),
            }
        };
        self.out
    }
}
