//! Everything the output side checks in model text, as one [`OutputFilter`]: the
//! system-prompt canary and verbatim runs of the pinned prompt (IG-5), content categories
//! and harmful compliance, scope (OV-3), the PII policy (DG-1, OV-1), and exfiltration
//! links (IG-1, see [`crate::detect::content::LinkGuard`]). The state that
//! spans a whole answer lives in [`OutputWatch`], kept by the exchange between stream events.

use crate::audit::record::FindingAction;
use crate::detect::content::{
    ContentAction, ContentFilter, ContentHit, LinkAction, LinkGuard, OffScope, ParagraphWindow,
    Scope, MAX_SCOPE_BYTES,
};
use crate::detect::pii::masker::Masker;
use crate::detect::pii::response::{entity_tail, ResponsePii};
use crate::policy::Route;
use crate::policy::{OutputErrors, StateAction};
use crate::rejection::Rejection;
use crate::response::answer_state::states_of;
use crate::response::output::{OutputFilter, Transcript};
use crate::response::output_schema::{OutputSchema, SchemaAction};
use crate::response::prompt_leak::{LeakWatch, PromptFingerprint};
use crate::ErrorCode;

/// State of the output checks that look across a whole answer, kept between the pieces of a
/// stream.
#[derive(Debug, Default)]
pub(crate) struct OutputWatch {
    paragraph: ParagraphWindow,
    leak: LeakWatch,
    /// The answer so far, when the route's scope judges it whole (bounded).
    answer: String,
    /// Why a flagged answer is out of scope, for the record.
    pub(crate) off_scope: Option<String>,
    /// What a stream's end found that is recorded but does not end it (a flagging output
    /// schema, edge states set to `flag` or `pass`).
    pub(crate) notes: Vec<(Rejection, FindingAction)>,
    /// Exfiltration links found in the answer, and whether they were neutralised.
    pub(crate) links: Option<FindingAction>,
}

