//! What the filter does with the text of a request once its shape and limits are checked:
//! the system-prompt boundary (IG-5), hidden characters (IG-1), injection detection (IG-1)
//! and PII and secrets (DG-1), then any body edits those call for.

use crate::audit::record::{Finding, FindingAction};
use crate::code::ErrorCode;
use crate::detect::content::{ContentAction, ContentHit};
use crate::detect::injection::{
    assess, Detection, InjectionAction, RuleSet, Scope, RULESET_VERSION,
};
use crate::detect::learned::{featurise, judge, Scorer, Verdict as LearnedVerdict};
use crate::detect::pii::action::PiiAction;
use crate::detect::pii::detect::Entity;
use crate::detect::pii::masker::Masker;
use crate::detect::pii::settings::Direction;
use crate::detect::text::{find_hidden, strip_hidden};
use crate::json::document::Document;
use crate::json::edit::BodyEdits;
use crate::llm::{LlmRequest, Origin, Role, Segment};
use crate::policy::{ClientSystem, HiddenCharacters, Route};
use crate::rejection::Rejection;
use crate::request::rewrite::{rewrite, Edits};

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
    /// The learned scores, fired or not (never the text).
    pub learned: Vec<LearnedVerdict>,
}

/// Inspects a request that passed its schema checks. `document` is the body as sent and
/// `edits` what earlier checks change in it (clamps, a pinned model); the steps here add
/// theirs, and the body to forward is written once from both. In monitor mode (`enforce`
/// false) nothing is blocked or changed, only recorded.
pub fn inspect_text(
    route: &Route,
    mut request: LlmRequest,
    document: &Document<'_>,
    edits: &mut BodyEdits,
    enforce: bool,
    masker: &mut Masker,
) -> Inspection {
    let mut pass = Pass {
        route,
        enforce,
        masker,
        strip: Vec::new(),
        pii_targets: Vec::new(),
        edits: Edits::default(),
        out: Inspection {
            verdict: Verdict::Forward(None),
            findings: Vec::new(),
            flags: Vec::new(),
            ruleset: None,
            detection: None,
            learned: Vec::new(),
        },
    };
    // Each step returns true when it refused the request.
    if pass.system_boundary(&mut request)
        || pass.hidden_characters(&request)
        || pass.injection(&request)
        || pass.content(&request)
    {
        return pass.out;
    }
    pass.find_pii(&request);
    pass.forward(document, edits)
}

/// One request going through the steps, with what they found and the edits they ask for.
struct Pass<'r, 'm> {
    route: &'r Route,
    enforce: bool,
    masker: &'m mut Masker,
    /// Pointers of strings to strip of hidden characters.
    strip: Vec<String>,
    /// Pointers of segments that hold PII or secrets, with what was found there.
    pii_targets: Vec<(String, Vec<Entity>)>,
    edits: Edits,
    out: Inspection,
}

