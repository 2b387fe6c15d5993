//! The request body (PSF IG-1, IG-2, IG-5, DG-1, OV-3): size, the careful read, model
//! pinning and clamps, detection and masking, moderation of the prompt, and the rewrite.

use super::*;

impl Exchange {
    /// `buffered_bytes` is the whole body received so far (the host's size while paused).
    pub fn on_request_body(&mut self, buffered_bytes: u64, end_of_stream: bool) -> Step {
        if self.phase != Phase::Body {
            return Step::Continue;
        }
        self.record.request_bytes = buffered_bytes;
        if let Some(rejection) = self.check_body_size(buffered_bytes, false) {
            return self.end(rejection);
        }
        if !end_of_stream {
            return Step::Pause;
        }
        if self.admin
            || self
                .route
                .is_some_and(|i| self.policy.routes[i].inspects_body())
        {
            return Step::NeedBody;
        }
        self.phase = Phase::Sent;
        Step::Continue
    }

    /// Checks the complete request body against the route (after [`Step::NeedBody`]).
    pub fn inspect_request_body(&mut self, body: &[u8]) -> Step {
        self.phase = Phase::Sent;
        if self.admin {
            return self.admin_switch(body);
        }
        let policy = Rc::clone(&self.policy);
        let Some(route) = self.route.and_then(|i| policy.routes.get(i)) else {
            return Step::Continue;
        };
        self.record.prompt_sha256 = Some(sha256_hex(body));
        let decoded;
        let body = match self.request_coding {
            Ok(coding) if coding != Coding::Identity => {
                match decode(coding, body, self.max_decoded_bytes()) {
                    Ok(bytes) => {
                        decoded = bytes;
                        if let Some(rejection) = self.check_body_size(decoded.len() as u64, true) {
                            return self.end(rejection);
                        }
                        decoded.as_slice()
                    }
                    Err(error) => {
                        let code = match error {
                            DecodeError::TooLarge(_) => ErrorCode::RequestTooLarge,
                            _ => ErrorCode::InvalidRequest,
                        };
                        return self.refuse(Rejection::new(
                            code,
                            format!("{}.encoded_bodies", route.id),
                            decode_message(&error, "request body"),
                        ));
                    }
                }
            }
            _ => body,
        };
        let Read {
            request,
            document,
            mut edits,
        } = match check_body(route, body) {
            Checked::Pass(read) => read,
            Checked::Reject(rejection) => return self.refuse(rejection),
        };
        let Some(document) = document else {
            return Step::Continue;
        };
        if !edits.is_empty() {
            // The route's own cap clamped max_tokens.
            let rule = format!("{}.max_tokens", route.id);
            self.found(rule, ErrorCode::MaxTokensExceeded, FindingAction::Clamp);
        }
        self.record.model = request.model.as_ref().map(|m| m.value.clone());
        if let Some(approved) = &route.approved_models {
            // MS-3: only approved, pinned versions reach the provider; aliases are pinned.
            let asked = request.model.as_ref().map(|m| m.value.as_str());
            let Some(pinned) = asked.and_then(|m| approved.resolve(m)) else {
                let message = match asked {
                    Some(model) => format!(
                        "model {model:?} is not approved on this route; use one of {}",
                        approved.pinned.join(", ")
                    ),
                    None => "the request names no model".into(),
                };
                return self.refuse(
                    Rejection::new(
                        ErrorCode::ModelNotApproved,
                        format!("{}.approved_models", route.id),
                        message,
                    )
                    .at("/model".to_string()),
                );
            };
            if asked != Some(pinned) && self.mode == Mode::Enforce {
                if let Some(model) = document
                    .root()
                    .get("model")
                    .filter(|m| m.as_str().is_some())
                {
                    edits.set_text(model, pinned.to_string());
                    self.record.model = Some(pinned.to_string());
                }
            }
        }
        // What the prompt is charged when the provider reports no usage.
        self.reserved.prompt = estimate_prompt_tokens(&request);
        if self.wants_text {
            let texts: Vec<&str> = request.segments.iter().map(|s| s.text.as_str()).collect();
            self.prompt_text = Some(texts.join("\n"));
        }
        if self.limits() {
            if let Err(step) = self.admit_body(route, &request, &document, &mut edits) {
                return step;
            }
        }
        self.inspect_text(route, request, &document, &mut edits)
    }

