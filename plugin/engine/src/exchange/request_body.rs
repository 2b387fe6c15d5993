//! The request body as effects (PSF IG-1, DG-1, OV-3): the body read when the engine needs
//! it, and what the host does to the request as far as it can still change it.

use super::*;

/// What the host does to the request after a body callback: the step (never `NeedBody`,
/// `Replace` or `Consult`: those are carried out here), request headers to remove and then
/// set, the body that replaces the client's (with `content-length` set to match when
/// `set_length`), and the moderation call to make before the request goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestBodyEffects {
    pub step: Step,
    pub remove_headers: Vec<&'static str>,
    pub set_headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub set_length: bool,
    pub consult: Option<ModerationCall>,
    /// The record's request id, for the host's log lines about this request.
    pub request_id: String,
}

impl Exchange {
    /// The moderation service answered about the held request: [`Exchange::on_moderation`],
    /// and with the headers `held`, the headers a request that goes on carries.
    pub fn on_moderation_done(
        &mut self,
        status: Option<u16>,
        body: &[u8],
        held: bool,
    ) -> RequestBodyEffects {
        let step = self.on_moderation(status, body);
        let set_headers = if held && step == Step::Continue {
            self.forwarded_headers()
        } else {
            Vec::new()
        };
        RequestBodyEffects {
            step,
            remove_headers: Vec::new(),
            set_headers,
            body: None,
            set_length: false,
            consult: None,
            request_id: self.record.request_id.clone(),
        }
    }

    /// A body callback: [`Exchange::on_request_body`], then, when the engine needs the
    /// body, `read` it and [`Exchange::inspect_request_body`]. `delivery` says what the
    /// host can still change: with the headers held, a request that goes on carries its
    /// flags and a rewritten body its length, and loses a `content-encoding` the rewrite
    /// decoded; a body whose encoding already left goes decoded.
    pub fn on_request_body_read(
        &mut self,
        buffered_bytes: u64,
        end_of_stream: bool,
        read: &dyn Fn() -> Vec<u8>,
        delivery: Delivery,
    ) -> RequestBodyEffects {
        let held = delivery.headers_held;
        let mut effects = RequestBodyEffects {
            step: Step::Continue,
            remove_headers: Vec::new(),
            set_headers: Vec::new(),
            body: None,
            set_length: held,
            consult: None,
            request_id: String::new(),
        };
        let mut step = self.on_request_body(buffered_bytes, end_of_stream);
        if step == Step::NeedBody {
            let body = read();
            step = self.inspect_request_body(&body);
            let unchanged = matches!(step, Step::Continue | Step::Consult { body: None, .. });
            if unchanged && delivery.goes_decoded {
                effects.body = self
                    .request_coding
                    .clone()
                    .and_then(|c| decode(c, &body, self.max_decoded_bytes()))
                    .ok();
            }
        }
        let goes_on = matches!(
            step,
            Step::Continue | Step::Replace(_) | Step::Consult { .. }
        );
        if held && goes_on {
            effects.set_headers = self.forwarded_headers();
        }
        let rewritten = |effects: &mut RequestBodyEffects, body: Vec<u8>| {
            if delivery.encoded && held {
                effects.remove_headers.push("content-encoding");
            }
            effects.body = Some(body);
        };
        effects.request_id = self.record.request_id.clone();
        effects.step = match step {
            Step::Replace(body) => {
                rewritten(&mut effects, body);
                Step::Continue
            }
            Step::Consult { call, body } => {
                if let Some(body) = body {
                    rewritten(&mut effects, body);
                }
                effects.consult = Some(call);
                Step::Pause
            }
            other => other,
        };
        effects
    }
}
