//! One HTTP stream: each host event goes to the engine's [`Stream`], and its effects are
//! carried out.

use crate::host::{carry_out, Host};
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use psf_engine::proxy::{Effects, Stream};

pub struct GuardStream(pub Stream);

impl GuardStream {
    fn run(&mut self, effects: Effects) -> Action {
        carry_out(effects, &mut |report| self.0.report(&Host, report))
    }
}

impl Context for GuardStream {
    fn on_http_call_response(&mut self, _token: u32, headers: usize, size: usize, _: usize) {
        let effects = self.0.call_answer(&Host, headers, size);
        self.run(effects);
    }
}

impl HttpContext for GuardStream {
    fn on_http_request_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        let effects = self.0.request_headers(&Host, end_of_stream);
        self.run(effects)
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        let effects = self.0.request_body(&Host, size, end_of_stream);
        self.run(effects)
    }

    fn on_http_response_headers(&mut self, _: usize, end_of_stream: bool) -> Action {
        let effects = self.0.response_headers(&Host, end_of_stream);
        self.run(effects)
    }

    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        let effects = self.0.response_body(&Host, size, end_of_stream);
        self.run(effects)
    }

    fn on_log(&mut self) {
        let effects = self.0.log(&Host);
        self.run(effects);
    }
}