    /// Admits a read request against its limits: reserves its estimated prompt and its
    /// `max_tokens` (or the policy's default), lowering `max_tokens` in the forwarded body
    /// when a limit clamps it, and asks OpenAI streams for their usage (both as `edits`).
    pub(super) fn admit_body(
        &mut self,
        route: &Route,
        request: &LlmRequest,
        document: &Document<'_>,
        edits: &mut BodyEdits,
    ) -> Result<(), Step> {
        let policy = Rc::clone(&self.policy);
        let store = Rc::clone(&self.store);
        let default_max = policy
            .rate_limits
            .as_ref()
            .map_or(0, |r| r.default_max_tokens);
        // What the model will be allowed: the client's value, after the route's own cap.
        let asked = request
            .max_tokens
            .as_ref()
            .map(|m| match route.limits.max_tokens {
                Some(cap) if cap.over == OverCap::Clamp => m.value.min(cap.max),
                _ => m.value,
            });
        let demand = Demand {
            prompt: self.reserved.prompt,
            completion: asked.unwrap_or(default_max),
        };
        self.reserved = demand;
        let model = request.model.as_ref().map(|m| m.value.as_str());
        let request_id = self.record.request_id.clone();
        let clamp = match self
            .rate
            .admit(&policy, store.as_ref(), model, Some(demand), &request_id)
        {
            Ok(clamp) => clamp,
            Err(rejection) => {
                let step = self.refuse(rejection);
                return if step == Step::Continue {
                    Ok(())
                } else {
                    Err(step)
                };
            }
        };
        let enforce = self.mode == Mode::Enforce;
        let root = document.root();
        if let Some(max) = clamp {
            self.reserved.completion = max;
            self.found(
                "rate_limits.max_tokens",
                ErrorCode::RateLimitExceeded,
                FindingAction::Clamp,
            );
            if enforce {
                let edited = match &request.max_tokens {
                    Some(asked) => root
                        .get(asked.pointer.trim_start_matches('/'))
                        .filter(|v| matches!(v.shape(), Shape::Number(_)))
                        .map(|number| edits.set_json(number, max.to_string()))
                        .is_some(),
                    None => match (route.api_format(), root.is_object()) {
                        (Some(api), true) => {
                            edits.add_member(max_tokens_field(api), max.to_string());
                            true
                        }
                        _ => false,
                    },
                };
                if edited {
                    self.record.decision = Decision::Modify;
                }
            }
        }
        let wants_usage = request.stream
            && enforce
            && matches!(
                route.api_format(),
                Some(ApiFormat::OpenAiChat | ApiFormat::Completions)
            )
            && policy.rate_limits.as_ref().is_some_and(|r| {
                r.stream_usage
                    && r.limits
                        .iter()
                        .any(|l| l.counts_tokens() && l.applies_to(Some(&route.id)))
            });
        if wants_usage && ask_for_stream_usage(root, edits) {
            self.hide_usage_chunk = true;
        }
        Ok(())
    }

    /// The request header, and its value, that sends this request to the fallback route.
    pub fn reroute(&self) -> Option<&str> {
        self.reroute.as_deref()
    }

    pub(super) fn inspect_text(
        &mut self,
        route: &Route,
        request: LlmRequest,
        document: &Document<'_>,
        edits: &mut BodyEdits,
    ) -> Step {
        let body = document.text().as_bytes();
        let enforce = self.mode == Mode::Enforce;
        let moderated: Option<Vec<String>> = route
            .content
            .as_ref()
            .and_then(|c| c.moderation.as_ref())
            .filter(|m| m.requests)
            .map(|_| request.segments.iter().map(|s| s.pointer.clone()).collect());
        if route.pii.as_ref().is_some_and(|p| p.restore) && body.contains(&b'[') {
            // Look-alikes anywhere in what the client sent, decoded or not.
            for segment in &request.segments {
                self.masker.reserve_typed(segment.text.as_bytes());
            }
            self.masker.reserve_typed(body);
        }
        let inspection = inspect_text(route, request, document, edits, enforce, &mut self.masker);
        self.record.entities = self.masker.tallies().to_vec();
        self.record.findings.extend(inspection.findings);
        self.record.ruleset = inspection.ruleset;
        self.record.injection_score = inspection.detection.map(|d| d.score);
        self.record.learned = inspection.learned;
        self.flags = inspection.flags;
        let forward = match inspection.verdict {
            Verdict::Reject(rejection) => return self.end(rejection),
            Verdict::Forward(Some(rewritten)) => {
                self.record.decision = Decision::Modify;
                self.record.request_bytes = rewritten.len() as u64;
                Some(rewritten)
            }
            Verdict::Forward(None) => None,
        };
        let moderation = route.content.as_ref().and_then(|c| c.moderation.as_ref());
        match (moderation, moderated) {
            (Some(settings), Some(pointers)) => {
                // What the model will read, so masked PII never reaches the service.
                // One pass over the strings: a pointer lookup per segment would walk long
                // arrays once for each of their elements.
                let texts: Vec<String> = document
                    .string_values()
                    .filter(|(p, _)| pointers.contains(p))
                    .map(|(_, value)| match forward {
                        Some(_) => edits.text_of(value).to_string(),
                        None => value.as_str().unwrap_or_default().to_string(),
                    })
                    .collect();
                self.phase = Phase::Moderation;
                Step::Consult {
                    call: settings.call(&texts),
                    body: forward,
                }
            }
            _ => forward.map_or(Step::Continue, Step::Replace),
        }
    }