/// The output checks of one route, over one answer's text (a JSON answer's strings, or a
/// stream's released pieces): built per call from the route and the exchange's state.
pub(crate) struct OutputGuard<'a> {
    route: &'a str,
    /// The route's output contract, checked on a stream's transcript.
    schema: Option<&'a OutputSchema>,
    /// What to do with each edge state of an answer.
    output_errors: OutputErrors,
    /// Where a stream's recorded-only findings are noted.
    notes: &'a mut Vec<(Rejection, FindingAction)>,
    canary: Option<(&'a str, String)>,
    content: Option<(&'a ContentFilter, &'a str)>,
    /// Where flagged content categories are noted for the record.
    flagged: &'a mut Vec<String>,
    /// The paragraph being scored for harmful compliance, when the route scores it.
    paragraph: Option<&'a mut ParagraphWindow>,
    /// The pinned prompt's fingerprint and the answer's words so far.
    leak: Option<(&'a PromptFingerprint, &'a mut LeakWatch)>,
    /// The route's topics, the answer so far, and where a flagged reason is noted.
    scope: Option<(&'a Scope, &'a mut String, &'a mut Option<String>)>,
    pii: Option<ResponsePii<'a>>,
    /// The route's link policy, and where what it found is noted.
    links: Option<(&'a LinkGuard, &'a mut Option<FindingAction>)>,
    enforce: bool,
}

impl<'a> OutputGuard<'a> {
    pub(crate) fn new(
        route: &'a Route,
        masker: &'a mut Masker,
        (flagged, watch): (&'a mut Vec<String>, &'a mut OutputWatch),
        enforce: bool,
    ) -> Self {
        let canary = route
            .system_prompt
            .as_ref()
            .and_then(|s| s.canary.as_deref())
            .map(|c| (c, format!("{}.system_prompt.canary", route.id)));
        let pii = route.pii.as_ref().map(|settings| ResponsePii {
            masker,
            settings,
            route: &route.id,
            enforce,
        });
        let content = route
            .content
            .as_ref()
            .filter(|c| c.response)
            .map(|c| (c.filter.as_ref(), route.id.as_str()));
        let OutputWatch {
            paragraph,
            leak,
            answer,
            off_scope,
            notes,
            links,
        } = watch;
        let links = route.links.as_ref().map(|guard| (guard, links));
        let scope = route
            .content
            .as_ref()
            .and_then(|c| c.scope.as_deref())
            .map(|scope| (scope, answer, off_scope));
        let paragraph = content
            .filter(|(filter, _)| filter.scores_compliance())
            .map(|_| paragraph);
        let leak = route
            .system_prompt
            .as_ref()
            .and_then(|s| s.fingerprint.as_ref())
            .map(|fingerprint| (fingerprint, leak));
        Self {
            route: &route.id,
            schema: route.output_schema.as_ref(),
            output_errors: route.output_errors,
            notes,
            canary,
            leak,
            scope,
            content,
            flagged,
            paragraph,
            pii,
            links,
            enforce,
        }
    }
}

impl OutputGuard<'_> {
    /// A stream's end, judged whole: each channel's answer text against the route's output
    /// schema (OV-2), then the answer's edge states (OV-5). What the route blocks or
    /// replaces ends the stream with its error event instead of its final event; what it
    /// flags or passes is noted for the record.
    fn judge_transcript(&mut self, transcript: &Transcript) -> Result<(), Rejection> {
        if let Some(contract) = self.schema {
            for (channel, text) in &transcript.texts {
                let at = format!("stream:{channel}");
                let Some(violation) = contract.check_text(&at, text) else {
                    continue;
                };
                let rejection = violation.rejection(self.route);
                if contract.action == SchemaAction::Block {
                    return Err(rejection);
                }
                self.notes.push((rejection, FindingAction::Flag));
                break;
            }
        }
        let texts: Vec<&str> = transcript.texts.iter().map(|(_, t)| t.as_str()).collect();
        let reasons: Vec<&str> = transcript.stop_reasons.iter().map(String::as_str).collect();
        for state in states_of(&texts, transcript.refusal, transcript.tool_calls, &reasons) {
            let rejection = state.rejection(self.route);
            match self.output_errors.for_state(state) {
                StateAction::Replace => return Err(rejection),
                StateAction::Flag => self.notes.push((rejection, FindingAction::Flag)),
                StateAction::Pass => self.notes.push((rejection, FindingAction::Log)),
            }
        }
        Ok(())
    }

    /// A verbatim run of the pinned prompt: the rule names the run length.
    fn leak_rejection(&self) -> Rejection {
        prompt_leak(format!("{}.system_prompt.leak_run_words", self.route))
    }

    /// An answer out of the route's scope: noted when the scope flags, ended when it blocks.
    fn off_scope(&mut self, off: Option<OffScope>) -> Result<(), Rejection> {
        let (Some(off), Some((scope, _, noted))) = (off, self.scope.as_mut()) else {
            return Ok(());
        };
        let action = off.action(scope);
        let reason = match off {
            OffScope::Forbidden(topic) => format!("it touches a forbidden topic: {topic}"),
            OffScope::NoAllowedTopic => "it stays off every topic this route serves".into(),
        };
        if action == ContentAction::Flag {
            noted.get_or_insert(reason);
            return Ok(());
        }
        Err(Rejection::new(
            ErrorCode::OutOfScope,
            format!("{}.content_filter.scope", self.route),
            format!("the model's answer is out of this route's scope: {reason}"),
        ))
    }

    /// Flagged categories are noted; blocking ones end the answer.
    fn judge(&mut self, hits: Vec<ContentHit>) -> Result<(), Rejection> {
        let mut blocked = Vec::new();
        for hit in hits {
            match hit.action {
                ContentAction::Block => blocked.push(hit.category),
                ContentAction::Flag if !self.flagged.contains(&hit.category) => {
                    self.flagged.push(hit.category)
                }
                ContentAction::Flag => {}
            }
        }
        match (blocked.is_empty(), self.content) {
            (false, Some((_, route))) => Err(Rejection::new(
                ErrorCode::ContentFiltered,
                format!("{route}.content_filter"),
                format!(
                    "the model's answer falls in a category this route refuses: {}",
                    blocked.join(", ")
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl OutputFilter for OutputGuard<'_> {
    fn filter(&mut self, context: &str, text: &str) -> Result<Option<String>, Rejection> {
        // Matches that began in the text already sent are judged with it.
        let joined;
        let seen = if context.is_empty() {
            text
        } else {
            joined = format!("{context}{text}");
            joined.as_str()
        };
        if let Some((canary, rule)) = &self.canary {
            if seen.contains(canary) {
                return Err(prompt_leak(rule.clone()));
            }
        }
        if let Some((fingerprint, watch)) = self.leak.as_mut() {
            if watch.push(fingerprint, text) {
                return Err(self.leak_rejection());
            }
        }
        if let Some((scope, answer, _)) = self.scope.as_mut() {
            if scope.needs_answer() && answer.len() < MAX_SCOPE_BYTES {
                answer.push_str(text);
            }
            let off = scope.forbidden_in(seen);
            self.off_scope(off)?;
        }
        if let Some((filter, _)) = self.content {
            let mut hits = filter.scan_terms(seen);
            if let Some(window) = self.paragraph.as_deref_mut() {
                hits.extend(window.push(filter, text));
            }
            self.judge(hits)?;
        }
        let masked = match &mut self.pii {
            Some(pii) => pii.filter(context, text)?,
            None => None,
        };
        match self.links.as_mut() {
            Some((guard, noted)) => {
                let current = masked.as_deref().unwrap_or(text);
                let Some((neutralised, removed)) = guard.neutralise(current) else {
                    return Ok(masked);
                };
                let hosts: Vec<&str> = removed.iter().map(|r| r.host.as_str()).collect();
                match guard.action {
                    LinkAction::Block if self.enforce => Err(Rejection::new(ErrorCode::ContentFiltered, format!("{}.links", self.route), format!(
                            "the model's answer links data out to a domain this route does not allow: {}",
                            hosts.join(", ")
                        ))),
                    LinkAction::Neutralize if self.enforce => {
                        **noted = Some(FindingAction::Strip);
                        Ok(Some(neutralised))
                    }
                    _ => {
                        noted.get_or_insert(FindingAction::Flag);
                        Ok(masked)
                    }
                }
            }
            None => Ok(masked),
        }
    }

    /// A tail that may still grow into a match waits anyway (see `hold_from`); here only
    /// matches that the whole text shows running across `at` keep it together.
    fn settled(&self, text: &str, at: usize) -> bool {
        let pii = self.pii.as_ref().is_none_or(|p| p.settled(text, at));
        let canary = self.canary.as_ref().is_none_or(|(canary, _)| {
            !text
                .match_indices(canary)
                .any(|(start, found)| start < at && at < start + found.len())
        });
        let content = self
            .content
            .is_none_or(|(filter, _)| !filter.term_spans(text, at));
        let scope = self
            .scope
            .as_ref()
            .is_none_or(|(scope, _, _)| !scope.spans(text, at));
        let links = self
            .links
            .as_ref()
            .is_none_or(|(guard, _)| !guard.spans(text, at));
        pii && canary && content && scope && links
    }

    fn finish(&mut self, transcript: Option<&Transcript>) -> Result<(), Rejection> {
        if let Some(transcript) = transcript {
            self.judge_transcript(transcript)?;
        }
        if let Some((fingerprint, watch)) = self.leak.as_mut() {
            if watch.finish(fingerprint) {
                return Err(self.leak_rejection());
            }
        }
        if let Some((scope, answer, _)) = self.scope.as_mut() {
            let off = scope.judge_answer(answer);
            answer.clear();
            self.off_scope(off)?;
        }
        let hit = match (self.content, self.paragraph.as_deref_mut()) {
            (Some((filter, _)), Some(window)) => window.finish(filter),
            _ => None,
        };
        self.judge(hit.into_iter().collect())
    }

    fn hold_from(&self, text: &str) -> usize {
        let for_canary = match &self.canary {
            Some((canary, _)) => entity_tail(text, canary.len()),
            None => text.len(),
        };
        let for_pii = self.pii.as_ref().map_or(text.len(), |p| p.hold_from(text));
        let for_content = self
            .content
            .map_or(text.len(), |(filter, _)| filter.partial_term_start(text));
        let for_scope = self
            .scope
            .as_ref()
            .map_or(text.len(), |(scope, _, _)| scope.hold_from(text));
        let for_links = self
            .links
            .as_ref()
            .map_or(text.len(), |(guard, _)| guard.hold_from(text));
        for_canary
            .min(for_pii)
            .min(for_content)
            .min(for_scope)
            .min(for_links)
    }
}

/// The answer repeated the route's system prompt (its canary, or a long verbatim run).
fn prompt_leak(rule: String) -> Rejection {
    Rejection::new(
        ErrorCode::SystemPromptLeak,
        rule,
        "the model's answer contained this route's system prompt, so it was withheld",
    )
}
