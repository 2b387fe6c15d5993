//! The response side of a stream: headers, then the body buffered, streamed or refused.

use super::*;
use crate::exchange::header_hold::Hold;
use crate::exchange::ResponseStep;
use crate::proxy::reads::find;

impl Stream {
    /// Response headers arrived (`end_of_stream`: the answer has no body).
    pub fn response_headers(&mut self, reads: &dyn HostReads, end_of_stream: bool) -> Effects {
        let started = reads.now_ns();
        let mut effects = self.response_head(reads, end_of_stream);
        self.took(reads, started, Side::Response, Flow::Pause);
        if end_of_stream {
            self.conclude(&mut effects);
        }
        effects
    }

    /// A response body callback: `size` bytes buffered so far (or this chunk of a stream).
    pub fn response_body(
        &mut self,
        reads: &dyn HostReads,
        size: usize,
        end_of_stream: bool,
    ) -> Effects {
        let started = reads.now_ns();
        if let Some(exchange) = self.exchange.as_mut() {
            exchange.mark_first_byte();
        }
        let mut effects = self.answer_body(reads, size, end_of_stream);
        if let Some((queue, item)) = self.exchange.as_mut().and_then(Exchange::take_review_item) {
            self.vm.borrow_mut().queue_review(queue, item, &mut effects);
        }
        self.took(reads, started, Side::Response, Flow::Pause);
        if end_of_stream && self.waiting.is_none() {
            self.conclude(&mut effects);
        }
        effects
    }

    fn response_head(&mut self, reads: &dyn HostReads, end_of_stream: bool) -> Effects {
        let mut effects = Effects::default();
        let Some(exchange) = self.exchange.as_mut() else {
            return effects;
        };
        let headers = reads.headers(Part::Response);
        let header = |name: &str| find(&headers, name);
        self.response_encoded = header("content-encoding").is_some();
        let head = exchange.on_response_head(&header);
        effects.set_headers(Side::Response, head.set_headers);
        self.refusal = head.refusal;
        self.response = if end_of_stream {
            ResponsePlan::PassThrough
        } else {
            head.plan
        };
        let held = self.vm.borrow().hold() == Hold::Held;
        if !held && matches!(self.response, ResponsePlan::Buffer | ResponsePlan::Refuse) {
            self.release_response_headers(&mut effects, header("content-length").is_some());
            return effects;
        }
        match self.response {
            ResponsePlan::PassThrough => effects,
            // Held until the whole body is read, so content-length can be set to match;
            // a refused answer is held like it, and its body replaced by the error.
            ResponsePlan::Buffer | ResponsePlan::Refuse => effects.paused(),
            ResponsePlan::Stream => {
                // The rewritten stream's length differs from the upstream's.
                effects.header(Side::Response, "content-length", None);
                effects
            }
        }
    }

    /// The host would not deliver the body of paused response headers, so they leave now:
    /// an answer refused at its headers gets its status and error headers first; a body
    /// that may change loses `content-length` (and goes decoded if it was encoded).
    fn release_response_headers(&mut self, effects: &mut Effects, has_length: bool) {
        self.response_headers_left = true;
        if has_length {
            effects.header(Side::Response, "content-length", None);
        }
        if self.response == ResponsePlan::Refuse {
            if let Some(refusal) = self.refusal.as_mut() {
                // The error's status and headers go now; its body replaces the answer's.
                set_response_headers(effects, refusal);
                refusal.set_headers.clear();
                refusal.remove_headers.clear();
                refusal.set_length = false;
            }
        } else if self.response_encoded {
            effects.header(Side::Response, "content-encoding", None);
            self.response_goes_decoded = true;
        }
    }

    fn answer_body(&mut self, reads: &dyn HostReads, size: usize, end_of_stream: bool) -> Effects {
        let mut effects = Effects::default();
        let answer = self.answer_delivery();
        let Some(exchange) = self.exchange.as_mut() else {
            return effects;
        };
        match self.response {
            ResponsePlan::PassThrough => {}
            ResponsePlan::Buffer | ResponsePlan::Refuse if !end_of_stream => {
                return effects.paused();
            }
            ResponsePlan::Refuse => {
                if let Some(refusal) = self.refusal.take() {
                    carry_out(&mut effects, refusal, size);
                }
            }
            ResponsePlan::Buffer => {
                let body = reads.body(Part::Response, size);
                match exchange.on_response_body(&body) {
                    ResponseStep::Consult(call) => {
                        self.waiting = Some(Waiting::Answer { size });
                        effects.push(Effect::Call(call));
                        return effects.paused();
                    }
                    step => carry_out(&mut effects, exchange.deliver(step, &body, answer), size),
                }
            }
            ResponsePlan::Stream => {
                let chunk = reads.body(Part::Response, size);
                let out = exchange.on_response_chunk(&chunk, end_of_stream);
                let changed = (out != chunk).then_some(out);
                effects.body(Side::Response, size, changed, false);
            }
        }
        effects
    }

    /// The moderation service answered about the held answer (`status` `None`: it did not
    /// answer): the answer of `size` bytes goes on as the engine decides.
    pub(super) fn answer_moderated(
        &mut self,
        status: Option<u16>,
        verdict: &[u8],
        size: usize,
        body: &[u8],
    ) -> Effects {
        let mut effects = Effects::default();
        let answer = self.answer_delivery();
        if let Some(exchange) = self.exchange.as_mut() {
            let step = exchange.on_response_moderation(status, verdict);
            carry_out(&mut effects, exchange.deliver(step, body, answer), size);
        }
        effects
    }
}
