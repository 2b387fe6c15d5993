//! Request headers (PSF IG-2, IG-4, HO-4, IR-2): the route, the canonical path, the admin
//! path and kill switch, body-size and rate-limit admission before any body byte.

use super::*;

impl Exchange {
    pub fn on_request_headers(&mut self, head: RequestHead<'_>) -> Step {
        self.record.started_ms = self.store.now_ms();
        self.record.request_id = request_id(head.request_id, self.record.started_ms);
        self.record.sample = sampled(head.request_id, self.policy.audit.sample_per_million);
        self.wants_text = self.record.sample || self.policy.audit.include_text;
        self.record.method = head.method.to_string();
        let path = RequestPath::parse(head.path);
        self.record.path = path.redacted();
        let policy = Rc::clone(&self.policy);
        if let Some(name) = self.repeated_header.clone() {
            let rejection = Rejection::new(
                ErrorCode::DuplicateHeader,
                "psf-guard.headers",
                format!("the {name} header must be sent once"),
            )
            .at(name);
            return self.refuse_always(rejection);
        }
        if policy.accountability.endpoint
            && path.canonical == crate::policy::ACCOUNTABILITY_ENDPOINT
            && head.method == "GET"
        {
            // EA-4: accountability data on request, from the policy in force.
            self.record.route = Some("psf-accountability".into());
            self.record.status = Some(200);
            let body = policy.accountability_document().to_string().into_bytes();
            return Step::Answer { status: 200, body };
        }
        if let Some(admin) = &policy.incident.admin {
            if path.may_mean(&admin.path) {
                if path.is_canonical() && path.canonical == admin.path {
                    return self.admin_request(head);
                }
                // A variant of the admin path is never forwarded: it carries the admin token.
                self.record.route = Some("psf-admin".into());
                let rejection = non_canonical_path(&admin.path, "incident.admin.path");
                return self.refuse_always(rejection);
            }
        }
        if let Some(route) = policy.routes.iter().find(|r| r.may_match(&path)) {
            if !path.is_canonical() || !route.matches(&path.canonical) {
                // The upstream may read this path as the route's, so it is not forwarded
                // unread; whatever the mode, since monitor would forward it uninspected.
                self.record.route = Some(route.id.clone());
                let rejection =
                    non_canonical_path(route.path.as_str(), &format!("{}.path", route.id));
                return self.refuse_always(rejection);
            }
        }
        let matched = policy.route_for(head.method, &path.canonical);
        // Off the routes, incident modes do not apply; only monitor changes what rules do.
        self.mode = match policy.mode {
            Mode::Monitor => Mode::Monitor,
            _ => Mode::Enforce,
        };
        self.record.mode = self.mode;
        if let RouteMatch::Matched(route) = matched {
            // Incident controls apply to AI traffic: requests on the policy's routes.
            if let Some(step) = self.before_route(&policy, route) {
                return step;
            }
        }
        let inspects_body = match matched {
            RouteMatch::MethodNotAllowed(route) => {
                self.record.route = Some(route.id.clone());
                let allowed = route.methods.join(", ");
                let rejection = Rejection::new(
                    ErrorCode::MethodNotAllowed,
                    format!("{}.methods", route.id),
                    format!("method {} is not allowed here; use {allowed}", head.method),
                );
                let step = self.refuse(rejection);
                if step != Step::Continue {
                    return step;
                }
                false
            }
            RouteMatch::Matched(route) => {
                self.route = policy.routes.iter().position(|r| std::ptr::eq(r, route));
                self.record.route = Some(route.id.clone());
                self.record.autonomy = route.autonomy.map(|a| a.as_str());
                let allowed = &route.limits.content_types;
                let media_type = head
                    .content_type
                    .and_then(|c| c.split(';').next())
                    .map(|m| m.trim().to_ascii_lowercase());
                if !allowed.is_empty() && !media_type.as_ref().is_some_and(|m| allowed.contains(m))
                {
                    let found = media_type.unwrap_or_else(|| "none".to_string());
                    let rejection = Rejection::new(
                        ErrorCode::UnsupportedContentType,
                        format!("{}.content_types", route.id),
                        format!(
                            "content type {found} is not accepted here; send {}",
                            allowed.join(" or ")
                        ),
                    );
                    let step = self.refuse(rejection);
                    if step != Step::Continue {
                        return step;
                    }
                }
                if route.inspects_body() {
                    if let Some(rejection) = self.unreadable_request_coding(route) {
                        let step = self.refuse(rejection);
                        if step != Step::Continue {
                            return step;
                        }
                    }
                }
                route.inspects_body()
            }
            RouteMatch::Unrouted => false,
        };
        if self.limits() {
            let route = self.current_route().map(|r| r.id.clone());
            self.rate.set_route(route.as_deref());
            let (policy, store) = (Rc::clone(&self.policy), Rc::clone(&self.store));
            if let Some(rejection) =
                self.rate
                    .check_suspension(&policy, store.as_ref(), head.request_id)
            {
                let step = self.refuse(rejection);
                if step != Step::Continue {
                    return step;
                }
            }
            if !inspects_body {
                if let Err(rejection) =
                    self.rate
                        .admit(&policy, store.as_ref(), None, None, head.request_id)
                {
                    let step = self.refuse(rejection);
                    if step != Step::Continue {
                        return step;
                    }
                }
            }
        }
        if head.end_of_stream {
            return if inspects_body {
                self.inspect_request_body(b"")
            } else {
                Step::Continue
            };
        }
        if let Some(length) = head.content_length {
            self.record.request_bytes = length;
            if let Some(rejection) = self.check_body_size(length, true) {
                return self.end(rejection);
            }
        }
        if inspects_body || (head.content_length.is_none() && self.has_body_size_rules()) {
            self.phase = Phase::Body;
            return Step::Pause;
        }
        // The codec enforces content-length framing, so the body cannot outgrow it.
        Step::Continue
    }