impl Pass<'_, '_> {
    /// Records a finding. Flags and logs never change the request; everything else does,
    /// unless in monitor mode.
    fn record(&mut self, rule: String, code: ErrorCode, action: FindingAction) {
        let enforced = self.enforce && action.changes();
        self.out
            .findings
            .push(Finding::new(rule, code, action, enforced));
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
                self.refuse(
                    Rejection::new(
                        code,
                        rule,
                        "this route sets its own system prompt; send your text as a user message",
                    )
                    .at(pointer),
                )
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
                self.refuse(Rejection::new(code, rule, "the prompt contains invisible characters (zero-width, bidi controls, Unicode tags or control characters)").at(first))
            }
            HiddenCharacters::Strip => {
                self.record(rule, code, FindingAction::Strip);
                self.strip = hidden;
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
        let assessment = assess(rules, settings, &request.segments);
        self.out.learned = assessment.learned;
        let Some(detection) = assessment.detection else {
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
        let learned = self
            .out
            .learned
            .iter()
            .filter(|v| v.fired() && detection.rules.contains(&v.scorer.rule_id()))
            .map(|v| format!("; learned score {:.2} at {:.2}", v.score, v.threshold))
            .collect::<String>();
        let message = format!(
            "the {} looks like a prompt injection (anomaly score {} at threshold {}{learned}; rules {})",
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
            && self.refuse(Rejection::new(
                code,
                format!("{}.injection", self.route.id),
                message,
            ))
    }

    /// OV-3 on prompts: the route's content categories over every text the model reads.
    fn content(&mut self, request: &LlmRequest) -> bool {
        let Some(settings) = self.route.content.as_ref().filter(|c| c.request) else {
            return false;
        };
        let text: Vec<&str> = request.segments.iter().map(|s| s.text.as_str()).collect();
        let text = text.join("\n");
        // The term lists, and the learned harmful-request scorer when the route asks for it:
        // harmful compliance is a judgement on answers.
        let mut hits = settings.filter.scan_terms(&text);
        let learned = settings
            .learned_requests
            .then(|| judge(Scorer::HarmfulRequest, &featurise(&text), 1))
            .flatten();
        if let Some(verdict) = learned.filter(|v| v.fired()) {
            hits.push(ContentHit {
                category: Scorer::HarmfulRequest.name().into(),
                action: ContentAction::Block,
                hits: 1,
            });
            self.out.learned.push(verdict);
        }
        let mut blocked = Vec::new();
        for hit in &hits {
            let rule = format!("{}.content_filter.{}", self.route.id, hit.category);
            let code = ErrorCode::HarmfulRequest;
            if hit.action == ContentAction::Block {
                self.record(rule, code, FindingAction::Block);
                blocked.push(hit.category.as_str());
            } else {
                self.record(rule, code, FindingAction::Flag);
                if !self.out.flags.contains(&code.as_str()) {
                    self.out.flags.push(code.as_str());
                }
            }
        }
        !blocked.is_empty()
            && self.refuse(Rejection::new(
                ErrorCode::HarmfulRequest,
                format!("{}.content_filter", self.route.id),
                format!(
                    "the prompt falls in a category this route refuses: {}",
                    blocked.join(", ")
                ),
            ))
    }

    /// DG-1: which segments hold PII or secrets (what is done to them is decided per string
    /// while the body is rewritten, where each masked value is counted once).
    fn find_pii(&mut self, request: &LlmRequest) {
        let Some(settings) = &self.route.pii else {
            return;
        };
        for segment in &request.segments {
            let text = if self.strip.contains(&segment.pointer) {
                strip_hidden(&segment.text)
            } else {
                std::borrow::Cow::Borrowed(segment.text.as_str())
            };
            let found = settings.scanner.find(&text);
            if !found.is_empty() {
                self.pii_targets.push((segment.pointer.clone(), found));
            }
        }
    }

    /// Strips and masks strings, as edits to the document; then records what masking
    /// found, refusing the request if a `block` action fired.
    fn edit_strings(
        &mut self,
        document: &Document<'_>,
        edits: &mut BodyEdits,
    ) -> Result<(), Rejection> {
        if self.strip.is_empty() && self.pii_targets.is_empty() {
            return Ok(());
        }
        // A segment is a string, or (an Anthropic tool input) an object whose strings are
        // masked one by one.
        let within = |pointer: &str, p: &str| {
            pointer == p
                || (pointer.starts_with(p) && pointer.as_bytes().get(p.len()) == Some(&b'/'))
        };
        let settings = self.route.pii.as_ref();
        for (pointer, value) in document.string_values() {
            let selected = self.strip.iter().any(|p| within(&pointer, p))
                || self.pii_targets.iter().any(|(p, _)| within(&pointer, p));
            let Some(text) = value.as_str().filter(|_| selected) else {
                continue;
            };
            let stripped = self
                .strip
                .contains(&pointer)
                .then(|| strip_hidden(text).into_owned());
            let text = stripped.as_deref().unwrap_or(text);
            let masked = settings.and_then(|s| {
                // The segment's own string was scanned already; a string inside an object
                // segment was not.
                match self.pii_targets.iter().find(|(p, _)| *p == pointer) {
                    Some((_, found)) => self.masker.mask_found(s, Direction::Request, text, found),
                    None => self.masker.mask(s, Direction::Request, text),
                }
            });
            if let Some(new) = masked.or(stripped) {
                edits.set_text(value, new);
            }
        }
        self.record_pii();
        let blocked = self.masker.blocked(Direction::Request);
        if !blocked.is_empty() {
            return Err(Rejection::new(
                ErrorCode::PiiDetected,
                format!("{}.pii.request", self.route.id),
                format!(
                    "the prompt contains {}, which this route does not accept",
                    blocked.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// One finding per entity type the request direction acts on.
    fn record_pii(&mut self) {
        let tallies: Vec<(String, PiiAction)> = self
            .masker
            .tallies()
            .iter()
            .filter(|t| t.direction == Direction::Request && t.action != PiiAction::Allow)
            .map(|t| (t.type_name.clone(), t.action))
            .collect();
        for (type_name, action) in tallies {
            let finding = if action == PiiAction::Block {
                FindingAction::Block
            } else {
                FindingAction::Mask
            };
            self.record(
                format!("{}.pii.{type_name}", self.route.id),
                ErrorCode::PiiDetected,
                finding,
            );
        }
    }

    /// The body to forward, written once: as sent, or with every edit applied.
    fn forward(mut self, document: &Document<'_>, edits: &mut BodyEdits) -> Inspection {
        if let Err(rejection) = self.edit_strings(document, edits) {
            self.refuse(rejection);
            return self.out;
        }
        if !self.enforce {
            return self.out;
        }
        self.out.verdict = if self.edits.is_empty() {
            Verdict::Forward(edits.splice(document))
        } else {
            match rewrite(
                self.route.api_format(),
                edits.to_value(document),
                &self.edits,
            ) {
                Ok(rewritten) => Verdict::Forward(Some(rewritten)),
                Err(reason) => Verdict::Reject(Rejection::new(
                    ErrorCode::InvalidRequest,
                    format!("{}.format", self.route.id),
                    format!("the request body could not be rewritten: {reason}"),
                )),
            }
        };
        self.out
    }
}
