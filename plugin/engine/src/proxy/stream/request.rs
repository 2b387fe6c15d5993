//! The request side of a stream: headers, body, and the moderation answer it waits on.

use super::*;
use crate::exchange::header_hold::{Hold, Leaving};
use crate::exchange::{RequestFacts, RequestHeadEffects};
use crate::proxy::reads::find;
use crate::{ErrorCode, Rejection};

impl Stream {
    /// Request headers arrived (`end_of_stream`: the request has no body).
    pub fn request_headers(&mut self, reads: &dyn HostReads, end_of_stream: bool) -> Effects {
        let started = reads.now_ns();
        let effects = self.request_head(reads, end_of_stream);
        // Headers that leave ahead of their body do not mark the request forwarded.
        let forwarded = if self.request_headers_left {
            Flow::Pause
        } else {
            effects.flow
        };
        self.took(reads, started, Side::Request, forwarded);
        effects
    }

    /// A request body callback: `size` bytes buffered so far.
    pub fn request_body(
        &mut self,
        reads: &dyn HostReads,
        size: usize,
        end_of_stream: bool,
    ) -> Effects {
        let started = reads.now_ns();
        let effects = self.body(reads, size, end_of_stream);
        let flow = if end_of_stream {
            effects.flow
        } else {
            Flow::Pause
        };
        self.took(reads, started, Side::Request, flow);
        effects
    }

    fn request_head(&mut self, reads: &dyn HostReads, end_of_stream: bool) -> Effects {
        let mut effects = Effects::default();
        // One host call for all headers: each value read is a round trip into the host
        // and back into the module's allocator, and this runs on every request.
        let headers = reads.headers(Part::Request);
        let header = |name: &str| find(&headers, name);
        let Some(exchange) = self.exchange.as_mut() else {
            let reason = "stream without a policy; failing closed";
            effects.event(
                Level::Critical,
                "policy_unavailable",
                serde_json::json!({"reason": reason}),
            );
            let rejection = Rejection::new(
                ErrorCode::PolicyUnavailable,
                "psf-guard",
                "the safety filter has no valid policy, so the request was not forwarded",
            );
            let request_id = header("x-request-id").unwrap_or_default();
            effects.push(Effect::Reply(rejection.reply(request_id)));
            return effects.paused();
        };
        let count = |name: &str| headers.iter().filter(|(key, _)| key == name).count();
        let property = |path: &[&str]| property_str(reads, path);
        let head = exchange.on_request_head(&RequestFacts {
            header: &header,
            count: &count,
            property: &property,
            end_of_stream,
        });
        effects.remove_headers(Side::Request, head.remove_headers.iter().cloned());
        effects.set_headers(Side::Request, head.set_headers.iter().cloned());
        if head.clear_route_cache {
            effects.push(Effect::ClearRouteCache);
        }
        self.request_encoded = header("content-encoding").is_some();
        if head.step == Step::Pause {
            let admin = head.admin && header("authorization").is_some();
            return self.hold_for_body(reads, effects, head, admin);
        }
        self.apply(effects, head.step)
    }

    /// The engine waits for the body. The headers stay held where the host holds them;
    /// elsewhere they leave now, readied to go ahead of a body that may change.
    fn hold_for_body(
        &mut self,
        reads: &dyn HostReads,
        mut effects: Effects,
        head: RequestHeadEffects,
        admin: bool,
    ) -> Effects {
        let leaving = Leaving {
            encoded: self.request_encoded,
            admin,
        };
        let mut vm = self.vm.borrow_mut();
        if vm.may_hold(self.context, leaving, reads.now_ns(), &mut effects) {
            self.probing = vm.hold() == Hold::Unknown;
            return effects.paused();
        }
        effects.remove_headers(Side::Request, leaving.headers_to_remove());
        self.request_goes_decoded = self.request_encoded;
        effects.set_headers(Side::Request, head.set_if_released);
        self.request_headers_left = true;
        effects
    }

    fn body(&mut self, reads: &dyn HostReads, size: usize, end_of_stream: bool) -> Effects {
        let mut effects = Effects::default();
        if self.probing {
            self.probing = false;
            let still_held =
                self.vm
                    .borrow_mut()
                    .body_arrived(self.context, reads.now_ns(), &mut effects);
            self.request_headers_left = !still_held;
            // The probe's tick readied its headers as they left.
            self.request_goes_decoded = self.request_headers_left && self.request_encoded;
        }
        let delivery = Delivery {
            headers_held: !self.request_headers_left,
            encoded: self.request_encoded,
            goes_decoded: self.request_goes_decoded,
        };
        let Some(exchange) = self.exchange.as_mut() else {
            return effects.paused();
        };
        let read = exchange.on_request_body_read(
            size as u64,
            end_of_stream,
            &|| reads.body(Part::Request, size),
            delivery,
        );
        effects.remove_headers(Side::Request, read.remove_headers.iter().copied());
        effects.set_headers(Side::Request, read.set_headers);
        effects.body(Side::Request, size, read.body, read.set_length);
        let Some(call) = read.consult else {
            return self.apply(effects, read.step);
        };
        self.waiting = Some(Waiting::Request {
            cluster: call.cluster.clone(),
            request_id: read.request_id,
        });
        effects.push(Effect::Call(call));
        effects.paused()
    }

    /// The moderation service answered about the held request (`status` `None`: it did not
    /// answer): the request goes on with its headers, or is refused.
    pub(super) fn request_moderated(
        &mut self,
        mut effects: Effects,
        status: Option<u16>,
        verdict: &[u8],
    ) -> Effects {
        let held = !self.request_headers_left;
        let Some(exchange) = self.exchange.as_mut() else {
            return effects;
        };
        let done = exchange.on_moderation_done(status, verdict, held);
        effects.set_headers(Side::Request, done.set_headers);
        self.apply(effects, done.step)
    }
}
