//! The admin path and the kill switch (PSF IR-2, HO-4): degraded routes and incident mode.

use super::*;

impl Exchange {
    /// The approved degrade message for `route`'s fallback.
    pub(super) fn degrade_rejection(&self, route: &Route) -> Rejection {
        let message = self.policy.incident.degrade.as_ref().map_or_else(
            || "The AI service is running in a reduced mode; please try again later.".to_string(),
            |t| t.message.clone(),
        );
        Rejection::new(
            ErrorCode::ServiceDegraded,
            format!("{}.fallback", route.id),
            message,
        )
    }

    /// Answers a request on a route whose breaker is open with the degrade message.
    pub(super) fn degraded(&mut self, route: &Route) -> Step {
        let rejection = self.degrade_rejection(route);
        self.refuse_always(rejection)
    }

    /// What `degrade`, `isolate` and `off` do with a routed request, before any check.
    pub(super) fn incident_step(&mut self) -> Option<Step> {
        let (code, template, fallback) = match self.mode {
            Mode::Enforce | Mode::Monitor => return None,
            // Uninspected: no route, so neither body is read; the record says so.
            Mode::Off => return Some(Step::Continue),
            Mode::Degrade => (
                ErrorCode::ServiceDegraded,
                &self.policy.incident.degrade,
                "The AI service is running in a reduced mode during an incident; please try again later.",
            ),
            Mode::Isolate => (
                ErrorCode::ServiceIsolated,
                &self.policy.incident.isolate,
                "The AI service is temporarily unavailable.",
            ),
        };
        let message = template
            .as_ref()
            .map_or(fallback.to_string(), |t| t.message.clone());
        let rejection = Rejection::new(code, format!("mode.{}", self.mode.as_str()), message);
        Some(self.refuse_always(rejection))
    }

    /// A request to the admin path: refused without the token from an allowed source; `GET`
    /// answers the switches in force, `POST` reads a switch from the body.
    pub(super) fn admin_request(&mut self, head: RequestHead<'_>) -> Step {
        let policy = Rc::clone(&self.policy);
        let Some(admin) = &policy.incident.admin else {
            return Step::Continue;
        };
        self.record.route = Some("psf-admin".into());
        let from_allowed = self.admin_source_allowed;
        let token = self
            .authorization
            .as_deref()
            .and_then(|v| v.trim().strip_prefix("Bearer "))
            .map(str::trim);
        if !from_allowed || !token.is_some_and(|t| admin.token_matches(t)) {
            let rejection = Rejection::new(
                ErrorCode::AdminForbidden,
                "incident.admin",
                "switching modes needs the admin token, from an allowed source",
            );
            return self.refuse_always(rejection);
        }
        match head.method {
            "GET" => {
                let switches = Switches::read(self.store.as_ref());
                let body = serde_json::json!({
                    "policy_mode": policy.mode.as_str(),
                    "switches": switches,
                    "policy_loaded_at": crate::audit::time::rfc3339(policy.loaded_ms),
                });
                self.record.status = Some(200);
                Step::Answer {
                    status: 200,
                    body: body.to_string().into_bytes(),
                }
            }
            "POST" if !head.end_of_stream && head.content_length.is_none_or(|n| n <= 4096) => {
                self.admin = true;
                self.phase = Phase::Body;
                Step::Pause
            }
            _ => self.refuse_admin(Rejection::new(ErrorCode::InvalidRequest, "incident.admin", "POST {\"mode\": …, \"route\": …, \"reason\": …} (at most 4 KiB), or GET the switches in force")),
        }
    }

    /// A bad admin request is refused whatever the mode: the admin path never reaches the
    /// upstream.
    pub(super) fn refuse_admin(&mut self, rejection: Rejection) -> Step {
        self.refuse_always(rejection)
    }

    /// The body of an admin `POST`: `{"mode": "isolate"|…|"policy", "route"?, "reason"?}`.
    pub(super) fn admin_switch(&mut self, body: &[u8]) -> Step {
        self.admin = false;
        let policy = Rc::clone(&self.policy);
        let invalid = |message: String, param: &str| {
            Rejection::new(ErrorCode::InvalidRequest, "incident.admin", message)
                .at(param.to_string())
        };
        let request: Value = match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => Value::Object(map),
            _ => return self.refuse_admin(invalid("the body must be a JSON object".into(), "")),
        };
        let name = request["mode"].as_str().unwrap_or_default();
        let mode = Mode::parse(name);
        if mode.is_none() && name != "policy" {
            let message = format!(
                "mode {name:?} is not one of enforce, monitor, degrade, isolate, off, policy"
            );
            return self.refuse_admin(invalid(message, "/mode"));
        }
        let route = request["route"].as_str();
        if let Some(route) = route {
            if !policy.routes.iter().any(|r| r.id == route) {
                return self.refuse_admin(invalid(format!("no route has id {route:?}"), "/route"));
            }
        }
        let reason: String = request["reason"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let now = self.store.now_ms();
        let new = mode.map(|m| Switch {
            mode: m.as_str().to_string(),
            set_at_ms: now,
            reason: reason.clone(),
        });
        let previous = match kill_switch::switch(self.store.as_ref(), route, new.clone()) {
            Ok(previous) => previous,
            Err(_) => {
                return self.end(Rejection::new(
                    ErrorCode::PolicyUnavailable,
                    "incident.admin",
                    "the mode switch could not be written; nothing changed",
                ))
            }
        };
        let switch = ModeSwitch {
            mode: name.to_string(),
            route: route.map(str::to_string),
            previous: previous.map(|p| p.mode),
            reason,
        };
        let body = serde_json::json!({
            "mode": switch.mode,
            "route": switch.route,
            "previous": switch.previous,
            "set_at": crate::audit::time::rfc3339(now),
        });
        self.record.mode_switch = Some(switch);
        self.record.status = Some(200);
        Step::Answer {
            status: 200,
            body: body.to_string().into_bytes(),
        }
    }
}