    /// The incident controls, fallback and residency for a request on `route`, before any
    /// check: a step when one of them answers the request.
    pub(super) fn before_route(&mut self, policy: &Policy, route: &Route) -> Option<Step> {
        self.mode = if policy.incident.admin.is_some() {
            // The kill switch (IR-2): applied from this very request on, on every worker.
            let switches = Switches::read(self.store.as_ref());
            effective_mode(policy, &switches, Some(&route.id))
        } else {
            route.mode.unwrap_or(policy.mode)
        };
        self.record.mode = self.mode;
        if let Some(step) = self.incident_step() {
            self.record.route = Some(route.id.clone());
            return Some(step);
        }
        if let Some(fallback) = &route.fallback {
            if crate::controls::breaker::is_open(self.store.as_ref(), &route.id) {
                self.record.route = Some(route.id.clone());
                self.record.fallback = Some(match fallback.action {
                    FallbackAction::Degrade => "degrade",
                    FallbackAction::Reroute => "reroute",
                });
                match fallback.action {
                    FallbackAction::Reroute => self.reroute = Some(fallback.header.clone()),
                    FallbackAction::Degrade => return Some(self.degraded(route)),
                }
            }
        }
        if let Some(residency) = &policy.residency {
            // DG-5: AI traffic never leaves the allowed regions.
            if let Some(why) = residency.refusal(self.upstream_cluster.as_deref()) {
                self.record.route = Some(route.id.clone());
                let step = self.refuse(Rejection::new(
                    ErrorCode::DataResidencyViolation,
                    "residency",
                    format!("this request would leave the allowed regions: {why}"),
                ));
                if step != Step::Continue {
                    return Some(step);
                }
            }
        }
        None
    }
}

/// A path that a lenient upstream may read as `target` (a route's or the admin path), sent
/// in another form.
pub(super) fn non_canonical_path(target: &str, rule: &str) -> Rejection {
    Rejection::new(
        ErrorCode::NonCanonicalPath,
        rule.to_string(),
        format!(
            "the request path is not in canonical form (percent escapes, repeated or trailing \
             slashes, dot segments, `;` parameters or other letter case); send {target}"
        ),
    )
}

/// What the host gives the engine at the request headers.
pub struct RequestFacts<'h> {
    /// A request header's (first) value, by lower-case name.
    pub header: &'h dyn Fn(&str) -> Option<&'h str>,
    /// How many times a header came.
    pub count: &'h dyn Fn(&str) -> usize,
    /// A host property (`request.id`, `source.address`, `xds.cluster_name`), asked for only
    /// when the policy needs it.
    pub property: &'h dyn Fn(&[&str]) -> Option<String>,
    /// True when the request has no body.
    pub end_of_stream: bool,
}

