//! One HTTP stream as a proxy-wasm host sees it: each host event goes in with what the
//! host can read, and comes back as [`Effects`]. This is the state a stream keeps beyond
//! its [`Exchange`]: what the host can still change (held or released headers, encoded
//! bodies), how the answer is read, and the call the stream waits on.

use super::effects::{Effect, Effects, Flow, Level, Report, Side};
use super::reads::{call_status, property_str, property_u64, HostReads, Part};
use super::vm::Vm;
use crate::exchange::{AnswerEffects, Delivery, Exchange, ResponsePlan, Step};
use std::cell::RefCell;
use std::rc::Rc;

mod request;
mod response;

/// Per-stream driver. The host creates one per HTTP stream with [`Vm::stream`].
pub struct Stream {
    context: u32,
    vm: Rc<RefCell<Vm>>,
    /// `None` only if the host created a stream without a configured policy; such a
    /// stream fails closed.
    exchange: Option<Exchange>,
    /// How the response body is read, decided at its headers.
    response: ResponsePlan,
    /// The call the held request or answer waits on.
    waiting: Option<Waiting>,
    /// The request, and the answer, came with a `content-encoding`: a body the engine
    /// rewrites goes on decoded, so the header goes.
    request_encoded: bool,
    response_encoded: bool,
    /// Headers that left before their body was inspected, because the host does not hold
    /// them ([`crate::exchange::header_hold`]): they can no longer change.
    request_headers_left: bool,
    response_headers_left: bool,
    /// This stream holds its request headers to learn whether the host holds them.
    probing: bool,
    /// `content-encoding` went before the body was read, so the body goes on decoded
    /// whether or not it is rewritten.
    request_goes_decoded: bool,
    response_goes_decoded: bool,
    /// The error for an answer refused at its headers; once they have left, its body.
    refusal: Option<AnswerEffects>,
}

/// A moderation call in flight, and what its failure needs.
enum Waiting {
    Request {
        cluster: String,
        request_id: String,
    },
    /// The held answer, of this buffered size: the host keeps its bytes meanwhile.
    Answer {
        size: usize,
    },
}

impl Stream {
    pub(super) fn new(context: u32, vm: Rc<RefCell<Vm>>, exchange: Option<Exchange>) -> Self {
        Self {
            context,
            vm,
            exchange,
            response: ResponsePlan::PassThrough,
            waiting: None,
            request_encoded: false,
            response_encoded: false,
            request_headers_left: false,
            response_headers_left: false,
            probing: false,
            request_goes_decoded: false,
            response_goes_decoded: false,
            refusal: None,
        }
    }

    /// What the host reports of this stream's effects: its moderation call was sent, or
    /// could not be, which is a moderation service that did not answer.
    pub fn report(&mut self, reads: &dyn HostReads, report: Report) -> Effects {
        let Report::Sent(Err(why)) = report else {
            return Effects::default().paused();
        };
        let started = reads.now_ns();
        match self.waiting.take() {
            Some(Waiting::Request {
                cluster,
                request_id,
            }) => {
                let mut effects = Effects::default();
                let fields = serde_json::json!({"cluster": cluster, "status": why, "request_id": request_id});
                effects.event(Level::Warn, "moderation_call_failed", fields);
                let effects = self.request_moderated(effects, None, &[]);
                self.took(reads, started, Side::Request, effects.flow);
                effects
            }
            Some(Waiting::Answer { size }) => {
                let body = reads.body(Part::Response, size);
                let mut effects = self.answer_moderated(None, &[], size, &body);
                self.took(reads, started, Side::Response, Flow::Pause);
                self.conclude(&mut effects);
                effects
            }
            None => Effects::default(),
        }
    }