    /// The moderation service answered (`status` is `None` when the call failed or timed
    /// out): `Continue` to send the held request on, or `Reject`.
    pub fn on_moderation(&mut self, status: Option<u16>, body: &[u8]) -> Step {
        if self.phase != Phase::Moderation {
            return Step::Continue;
        }
        self.phase = Phase::Sent;
        let policy = Rc::clone(&self.policy);
        let Some(route) = self.route.and_then(|i| policy.routes.get(i)) else {
            return Step::Continue;
        };
        let Some(settings) = route.content.as_ref().and_then(|c| c.moderation.as_ref()) else {
            return Step::Continue;
        };
        match settings.judge(status, body, &route.id, Subject::Prompt) {
            Judgement::Clear => Step::Continue,
            Judgement::Refuse(rejection) => self.refuse(rejection),
            Judgement::Flag(rejection) => {
                self.found(rejection.rule, rejection.code, FindingAction::Flag);
                if !self.flags.contains(&rejection.code.as_str()) {
                    self.flags.push(rejection.code.as_str());
                }
                Step::Continue
            }
        }
    }

    /// Why the request's `content-encoding` keeps `route` from reading it, if it does.
    pub(super) fn unreadable_request_coding(&self, route: &Route) -> Option<Rejection> {
        let found = match &self.request_coding {
            Ok(Coding::Identity) => return None,
            Ok(_) if route.encoded_bodies == EncodedBodies::Decode => return None,
            Ok(coding) => coding.as_str().to_string(),
            Err(DecodeError::Unsupported(name)) => name.clone(),
            Err(_) => return None,
        };
        Some(Rejection::new(
            ErrorCode::UnsupportedContentType,
            format!("{}.encoded_bodies", route.id),
            format!(
                "content-encoding {found} is not read here; send the body uncompressed{}",
                if route.encoded_bodies == EncodedBodies::Decode {
                    ", or as gzip, deflate or br"
                } else {
                    ""
                }
            ),
        ))
    }

    /// The most a decoded body may hold: the policy's body-size limit, else 8 MiB (what
    /// the shipped Envoy configs buffer).
    pub(super) fn max_decoded_bytes(&self) -> usize {
        self.policy
            .rules
            .iter()
            .map(|rule| {
                let Check::RequestBodySize { max_bytes } = rule.check;
                max_bytes
            })
            .min()
            .map_or(DEFAULT_MAX_DECODED, |m| {
                usize::try_from(m).unwrap_or(usize::MAX)
            })
    }

    pub(super) fn has_body_size_rules(&self) -> bool {
        self.policy
            .rules
            .iter()
            .any(|rule| matches!(rule.check, Check::RequestBodySize { .. }))
    }

    /// Records every size rule `bytes` breaks; returns the rejection if one is enforced.
    pub(super) fn check_body_size(&mut self, bytes: u64, known_length: bool) -> Option<Rejection> {
        let mut rejection = None;
        let policy = Rc::clone(&self.policy);
        for rule in &policy.rules {
            let Check::RequestBodySize { max_bytes } = rule.check;
            if bytes <= max_bytes || self.record.findings.iter().any(|f| f.rule == rule.id) {
                continue;
            }
            let enforced = self.found(
                rule.id.clone(),
                ErrorCode::RequestTooLarge,
                rule.action.into(),
            );
            if enforced && rejection.is_none() {
                rejection = Some(Rejection::new(
                    ErrorCode::RequestTooLarge,
                    rule.id.clone(),
                    body_size_message(bytes, max_bytes, known_length),
                ));
            }
        }
        rejection
    }
}

/// The client-facing reason. A body measured while it arrives is cut at the limit, and how
/// much had arrived depends on network chunking, so only a declared length is quoted.
pub(super) fn body_size_message(bytes: u64, max_bytes: u64, known_length: bool) -> String {
    if known_length {
        format!("request body of {bytes} bytes is over the limit of {max_bytes} bytes")
    } else {
        format!("request body is over the limit of {max_bytes} bytes")
    }
}

/// The field that caps the completion in each format.
pub(super) fn max_tokens_field(api: ApiFormat) -> &'static str {
    match api {
        ApiFormat::OpenAiResponses => "max_output_tokens",
        ApiFormat::OpenAiChat | ApiFormat::AnthropicMessages | ApiFormat::Completions => {
            "max_tokens"
        }
    }
}

/// Sets `stream_options.include_usage` in `edits`; false when the client already asked for
/// usage (or `stream_options` is not an object).
pub(super) fn ask_for_stream_usage(root: Json<'_>, edits: &mut BodyEdits) -> bool {
    match root.get("stream_options").map(Json::shape) {
        None if root.is_object() => {
            edits.add_member("stream_options", r#"{"include_usage":true}"#.into());
            true
        }
        Some(Shape::Object(options)) => {
            let asked = options.get("include_usage").map(Json::shape);
            if matches!(asked, Some(Shape::Bool(true))) {
                return false;
            }
            let mut value = options.to_value();
            value["include_usage"] = Value::Bool(true);
            edits.set_json(options, value.to_string());
            true
        }
        _ => false,
    }
}

pub(super) fn decode_message(error: &DecodeError, what: &str) -> String {
    match error {
        DecodeError::Unsupported(name) => {
            format!("the {what} is encoded as {name}, which is not read")
        }
        DecodeError::Corrupt(coding) => format!("the {what} is not valid {}", coding.as_str()),
        DecodeError::TooLarge(max) => format!("the {what} decodes to more than {max} bytes"),
    }
}