/// What the request headers ask of the host: the step, the request headers to remove and
/// then to set, and whether the proxy must pick the route again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeadEffects {
    pub step: Step,
    pub remove_headers: Vec<String>,
    pub set_headers: Vec<(String, String)>,
    pub clear_route_cache: bool,
    /// The request is to the kill switch's admin path, whose credentials must not leave.
    pub admin: bool,
    /// With `Pause`: the headers to set if the request's headers must leave ahead of its
    /// body (a host that does not hold them).
    pub set_if_released: Vec<(String, String)>,
}

impl Exchange {
    /// Request headers arrived: [`Exchange::on_request_headers`] with everything around it.
    /// Headers only the filter may set are removed from what the client sent; the client's
    /// identity, the upstream cluster (for `residency`) and the body's encoding are read;
    /// a request that goes on carries its flags and exported limit key; a rerouted one the
    /// fallback header (MS-4, and the route is picked again); and a route that reads answers
    /// asks for them uncompressed.
    pub fn on_request_head(&mut self, facts: &RequestFacts<'_>) -> RequestHeadEffects {
        let header = facts.header;
        let policy = Rc::clone(&self.policy);
        let mut effects = RequestHeadEffects {
            step: Step::Continue,
            remove_headers: policy
                .reserved_request_headers()
                .into_iter()
                .filter(|name| header(name).is_some())
                .map(str::to_string)
                .collect(),
            set_headers: Vec::new(),
            clear_route_cache: false,
            admin: false,
            set_if_released: Vec::new(),
        };
        if policy.residency.is_some() {
            // The cluster of the route Envoy picked (newer Envoys name it `xds.cluster_name`).
            let cluster = (facts.property)(&["xds", "cluster_name"])
                .or_else(|| (facts.property)(&["cluster_name"]));
            self.set_upstream_cluster(cluster.as_deref());
        }
        let client_headers = policy.client_headers();
        if !client_headers.is_empty() || policy.needs_client_address() {
            let source = policy
                .needs_client_address()
                .then(|| (facts.property)(&["source", "address"]))
                .flatten();
            for name in client_headers {
                if (facts.count)(name) > 1 {
                    self.saw_repeated_header(name);
                }
            }
            self.set_client(header, source.as_deref());
        }
        self.set_request_encoding(header("content-encoding"));
        let property_id;
        let request_id = match header("x-request-id") {
            Some(id) => id,
            None => {
                property_id = (facts.property)(&["request", "id"]).unwrap_or_default();
                property_id.as_str()
            }
        };
        let step = self.on_request_headers(RequestHead {
            method: header(":method").unwrap_or_default(),
            path: header(":path").unwrap_or_default(),
            request_id,
            content_length: header("content-length").and_then(|v| v.trim().parse::<u64>().ok()),
            content_type: header("content-type"),
            end_of_stream: facts.end_of_stream,
        });
        match step {
            Step::Continue => effects.set_headers.extend(self.forwarded_headers()),
            Step::Pause => effects.set_if_released = self.forwarded_headers(),
            _ => {}
        }
        effects.admin = self.is_admin();
        if let Some(name) = self.reroute() {
            // Envoy picked the route before this filter ran, so its choice is cleared.
            effects
                .set_headers
                .push((name.to_string(), "1".to_string()));
            effects.clear_route_cache = true;
        }
        if self.wants_identity_response() && header("accept-encoding").is_some() {
            // A compressed answer could not be checked, so ask for a plain one.
            effects.remove_headers.push("accept-encoding".to_string());
        }
        effects.step = step;
        effects
    }

    /// The headers a request that goes on carries: `x-psf-flags` with the codes of the
    /// findings that flagged it, and the exported limit key.
    pub fn forwarded_headers(&self) -> Vec<(String, String)> {
        let mut headers = Vec::new();
        if !self.flags.is_empty() {
            headers.push((FLAGS_HEADER.to_string(), self.flags.join(",")));
        }
        if let Some((name, value)) = self.limit_export() {
            headers.push((name.to_string(), value.to_string()));
        }
        headers
    }
}
