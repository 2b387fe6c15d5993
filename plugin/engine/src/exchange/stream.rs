//! A streamed answer (PSF OV-1, OV-3, DG-1): event by event, with the same guards.

use super::*;

impl Exchange {
    /// One chunk of a streamed response (after [`ResponsePlan::Stream`]): the bytes to send
    /// in its place.
    pub fn on_response_chunk(&mut self, chunk: &[u8], end_of_stream: bool) -> Vec<u8> {
        let policy = Rc::clone(&self.policy);
        let (Some(route), ResponseRead::Stream(rewriter)) = (
            self.route.and_then(|i| policy.routes.get(i)),
            &mut self.response,
        ) else {
            return chunk.to_vec();
        };
        let enforce = self.mode == Mode::Enforce;
        let mut guard = OutputGuard::new(
            route,
            &mut self.masker,
            (&mut self.flagged, &mut self.watch),
            enforce,
        );
        let mut out = rewriter.push(chunk, end_of_stream, &mut guard);
        let mut ended = rewriter.ended().cloned();
        let truncated = end_of_stream && ended.is_none() && !rewriter.terminated();
        let replace_truncated = route.output_errors.truncated_stream == StateAction::Replace;
        if truncated && replace_truncated {
            let rejection = truncated_stream(route);
            out.extend(rewriter.end_with_error(rejection.clone()));
            ended = Some(rejection);
        }
        let logprobs = if end_of_stream {
            rewriter.logprobs().to_vec()
        } else {
            Vec::new()
        };
        if truncated && !replace_truncated {
            self.answer_state(
                route.output_errors.truncated_stream,
                truncated_stream(route),
            );
        }
        // The answer has gone out by now: a low-confidence stream is recorded, not cut.
        self.judge_confidence(route, &logprobs, false);
        self.stream_ended |= end_of_stream;
        if end_of_stream || ended.is_some() {
            self.finish_response(route, ended.as_ref());
        }
        if enforce {
            out
        } else {
            chunk.to_vec()
        }
    }

    /// The stream is over, ended or reset: a response stream that never reached its end
    /// (the upstream went away) is recorded as truncated. Call it before the record is read.
    pub fn on_stream_done(&mut self) {
        self.note_truncation();
        self.settle_limits();
    }

    pub(super) fn note_truncation(&mut self) {
        let streaming = matches!(self.response, ResponseRead::Stream(_));
        if !streaming || self.stream_ended {
            return;
        }
        self.stream_ended = true;
        let policy = Rc::clone(&self.policy);
        if let Some(route) = self.route.and_then(|i| policy.routes.get(i)) {
            let rejection = truncated_stream(route);
            self.found(rejection.rule, rejection.code, FindingAction::Log);
        }
    }
}

pub(super) fn truncated_stream(route: &Route) -> Rejection {
    Rejection::new(
        ErrorCode::TruncatedStream,
        format!("{}.output_errors.truncated_stream", route.id),
        "the model provider's stream ended before its final event",
    )
}