    /// The answer to the stream's moderation call came (`header_count` headers and a
    /// body of `size` bytes): the held request or answer goes on, changed or refused.
    pub fn call_answer(
        &mut self,
        reads: &dyn HostReads,
        header_count: usize,
        size: usize,
    ) -> Effects {
        let status = call_status(reads, header_count);
        match self.waiting.take() {
            Some(Waiting::Request { .. }) => {
                let verdict = reads.body(Part::CallAnswer, size);
                let mut effects = self.request_moderated(Effects::default(), status, &verdict);
                if effects.flow == Flow::Continue {
                    if let Some(exchange) = self.exchange.as_mut() {
                        exchange.mark_forwarded();
                    }
                    effects.push(Effect::Resume(Side::Request));
                }
                effects
            }
            Some(Waiting::Answer { size: held }) => {
                let verdict = reads.body(Part::CallAnswer, size);
                let body = reads.body(Part::Response, held);
                let mut effects = self.answer_moderated(status, &verdict, held, &body);
                effects.push(Effect::Resume(Side::Response));
                self.conclude(&mut effects);
                effects
            }
            None => Effects::default(),
        }
    }

    /// The stream is over. Streams reset before their end get their record here (Envoy's
    /// access log has run by now, so only the log line and the other sinks carry it).
    pub fn log(&mut self, reads: &dyn HostReads) -> Effects {
        if self.probing {
            self.vm.borrow_mut().stream_gone(self.context);
        }
        if let Some(exchange) = self.exchange.as_mut().filter(|e| !e.finished()) {
            // The status the client got, which differs from the filter's when Envoy itself
            // answered (a body over its buffer limit, an upstream reset mid-body).
            if let Some(code) = property_u64(reads, &["response", "code"]) {
                let detail = property_str(reads, &["response", "code_details"]);
                exchange.on_client_status(u16::try_from(code).unwrap_or(0), detail.as_deref());
            }
        }
        let mut effects = Effects::default();
        self.conclude(&mut effects);
        effects
    }

    /// Ends an event's effects with `step`: the filter's own answer for a rejection or an
    /// admin reply, else whether the phase goes on.
    fn apply(&self, mut effects: Effects, step: Step) -> Effects {
        if let Some(reply) = self.exchange.as_ref().and_then(|e| e.local_reply(&step)) {
            effects.push(Effect::Reply(reply));
            return effects.paused();
        }
        // NeedBody, Replace and Consult only follow a complete body, which the body
        // event handles.
        effects.flow = match step {
            Step::Continue => Flow::Continue,
            _ => Flow::Pause,
        };
        effects
    }

    /// Adds an event's processing time (since `started`); a request event that lets the
    /// request go marks the moment it left for the upstream.
    fn took(&mut self, reads: &dyn HostReads, started: u64, side: Side, flow: Flow) {
        if let Some(exchange) = self.exchange.as_mut() {
            let micros = reads.now_ns().saturating_sub(started) / 1000;
            let continued = flow == Flow::Continue;
            exchange.callback_done(side == Side::Response, micros, continued);
        }
    }

    /// The exchange is over: its audit record goes to every sink, then its metrics and
    /// alerts, once.
    fn conclude(&mut self, effects: &mut Effects) {
        if let Some(done) = self.exchange.as_mut().and_then(Exchange::conclude) {
            self.vm.borrow_mut().concluded(done, effects);
        }
    }

    /// How a complete answer is written back.
    fn answer_delivery(&self) -> Delivery {
        Delivery {
            headers_held: !self.response_headers_left,
            encoded: self.response_encoded,
            goes_decoded: self.response_goes_decoded,
        }
    }
}

/// Sets and removes the response headers `answer` names, while they can still change.
fn set_response_headers(effects: &mut Effects, answer: &AnswerEffects) {
    effects.set_headers(Side::Response, answer.set_headers.iter().cloned());
    effects.remove_headers(Side::Response, answer.remove_headers.iter().copied());
}

/// Carries out what the engine decided for a complete answer of `size` bytes.
fn carry_out(effects: &mut Effects, answer: AnswerEffects, size: usize) {
    set_response_headers(effects, &answer);
    effects.body(Side::Response, size, answer.body, answer.set_length);
}
