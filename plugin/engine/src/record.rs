//! The decision record: one JSON object per request saying what the filter decided and why
//! (PSF EA-1, EA-4). It never carries request or response content.

use crate::code::ErrorCode;
use crate::policy::{Action, Policy, POLICY_VERSION};
use serde_json::{json, Value};

/// One rule that fired on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: String,
    pub code: ErrorCode,
    pub action: Action,
    /// False when the policy is in monitor mode or the rule only flags.
    pub enforced: bool,
}

/// What happened to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decision {
    #[default]
    Allow,
    Block,
    Modify,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Block => "block",
            Decision::Modify => "modify",
        }
    }
}

/// Everything the record needs, gathered while the exchange runs.
#[derive(Debug, Clone, Default)]
pub struct DecisionRecord {
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub decision: Decision,
    pub status: Option<u16>,
    pub findings: Vec<Finding>,
    pub request_bytes: u64,
}

impl DecisionRecord {
    /// The record as one JSON object.
    pub fn to_json(&self, policy: &Policy) -> Value {
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                json!({
                    "rule": f.rule,
                    "code": f.code.as_str(),
                    "action": match f.action { Action::Block => "block", Action::Flag => "flag" },
                    "enforced": f.enforced,
                })
            })
            .collect();
        let rules: Vec<&str> = self.findings.iter().map(|f| f.rule.as_str()).collect();
        let mut codes: Vec<&str> = self.findings.iter().map(|f| f.code.as_str()).collect();
        codes.dedup();
        json!({
            "type": "psf.decision",
            "request_id": self.request_id,
            "policy": {"name": policy.name, "version": POLICY_VERSION, "owner": policy.owner},
            "mode": policy.mode.as_str(),
            "method": self.method,
            "path": self.path,
            "decision": self.decision.as_str(),
            "status": self.status,
            "codes": codes,
            "rules": rules,
            "findings": findings,
            "request_bytes": self.request_bytes,
            "entities": [],
        })
    }
}
