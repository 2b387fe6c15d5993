//! How a complete answer goes back (PSF OV-1, OV-4, OV-5): the step the engine took for it,
//! turned into what the host does to the response, given what the host can still change.

use super::*;

/// What the host can still change of a complete answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// The response headers are still held.
    pub headers_held: bool,
    /// The upstream's answer has a `content-encoding`.
    pub encoded: bool,
    /// Its `content-encoding` left already removed: the answer goes decoded.
    pub goes_decoded: bool,
}

/// What to do to a complete answer: response headers to set (`:status` among them), then
/// to remove, and the body that replaces the upstream's, with `content-length` set to match
/// when `set_length`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerEffects {
    pub set_headers: Vec<(String, String)>,
    pub remove_headers: Vec<&'static str>,
    pub body: Option<Vec<u8>>,
    pub set_length: bool,
}

impl Exchange {
    /// Carries `step` for the complete `answer` as far as `delivery` allows:
    /// - a held answer under its route's confidence threshold says so in
    ///   `x-psf-low-confidence`;
    /// - an answer that goes decoded and is not changed is decoded;
    /// - a replacement is written decoded, dropping a held `content-encoding`;
    /// - a refusal is the filter's error while the headers are held, and after they left
    ///   (the 200 is gone) the API's own filtered answer.
    pub fn deliver(&self, step: ResponseStep, answer: &[u8], delivery: Delivery) -> AnswerEffects {
        let mut effects = AnswerEffects::default();
        if let (Some(value), true) = (self.low_confidence(), delivery.headers_held) {
            effects
                .set_headers
                .push(("x-psf-low-confidence".into(), value.to_string()));
        }
        match step {
            ResponseStep::Continue if delivery.goes_decoded => {
                effects.body = self.decoded_answer(answer).ok();
            }
            ResponseStep::Continue | ResponseStep::Consult(_) => {}
            ResponseStep::Replace(new) => {
                if delivery.encoded && delivery.headers_held {
                    effects.remove_headers.push("content-encoding");
                }
                effects.body = Some(new);
                effects.set_length = delivery.headers_held;
            }
            ResponseStep::Reject(rejection) if delivery.headers_held => {
                let reply = self.error_effects(&rejection);
                effects.set_headers.extend(reply.set_headers);
                effects.remove_headers.extend(reply.remove_headers);
                effects.body = reply.body;
                effects.set_length = true;
            }
            ResponseStep::Reject(rejection) => {
                let request_id = &self.record.request_id;
                effects.body = Some(rejection.filtered_answer(self.api_format(), request_id));
            }
        }
        effects
    }

    /// The filter's error for `rejection` in place of the answer: its status and headers,
    /// no `content-encoding` (the error is plain JSON), and its body with `content-length`
    /// to match.
    pub fn error_effects(&self, rejection: &Rejection) -> AnswerEffects {
        let reply = self.error_reply(rejection);
        let mut set_headers = vec![(":status".to_string(), reply.status.to_string())];
        set_headers.extend(reply.headers.into_iter().map(|(n, v)| (n.to_string(), v)));
        AnswerEffects {
            set_headers,
            remove_headers: vec!["content-encoding"],
            body: Some(reply.body),
            set_length: true,
        }
    }
}
